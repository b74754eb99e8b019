"""The secretariat's desk: each event's hidden session where registration runs.

Registration commands (rooms/registration_commands.py) go through the kernel
like every command: they need a session to lock, a log to keep and sockets
to reach. Each event has one session of kind ``secretariat`` for that; it is
in no programme, no one lands in it, and only the event's organizers enter
it (``server.auth.standing``), so its events, which carry personal data,
reach organizers alone.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rooms.roles import Role
from server import models
from server.models import utcnow

KIND = "secretariat"
KEY = "secretariat"


def is_desk(session: models.Session) -> bool:
    return session.kind == KIND


def admits(session_kind: str, roles: frozenset[Role]) -> bool:
    """Whether these roles enter a session of this kind: the desk is the organizers'."""
    return session_kind != KIND or Role.ORGANIZER in roles


async def desk_id(
    reader: async_sessionmaker[AsyncSession], writer: async_sessionmaker[AsyncSession], event_id: int
) -> int:
    """The id of the event's desk: read without a lock, made if it is missing."""
    async with reader() as db:
        found = await db.scalar(
            select(models.Session.id).where(models.Session.event_id == event_id, models.Session.kind == KIND)
        )
    if found is not None:
        return int(found)
    async with writer() as db, db.begin():
        return (await desk_of(db, event_id)).id


async def desk_of(db: AsyncSession, event_id: int) -> models.Session:
    """The event's desk, made on first use (within the caller's transaction)."""
    found = await db.scalar(
        select(models.Session).where(models.Session.event_id == event_id, models.Session.kind == KIND)
    )
    if found is not None:
        return found
    now = utcnow()
    desk = models.Session(
        event_id=event_id,
        key=KEY,
        title="Secretariat",
        kind=KIND,
        starts_at=now,
        ends_at=now + timedelta(days=3650),
        is_hybrid=False,
        precedence=[],
        time_limits={},
        point_of_order_limit=None,
        right_of_reply_limit=None,
        last_seq=0,
        is_list_closed=True,
        titles={},
        descriptions={},
        waiting_order=[],
    )
    db.add(desk)
    await db.flush()
    return desk
