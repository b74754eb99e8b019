"""Questions in the database: load a session's board, write back what a command changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, distinct, func, insert, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from rooms.questions import Board, Question, State
from server import models
from server.state import Access, Store

_Q = models.Question
_V = models.QuestionVote
_STATES = {state.value: state for state in State}


@dataclass
class CountedBoard(Board):
    """A board whose votes were counted in the database, not loaded voter by voter
    (``vote_counts``): what snapshots show, never what a command changes."""

    counts: dict[int, int] = field(default_factory=dict, repr=False)

    def votes(self, question: Question) -> int:
        return self.counts.get(question.id, 0) if question.id is not None else 0


async def load_board(db: AsyncSession, session: models.Session, *, counted: bool = False) -> Board:
    """Every question of the session, without votes (see ``load_votes``);
    ``counted``: a ``CountedBoard`` with the votes counted (``vote_counts``)."""
    event = await db.get(models.Event, session.event_id)
    rows = (
        await db.execute(
            select(_Q, models.Participant.name, models.Delegation.name)
            .join(models.Participant, models.Participant.id == _Q.author_id)
            .outerjoin(models.Delegation, models.Delegation.id == _Q.delegation_id)
            .where(_Q.session_id == session.id)
        )
    ).all()
    topic_ids = await db.scalars(select(models.QuestionTopic.id).where(models.QuestionTopic.session_id == session.id))
    board = (CountedBoard if counted else Board)(
        is_moderated=session.questions_moderated,
        languages=tuple(event.languages) if event is not None else (),
        topic_ids=frozenset(topic_ids),
        opens_at=session.starts_at,
    )
    ranks: list[tuple[int, int]] = []
    for row, author_name, delegation_name in rows:
        question = _question_from(row, author_name, delegation_name)
        board.questions[row.id] = question
        if question.state is State.QUEUED:
            ranks.append((row.queue_rank or 0, row.id))
    board.queue = [question_id for _, question_id in sorted(ranks)]
    if counted:
        assert isinstance(board, CountedBoard)
        board.counts = await vote_counts(db, session.id) if board.questions else {}
    return board


async def vote_counts(db: AsyncSession, session_id: int) -> dict[int, int]:
    """Each question's votes, as ``Board.votes`` counts them: a vote counts for
    the question voted on and for the one it was merged into, each distinct
    voter once. Only questions with a vote are in the answer."""
    own = (
        select(_V.question_id.label("target"), _V.participant_id)
        .join(_Q, _Q.id == _V.question_id)
        .where(_Q.session_id == session_id)
    )
    merged = (
        select(_Q.merged_into_id.label("target"), _V.participant_id)
        .join(_Q, _Q.id == _V.question_id)
        .where(_Q.session_id == session_id, _Q.merged_into_id.is_not(None))
    )
    votes = union_all(own, merged).subquery()
    rows = await db.execute(
        select(votes.c.target, func.count(distinct(votes.c.participant_id))).group_by(votes.c.target)
    )
    return {target: count for target, count in rows.all()}


async def votes_of(db: AsyncSession, session_id: int, participant_id: int) -> list[int]:
    """The questions of the session this participant voted on (their own votes only)."""
    rows = await db.scalars(
        select(_V.question_id)
        .join(_Q, _Q.id == _V.question_id)
        .where(_V.participant_id == participant_id, _Q.session_id == session_id)
    )
    return list(rows)


def counted_for(board: Board, voted_on: list[int]) -> list[int]:
    """The questions a viewer's votes count for (``Board.voters``): the one voted
    on while it stands alone, else the one it was merged into; sorted."""
    counted: set[int] = set()
    for question_id in voted_on:
        question = board.questions.get(question_id)
        if question is None:
            continue
        if question.merged_into is None:
            counted.add(question_id)
            continue
        kept = board.questions.get(question.merged_into)
        if kept is not None and kept.merged_into is None and kept.id is not None:
            counted.add(kept.id)
    return sorted(counted)


def _question_from(row: models.Question, author_name: str, delegation_name: str | None) -> Question:
    return Question(
        id=row.id,
        author_id=row.author_id,
        author_name=author_name,
        delegation_id=row.delegation_id,
        delegation_name=delegation_name,
        text=row.text,
        original_text=row.original_text,
        language=row.language,
        topic_id=row.topic_id,
        is_anonymous=row.is_anonymous,
        wants_to_ask=row.wants_to_ask,
        is_presubmitted=row.is_presubmitted,
        state=_STATES[row.state],
        reject_reason=row.reject_reason,
        merged_into=row.merged_into_id,
        speaking_request_id=row.speaking_request_id,
        submitted_at=row.submitted_at,
        approved_at=row.approved_at,
        answered_at=row.answered_at,
        updated_at=row.updated_at,
    )


async def load_votes(db: AsyncSession | AsyncConnection, board: Board, question_ids: Iterable[int]) -> None:
    """Load the voters of these questions and of those merged into them."""
    wanted: list[Question] = []
    for question_id in question_ids:
        question = board.questions.get(question_id)
        if question is None:
            continue
        wanted += [part for part in board.authors(question) if part.voters is None]
        if question.merged_into is not None and question.merged_into in board.questions:
            kept = board.questions[question.merged_into]
            wanted += [part for part in board.authors(kept) if part.voters is None]
    by_id = {question.id: question for question in wanted if question.id is not None}
    if not by_id:
        return
    for question in by_id.values():
        question.voters = set()
    rows = await db.execute(select(_V.question_id, _V.participant_id).where(_V.question_id.in_(list(by_id))))
    for question_id, participant_id in rows.all():
        voters = by_id[question_id].voters
        assert voters is not None
        voters.add(participant_id)


async def save_board(db: AsyncSession | AsyncConnection, session: models.Session, board: Board, now: Any) -> None:
    for question in {id(q): q for q in board.touched}.values():
        values = _values(question)
        if question.id is None:
            new_id = await db.scalar(insert(_Q).values(session_id=session.id, **values).returning(_Q.id))
            assert new_id is not None  # RETURNING the new row's id
            question.id = new_id
            board.questions[new_id] = question
        else:
            await db.execute(update(_Q).where(_Q.id == question.id).values(**values))
    board.touched.clear()
    if board.queue_changed:
        # A rank left on a question out of the queue is never read (only queued ones are ranked).
        for rank, question_id in enumerate(board.queue, start=1):
            await db.execute(update(_Q).where(_Q.id == question_id).values(queue_rank=rank))
        board.queue_changed = False
    if board.votes_added:
        await db.execute(
            insert(_V),
            [{"question_id": q, "participant_id": p, "created_at": now} for q, p in board.votes_added],
        )
        board.votes_added.clear()
    for question_id, participant_id in board.votes_removed:
        await db.execute(delete(_V).where(_V.question_id == question_id, _V.participant_id == participant_id))
    board.votes_removed.clear()
    if board.moderation_changed:
        session.questions_moderated = board.is_moderated
        board.moderation_changed = False


def _values(question: Question) -> dict[str, Any]:
    return {
        "author_id": question.author_id,
        "delegation_id": question.delegation_id,
        "text": question.text,
        "original_text": question.original_text,
        "language": question.language,
        "topic_id": question.topic_id,
        "is_anonymous": question.is_anonymous,
        "wants_to_ask": question.wants_to_ask,
        "is_presubmitted": question.is_presubmitted,
        "state": question.state.value,
        "reject_reason": question.reject_reason,
        "merged_into_id": question.merged_into,
        "speaking_request_id": question.speaking_request_id,
        "submitted_at": question.submitted_at,
        "approved_at": question.approved_at,
        "answered_at": question.answered_at,
        "updated_at": question.updated_at,
    }


async def topics(db: AsyncSession, session_id: int) -> list[dict[str, Any]]:
    rows = await db.scalars(
        select(models.QuestionTopic)
        .where(models.QuestionTopic.session_id == session_id)
        .order_by(models.QuestionTopic.position, models.QuestionTopic.id)
    )
    return [{"id": row.id, "key": row.key, "texts": row.texts} for row in rows]


class BoardStore(Store[Board]):
    """The questions, kept between commands with the votes loaded so far:
    ``ctx.state(Board, *question_ids)`` loads the votes of those questions."""

    kind = Board
    session_columns = ("questions_moderated",)

    @classmethod
    async def load(cls, tx: Access, parts: tuple[int, ...]) -> BoardStore:
        store = cls(await load_board(tx.db, tx.session))
        await store.extend(tx, parts)
        return store

    async def extend(self, tx: Access, parts: tuple[int, ...]) -> None:
        await load_votes(tx.connection, self.state, parts)

    async def save(self, tx: Access) -> None:
        await save_board(tx.connection, tx.session, self.state, tx.now)

    def has_changes(self, tx: Access) -> bool:
        board = self.state
        return bool(
            board.touched or board.votes_added or board.votes_removed or board.queue_changed or board.moderation_changed
        )
