"""How Tribune is served by uvicorn: one place for the socket and protocol options."""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from server.settings import Settings


def listening_socket(settings: Settings) -> socket.socket:
    """The listening socket. Its send buffer, inherited by every accepted
    socket, bounds what the kernel holds for a client that stops reading, so
    such a client fills its queue and is closed (4408) instead of costing
    megabytes of memory (Linux grows an unset buffer to 4 MiB)."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if settings.socket_send_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.socket_send_buffer)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """Per-message compression is off: browsers always offer it, and it would
    compress every event once per socket."""
    return uvicorn.Config(app, host=settings.host, port=settings.port, ws_per_message_deflate=False, **options)


def serve(app: Any, settings: Settings) -> None:
    server = uvicorn.Server(uvicorn_config(app, settings, log_level="info"))
    server.run(sockets=[listening_socket(settings)])
