"""Records of a meeting: the speeches heard in a session, as CSV."""

from __future__ import annotations

import csv
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import models

SPEECH_COLUMNS = [
    "speech_id",
    "session",
    "speaker",
    "delegation",
    "tier",
    "kind",
    "language",
    "is_in_room",
    "started_at",
    "ended_at",
    "duration_s",
    "limit_s",
    "item",
    "override",
]


Sessions = async_sessionmaker[AsyncSession]


class UnknownSession(LookupError):
    def __str__(self) -> str:
        return str(self.args[0])


async def resolve_session(db: AsyncSession, ref: str) -> models.Session:
    """A session by numeric id, by "EVENT_SLUG/SESSION_KEY", or by a key unique across events.

    A number is taken as an id first, since ids are what the pages show."""
    ref = ref.strip()
    if ref.isdigit():
        session = await db.get(models.Session, int(ref))
        if session is not None:
            return session
    if "/" in ref:
        slug, _, key = ref.partition("/")
        session = await db.scalar(
            select(models.Session).join(models.Event).where(models.Event.slug == slug, models.Session.key == key)
        )
        if session is None:
            raise UnknownSession(f"no session {key!r} in event {slug!r}")
        return session
    found = (
        await db.execute(select(models.Session, models.Event.slug).join(models.Event).where(models.Session.key == ref))
    ).all()
    if not found:
        raise UnknownSession(f"no session with id or key {ref!r}")
    if len(found) > 1:
        choices = ", ".join(sorted(f"{slug}/{session.key}" for session, slug in found))
        raise UnknownSession(f"session key {ref!r} is used by several events; say which: {choices}")
    return found[0][0]


async def speech_rows(sessionmaker: Sessions, ref: str) -> list[dict[str, Any]]:
    async with sessionmaker() as db:
        session = await resolve_session(db, ref)
        result = await db.execute(
            select(models.Speech, models.SpeakingRequest, models.Delegation)
            .join(models.SpeakingRequest, models.Speech.request_id == models.SpeakingRequest.id)
            .outerjoin(models.Delegation, models.SpeakingRequest.delegation_id == models.Delegation.id)
            .where(models.Speech.session_id == session.id)
            .order_by(models.Speech.started_at, models.Speech.id)
        )
        items = {
            row.id: row.key
            for row in await db.scalars(select(models.AgendaItem).where(models.AgendaItem.event_id == session.event_id))
        }
        rows = []
        for speech, request, delegation in result:
            duration = None
            if speech.ended_at is not None:
                duration = round((speech.ended_at - speech.started_at).total_seconds() - (speech.paused_s or 0.0), 1)
            rows.append(
                {
                    "speech_id": speech.id,
                    "session": session.key,
                    "speaker": request.speaker_name,
                    "delegation": delegation.name if delegation else "",
                    "tier": request.tier,
                    "kind": request.kind,
                    "language": speech.language or request.language or "",
                    "is_in_room": "true" if request.is_in_room else "false",
                    "started_at": speech.started_at.isoformat(),
                    "ended_at": speech.ended_at.isoformat() if speech.ended_at else "",
                    "duration_s": "" if duration is None else f"{duration:.1f}",
                    "limit_s": "" if speech.limit_s is None else speech.limit_s,
                    # The agenda item it was on (its budgets count this duration), and a chair's override.
                    "item": items.get(request.agenda_item_id, "") if request.agenda_item_id is not None else "",
                    "override": "true" if request.is_override else "",
                }
            )
        return rows


async def export_speeches(sessionmaker: Sessions, ref: str, out: TextIO) -> int:
    """Write the session's speeches as CSV; return how many."""
    rows = await speech_rows(sessionmaker, ref)
    writer = csv.DictWriter(out, fieldnames=SPEECH_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return len(rows)


CAPTION_COLUMNS = ["caption_id", "session", "language", "at", "speech_id", "speaker", "captioner", "text"]


async def caption_rows(sessionmaker: Sessions, ref: str) -> list[dict[str, Any]]:
    """The session's live captions in the order typed, each with the speech it was typed during."""
    async with sessionmaker() as db:
        session = await resolve_session(db, ref)
        result = await db.execute(
            select(models.Caption, models.SpeakingRequest.speaker_name)
            .outerjoin(models.Speech, models.Caption.speech_id == models.Speech.id)
            .outerjoin(models.SpeakingRequest, models.Speech.request_id == models.SpeakingRequest.id)
            .where(models.Caption.session_id == session.id)
            .order_by(models.Caption.created_at, models.Caption.id)
        )
        return [
            {
                "caption_id": caption.id,
                "session": session.key,
                "language": caption.language,
                "at": caption.created_at.isoformat(),
                "speech_id": caption.speech_id or "",
                "speaker": speaker or "",
                "captioner": caption.author_name,
                "text": caption.text,
            }
            for caption, speaker in result
        ]


async def export_captions(sessionmaker: Sessions, ref: str, out: TextIO) -> int:
    """Write the session's captions as CSV; return how many."""
    rows = await caption_rows(sessionmaker, ref)
    writer = csv.DictWriter(out, fieldnames=CAPTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return len(rows)
