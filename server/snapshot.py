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
from rooms.floor_views import floor_head, iso, speech_view, waiting_view
from rooms.languages import LANGUAGE_NAMES
from rooms.question_views import VIEWS, in_order, view_kind
from rooms.questions import Board, Question
from server import models
from server.auth import token_key
from server.booth_store import SharedInterpretation, booth_of, shared_interpretation
from server.event_log import dump
from server.floor_store import load_agenda, load_floor
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
    # Encoded: floor_view's keys before "current" (without the closing brace), and "waiting".
    floor_head: str
    floor_waiting: str
    interpretation: SharedInterpretation
    interpretation_head: str
    board: Board
    ordered: list[Question]
    has_votes: bool
    questions_head: str
    topics: str
    # Who authors a question (or one merged into another): they see theirs in any state.
    authors: frozenset[int]
    _items: dict[str, str] = field(default_factory=dict)
    _views: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def _views_for(self, participant_id: int | None, moderates: bool) -> list[dict[str, Any]]:
        """The questions a viewer sees, by the one rule (``rooms.question_views.view_kind``),
        each view built once per state whoever sees it."""
        views = []
        for question in self.ordered:
            kind = view_kind(self.board, question, participant_id, moderates=moderates)
            if kind is None:
                continue
            assert question.id is not None  # stored questions
            view = self._views.get((kind, question.id))
            if view is None:
                view = self._views[(kind, question.id)] = VIEWS[kind](self.board, question)
            views.append(view)
        return views

    def items(self, actor: Actor) -> str:
        """The encoded ``questions.items`` this viewer sees: one encoding per
        recipient group (the moderators; the audience), and a viewer's own for
        the authors, whose questions show in any state."""
        moderates = actor.runs_floor
        if not moderates and actor.participant_id in self.authors:
            return _json(self._views_for(actor.participant_id, moderates))
        group = "moderators" if moderates else "audience"
        encoded = self._items.get(group)
        if encoded is None:
            encoded = self._items[group] = _json(self._views_for(None, moderates))
        return encoded


async def build_shared(db: AsyncSession, session: models.Session, event: models.Event, now: datetime) -> Shared:
    floor = await load_floor(db, session)
    await load_agenda(db, session, floor)  # its budgets are part of the floor's head
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
    return Shared(
        head=_json(head)[1:-1],
        delegations=_json([{"id": d.id, "name": d.name, "names": d.names or {}, "tier": d.kind} for d in delegations]),
        floor=floor,
        # floor_view's parts, the current speech left for each snapshot's clock.
        floor_head=_json(floor_head(floor))[:-1],
        floor_waiting=_json(waiting_view(floor)),
        interpretation=interpretation,
        interpretation_head=_json({"channels": interpretation.channels, "captions": interpretation.captions})[:-1],
        board=board,
        ordered=in_order(board),
        has_votes=isinstance(board, CountedBoard) and bool(board.counts),
        questions_head=_json({"is_moderated": board.is_moderated, "queue": list(board.queue)})[:-1],
        topics=_json(session_topics),
        authors=frozenset(author for question in board.questions.values() for author in board.author_ids(question)),
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
            shared.floor_head,
            ',"current":',
            _json(speech_view(current, now) if current else None),
            ',"waiting":',
            shared.floor_waiting,
            "}",
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
