"""Who has a command socket open, as every process sees it.

Each socket is a row, removed when it closes and refreshed by its process
while it stays open; a row not refreshed within ``LEASE`` (its process died)
no longer counts. The booths use it: an interpreter with no socket left is
gone, so a partner may take the mic in any process, and once the grace
period has passed without them coming back, their mic is released.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rooms.actor import Actor
from rooms.errors import Refused
from rooms.roles import Role
from server import models

log = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0
LEASE = timedelta(seconds=3 * REFRESH_SECONDS)
# Rows of dead processes are swept once this old.
SWEEP_AFTER = timedelta(seconds=30 * REFRESH_SECONDS)

_P = models.Presence


async def present_ids(db: AsyncSession, session_id: int, now: datetime) -> set[int]:
    rows = await db.scalars(select(_P.participant_id).where(_P.session_id == session_id, _P.seen_at > now - LEASE))
    return set(rows)


def is_tracked(actor: Actor) -> bool:
    """Only interpreters' presence decides anything (the mic), so only theirs costs a row."""
    return Role.INTERPRETER in actor.roles


class Presence:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        on_gone: Callable[[Actor], Awaitable[object]] | None = None,
        grace_seconds: float = 5.0,
    ):
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.grace_seconds = grace_seconds
        self.on_gone = on_gone
        self.local: dict[str, Actor] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def arrive(self, actor: Actor) -> str:
        key = uuid.uuid4().hex
        async with self.sessionmaker() as db, db.begin():
            await db.execute(
                insert(_P).values(
                    session_id=actor.session_id,
                    participant_id=actor.participant_id,
                    connection=key,
                    seen_at=self.clock(),
                )
            )
        self.local[key] = actor
        return key

    async def leave(self, key: str) -> None:
        actor = self.local.pop(key, None)
        async with self.sessionmaker() as db, db.begin():
            await db.execute(delete(_P).where(_P.connection == key))
        if actor is not None and Role.INTERPRETER in actor.roles and self.on_gone is not None:
            task = asyncio.get_running_loop().create_task(self._after_grace(actor))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _after_grace(self, actor: Actor) -> None:
        # A reload or a short network cut comes back within the grace period
        # and keeps the mic; the partner may take it over meanwhile.
        await asyncio.sleep(self.grace_seconds)
        try:
            async with self.sessionmaker() as db:
                if actor.participant_id in await present_ids(db, actor.session_id, self.clock()):
                    return
            assert self.on_gone is not None
            await self.on_gone(actor)
        except Refused:
            pass  # not on air (any more): nothing to release
        except Exception:
            log.exception("could not release the mic of participant %s", actor.participant_id)

    async def refresh(self) -> None:
        now = self.clock()
        async with self.sessionmaker() as db, db.begin():
            if self.local:
                await db.execute(update(_P).where(_P.connection.in_(list(self.local))).values(seen_at=now))
            await db.execute(delete(_P).where(_P.seen_at < now - SWEEP_AFTER))

    async def run(self, interval: float = REFRESH_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:
                log.exception("presence refresh failed")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.local:
            async with self.sessionmaker() as db, db.begin():
                await db.execute(delete(_P).where(_P.connection.in_(list(self.local))))
            self.local.clear()
