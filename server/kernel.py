"""The command kernel: what every command shares, done once.

For each command: check the sender's roles (as they are now, read under the
lock, not as they were when the socket opened), lock the session (a row
lock in PostgreSQL, the writer lock in SQLite), run the handler declared
beside its domain, give each event it records the session's next ``seq``,
write the event log, commit, and publish. What a command needs of the
session stays in memory between commands while no one else wrote it
(server.held), so a command writes only what it changed. The database is the truth: a
publish that fails after the commit does not undo or deny the command;
other processes fill the gap from the log (see server.hub).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from rooms.actor import Actor
from rooms.commands import MAX_REACTION_EVENTS, Command, DelegationInfo, Emitted, Registry
from rooms.errors import Refused
from rooms.floor_views import iso
from rooms.recipients import EVERYONE, Recipients
from server import models
from server.bus import Bus, BusUnavailable
from server.db import Writers, deferrable, write_later
from server.event_log import LoggedEvent, dump, session_topic
from server.flood import Allowances
from server.held import Held, lock_head
from server.models import utcnow
from server.state import Store, Stores

log = logging.getLogger(__name__)

S = TypeVar("S")

# Sessions whose state one process keeps between commands (server.held).
MAX_HELD_SESSIONS = 1000
# Runs of a command the database undid (deadlock, serialization failure) before giving up.
ATTEMPTS = 3


class AccessLost(Refused):
    """The sender no longer has access to this session (their roles changed)."""

    def __init__(self) -> None:
        super().__init__("forbidden", "You no longer have access to this session.")


class LinkRevoked(Refused):
    """The join link the sender's socket opened with was revoked."""

    def __init__(self) -> None:
        super().__init__("unauthorized", "Your join link was revoked; open the new one you were sent.")


class RolesChanged(Refused):
    """Refused because the sender's roles changed since their socket opened."""

    def __init__(self, name: str) -> None:
        super().__init__("forbidden", f"Your roles in this session changed; they no longer allow '{name}'.")


# The participant id of the server itself, deciding a command no one sent
# (``Kernel.execute_for_server``): its events carry no actor.
SERVER_ID = 0


def server_actor(session_id: int) -> Actor:
    return Actor(
        participant_id=SERVER_ID,
        name="",
        event_id=0,
        session_id=session_id,
        roles=frozenset(),
        delegation_id=None,
        delegation_name=None,
        tier=None,
    )


@dataclass(frozen=True)
class Executed:
    seq: int | None
    # The sender as they stand now; differs from the socket's when roles changed.
    actor: Actor


class Kernel:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bus: Bus,
        registry: Registry,
        stores: Stores,
        clock: Callable[[], datetime] = utcnow,
        allowances: Allowances | None = None,
        secret: str = "",
    ):
        self.sessionmaker = sessionmaker
        # For the stores that make private links (registration).
        self.secret = secret
        # Commands run on a bare connection: the ORM only where a store needs it.
        self._writers = Writers(sessionmaker.kw["bind"])
        self.bus = bus
        self.registry = registry
        self.stores = stores
        self.clock = clock
        # Per-action rate limits (``Context.limit``), per participant.
        self.allowances = allowances or Allowances()
        # Told of what each committed command recorded (server.coalescer).
        self.on_committed: Callable[[int, list[Emitted]], None] = lambda session_id, emitted: None
        self._turns: dict[int, asyncio.Lock] = {}
        # What each session's last command left, valid while nobody else wrote.
        self._held: dict[int, Held] = {}

    def _turn(self, session_id: int) -> asyncio.Lock:
        lock = self._turns.get(session_id)
        if lock is None:
            if len(self._turns) > 10_000:
                # Forget idle sessions' locks (none is held while unlocked).
                self._turns = {key: held for key, held in self._turns.items() if held.locked()}
            lock = self._turns[session_id] = asyncio.Lock()
        return lock

    async def close(self) -> None:
        """Give back the connections kept for commands (before the engine is disposed)."""
        await self._writers.close()

    async def execute(self, actor: Actor, command: Command, token_key: str | None = None) -> Executed:
        """Run one command for ``actor``. Raises ``Refused`` when nothing changed.

        ``token_key``, the hash of the join link the sender's socket opened
        with, is checked under the lock: a revoked link runs nothing more."""
        if not self.registry.may(actor.roles, command.type):
            raise _forbidden(command.type)
        return await self._execute(actor, command, token_key)

    async def execute_for_server(self, session_id: int, command: Command) -> Executed:
        """Run a command the server decides, not a person: releasing the mic
        of an interpreter who is gone, or whose access was taken away. No
        roles are checked (those commands are given to no role, so no client
        may send them); the events it records have no actor."""
        return await self._execute(server_actor(session_id), command, None)

    async def _execute(self, actor: Actor, command: Command, token_key: str | None) -> Executed:
        session_id = actor.session_id
        # Commands on one session wait their turn here first, in order, so a
        # burst (50 votes a second) never queues on the database's lock:
        # SQLite's waiters poll it with sleeps of up to 100 ms, and throughput
        # collapsed while the CPU idled. Other processes still meet at the lock.
        async with self._turn(session_id):
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    tx = await self._run(actor, command, token_key)
                    break
                except DBAPIError as error:
                    if attempt == ATTEMPTS or not _is_transient(error):
                        raise
                    # The database chose this transaction to undo (a deadlock or a
                    # serialization failure): nothing of it was kept; run it again.
                    log.info(
                        "command %s on session %s undone by the database (%s); again",
                        command.type,
                        session_id,
                        error.orig,
                    )
                    await asyncio.sleep(0.01 * attempt)
        if tx.emitted:
            self.on_committed(session_id, tx.emitted)
        for event in tx.events:
            try:
                await self.bus.publish(session_topic(event.session_id), event.encode())
            except BusUnavailable as error:
                # Committed is committed: clients get it from the log (heartbeat).
                log.warning("event %s of session %s not published: %s", event.seq, event.session_id, error)
        return Executed(tx.events[-1].seq if tx.events else None, tx.actor)

    async def _run(self, actor: Actor, command: Command, token_key: str | None = None) -> Transaction:
        """One attempt, in one transaction: committed when it returns."""
        session_id = actor.session_id
        # Put back by a committed command, or by one refused before it changed
        # anything (server.held); any other end drops it.
        held = self._held.pop(session_id, None)
        tx: Transaction | None = None
        try:
            async with self._writers.begin() as connection:
                orm = OrmOnDemand(self.sessionmaker, connection)
                try:
                    head = await lock_head(connection, session_id, actor.participant_id)
                    if head is None:
                        raise Refused("not_found", "This session no longer exists.")
                    if token_key is not None and head.token_hash != token_key:
                        raise LinkRevoked()
                    if held is None or not held.is_current(head):
                        held = await Held.load(orm(), session_id, head.revision, self.stores.session_columns)
                    if actor.participant_id == SERVER_ID:
                        now_actor: Actor | None = actor
                    else:
                        now_actor = await held.actor(connection, actor.participant_id, head)
                    if now_actor is None:
                        raise AccessLost()
                    if now_actor != actor and not self.registry.may(now_actor.roles, command.type):
                        raise RolesChanged(command.type)
                    tx = Transaction(
                        orm,
                        connection,
                        held,
                        now_actor,
                        self.clock(),
                        self.registry,
                        self.stores,
                        allowances=self.allowances,
                        secret=self.secret,
                    )
                    await tx.execute(command)
                    await tx.react()
                    await tx.finish()
                finally:
                    await orm.close()
        except Refused:
            # What the command did not open is as the database has it; what it
            # opened may have been changed before the refusal, and is read again.
            if held is not None and not held.session_changed():
                held.forget(tx.opened if tx is not None else ())
                self._keep(session_id, held)
            raise
        held.committed()
        self._keep(session_id, held)
        return tx

    def _keep(self, session_id: int, held: Held) -> None:
        if len(self._held) >= MAX_HELD_SESSIONS:
            self._held.clear()  # a process serving that many sessions reloads them
        self._held[session_id] = held


# Nothing reads what writing the log returns: it goes with the commit (server.db).
_LOG = deferrable(insert(models.SessionEvent))


class OrmOnDemand:
    """An ORM session inside the command's transaction, opened on first use:
    most commands never need one, and opening it costs more than they do."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], connection: AsyncConnection):
        self._sessionmaker = sessionmaker
        self._connection = connection
        self._db: AsyncSession | None = None

    def __call__(self) -> AsyncSession:
        if self._db is None:
            self._db = self._sessionmaker(bind=self._connection)
        return self._db

    async def flush(self) -> None:
        if self._db is not None:
            await self._db.flush()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()


# PostgreSQL's codes for a transaction it undid to let another one through.
_TRANSIENT = {"40001", "40P01"}


def _is_transient(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _TRANSIENT


def _forbidden(name: str) -> Refused:
    return Refused("forbidden", f"Your role in this session does not allow '{name}'.")


@dataclass
class Transaction:
    """The ``rooms.commands.Context`` of one command, inside its transaction."""

    orm: OrmOnDemand
    connection: AsyncConnection
    held: Held
    actor: Actor
    now: datetime
    registry: Registry
    stores: Stores
    events: list[LoggedEvent] = field(default_factory=list)
    # The domains' state this command opened (server.state), by kind.
    opened: dict[type[Any], Store[Any]] = field(default_factory=dict)
    # Every event recorded so far, for the reactions (rooms.commands.CommandSet.reaction).
    emitted: list[Emitted] = field(default_factory=list)
    allowances: Allowances = field(default_factory=Allowances)
    secret: str = ""
    _rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def db(self) -> AsyncSession:
        return self.orm()

    @property
    def session(self) -> models.Session:
        return self.held.session

    async def execute(self, command: Command) -> None:
        if self.actor.participant_id != SERVER_ID and not self.registry.may(self.actor.roles, command.type):
            raise _forbidden(command.type)
        await self.registry[command.type].handler(self, command)

    async def state(self, kind: type[S], *parts: int) -> S:
        store = self.opened.get(kind)
        if store is None:
            store = self.held.kept.get(kind)
            if store is None:
                store = await self.stores[kind].load(self, parts)
                if store.is_held:
                    self.held.kept[kind] = store
            elif parts:
                await store.extend(self, parts)
            self.opened[kind] = store
        elif parts:
            await store.extend(self, parts)
        state: S = store.state
        return state

    async def delegation(self, delegation_id: int) -> DelegationInfo | None:
        delegation = await self.held.delegation(self.orm, delegation_id)
        if delegation is None or delegation.event_id != self.session.event_id:
            return None
        return delegation

    async def flush(self) -> None:
        for store in self.opened.values():
            await store.save(self)
        await self.orm.flush()

    async def finish(self) -> None:
        """Write what is left: changed rows, the events, the session's head."""
        if not self._rows and (
            any(store.has_changes(self) for store in self.opened.values()) or self.held.session_changed()
        ):
            # Other processes know their copy is stale by last_seq alone.
            raise RuntimeError("a command changed the session without recording an event")
        await self.flush()
        if self._rows:
            await write_later(self.connection, _LOG, self._rows)
        await self.held.store(self.connection)

    async def react(self) -> None:
        """Run the reactions to each event recorded, and to theirs, in order."""
        done = 0
        while done < len(self.emitted):
            if done >= MAX_REACTION_EVENTS:
                raise RuntimeError("reactions keep recording events that have reactions")
            event = self.emitted[done]
            done += 1
            for reaction in self.registry.reactions.get(event.type, ()):
                await reaction(self, event)

    async def participant(self, participant_id: int) -> models.Participant | None:
        participant = await self.db.get(models.Participant, participant_id)
        if participant is None or participant.event_id != self.session.event_id:
            return None
        return participant

    async def limit(self, name: str, rate: float, burst: int) -> None:
        if not await self.allowances.take(name, self.actor.participant_id, rate, burst):
            raise Refused("rate_limited", "You are doing this too often; wait a moment and try again.")

    async def emit(self, type_: str, data: Callable[[], dict[str, Any]], recipients: Recipients = EVERYONE) -> None:
        await self.flush()
        self.session.last_seq += 1
        seq = self.session.last_seq
        body = data()
        payload = dump(
            {
                "type": type_,
                "seq": seq,
                "at": iso(self.now),
                "actor": None
                if self.actor.participant_id == SERVER_ID
                else {"id": self.actor.participant_id, "name": self.actor.name},
                "data": body,
            }
        )
        self.emitted.append(Emitted(type_, body))
        self._rows.append(
            {
                "session_id": self.session.id,
                "seq": seq,
                "type": type_,
                "recipients": recipients.encode(),
                "actor_id": None if self.actor.participant_id == SERVER_ID else self.actor.participant_id,
                "created_at": self.now,
                "payload": payload,
            }
        )
        self.events.append(LoggedEvent(self.session.id, seq, recipients, payload, type_))
