"""What the kernel holds of a session between two of its commands.

Loading the session row, the sender's standing and the floor through the ORM
cost most of a command (7-8 statements, 5-6 ms of CPU). Under the session
lock, one statement reads the session's ``last_seq``, the event's
``revision`` (bumped by every ``tribune load``) and the sender's role rows.
While ``last_seq`` and ``revision`` are what this process saw after its own
last commit, nobody else changed the floor, the rules or the people, and
what it holds is the truth. Otherwise (another process ran a command, the
organizer loaded the event again) it loads afresh. A command that fails
half-way may have changed what is held: the kernel then drops it.

The floor and the questions (with the votes loaded so far) are held; the
booths are not, since interpreters' presence changes without a command.
Roles are read at every command, since they decide what the sender may do
as they stand now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from rooms.actor import Actor
from rooms.floor import Floor
from rooms.questions import Board
from server import models
from server.auth import Person, person_by_id, standing
from server.floor_store import load_floor
from server.question_store import load_board

_S = models.Session
_E = models.Event
_PR = models.ParticipantRole
_P = models.Participant


# Built once: building a statement costs more than running it in SQLite.
_HEAD = (
    select(_S.last_seq, _E.revision, _P.token_hash, _PR.role, _PR.session_id)
    .join(_E, _E.id == _S.event_id)
    .outerjoin(_P, _P.id == bindparam("participant_id"))
    .outerjoin(_PR, _PR.participant_id == bindparam("participant_id"))
    .where(_S.id == bindparam("session_id"))
    .with_for_update(of=_S)
)
_STORE = update(_S).where(_S.id == bindparam("_id"))


class Head(NamedTuple):
    """What one statement under the lock says about a session and a sender."""

    last_seq: int
    revision: int
    roles: tuple[tuple[str, int | None], ...]
    # The hash of the sender's valid join link (None: no such participant).
    token_hash: str | None = None


async def lock_head(connection: AsyncConnection, session_id: int, participant_id: int) -> Head | None:
    """Lock the session (a row lock in PostgreSQL; SQLite's writer lock is
    already held) and read its head and the sender's roles, or None."""
    rows = (await connection.execute(_HEAD, {"session_id": session_id, "participant_id": participant_id})).all()
    if not rows:
        return None
    roles = tuple((row.role, row.session_id) for row in rows if row.role is not None)
    return Head(rows[0].last_seq, rows[0].revision, roles, rows[0].token_hash)


class Stored(NamedTuple):
    """The session's columns that commands change, as the database has them."""

    waiting_order: tuple[int, ...]
    is_list_closed: bool
    questions_moderated: bool
    last_seq: int

    @classmethod
    def of(cls, session: models.Session) -> Stored:
        return cls(
            tuple(session.waiting_order),
            session.is_list_closed,
            session.questions_moderated,
            session.last_seq,
        )


@dataclass
class Held:
    # Detached from any transaction: read freely, written back by ``store``.
    session: models.Session
    revision: int
    stored: Stored
    floor: Floor | None = None
    # With the votes of the questions commands touched so far.
    board: Board | None = None
    people: dict[int, Person | None] = field(default_factory=dict)
    delegations: dict[int, models.Delegation | None] = field(default_factory=dict)

    @classmethod
    async def load(cls, db: AsyncSession, session_id: int, revision: int) -> Held:
        session = await db.get(models.Session, session_id, populate_existing=True)
        assert session is not None  # locked by lock_head, which found it
        db.expunge(session)
        return cls(session, revision, Stored.of(session))

    def is_current(self, head: Head) -> bool:
        return head.last_seq == self.stored.last_seq and head.revision == self.revision

    async def actor(self, connection: AsyncConnection, participant_id: int, head: Head) -> Actor | None:
        """The sender's standing with the roles just read."""
        if participant_id not in self.people:
            self.people[participant_id] = await person_by_id(connection, participant_id)
        person = self.people[participant_id]
        return None if person is None else standing(person, head.roles, self.session)

    async def the_floor(self, connection: AsyncConnection) -> Floor:
        if self.floor is None:
            self.floor = await load_floor(connection, self.session)
        return self.floor

    async def the_board(self, db: AsyncSession) -> Board:
        if self.board is None:
            self.board = await load_board(db, self.session)
        return self.board

    async def delegation(self, orm: Callable[[], AsyncSession], delegation_id: int) -> models.Delegation | None:
        if delegation_id not in self.delegations:
            db = orm()
            found = await db.get(models.Delegation, delegation_id)
            if found is not None:
                db.expunge(found)
            self.delegations[delegation_id] = found
        return self.delegations[delegation_id]

    def has_changes(self) -> bool:
        """Whether the floor or the questions changed since the last write."""
        floor, board = self.floor, self.board
        if floor is not None and (
            floor.touched_requests
            or floor.touched_speeches
            or floor.is_closed != self.stored.is_list_closed
            or tuple(floor.order()) != self.stored.waiting_order
        ):
            return True
        return board is not None and bool(
            board.touched or board.votes_added or board.votes_removed or board.queue_changed or board.moderation_changed
        )

    async def store(self, connection: AsyncConnection) -> None:
        """Write the session's columns that changed since the last commit."""
        session = self.session
        now = Stored.of(session)
        if now == self.stored:
            return
        changes: dict[str, object] = {"last_seq": session.last_seq}
        if now.waiting_order != self.stored.waiting_order:
            changes["waiting_order"] = list(now.waiting_order)
        if now.is_list_closed != self.stored.is_list_closed:
            changes["is_list_closed"] = now.is_list_closed
        if now.questions_moderated != self.stored.questions_moderated:
            changes["questions_moderated"] = now.questions_moderated
        await connection.execute(_STORE, {"_id": session.id, **changes})

    def committed(self) -> None:
        self.stored = Stored.of(self.session)
