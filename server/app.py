"""The app factory. The lifespan owns the database engine, the bus, the hub and the heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from interpretation import booth_commands, caption_commands
from interpretation.booth_commands import ReleaseDeparted
from rooms import breakout_commands, floor_commands, question_commands, registration_commands
from rooms.actor import Actor
from rooms.commands import Emitted, Registry
from rooms.errors import Refused
from rooms.floor_views import iso
from rooms.roles import Role
from server import (
    booth_pages,
    collector,
    committee_pages,
    event_log,
    models,
    organize,
    pages,
    registration_pages,
    screen,
)
from server.attendance import Stays
from server.auth import Standing, actor_in, participants_by_id
from server.booth_store import BoothsStore
from server.breakout_clock import BreakoutClock
from server.breakout_store import BreakoutsStore
from server.bus import Bus, create_bus
from server.carry_over import CarryOver
from server.coalescer import Coalescer
from server.db import create_engine, migrate, sessionmaker
from server.desk_store import DeskStore
from server.flood import Allowances, FloodGuard, SharedBuckets, shared_buckets
from server.floor_store import FloorStore
from server.hub import Hub
from server.kernel import Kernel
from server.mail import Mailer
from server.media_relay import MediaRelay
from server.media_store import MediaState, load_media_state
from server.presence import Presence
from server.protocol import Parser
from server.question_store import BoardStore
from server.reminders import run_reminders
from server.security import SecurityHeaders, install_log_redaction
from server.settings import Settings, load_settings
from server.snapshot import Shared
from server.snapshot_cache import SharedCache
from server.state import Stores

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent.parent / "static"


# Events whose commands may have queued an e-mail (rooms/registration_commands.py).
MAILING_EVENTS = frozenset({"registration", "delegation"})


def command_registry() -> Registry:
    """Every command, from the modules of their domains."""
    return Registry(
        floor_commands.commands,
        question_commands.commands,
        booth_commands.commands,
        caption_commands.commands,
        registration_commands.commands,
        breakout_commands.commands,
    )


def state_stores() -> Stores:
    """Where each domain's state of a session is kept, beside its commands above."""
    return Stores([FloorStore, BoardStore, BoothsStore, DeskStore, BreakoutsStore])


@dataclass
class Tribune:
    """What request handlers reach through ``app.state.tribune``."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # For what only reads (snapshots, replays, pages): in SQLite it takes no lock.
    reader: async_sessionmaker[AsyncSession]
    bus: Bus
    hub: Hub
    registry: Registry
    parser: Parser
    kernel: Kernel
    floods: FloodGuard
    presence: Presence
    # The part of snapshots everyone shares, built once per session state.
    snapshots: SharedCache[Shared]
    # The flood allowance the processes share (Redis), when there are several.
    shared_floods: SharedBuckets | None = None
    # Sends the outbox (server/mail.py); wake it after queueing a message.
    mailer: Mailer | None = None
    # Every socket's stay, for the attendance (server/attendance.py).
    stays: Stays | None = None


def create_app(
    settings: Settings | None = None,
    bus: Bus | None = None,
    registry: Registry | None = None,
    stores: Stores | None = None,
) -> Starlette:
    """The ASGI app. ``bus`` may be injected, else it comes from the settings;
    ``registry`` and ``stores`` may add commands and their state (a domain under test)."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        engine = create_engine(settings.database_url)
        await migrate(engine)
        maker = sessionmaker(engine)
        reader = sessionmaker(engine, read_only=True)
        the_bus = bus or create_bus(settings.bus_url)
        commands = registry or command_registry()
        shared = shared_buckets(settings.bus_url)
        kernel = Kernel(
            maker, the_bus, commands, stores or state_stores(), allowances=Allowances(shared), secret=settings.secret
        )
        coalescer = Coalescer(commands, kernel.execute_for_server, settings.counts_every_seconds)
        carry_over = CarryOver(maker, reader, kernel)
        groups = BreakoutClock(reader, kernel)
        mailer = Mailer(
            maker,
            smtp_url=settings.smtp_url,
            mail_from=settings.mail_from,
            secret=settings.secret,
            base_url=settings.base_url,
            clock=kernel.clock,
            poll_seconds=settings.mail_poll_seconds,
        )

        def committed(session_id: int, emitted: list[Emitted]) -> None:
            coalescer.committed(session_id, emitted)
            carry_over.committed(session_id, emitted)
            groups.committed(session_id, emitted)
            if any(event.type in MAILING_EVENTS for event in emitted):
                mailer.wake()

        kernel.on_committed = committed

        async def read_log(session_id: int, after: int, upto: int | None) -> list[event_log.LoggedEvent]:
            async with reader() as db:
                return await event_log.read(db, session_id, after, upto)

        async def heads(session_ids: list[int]) -> dict[int, tuple[int, int]]:
            async with reader() as db:
                rows = await db.execute(
                    select(models.Session.id, models.Session.last_seq, models.Event.revision)
                    .join(models.Event, models.Event.id == models.Session.event_id)
                    .where(models.Session.id.in_(session_ids))
                )
                return {session_id: (seq, revision) for session_id, seq, revision in rows.all()}

        async def current_actors(session_id: int, participant_ids: list[int]) -> dict[int, Standing]:
            async with reader() as db:
                session = await db.get(models.Session, session_id)
                if session is None:
                    return {}
                participants = await participants_by_id(db, participant_ids)
                return {p.id: Standing(actor_in(p, session), p.token_hash) for p in participants}

        hub = Hub(the_bus, read_log, heads, lambda: iso(kernel.clock()) or "", current_actors)

        async def release_departed(actor: Actor, reason: Literal["disconnected", "removed"]) -> None:
            """The server's own command: the interpreter may have lost the role that would let them send it."""
            if "release_departed" in commands:
                command = ReleaseDeparted(
                    id=reason, type="release_departed", participant_id=actor.participant_id, reason=reason
                )
                await kernel.execute_for_server(actor.session_id, command)

        async def release_disconnected(actor: Actor) -> None:
            await release_departed(actor, "disconnected")

        presence = Presence(maker, kernel.clock, release_disconnected, settings.mic_release_grace_seconds)
        stays = Stays(maker, kernel.clock)
        removals: set[asyncio.Task[None]] = set()

        async def release_removed(actor: Actor) -> None:
            try:
                await release_departed(actor, "removed")
            except Refused:
                pass  # not on air: nothing to release
            except Exception:
                log.exception("could not release the mic of participant %s", actor.participant_id)

        def access_lost(actor: Actor, now: Standing | None) -> None:
            # An interpreter on air whose link was revoked, or who may no longer
            # interpret here, no longer voices the booth: listeners are told at
            # once and fall back to the floor, as when one leaves.
            if Role.INTERPRETER in actor.roles and not (now and now.actor and Role.INTERPRETER in now.actor.roles):
                task = asyncio.get_running_loop().create_task(release_removed(actor))
                removals.add(task)
                task.add_done_callback(removals.discard)

        hub.on_access_lost = access_lost
        await the_bus.start()
        app.state.tribune = Tribune(
            settings,
            engine,
            maker,
            reader,
            the_bus,
            hub,
            commands,
            Parser(commands),
            kernel,
            FloodGuard(settings.commands_per_second, settings.command_burst),
            presence,
            SharedCache(),
            shared,
            mailer,
            stays,
        )
        heartbeat = asyncio.create_task(hub.run_heartbeats(settings.heartbeat_seconds), name="heartbeat")
        watch = asyncio.create_task(hub.watch_access(settings.access_check_seconds), name="access")
        refresh = asyncio.create_task(presence.run(), name="presence")
        reminders = asyncio.create_task(run_reminders(maker, kernel.clock), name="reminders")
        sending = asyncio.create_task(mailer.run(), name="mail")
        attendance = asyncio.create_task(stays.run(), name="attendance")
        breakouts = asyncio.create_task(groups.run(), name="breakouts")

        async def media_state(session_id: int) -> MediaState | None:
            async with reader() as db:
                return await load_media_state(db, session_id)

        # Media on a bus of its own: a video key frame never delays an event.
        app.state.media = MediaRelay(create_bus(settings.bus_url), hub, media_state, current_actors)
        await app.state.media.start()
        collector.settle()
        try:
            # The lifespan's state reaches uvicorn's protocols: the live socket
            # is served there (server/live_socket.py), not through ASGI.
            yield {"tribune": app.state.tribune, "media": app.state.media}
        finally:
            await coalescer.drain()
            await carry_over.drain()
            await app.state.media.stop()
            for task in (heartbeat, watch, refresh, reminders, sending, attendance, breakouts):
                task.cancel()
            await asyncio.gather(
                heartbeat, watch, refresh, reminders, sending, attendance, breakouts, return_exceptions=True
            )
            await groups.drain()
            try:
                await stays.stop()
            except Exception:
                log.exception("the last stays were not written")
            await presence.stop()
            if app.state.tribune.shared_floods is not None:
                await app.state.tribune.shared_floods.close()
            await the_bus.stop()
            await kernel.close()
            await engine.dispose()

    routes = [
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *pages.routes,
        *committee_pages.routes,
        *booth_pages.routes,
        *screen.routes,
        *registration_pages.routes,
        *organize.routes,
    ]
    # Tokens never reach a log line, however the app is served.
    install_log_redaction()
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)], lifespan=lifespan)
