"""The booths in the database: load what a command needs, write back what it changed.

A session's booths are a handful of rows (one per language); a command on a
booth loads them all, with the event's interpreters and captioners and who
is connected, and writes back only the rows that changed. Booth rows are
created on first use, under the session lock, for each language the event
offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from interpretation.booth_views import booth_view, caption_view, channels_view
from interpretation.booths import Booth, Booths, Handover, Interpreter
from interpretation.captions import BoothMessage, Caption
from interpretation.channels import FLOOR
from rooms.actor import Actor
from server import models
from server.presence import present_ids
from server.state import Access, Store

_B = models.Booth
_A = models.LanguageAssignment
INTERPRETER, CAPTIONER = "interpreter", "captioner"


def _stored(booth: Booth) -> tuple[Any, ...]:
    handover = booth.handover
    return (
        booth.live_id,
        booth.live_since,
        handover.requester_id if handover else None,
        handover.requested_at if handover else None,
        booth.is_auto_relay,
        booth.is_passthrough,
        booth.relay_advice,
        _sources(booth),
    )


def _sources(booth: Booth) -> dict[str, str]:
    return {str(i.participant_id): i.source for i in booth.interpreters if i.source != FLOOR}


@dataclass
class BoothStore:
    session_id: int
    booths: Booths
    _loaded: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @classmethod
    async def load(cls, db: AsyncSession, session: models.Session, now: datetime, *, create: bool) -> BoothStore:
        event = await db.get(models.Event, session.event_id)
        languages = list(event.languages or []) if event is not None else []
        rows = {row.language: row for row in await db.scalars(select(_B).where(_B.session_id == session.id))}
        missing = [code for code in languages if code not in rows]
        if create and missing:
            await db.execute(
                insert(_B), [{"session_id": session.id, "language": code, "sources": {}} for code in missing]
            )
            rows = {row.language: row for row in await db.scalars(select(_B).where(_B.session_id == session.id))}
        present = await present_ids(db, session.id, now)
        booths = Booths()
        for code in languages:
            row = rows.get(code)
            booth = Booth(code)
            if row is not None:
                booth.id = row.id
                booth.live_id, booth.live_since = row.live_interpreter_id, row.live_since
                if row.handover_requester_id is not None and row.handover_requested_at is not None:
                    booth.handover = Handover(row.handover_requester_id, row.handover_requested_at)
                booth.is_auto_relay, booth.is_passthrough = row.is_auto_relay, row.is_passthrough
                booth.relay_advice = row.relay_advice
            booths.booths[code] = booth
        assignments = await db.execute(
            select(_A.participant_id, _A.role, _A.language, _A.works_from, models.Participant.name)
            .add_columns(models.Participant.session_ids)
            .join(models.Participant, models.Participant.id == _A.participant_id)
            .where(_A.event_id == session.event_id)
            .order_by(_A.id)
        )
        for participant_id, role, language, works_from, name, session_ids in assignments.all():
            if session_ids is not None and session.id not in session_ids:
                continue  # not working in this session
            if role == CAPTIONER:
                booths.captioners[participant_id] = language
                continue
            target = booths.booths.get(language)
            if target is None:
                continue  # a language the event no longer offers
            row = rows.get(language)
            source = (row.sources or {}).get(str(participant_id), FLOOR) if row is not None else FLOOR
            target.interpreters.append(
                Interpreter(participant_id, name, tuple(works_from or ()), source, participant_id in present)
            )
        store = cls(session.id, booths)
        store._loaded = {code: _stored(booth) for code, booth in booths.booths.items()}
        return store

    def has_changes(self) -> bool:
        booths = self.booths
        return bool(booths.new_captions or booths.new_messages) or any(
            booth.id is not None and _stored(booth) != self._loaded.get(code) for code, booth in booths.booths.items()
        )

    async def save(self, db: AsyncSession) -> None:
        booths = self.booths
        for code, booth in booths.booths.items():
            stored = _stored(booth)
            if booth.id is None or stored == self._loaded.get(code):
                continue
            live_id, live_since, requester_id, requested_at, auto, passthrough, advice, sources = stored
            await db.execute(
                update(_B)
                .where(_B.id == booth.id)
                .values(
                    live_interpreter_id=live_id,
                    live_since=live_since,
                    handover_requester_id=requester_id,
                    handover_requested_at=requested_at,
                    is_auto_relay=auto,
                    is_passthrough=passthrough,
                    relay_advice=advice,
                    sources=sources,
                )
            )
            self._loaded[code] = stored
        for caption in booths.new_captions:
            caption.id = await db.scalar(
                insert(models.Caption)
                .values(
                    session_id=self.session_id,
                    language=caption.language,
                    author_id=caption.author_id,
                    author_name=caption.author_name,
                    text=caption.text,
                    created_at=caption.created_at,
                    speech_id=caption.speech_id,
                )
                .returning(models.Caption.id)
            )
        booths.new_captions.clear()
        for message in booths.new_messages:
            booth_id = booths.booths[message.language].id
            message.id = await db.scalar(
                insert(models.BoothMessage)
                .values(
                    booth_id=booth_id,
                    author_id=message.author_id,
                    author_name=message.author_name,
                    text=message.text,
                    created_at=message.created_at,
                )
                .returning(models.BoothMessage.id)
            )
        booths.new_messages.clear()


# How much history a snapshot carries: enough to read back a moment.
SNAPSHOT_MESSAGES = 50
SNAPSHOT_CAPTIONS = 50


@dataclass
class SharedInterpretation:
    """What every viewer's ``interpretation`` has in common at one state."""

    channels: list[dict[str, Any]]
    captions: list[dict[str, Any]]
    # Who captions which language, and who works in a booth (their first booth's language).
    captioners: dict[int, str]
    members: frozenset[int]


async def shared_interpretation(db: AsyncSession, session: models.Session, now: datetime) -> SharedInterpretation:
    """Every channel's liveness for everyone and the recent captions."""
    booths = (await BoothStore.load(db, session, now, create=False)).booths
    members = frozenset(i.participant_id for booth in booths.booths.values() for i in booth.interpreters)
    return SharedInterpretation(
        channels=channels_view(booths),
        captions=[caption_view(c) for c in reversed(await _recent_captions(db, session.id))],
        captioners=dict(booths.captioners),
        members=members,
    )


async def booth_of(db: AsyncSession, session: models.Session, actor: Actor, now: datetime) -> dict[str, Any] | None:
    """The whole booth, for its interpreters (read afresh: who is present
    and a pending handover change without a new seq)."""
    booths = (await BoothStore.load(db, session, now, create=False)).booths
    mine = next((b for b in booths.booths.values() if b.has_member(actor.participant_id)), None)
    if mine is None:
        return None
    messages = await _recent_messages(db, mine) if mine.id is not None else []
    return booth_view(mine, now, list(reversed(messages)))


async def _recent_captions(db: AsyncSession, session_id: int) -> list[Caption]:
    C = models.Caption
    rows = await db.scalars(
        select(C).where(C.session_id == session_id).order_by(C.created_at.desc(), C.id.desc()).limit(SNAPSHOT_CAPTIONS)
    )
    return [Caption(r.language, r.text, r.author_id or 0, r.author_name, r.created_at, r.speech_id, r.id) for r in rows]


async def _recent_messages(db: AsyncSession, booth: Booth) -> list[BoothMessage]:
    M = models.BoothMessage
    rows = await db.scalars(
        select(M).where(M.booth_id == booth.id).order_by(M.created_at.desc(), M.id.desc()).limit(SNAPSHOT_MESSAGES)
    )
    return [BoothMessage(booth.language, r.text, r.author_id or 0, r.author_name, r.created_at, r.id) for r in rows]


class BoothsStore(Store[Booths]):
    """The booths, read afresh by every command that uses them: who is
    present changes without a command."""

    kind = Booths
    is_held = False

    def __init__(self, rows: BoothStore) -> None:
        super().__init__(rows.booths)
        self.rows = rows

    @classmethod
    async def load(cls, tx: Access, parts: tuple[int, ...]) -> BoothsStore:
        return cls(await BoothStore.load(tx.db, tx.session, tx.now, create=True))

    async def save(self, tx: Access) -> None:
        await self.rows.save(tx.db)

    def has_changes(self, tx: Access) -> bool:
        return self.rows.has_changes()
