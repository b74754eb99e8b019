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

Each domain's state is held as its store says (``server.state``): the floor
and the questions (with the votes loaded so far) are, the booths are not,
since interpreters' presence changes without a command. What a refused
command opened is dropped. Roles are read at every command, since they
decide what the sender may do as they stand now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from rooms.actor import Actor
from server import models
from server.auth import Person, person_by_id, standing
from server.db import deferrable, read_now, write_later
from server.state import Store

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
# The row is locked and there: its rowcount is not read (server.db.deferrable).
_STORE = deferrable(update(_S).where(_S.id == bindparam("_id")))


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
    rows = await read_now(connection, _HEAD, {"session_id": session_id, "participant_id": participant_id})
    if not rows:
        return None
    last_seq, revision, token_hash = rows[0][:3]
    roles = tuple((role, role_session) for *_, role, role_session in rows if role is not None)
    return Head(last_seq, revision, roles, token_hash)


def _frozen(value: object) -> object:
    # A list is compared as a tuple, so the copy taken at commit is a snapshot.
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    return value


def columns_of(session: models.Session, names: tuple[str, ...]) -> dict[str, object]:
    return {name: _frozen(getattr(session, name)) for name in names}


@dataclass
class Held:
    # Detached from any transaction: read freely, written back by ``store``.
    session: models.Session
    revision: int
    # The session's columns commands change (``Store.session_columns``), as the database has them.
    columns: tuple[str, ...]
    stored: dict[str, object]
    # The domains' state kept since the last commit, by kind (server.state).
    kept: dict[type[Any], Store[Any]] = field(default_factory=dict)
    people: dict[int, Person | None] = field(default_factory=dict)
    delegations: dict[int, models.Delegation | None] = field(default_factory=dict)
    _written: dict[str, object] = field(default_factory=dict)

    @classmethod
    async def load(cls, db: AsyncSession, session_id: int, revision: int, columns: tuple[str, ...]) -> Held:
        session = await db.get(models.Session, session_id, populate_existing=True)
        assert session is not None  # locked by lock_head, which found it
        db.expunge(session)
        columns = ("last_seq", *columns)
        return cls(session, revision, columns, columns_of(session, columns))

    @property
    def last_seq(self) -> int:
        last_seq = self.stored["last_seq"]
        assert isinstance(last_seq, int)
        return last_seq

    def is_current(self, head: Head) -> bool:
        return head.last_seq == self.last_seq and head.revision == self.revision

    async def actor(self, connection: AsyncConnection, participant_id: int, head: Head) -> Actor | None:
        """The sender's standing with the roles just read."""
        if participant_id not in self.people:
            self.people[participant_id] = await person_by_id(connection, participant_id)
        person = self.people[participant_id]
        return None if person is None else standing(person, head.roles, self.session)

    async def delegation(self, orm: Callable[[], AsyncSession], delegation_id: int) -> models.Delegation | None:
        if delegation_id not in self.delegations:
            db = orm()
            found = await db.get(models.Delegation, delegation_id)
            if found is not None:
                db.expunge(found)
            self.delegations[delegation_id] = found
        return self.delegations[delegation_id]

    def forget(self, kinds: Iterable[type[Any]]) -> None:
        """Drop what a refused command opened: it may have changed it."""
        for kind in kinds:
            self.kept.pop(kind, None)

    def session_changed(self) -> bool:
        return columns_of(self.session, self.columns) != self.stored

    async def store(self, connection: AsyncConnection) -> None:
        """Write the session's columns that changed since the last commit."""
        now = columns_of(self.session, self.columns)
        changes = {name: getattr(self.session, name) for name, value in now.items() if value != self.stored[name]}
        if changes:
            await write_later(connection, _STORE, {"_id": self.session.id, **changes})
        self._written = now

    def committed(self) -> None:
        self.stored = self._written
