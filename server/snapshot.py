"""What a (re)connecting client is sent first: a snapshot, or the events it missed."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interpretation.languages import LANGUAGE_NAMES
from rooms.roles import allowed_commands
from server import models
from server.auth import Actor
from server.floor_store import load_floor
from server.hub import audience_includes
from server.views import floor_view, iso


def _dump(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


async def lock_session_for_read(db: AsyncSession, session_id: int) -> models.Session | None:
    # FOR SHARE in PostgreSQL: no command commits between reading last_seq and
    # the floor, so the snapshot is exactly the state at that seq.
    return await db.scalar(
        select(models.Session).where(models.Session.id == session_id).with_for_update(read=True)
    )


async def snapshot(db: AsyncSession, session: models.Session, actor: Actor, now: datetime) -> str:
    event = await db.get(models.Event, session.event_id)
    stored = await load_floor(db, session)
    delegations = (
        await db.scalars(
            select(models.Delegation).where(models.Delegation.event_id == session.event_id).order_by(
                models.Delegation.name
            )
        )
    ).all()
    return _dump(
        {
            "type": "snapshot",
            "seq": session.last_seq,
            "server_time": iso(now),
            "event": {
                "id": event.id,
                "title": event.title,
                "timezone": event.timezone,
                "languages": [{"code": code, "name": LANGUAGE_NAMES.get(code, code)} for code in event.languages],
            },
            "session": {
                "id": session.id,
                "title": session.title,
                "kind": session.kind,
                "starts_at": iso(session.starts_at),
                "ends_at": iso(session.ends_at),
                "is_hybrid": session.is_hybrid,
            },
            "me": {**actor.view(), "may": allowed_commands(actor.roles)},
            "delegations": [{"id": d.id, "name": d.name, "tier": d.kind} for d in delegations],
            "floor": floor_view(stored.floor, now),
        }
    )


async def missed_events(db: AsyncSession, session_id: int, after_seq: int, before_seq: int | None, actor: Actor) -> list[str]:
    """The logged events with after_seq < seq < before_seq this person may see, in order."""
    query = select(models.SessionEvent.audience, models.SessionEvent.payload).where(
        models.SessionEvent.session_id == session_id, models.SessionEvent.seq > after_seq
    )
    if before_seq is not None:
        query = query.where(models.SessionEvent.seq < before_seq)
    rows = (await db.execute(query.order_by(models.SessionEvent.seq))).all()
    return [payload for audience, payload in rows if audience_includes(actor, audience)]


def resumed(seq: int, now: datetime, replayed: int) -> str:
    return _dump({"type": "resumed", "seq": seq, "server_time": iso(now), "replayed": replayed})
