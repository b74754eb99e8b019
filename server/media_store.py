"""What the media relay reads from the database: who may publish where, now."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interpretation.publishing import FloorHolder
from server import models
from server.floor_store import load_floor


@dataclass(frozen=True)
class MediaState:
    """A session as the relay sees it: its channels and their rightful publishers."""

    languages: tuple[str, ...]
    holder: FloorHolder | None
    # Booth language -> its live interpreter (None: nobody on air).
    live: dict[str, int | None] = field(default_factory=dict)
    # The language the current speaker declared.
    floor_language: str | None = None
    last_seq: int = 0


async def load_media_state(db: AsyncSession, session_id: int) -> MediaState | None:
    session = await db.get(models.Session, session_id)
    if session is None:
        return None
    event = await db.get(models.Event, session.event_id)
    languages = session.languages if session.languages is not None else (event.languages if event else [])
    floor = await load_floor(db, session, waiting=False)
    holder = None
    floor_language = None
    if floor.current is not None:
        request = floor.current.request
        holder = FloorHolder(request.speaker_id, request.delegation_id, request.is_in_room)
        floor_language = floor.current.language
    rows = await db.execute(
        select(models.Booth.language, models.Booth.live_interpreter_id).where(models.Booth.session_id == session_id)
    )
    return MediaState(
        languages=tuple(languages or ()),
        holder=holder,
        live={language: live for language, live in rows.all()},
        floor_language=floor_language,
        last_seq=session.last_seq,
    )
