"""The snapshot as it was built before it was shared (issue 9), kept as the
reference the shared snapshot must equal, viewer by viewer: every part read
for this one viewer, every vote of every question loaded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interpretation.booth_views import booth_view, caption_view, channels_view
from rooms.actor import Actor
from rooms.commands import Registry
from rooms.floor_views import floor_view, iso
from rooms.languages import LANGUAGE_NAMES
from rooms.question_views import in_order, view_for
from server import models
from server.booth_store import BoothStore, _recent_captions, _recent_messages
from server.event_log import dump
from server.floor_store import load_floor
from server.question_store import load_board, load_votes, topics


async def interpretation_view(db: AsyncSession, session: models.Session, actor: Actor, now: datetime) -> dict[str, Any]:
    store = await BoothStore.load(db, session, now, create=False)
    booths = store.booths
    view: dict[str, Any] = {
        "channels": channels_view(booths),
        "captions": [caption_view(c) for c in reversed(await _recent_captions(db, session.id))],
        "booth": None,
        "captioning": booths.captioners.get(actor.participant_id),
    }
    mine = next((b for b in booths.booths.values() if b.has_member(actor.participant_id)), None)
    if mine is not None:
        messages = await _recent_messages(db, mine) if mine.id is not None else []
        view["booth"] = booth_view(mine, now, list(reversed(messages)))
    return view


async def questions_snapshot(db: AsyncSession, session: models.Session, actor: Actor) -> dict[str, Any]:
    board = await load_board(db, session)
    await load_votes(db, board, list(board.questions))
    voted = {
        question_id
        for question_id, question in board.questions.items()
        if question.merged_into is None and actor.participant_id in board.voters(question)
    }
    views = (view_for(board, q, actor.participant_id, moderates=actor.runs_floor) for q in in_order(board))
    return {
        "is_moderated": board.is_moderated,
        "queue": list(board.queue),
        "items": [view for view in views if view is not None],
        "voted": sorted(voted),
        "topics": await topics(db, session.id),
    }


async def reference_snapshot(
    db: AsyncSession, session: models.Session, actor: Actor, registry: Registry, now: datetime
) -> str:
    event = await db.get(models.Event, session.event_id)
    assert event is not None
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
            "delegations": [{"id": d.id, "name": d.name, "names": d.names or {}, "tier": d.kind} for d in delegations],
            "floor": floor_view(floor, now),
            "interpretation": await interpretation_view(db, session, actor, now),
            "questions": await questions_snapshot(db, session, actor),
        }
    )
