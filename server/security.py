"""HTTP hardening: security headers, the WebSocket Origin check, secure cookies,
and keeping join tokens out of the logs.

A join token is the whole credential (see server/tokens.py), so it must not
leak through an access log, a framing page or a cross-site WebSocket.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.auth import COOKIE

# The pages load only their own modules and stylesheet; the JSON data blocks
# (<script type="application/json">) are not executed, so CSP leaves them be.
# 'wasm-unsafe-eval' lets them compile WebAssembly (libopus, static/opus.js)
# and nothing else: JavaScript eval stays refused.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

DEFAULT_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Join links carry the token in the path: never hand it on to another site.
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every HTTP response.

    A header the app already set wins, so a route can loosen or tighten its own
    policy. WebSocket and lifespan scopes pass straight through."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = DEFAULT_HEADERS) -> None:
        self.app = app
        self.headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers.extend(header for header in self.headers if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Tokens are URL-safe base64, but redact up to any delimiter so that a
# malformed or percent-encoded token is hidden too.
# The focal point's and the member's private pages carry theirs the same way.
_JOIN_PATH = re.compile(r"/(join|nominate|register)/[^/?#\s\"']+")
_TOKEN_PARAM = re.compile(r"((?:^|[?&;])token=)[^&#\s\"']*", re.IGNORECASE)
# The cookie holds the same token; websockets logs request headers at debug level.
_TOKEN_COOKIE = re.compile(rf"(\b{re.escape(COOKIE)}=)[^;,\s\"']*")
REDACTED = "[redacted]"
# Formats a traceback as logging's formatters do by default.
_TRACEBACK = logging.Formatter()


def redact(text: str) -> str:
    text = _JOIN_PATH.sub(r"/\1/" + REDACTED, text)
    text = _TOKEN_PARAM.sub(r"\1" + REDACTED, text)
    return _TOKEN_COOKIE.sub(r"\1" + REDACTED, text)


def _redact_arg(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Rewrites join tokens out of a record's message and arguments.

    Arguments stay a tuple of the same length and types, because uvicorn's
    AccessFormatter unpacks the access record's args by position."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            # A traceback's messages may quote the request. Formatters print
            # the text cached here rather than format the exception again.
            record.exc_text = redact(_TRACEBACK.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# uvicorn creates its records on exactly these loggers (the websockets library
# too, through the "uvicorn.error" logger uvicorn hands it), the sockets served
# on uvicorn's connection hand websockets theirs (server/served_socket.py: it
# logs the request line and headers at debug level), and the event loop reports
# a protocol's failure, traceback included, on "asyncio". A logger's filters
# run on its own records before any handler, its own or an ancestor's, and
# survive logging.config.dictConfig, so no handler needs one.
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error", "server.served_socket", "asyncio")


def install_log_redaction() -> None:
    """Attach RedactTokens to uvicorn's loggers; calling it again adds nothing."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
            logger.addFilter(RedactTokens())


def cookie_is_secure(public_url: str) -> bool:
    """Only an https site may mark its cookie Secure: on plain http the browser
    would drop it and nobody could sign in."""
    return urlsplit(public_url.strip()).scheme.lower() == "https"


_DEFAULT_PORTS = {"http": 80, "https": 443}
_HTTP_SCHEME = {"ws": "http", "http": "http", "wss": "https", "https": "https"}


def _origin_key(url: str, *, bare: bool) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, defaults filled in; None if it
    is not one. ``bare`` refuses anything beyond scheme://host[:port], as an
    Origin header never carries more."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    if bare and (parts.path or parts.query or parts.fragment):
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def origin_allowed(origin: str | None, host: str | None, scheme: str, allowed: list[str], public_url: str) -> bool:
    """Whether a WebSocket handshake's Origin may act with the cookie.

    Browsers always send Origin; it must be this server's own address, scheme
    included (an http page must not drive a wss socket), the public URL's, or
    one configured. Clients that are not browsers send none and authenticate
    by token."""
    if origin is None:
        return True
    if origin in allowed:
        return True
    key = _origin_key(origin, bare=True)
    if key is None:
        return False
    if key in {_origin_key(entry, bare=False) for entry in allowed}:
        return True
    if public_url and key == _origin_key(public_url, bare=False):
        return True
    http_scheme = _HTTP_SCHEME.get(scheme.lower())
    if host and http_scheme:
        own = f"{http_scheme}://{host}"
        # A Host header with a path or user part is not an address: ignore it.
        if urlsplit(own).netloc == host and key == _origin_key(own, bare=True):
            return True
    return False
