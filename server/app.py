"""The app factory. The lifespan owns the database engine, the bus and the hub."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

from server import pages
from server.bus import Bus, create_bus
from server.db import create_engine, migrate, sessionmaker
from server.hub import Hub
from server.service import FloorService
from server.settings import Settings, load_settings
from server.ws import session_socket

STATIC = Path(__file__).resolve().parent.parent / "static"


@dataclass
class Tribune:
    """What request handlers reach through ``app.state.tribune``."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker
    bus: Bus
    hub: Hub
    service: FloorService


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        engine = create_engine(settings.database_url)
        await migrate(engine)
        bus = create_bus(settings.bus_url)
        hub = Hub(bus)
        await bus.start()
        maker = sessionmaker(engine)
        app.state.tribune = Tribune(settings, engine, maker, bus, hub, FloorService(maker, bus))
        try:
            yield
        finally:
            await bus.stop()
            await engine.dispose()

    routes = [
        WebSocketRoute("/ws/sessions/{session_id:int}", session_socket),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *pages.routes,
    ]
    return Starlette(routes=routes, lifespan=lifespan)
