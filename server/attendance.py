"""Who attended which session, and for how long: every command socket of
every participant is a stay, from its opening to its closing.

Connecting must stay cheap (two thousand people join in seconds), so each
process keeps the stays that opened and closed in memory and writes them
once a second, in one statement each; while a socket stays open its stay's
``seen_at`` is refreshed every ``SEEN_EVERY``. A process that dies leaves
stays without ``left_at``: they end at their last ``seen_at`` (or, for one
never seen, when they began), so a crash does not make anyone attend for
ever. Who is connected now is the stays still open and seen lately.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rooms.actor import Actor
from server import models

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
SEEN_EVERY = timedelta(seconds=30)
# A stay not seen for this long belongs to a process that is gone.
LEASE = 3 * SEEN_EVERY

_A = models.Attendance
_CLOSE = update(_A).where(_A.connection == bindparam("key")).values(left_at=bindparam("left"))


class Stays:
    """This process's sockets, written in batches."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.open: dict[str, tuple[int, int]] = {}
        self._arrived: list[dict[str, object]] = []
        self._left: list[dict[str, object]] = []
        self._seen_at: datetime | None = None

    def arrived(self, actor: Actor) -> str:
        key = uuid.uuid4().hex
        now = self.clock()
        self.open[key] = (actor.session_id, actor.participant_id)
        self._arrived.append(
            {
                "session_id": actor.session_id,
                "participant_id": actor.participant_id,
                "joined_at": now,
                "connection": key,
                "seen_at": now,
            }
        )
        return key

    def left(self, key: str) -> None:
        if self.open.pop(key, None) is not None:
            self._left.append({"key": key, "left": self.clock()})

    async def flush(self) -> None:
        arrived, self._arrived = self._arrived, []
        left, self._left = self._left, []
        now = self.clock()
        refresh = self._seen_at is None or now - self._seen_at >= SEEN_EVERY
        if not (arrived or left or (refresh and self.open)):
            return
        try:
            async with self.sessionmaker() as db, db.begin():
                if arrived:
                    await db.execute(insert(_A), arrived)
                if left:
                    await (await db.connection()).execute(_CLOSE, left)
                if refresh and self.open:
                    await db.execute(update(_A).where(_A.connection.in_(list(self.open))).values(seen_at=now))
        except Exception:
            # Kept for the next flush: a stay is not lost to a database hiccup.
            self._arrived = arrived + self._arrived
            self._left = left + self._left
            raise
        if refresh:
            self._seen_at = now

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:
                log.exception("attendance not written; again in a second")

    async def stop(self) -> None:
        for key in list(self.open):
            self.left(key)
        await self.flush()


@dataclass(frozen=True)
class Stay:
    participant_id: int
    joined_at: datetime
    left_at: datetime


async def stays_of(db: AsyncSession, session_ids: list[int], now: datetime) -> dict[int, list[Stay]]:
    """Every stay in these sessions, by session, each with the end it had (or has so far)."""
    rows = await db.execute(
        select(_A.session_id, _A.participant_id, _A.joined_at, _A.left_at, _A.seen_at).where(
            _A.session_id.in_(session_ids)
        )
    )
    found: dict[int, list[Stay]] = {}
    for session_id, participant_id, joined, left, seen in rows:
        if left is None:
            alive = seen is not None and now - seen <= LEASE
            left = now if alive else max(joined, seen or joined)
        found.setdefault(session_id, []).append(Stay(participant_id, joined, left))
    return found


async def connected_now(db: AsyncSession, session_ids: list[int], now: datetime) -> dict[int, set[int]]:
    """Session id -> the participants with a socket open there now, in any process."""
    rows = await db.execute(
        select(_A.session_id, _A.participant_id).where(
            _A.session_id.in_(session_ids), _A.left_at.is_(None), _A.seen_at > now - LEASE
        )
    )
    found: dict[int, set[int]] = {}
    for session_id, participant_id in rows:
        found.setdefault(session_id, set()).add(participant_id)
    return found


@dataclass(frozen=True)
class Attended:
    participant_id: int
    first_join: datetime
    last_leave: datetime
    # Overlapping stays (two tabs, a reload) count once.
    seconds: float


def attended(stays: list[Stay]) -> list[Attended]:
    """Per participant: first join, last leave, and the time covered by their stays."""
    by_person: dict[int, list[Stay]] = {}
    for stay in stays:
        by_person.setdefault(stay.participant_id, []).append(stay)
    result = []
    for participant_id, theirs in by_person.items():
        theirs.sort(key=lambda stay: stay.joined_at)
        total = 0.0
        start, end = theirs[0].joined_at, theirs[0].left_at
        for stay in theirs[1:]:
            if stay.joined_at <= end:
                end = max(end, stay.left_at)
            else:
                total += (end - start).total_seconds()
                start, end = stay.joined_at, stay.left_at
        total += (end - start).total_seconds()
        result.append(
            Attended(participant_id, theirs[0].joined_at, max(stay.left_at for stay in theirs), max(0.0, total))
        )
    return result
