"""Security headers, the WebSocket Origin check, secure cookies and token-free logs,
against a real uvicorn server where it matters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import httpx
import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter, DefaultFormatter

from server.auth import COOKIE
from server.security import (
    DEFAULT_HEADERS,
    REDACTED_LOGGERS,
    RedactTokens,
    SecurityHeaders,
    cookie_is_secure,
    install_log_redaction,
    origin_allowed,
)
from tests.conftest import free_port

SECRET = "SECRETTOKEN123"
ACCESS_FORMAT = LOGGING_CONFIG["formatters"]["access"]["fmt"]
HEADER_NAMES = [name.lower() for name in DEFAULT_HEADERS]


# ---- the Origin check -------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed", "public_url"),
    [
        (None, "tribune.example", "wss", [], ""),  # not a browser
        ("https://tribune.example", "tribune.example", "wss", [], ""),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", [], ""),
        ("HTTPS://Tribune.Example", "tribune.example", "wss", [], ""),
        ("https://tribune.example:443", "tribune.example", "wss", [], ""),
        ("https://tribune.example", "tribune.example:443", "wss", [], ""),
        ("http://tribune.example:80", "tribune.example", "ws", [], ""),
        ("https://app.example", "tribune.internal:8000", "ws", ["https://app.example"], ""),
        ("https://app.example", "tribune.internal:8000", "ws", ["https://APP.example:443"], ""),
        # Behind a TLS proxy the socket is plain ws, but the public URL is https.
        ("https://tribune.example", "tribune.example", "ws", [], "https://tribune.example/"),
        ("https://tribune.example", "127.0.0.1:8000", "ws", [], "https://tribune.example:443/meetings"),
        ("http://[::1]:8000", "[::1]:8000", "ws", [], ""),
    ],
)
def test_origin_allowed(origin, host, scheme, allowed, public_url):
    assert origin_allowed(origin, host, scheme, allowed, public_url)


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed", "public_url"),
    [
        ("https://evil.example", "tribune.example", "wss", [], ""),
        ("https://tribune.example.evil", "tribune.example", "wss", [], ""),
        # Scheme mismatches: an http page must not drive a wss socket, nor the reverse.
        ("http://tribune.example", "tribune.example", "wss", [], ""),
        ("https://tribune.example", "tribune.example", "ws", [], ""),
        ("http://tribune.example", "tribune.internal:8000", "ws", [], "https://tribune.example"),
        ("http://app.example", "tribune.internal:8000", "ws", ["https://app.example"], ""),
        # Port mismatches, default ports included.
        ("http://tribune.example:8000", "tribune.example", "ws", [], ""),
        ("https://tribune.example:80", "tribune.example", "wss", [], ""),
        # Not an origin at all.
        ("null", "tribune.example", "wss", [], ""),
        ("https://tribune.example/page", "tribune.example", "wss", [], ""),
        ("https://user@tribune.example", "tribune.example", "wss", [], ""),
        ("https://tribune.example:99999", "tribune.example", "wss", [], ""),
        ("file://", "tribune.example", "wss", [], ""),
        # No Host to compare with, or a Host that is not one.
        ("https://tribune.example", None, "wss", [], ""),
        ("https://tribune.example", "tribune.example/x", "wss", [], ""),
    ],
)
def test_origin_refused(origin, host, scheme, allowed, public_url):
    assert not origin_allowed(origin, host, scheme, allowed, public_url)


def test_an_origin_listed_verbatim_is_allowed():
    assert origin_allowed("null", "tribune.example", "wss", ["null"], "")


# ---- the cookie ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [
        ("https://tribune.example", True),
        ("HTTPS://tribune.example:8443/meetings", True),
        ("http://tribune.example", False),
        ("http://127.0.0.1:8000", False),
        ("", False),
    ],
)
def test_cookie_is_secure(public_url, secure):
    assert cookie_is_secure(public_url) is secure


# ---- token redaction on records ---------------------------------------------


@pytest.fixture
def clean_uvicorn_loggers():
    """Leave uvicorn's loggers as found: no filter leaks into other tests."""
    yield
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        for existing in [f for f in logger.filters if isinstance(f, RedactTokens)]:
            logger.removeFilter(existing)


def access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's HTTP protocols create it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:51234", "GET", path, "1.1", 303),
        None,
    )


def test_access_record_is_redacted_and_keeps_its_shape():
    record = access_record(f"/join/{SECRET}?token={SECRET}&lang=fr")
    assert RedactTokens().filter(record) is True
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert [type(arg) for arg in record.args] == [str, str, str, str, int]
    line = AccessFormatter(ACCESS_FORMAT, use_colors=False).format(record)
    assert SECRET not in line
    assert '"GET /join/[redacted]?token=[redacted]&lang=fr HTTP/1.1" 303' in line


def test_websocket_record_is_redacted():
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:51234", f"/ws/sessions/1?last_seq=4&token={SECRET}"),
        None,
    )
    RedactTokens().filter(record)
    assert len(record.args) == 2
    assert record.getMessage() == '127.0.0.1:51234 - "WebSocket /ws/sessions/1?last_seq=4&token=[redacted]" [accepted]'


def test_tokens_in_the_message_itself_and_the_cookie_are_redacted():
    record = logging.LogRecord(
        "uvicorn.error", logging.DEBUG, __file__, 1, f"< GET /ws?token={SECRET} HTTP/1.1", None, None
    )
    RedactTokens().filter(record)
    assert record.getMessage() == "< GET /ws?token=[redacted] HTTP/1.1"
    record = logging.LogRecord(
        "uvicorn.error", logging.DEBUG, __file__, 1, "< %s: %s", ("Cookie", f"lang=fr; {COOKIE}={SECRET}"), None
    )
    RedactTokens().filter(record)
    assert record.getMessage() == f"< Cookie: lang=fr; {COOKIE}=[redacted]"


def test_a_traceback_quoting_the_request_is_redacted():
    try:
        raise ValueError(f"GET /ws/sessions/1?token={SECRET} HTTP/1.1 with Cookie: {COOKIE}={SECRET}")
    except ValueError:
        record = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "Fatal error", None, sys.exc_info())
    RedactTokens().filter(record)
    line = DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False).format(record)
    assert "ValueError: GET /ws/sessions/1?token=[redacted] HTTP/1.1" in line
    assert f"{COOKIE}=[redacted]" in line
    assert SECRET not in line


def test_other_records_are_left_alone():
    record = access_record("/sessions/3?lang=fr&access_token_hint=1")
    args = record.args
    RedactTokens().filter(record)
    assert record.args == args


def test_install_is_idempotent_and_survives_uvicorns_logging_setup(clean_uvicorn_loggers):
    install_log_redaction()
    install_log_redaction()
    # uvicorn.Config applies its dictConfig, as `tribune serve` does after installing.
    uvicorn.Config(Starlette(), log_level="info")
    for name in REDACTED_LOGGERS:
        filters = [f for f in logging.getLogger(name).filters if isinstance(f, RedactTokens)]
        assert len(filters) == 1, name


# ---- a real server -------------------------------------------------------------


async def join(request):
    return HTMLResponse(f"<!doctype html><p>{request.path_params['token'][:3]}</p>")


async def framed(request):
    return PlainTextResponse(
        "mine", headers={"X-Frame-Options": "SAMEORIGIN", "content-security-policy": "default-src *"}
    )


async def echo(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


def tiny_app() -> Starlette:
    routes = [Route("/join/{token}", join), Route("/framed", framed), WebSocketRoute("/ws", echo)]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


@contextlib.asynccontextmanager
async def live(app, log_level: str = "warning"):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


class Capture(logging.Handler):
    """Formats each record as uvicorn's own handler for that logger would."""

    def __init__(self, formatter: logging.Formatter):
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_no_token_reaches_uvicorns_logs(clean_uvicorn_loggers, capsys):
    captures = {
        "uvicorn.access": Capture(AccessFormatter(ACCESS_FORMAT, use_colors=False)),
        "uvicorn.error": Capture(DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False)),
    }
    # Debug level: the websockets library then logs the request line and headers too.
    async with live(tiny_app(), log_level="debug") as port:
        install_log_redaction()
        for name, capture in captures.items():
            logging.getLogger(name).addHandler(capture)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", cookies={COOKIE: SECRET}) as http:
                response = await http.get(f"/join/{SECRET}", params={"token": SECRET})
            assert response.status_code == 200
            url = f"ws://127.0.0.1:{port}/ws?token={SECRET}"
            async with websockets.connect(url, additional_headers={"Cookie": f"{COOKIE}={SECRET}"}) as socket:
                await socket.send("hello")
                assert await socket.recv() == "hello"
        finally:
            for name, capture in captures.items():
                logging.getLogger(name).removeHandler(capture)

    access, error = captures["uvicorn.access"].lines, captures["uvicorn.error"].lines
    assert any('"GET /join/[redacted]?token=[redacted] HTTP/1.1" 200' in line for line in access), access
    assert any('"WebSocket /ws?token=[redacted]" [accepted]' in line for line in error), error
    assert any(f"{COOKIE}=[redacted]" in line for line in error), error
    leaked = [line for line in access + error if SECRET in line]
    assert not leaked
    # And what uvicorn's own handlers printed.
    printed = capsys.readouterr()
    assert "/join/[redacted]" in printed.out
    assert SECRET not in printed.out + printed.err


# ---- headers -------------------------------------------------------------------


async def test_every_header_once_on_pages_and_404s():
    async with live(tiny_app()) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for path, status in ((f"/join/{SECRET}", 200), ("/nowhere", 404)):
            response = await http.get(path)
            assert response.status_code == status
            for name, value in DEFAULT_HEADERS.items():
                assert response.headers.get_list(name) == [value], (path, name)


async def test_headers_the_app_set_are_kept_and_not_duplicated():
    async with live(tiny_app()) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        response = await http.get("/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.get_list("content-security-policy") == ["default-src *"]
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]


async def test_a_websocket_works_through_the_middleware():
    async with live(tiny_app()) as port, websockets.connect(f"ws://127.0.0.1:{port}/ws") as socket:
        await socket.send("through")
        assert await socket.recv() == "through"
        headers = {name.lower() for name in socket.response.headers}
    assert not headers & set(HEADER_NAMES)  # the handshake is left as the app made it


async def test_non_http_scopes_pass_through_untouched():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope, receive, send))

    async def receive():
        return {}

    async def send(message):
        pass

    middleware = SecurityHeaders(app)
    for scope in ({"type": "websocket", "path": "/ws"}, {"type": "lifespan"}):
        await middleware(scope, receive, send)
        assert seen.pop() == (scope, receive, send)
