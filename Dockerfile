FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY rooms ./rooms
COPY interpretation ./interpretation
COPY static ./static
RUN pip install --no-cache-dir -e .
# Join links are derived from TRIBUNE_SECRET: keep it stable across restarts.
ENV TRIBUNE_HOST=0.0.0.0 TRIBUNE_PORT=8000
EXPOSE 8000
CMD ["tribune", "serve"]
