"""What a (re)connecting client is sent first: a snapshot built for that person.

Most of a snapshot is the same for everyone at one ``seq``: the event, the
session, the delegations, the floor, the channels and captions, the
questions the audience sees with their votes (and the moderators' fuller
view of every question). That part (``Shared``) is read once per state,
encoded once and shared by every connect at that state
(``server/snapshot_cache.py``). Each snapshot then adds what is its
viewer's own: ``me``, ``server_time`` and the current speech's clock, the
questions they voted for (their own votes, read by themselves), their own
questions in any state, and an interpreter's booth. The text is the shared
encoded pieces with the personal ones spliced in between, in the order of
the keys of the message as documented (docs/protocol.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from rooms.actor import Actor
from rooms.commands import Registry
from rooms.floor import Floor
from rooms.floor_views import floor_view, iso, speech_view
from rooms.languages import LANGUAGE_NAMES
from rooms.question_views import author_view, moderator_view, public_view
from rooms.questions import Board, Question
from server import models
from server.auth import token_key
from server.booth_store import SharedInterpretation, booth_of, shared_interpretation
from server.event_log import dump
from server.floor_store import load_floor
from server.question_store import CountedBoard, counted_for, load_board, topics, votes_of
from server.snapshot_cache import SharedCache


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Built once: building a statement with its options costs more than running it.
_CONNECT = (
    select(models.Session, models.Event, models.Participant)
    .join(models.Event, models.Event.id == models.Session.event_id)
    .outerjoin(models.Participant, models.Participant.token_hash == bindparam("token_hash"))
    .options(joinedload(models.Participant.roles), joinedload(models.Participant.delegation))
    .where(models.Session.id == bindparam("session_id"))
)


async def read_for_connect(
    db: AsyncSession, session_id: int, token: str | None
) -> tuple[models.Session, models.Event, models.Participant | None] | None:
    """The session (read in a reader's transaction, ``server.db.sessionmaker``:
    what is read after ``last_seq`` is the state at that seq), its event, and
    the participant whose join token this is, with what deciding their standing needs (``server.auth.actor_in``): one round
    trip. None when there is no such session."""
    # No token is nobody's: no hash of a token is empty.
    result = await db.execute(_CONNECT, {"session_id": session_id, "token_hash": token_key(token) or ""})
    row = result.unique().first()
    return None if row is None else (row[0], row[1], row[2])


async def read_session_and_event(db: AsyncSession, session_id: int) -> tuple[models.Session, models.Event] | None:
    found = await read_for_connect(db, session_id, None)
    return None if found is None else (found[0], found[1])


@dataclass
class Shared:
    """The part of a session's snapshots that is the same for everyone at one state."""

    # Encoded: from "event" to "session" (after "server_time"), and "delegations".
    head: str
    delegations: str
    # The floor without the current speech, whose clock is each snapshot's own.
    floor: Floor
    floor_before_current: str
    floor_after_current: str
    interpretation: SharedInterpretation
    interpretation_head: str
    board: Board
    ordered: list[Question]
    has_votes: bool
    questions_head: str
    topics: str
    # Who authors which questions (with those merged into theirs).
    authored: dict[int, frozenset[int]]
    _items: dict[str, str] = field(default_factory=dict)
    _views: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def _view(self, kind: str, question: Question) -> dict[str, Any]:
        assert question.id is not None  # stored questions
        key = (kind, question.id)
        view = self._views.get(key)
        if view is None:
            make = {"public": public_view, "author": author_view, "moderator": moderator_view}[kind]
            view = self._views[key] = make(self.board, question)
        return view

    def items(self, actor: Actor) -> str:
        """The encoded ``questions.items`` this viewer sees (``rooms.question_views.view_for``)."""
        group = "moderators" if actor.runs_floor else "audience"
        mine = frozenset() if actor.runs_floor else self.authored.get(actor.participant_id, frozenset())
        if not mine:
            encoded = self._items.get(group)
            if encoded is None:
                if actor.runs_floor:
                    views = [self._view("moderator", q) for q in self.ordered]
                else:
                    views = [self._view("public", q) for q in self.ordered if q.is_public]
                encoded = self._items[group] = _json(views)
            return encoded
        # An author: their own questions, in any state, where they stand in the list.
        return _json(
            [
                self._view("author", q) if q.id in mine else self._view("public", q)
                for q in self.ordered
                if q.id in mine or q.is_public
            ]
        )


async def build_shared(db: AsyncSession, session: models.Session, event: models.Event, now: datetime) -> Shared:
    floor = await load_floor(db, session)
    delegations = (
        await db.scalars(
            select(models.Delegation)
            .where(models.Delegation.event_id == session.event_id)
            .order_by(models.Delegation.name)
        )
    ).all()
    interpretation = await shared_interpretation(db, session, now)
    board = await load_board(db, session, counted=True)
    session_topics = await topics(db, session.id)
    head = {
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
    }
    # floor_view's keys in order, the current speech left for each snapshot.
    floor_text = _json({**floor_view(floor, now), "current": None})
    before, marker, after = floor_text.partition('"current":null')
    assert marker, "the floor's view has a current speech"
    authored: dict[int, set[int]] = {}
    for question in board.questions.values():
        for author_id in board.author_ids(question):
            if question.id is not None:
                authored.setdefault(author_id, set()).add(question.id)
    return Shared(
        head=_json(head)[1:-1],
        delegations=_json([{"id": d.id, "name": d.name, "tier": d.kind} for d in delegations]),
        floor=floor,
        floor_before_current=before + '"current":',
        floor_after_current=after,
        interpretation=interpretation,
        interpretation_head=_json({"channels": interpretation.channels, "captions": interpretation.captions})[:-1],
        board=board,
        ordered=sorted(board.questions.values(), key=lambda q: (q.submitted_at, q.id or 0)),
        has_votes=isinstance(board, CountedBoard) and bool(board.counts),
        questions_head=_json({"is_moderated": board.is_moderated, "queue": list(board.queue)})[:-1],
        topics=_json(session_topics),
        authored={author_id: frozenset(ids) for author_id, ids in authored.items()},
    )


async def snapshot(
    db: AsyncSession,
    session: models.Session,
    actor: Actor,
    registry: Registry,
    now: datetime,
    *,
    event: models.Event | None = None,
    cache: SharedCache[Shared] | None = None,
) -> str:
    """One viewer's snapshot of the session at ``session.last_seq``, read in
    ``db``'s transaction (see ``read_session_and_event``). With a ``cache``,
    the shared part is the one built for this state, if any."""
    if event is None:
        event = await db.get(models.Event, session.event_id)
        assert event is not None  # sessions belong to an event (foreign key)
    known_event = event

    async def build() -> Shared:
        return await build_shared(db, session, known_event, now)

    if cache is None:
        shared = await build()
    else:
        shared = await cache.get((session.id, session.last_seq, event.revision), build)
    return await personal(db, session, shared, actor, registry, now)


async def personal(
    db: AsyncSession, session: models.Session, shared: Shared, actor: Actor, registry: Registry, now: datetime
) -> str:
    """The shared part with this viewer's own spliced in: one JSON object."""
    me = {**actor.view(), "may": registry.allowed(actor.roles)}
    current = shared.floor.current
    voted: list[int] = []
    if shared.has_votes:
        voted = counted_for(shared.board, await votes_of(db, session.id, actor.participant_id))
    booth = None
    if actor.participant_id in shared.interpretation.members:
        booth = await booth_of(db, session, actor, now)
    captioning = shared.interpretation.captioners.get(actor.participant_id)
    return "".join(
        (
            '{"type":"snapshot","seq":',
            _json(session.last_seq),
            ',"server_time":',
            _json(iso(now)),
            ",",
            shared.head,
            ',"me":',
            _json(me),
            ',"delegations":',
            shared.delegations,
            ',"floor":',
            shared.floor_before_current,
            _json(speech_view(current, now) if current else None),
            shared.floor_after_current,
            ',"interpretation":',
            shared.interpretation_head,
            ',"booth":',
            _json(booth),
            ',"captioning":',
            _json(captioning),
            '},"questions":',
            shared.questions_head,
            ',"items":',
            shared.items(actor),
            ',"voted":',
            _json(voted),
            ',"topics":',
            shared.topics,
            "}}",
        )
    )


def resumed(seq: int, now: datetime, replayed: int) -> str:
    return dump({"type": "resumed", "seq": seq, "server_time": iso(now), "replayed": replayed})
