"""What a (re)connecting client is sent first: a snapshot built for that person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interpretation.languages import LANGUAGE_NAMES
from rooms.actor import Actor
from rooms.commands import Registry
from rooms.floor_views import floor_view, iso
from server import models
from server.booth_store import interpretation_view
from server.event_log import dump
from server.floor_store import load_floor
from server.question_store import questions_snapshot


async def lock_session_for_read(db: AsyncSession, session_id: int) -> models.Session | None:
    # FOR SHARE in PostgreSQL: no command commits between reading last_seq and
    # the floor, so the snapshot is exactly the state at that seq.
    return await db.scalar(select(models.Session).where(models.Session.id == session_id).with_for_update(read=True))


async def snapshot(db: AsyncSession, session: models.Session, actor: Actor, registry: Registry, now: datetime) -> str:
    event = await db.get(models.Event, session.event_id)
    assert event is not None  # sessions belong to an event (foreign key)
    floor = await load_floor(db, session)
    delegations = (
        await db.scalars(
            select(models.Delegation)
            .where(models.Delegation.event_id == session.event_id)
            .order_by(models.Delegation.name)
        )
    ).all()
    return dump(
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
            "me": {**actor.view(), "may": registry.allowed(actor.roles)},
            "delegations": [{"id": d.id, "name": d.name, "tier": d.kind} for d in delegations],
            "floor": floor_view(floor, now),
            "questions": await questions_snapshot(db, session, actor),
            "interpretation": await interpretation_view(db, session, actor, now),
        }
    )


def resumed(seq: int, now: datetime, replayed: int) -> str:
    return dump({"type": "resumed", "seq": seq, "server_time": iso(now), "replayed": replayed})
