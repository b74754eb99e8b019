"""How Tribune is served by uvicorn: one place for the socket and protocol options."""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from server.live_socket import TribuneHttpProtocol
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
    """The live socket is served by ``TribuneHttpProtocol`` on uvicorn's
    connection (server/live_socket.py). Per-message compression is off:
    browsers always offer it, and it would compress every event once per socket."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=TribuneHttpProtocol,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        **options,
    )


class WorkersNeedABus(ValueError):
    pass


def serve(app_factory: Callable[[Settings], Any], settings: Settings, workers: int = 1) -> None:
    """Serve on one address with ``workers`` processes.

    The socket is bound once here and shared, so the kernel spreads
    connections over the workers; uvicorn's supervisor restarts a worker that
    dies. Each worker builds its own app (engine, bus, hub): they meet in the
    database and on the bus, as separate ``tribune serve`` processes do."""
    sock = listening_socket(settings)
    if workers == 1:
        server = uvicorn.Server(uvicorn_config(app_factory(settings), settings, log_level="info"))
        server.run(sockets=[sock])
        return
    if settings.bus_url.startswith("memory"):
        raise WorkersNeedABus(
            "several workers need a bus between them: set TRIBUNE_BUS_URL=redis://host:6379/0 "
            "(the in-process bus reaches only its own process)"
        )
    # A partial of the factory pickles (the settings travel with it) where an
    # app would not: uvicorn starts workers with multiprocessing's spawn.
    config = uvicorn_config(
        functools.partial(app_factory, settings), settings, factory=True, workers=workers, log_level="info"
    )
    Multiprocess(config, sockets=[sock]).run()
