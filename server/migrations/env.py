"""Alembic environment: migrations run on a connection handed over by server.db.migrate."""

from alembic import context

from server.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Run migrations through `tribune migrate` (server.db.migrate).")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
