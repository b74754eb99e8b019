"""Fan-out in one process: events from the bus to this process's sockets.

Each session with local sockets is a ``Room``. An event arrives encoded and
framed once (``LoggedEvent.frame``); the room writes the same bytes to each
socket that keeps up: no task and no queue per socket. A room of more than
``CHUNK`` sockets is written a chunk at a time, by one sweep per room that
goes round its sockets, with the loop free between chunks: the next command
is read and committed while the room is still being written, and its event
goes to the sockets the sweep has not reached yet in the same write as the
one before (``Room``). Rooms deliver every seq in order,
once: when the at-most-once bus skipped some, or a heartbeat shows the log
is ahead, the room reads the missing events from the log once for all its
sockets. A room's read mark (server.read_mark) goes to the other processes
on the same topic as the events, so a sender here waits for the sockets
there too.

Overflow policies:
- a socket's write buffer: ``disconnect``. A client whose unread bytes pass
  the bound is closed with 4408 and resumes by ``last_seq`` (replay or
  snapshot); the others are never waited for.
- what is held for a socket that is not live yet (its snapshot is being
  read) or is filling a gap from the log: ``disconnect`` past a bound too.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, KeysView
from typing import Protocol

from rooms.actor import Actor
from server.auth import Standing, close_code
from server.bus import Bus, BusUnavailable
from server.close_codes import UNAUTHORIZED
from server.event_log import LoggedEvent, dump, session_of_topic, session_topic, text_frame
from server.read_mark import TELL_SECONDS, ReadMark

log = logging.getLogger(__name__)

# Sockets written before other work may run (a fifth of a millisecond of the
# loop): a command that arrives meanwhile is committed while the room is
# still being written, so its event rides in the same writes.
CHUNK = 32

ReadLog = Callable[[int, int, int | None], Awaitable[list[LoggedEvent]]]
# Per session: its last seq, and its event's revision (bumped by every `tribune load`).
Heads = Callable[[list[int]], Awaitable[dict[int, tuple[int, int]]]]
# These participants as they stand now in a session (absent: no longer in the event).
CurrentActors = Callable[[int, list[int]], Awaitable[dict[int, Standing]]]
# The texts meant for this person of the events after ``after`` and before ``before``.
MissedEvents = Callable[[int, int], Awaitable[list[str]]]
# (seq, frame): seq None for replies and heartbeats; frame None for an event
# this person may not see (it only moves their seq on).
Held = tuple[int | None, bytes | None]
# What a room's mark on the bus begins with (events begin with a digit):
# ``m <process> <mark> <ms its oldest sounding waited>``, ``-`` for none;
# ``m <process> -`` when that process's room is gone.
MARK = b"m"
# Frames held for a socket while its own command runs (``Connection.hold_for_reply``),
# beyond which they go without waiting for the reply.
REPLY_HOLD = 16


class Observer(Protocol):
    """Something of the server that follows a session's events without being
    anyone's socket (the media relay): it sees every event of the types it
    asked for, whoever they are for, in seq order, gaps filled."""

    def event(self, event: LoggedEvent) -> None: ...

    def roster_changed(self) -> None:
        """The people of the event changed (``tribune load``, ``tribune revoke``)."""
        ...


class Wire(Protocol):
    """Where a connection's frames go: a socket's transport."""

    def write(self, frame: bytes) -> bool:
        """Write at once; False when the client's unread bytes passed the bound."""
        ...


class Connection:
    """One participant's socket on one session, as the hub sees it.

    It is *held* until its snapshot or replay is sent (``live_from``), and
    while a gap is filled from the log: what arrives meanwhile waits, in
    order, bounded. Otherwise every frame is written to the wire at once."""

    __slots__ = (
        "actor",
        "token_key",
        "wire",
        "last_seq",
        "is_too_slow",
        "revoked",
        "on_overflow",
        "on_revoke",
        "_held",
        "_limit",
        "_missed",
        "_replying",
    )

    def __init__(
        self,
        actor: Actor,
        wire: Wire,
        hold_limit: int,
        missed: MissedEvents | None = None,
        token_key: str | None = None,
    ):
        self.actor = actor
        # The hash of the join link it opened with: revoking the link ends it.
        self.token_key = token_key
        self.wire = wire
        self.last_seq = 0
        self.is_too_slow = False
        # Set when the person's roles or access changed: the close code to end with.
        self.revoked: int | None = None
        self.on_overflow: Callable[[], None] = lambda: None
        self.on_revoke: Callable[[int], None] = lambda code: None
        self._held: list[Held] | None = []
        self._limit = hold_limit
        self._missed = missed
        # Held while its own command runs (``hold_for_reply``).
        self._replying = False

    def offer(self, event: LoggedEvent) -> None:
        self.deliver(event.seq, event.frame if event.recipients.includes(self.actor) else None)

    def deliver(self, seq: int, frame: bytes | None) -> None:
        """``offer`` with what it may see decided by the room: the one call
        made per socket and event, so the usual case (live, next seq) comes
        first with nothing else checked (a thousand sockets an event)."""
        if self._held is None and seq == self.last_seq + 1 and not self.is_too_slow:
            self.last_seq = seq
            if frame is not None and not self.wire.write(frame):
                self._overflow()
        else:
            self._send(seq, frame)

    def reply(self, text: str) -> None:
        if self._replying:
            self._release_with(text_frame(text))
        else:
            self._send(None, text_frame(text))

    def hold_for_reply(self) -> None:
        """Hold what arrives while this person's own command runs: its event
        then goes with its reply, in one write at the end of the fan-out, and
        the client wakes once for both instead of in the middle of the
        fan-out and again for the reply (a sender under load lost a core
        each time)."""
        if self._held is None and not self.is_too_slow:
            self._held = []
            self._replying = True

    def release_reply_hold(self) -> None:
        """The command ended without a reply through ``reply``: send what was held."""
        if self._replying:
            self._replying = False
            self._release()

    def _release_with(self, reply: bytes) -> None:
        # The usual case (the next seqs, in order) in one write; anything
        # else (a gap to fill) as ``_release`` does it, then the reply.
        self._replying = False
        held, self._held = self._held, None
        frames: list[bytes] = []
        seq = self.last_seq
        for held_seq, frame in held or ():
            if held_seq is not None:
                if held_seq != seq + 1:
                    self._held = held
                    self._release()
                    self._send(None, reply)
                    return
                seq = held_seq
            if frame is not None:
                frames.append(frame)
        self.last_seq = seq
        frames.append(reply)
        if not self.is_too_slow and not self.wire.write(b"".join(frames)):
            self._overflow()

    def deliver_run(self, first: int, last: int, frames: bytes, events: list[LoggedEvent]) -> None:
        """``deliver`` of the events ``first`` to ``last``, whose frames this
        person may see are ``frames``: in one write when they are next."""
        if self._held is None and first == self.last_seq + 1 and not self.is_too_slow:
            self.last_seq = last
            if frames and not self.wire.write(frames):
                self._overflow()
        else:
            for event in events:
                self.offer(event)

    def reply_frame(self, frame: bytes) -> None:
        self._send(None, frame)

    def sound(self, frame: bytes, seq: int) -> bool:
        """Write the room's ping (``ReadMark``) if this socket is live and
        has had ``seq``: whether it was."""
        if self._held is not None or self.is_too_slow or self.last_seq < seq:
            return False
        if not self.wire.write(frame):
            self._overflow()
            return False
        return True

    def take_ahead(self, event: LoggedEvent) -> None:
        """``offer``, before the room's turn for this socket comes (``Room.bring``):
        an event it has or holds already is not taken twice."""
        newest = self.last_seq
        for seq, _ in reversed(self._held or ()):
            if seq is not None:
                newest = max(newest, seq)
                break
        if event.seq > newest:
            self.offer(event)

    def live_from(self, seq: int, room_seq: int | None = None) -> None:
        """The snapshot or replay up to ``seq`` was written: go live.

        It was read before the socket joined the room (reading who it is
        fixes the database's snapshot), so the room, at ``room_seq``, may
        have written events after ``seq`` to everyone before this socket was
        among them. Those are read from the log before anything held goes:
        a heartbeat held meanwhile tells a seq the page takes as its own."""
        self.last_seq = seq
        held = self._held or []
        following = next((held_seq for held_seq, _ in held if held_seq is not None), None)
        if following is None and room_seq is not None:
            following = room_seq + 1
        if following is not None and following > seq + 1 and not self.is_too_slow:
            self._held = held
            asyncio.get_running_loop().create_task(self._fill(following))
            return
        self._release()

    def roster_changed(self) -> None:
        """The organizer loaded the event again (the hub has judged this socket already)."""

    def revoke(self, close_code: int) -> None:
        """What this socket may see was decided by roles that changed."""
        if self.revoked is None:
            self.revoked = close_code
            self.on_revoke(close_code)

    def _send(self, seq: int | None, frame: bytes | None) -> None:
        if self.is_too_slow:
            return
        if seq is not None and seq <= self.last_seq:
            return  # already sent: by the snapshot, the replay, or ahead of the room
        if self._held is not None:
            if self._replying and len(self._held) >= REPLY_HOLD:
                # A command that waits long (a lock held elsewhere) in a busy
                # session: what it held goes now, the client is not to blame.
                self.release_reply_hold()
                self._send(seq, frame)
            elif len(self._held) >= self._limit:
                self._overflow()
            else:
                self._held.append((seq, frame))
            return
        if seq is not None:
            if seq > self.last_seq + 1:
                # The room delivers every seq; this is a last resort.
                self._held = [(seq, frame)]
                asyncio.get_running_loop().create_task(self._fill(seq))
                return
            self.last_seq = seq
        if frame is not None and not self.wire.write(frame):
            self._overflow()

    async def _fill(self, before: int) -> None:
        try:
            texts = await self._missed(self.last_seq, before) if self._missed is not None else []
        except Exception:
            log.exception("could not read the log for a socket")
            self._overflow()  # it resumes by last_seq
            return
        for text in texts:
            if not self.is_too_slow and not self.wire.write(text_frame(text)):
                self._overflow()
        self.last_seq = before - 1
        self._release()

    def _release(self) -> None:
        held, self._held = self._held or [], None
        for index, (seq, frame) in enumerate(held):
            self._send(seq, frame)
            if self._held is not None:  # filling a gap again: the rest waits behind it
                self._held.extend(held[index + 1 :])
                return

    def _overflow(self) -> None:
        if not self.is_too_slow:
            self.is_too_slow = True
            self._held = None
            self.on_overflow()


class _Pending:
    """An event or heartbeat accepted and not yet written to every socket:
    it reaches every position of the room's order once the sweep comes back
    round to where it stood when it was accepted (``done_at``)."""

    __slots__ = ("item", "done_at")

    def __init__(self, item: LoggedEvent | bytes, done_at: tuple[int, int]):
        self.item = item
        self.done_at = done_at


class Room:
    """The sockets of one session in this process, and the last seq they were given.

    Its sockets are written in one sweep that goes round them in a fixed
    order, a chunk at a time: each socket is written, in one write, everything
    accepted since the sweep last passed it. An event accepted while the
    previous one is still being written does not wait for the whole room: the
    sockets the sweep has not reached yet get both at once, the others get it
    on the next round. Under load a socket's write carries several events, so
    the server writes (and the client wakes) once for them, never later than
    one at a time would."""

    def __init__(self, session_id: int, read_log: ReadLog):
        self.session_id = session_id
        # What each observer follows, by event type.
        self.observers: dict[Observer, frozenset[str]] = {}
        self.seq: int | None = None
        # The event's revision when the sockets' roles were last judged.
        self.revision: int | None = None
        self._read_log = read_log
        self._backlog: list[LoggedEvent] = []
        self._catch_up: asyncio.Task[None] | None = None
        # The sweep's order (a socket that left is None until the next round
        # begins, so positions hold), where it stands, and its rounds so far.
        self._order: list[Connection | None] = []
        self._position: dict[Connection, int] = {}
        self._cursor = 0
        self._round = 0
        # Accepted, in order, not yet written to every socket, and the task writing them.
        self._outbox: deque[_Pending] = deque()
        self._writing: asyncio.Task[None] | None = None
        # Told each time a chunk is written.
        self._written: list[asyncio.Future[None]] = []
        # How far most of its sockets have read.
        self.read_mark = ReadMark(lambda: self._order)

    @property
    def connections(self) -> KeysView[Connection]:
        """The sockets in this room (in the sweep's order)."""
        return self._position.keys()

    def add(self, connection: Connection) -> None:
        if connection not in self._position:
            self._position[connection] = len(self._order)
            self._order.append(connection)

    def discard(self, connection: Connection) -> None:
        position = self._position.pop(connection, None)
        if position is not None:
            self._order[position] = None
        self.read_mark.left(connection)

    def arrive(self, event: LoggedEvent) -> None:
        if self._catch_up is not None:
            self._backlog.append(event)
        elif self.seq is None or event.seq == self.seq + 1:
            self._deliver(event)
        elif event.seq > self.seq + 1:
            self._backlog.append(event)
            self.catch_up_to(event.seq - 1)

    def started_at(self, seq: int, revision: int | None = None) -> None:
        """The first socket's snapshot or replay was at ``seq``, its roles read at ``revision``."""
        if self.seq is None:
            self.seq = seq
        if self.read_mark.mark is None:
            self.read_mark.mark = seq  # its snapshot: what it has
        if self.revision is None:
            self.revision = revision

    def _deliver(self, event: LoggedEvent) -> None:
        self.seq = event.seq
        for observer, types in tuple(self.observers.items()):
            if event.type in types:
                observer.event(event)
        self._send(event)

    def beat(self, frame: bytes) -> None:
        """A heartbeat, behind every event accepted so far: a socket never
        hears of a seq before the event itself."""
        self._send(frame)

    def _send(self, item: LoggedEvent | bytes) -> None:
        self._outbox.append(_Pending(item, (self._round + 1, self._cursor)))
        if self._writing is not None:
            return  # the sweep takes it with what it writes next
        self._step()  # the first chunk at once
        if self._outbox:
            self._writing = asyncio.get_running_loop().create_task(self._sweep())

    def _step(self) -> None:
        """Write the next chunk of the order everything accepted and not yet
        written to it (all of the outbox: the sweep has not passed these
        sockets since any of it was accepted)."""
        start = self._cursor
        end = min(start + CHUNK, len(self._order))
        chunk = [connection for connection in self._order[start:end] if connection is not None]
        if len(self._outbox) == 1:
            self._write(self._outbox[0].item, chunk)
        else:
            self._write_all([pending.item for pending in self._outbox], chunk)
        if end < len(self._order):
            self._cursor = end
        else:
            self._next_round()
        now = (self._round, self._cursor)
        done: int | None = None
        while self._outbox and self._outbox[0].done_at <= now:
            item = self._outbox.popleft().item
            if isinstance(item, LoggedEvent):
                done = item.seq
        if done is not None:
            self.read_mark.written(done)
        self._tell_written()

    def _next_round(self) -> None:
        """Back to the start of the order, without the sockets that left: what
        is still to be written keeps its place among those that stay."""
        if len(self._position) < len(self._order):
            kept_before = [0] * (len(self._order) + 1)
            for index, connection in enumerate(self._order):
                kept_before[index + 1] = kept_before[index] + (connection is not None)
            for pending in self._outbox:
                pending.done_at = (pending.done_at[0], kept_before[pending.done_at[1]])
            kept = [connection for connection in self._order if connection is not None]
            self._order = list(kept)
            self._position = {connection: index for index, connection in enumerate(kept)}
        self._round += 1
        self._cursor = 0

    @staticmethod
    def _write(item: LoggedEvent | bytes, connections: list[Connection]) -> None:
        if isinstance(item, bytes):
            for connection in connections:
                connection.reply_frame(item)
            return
        seq, frame, recipients = item.seq, item.frame, item.recipients
        if recipients.everyone:
            for connection in connections:
                connection.deliver(seq, frame)
        else:
            for connection in connections:
                connection.deliver(seq, frame if recipients.includes(connection.actor) else None)

    @staticmethod
    def _write_all(items: list[LoggedEvent | bytes], connections: list[Connection]) -> None:
        """Several items to each socket: a run of events in one write (the
        usual case under load), a heartbeat among them one by one."""
        events = [item for item in items if isinstance(item, LoggedEvent)]
        if len(events) < len(items):
            for connection in connections:
                for item in items:
                    if isinstance(item, bytes):
                        connection.reply_frame(item)
                    else:
                        connection.offer(item)
            return
        first, last = events[0].seq, events[-1].seq
        if all(event.recipients.everyone for event in events):
            frames = b"".join(event.frame for event in events)
            for connection in connections:
                connection.deliver_run(first, last, frames, events)
        else:
            for connection in connections:
                actor = connection.actor
                seen = b"".join(event.frame for event in events if event.recipients.includes(actor))
                connection.deliver_run(first, last, seen, events)

    async def _sweep(self) -> None:
        """The rest of the room a chunk at a time, the loop free between
        chunks, until everything accepted is everyone's."""
        try:
            while self._outbox:
                await asyncio.sleep(0)
                self._step()
        except Exception:
            log.exception("could not write session %s's events to every socket", self.session_id)
        finally:
            # Cut half-way (the server is stopping, or a bug): a socket that
            # missed an event fills the gap from the log, or resumes.
            self._outbox.clear()
            self._writing = None
            self._tell_written()

    def _tell_written(self) -> None:
        if self._written:
            waiting, self._written = self._written, []
            for future in waiting:
                if not future.done():
                    future.set_result(None)

    async def keep_up(self) -> None:
        """Wait until everything accepted before the sender's own event (the
        last accepted) is everyone's: no sender runs ahead of the room. Its
        next command then overlaps the writing of its own event, and that
        command's event rides in the same writes to the sockets the sweep
        has not reached yet. Nor ahead of what the room reads: while most
        of it is ``READ_LAG`` events behind, the sender waits (``ReadMark``)."""
        if self._outbox:
            own = self._outbox[-1]
            while own in self._outbox and self._outbox[0] is not own:
                future = asyncio.get_running_loop().create_future()
                self._written.append(future)
                await future
        if self.seq is not None:
            await self.read_mark.keep_within(self.seq)

    def bring(self, connection: Connection) -> None:
        """Give this socket now what the room has not written to it yet: a
        sender gets its own event with its reply, not at its turn in the room."""
        for pending in tuple(self._outbox):
            if isinstance(pending.item, LoggedEvent):
                connection.take_ahead(pending.item)

    async def written(self) -> None:
        """Wait until everything accepted so far is written to every socket (tests)."""
        while self._writing is not None:
            await asyncio.shield(self._writing)

    @property
    def is_empty(self) -> bool:
        return not self.connections and not self.observers

    def catch_up_to(self, seq: int) -> None:
        if self._catch_up is None and self.seq is not None and seq > self.seq:
            self._catch_up = asyncio.create_task(self._fill(seq))

    async def _fill(self, upto: int) -> None:
        try:
            while self.seq is not None:
                for event in await self._read_log(self.session_id, self.seq, upto):
                    if event.seq == self.seq + 1:
                        self._deliver(event)
                backlog, self._backlog = sorted(self._backlog, key=lambda e: e.seq), []
                for event in backlog:
                    if event.seq == self.seq + 1:
                        self._deliver(event)
                    elif event.seq > self.seq + 1:
                        self._backlog.append(event)
                if not self._backlog:
                    return
                upto = self._backlog[0].seq - 1
        except Exception:
            # The next event or heartbeat tries again.
            log.exception("could not read the log of session %s", self.session_id)
        finally:
            self._catch_up = None

    async def settled(self) -> None:
        """Wait for a catch-up in progress (tests and heartbeats)."""
        while self._catch_up is not None:
            await asyncio.shield(self._catch_up)


class Hub:
    def __init__(
        self,
        bus: Bus,
        read_log: ReadLog,
        heads: Heads,
        clock: Callable[[], str],
        current_actors: CurrentActors | None = None,
    ):
        self.bus = bus
        self.rooms: dict[int, Room] = {}
        self._read_log = read_log
        self._heads = heads
        self._current_actors = current_actors
        self._clock = clock
        # A socket of this person was ended: their link was revoked, or their
        # access or roles changed (to these, if they are still in the event).
        self.on_access_lost: Callable[[Actor, Standing | None], None] = lambda actor, now: None
        # Who this process is to the others, and its rooms whose mark they are yet to hear.
        self.process = os.urandom(6).hex()
        self._untold: dict[Room, None] = {}
        self._telling: asyncio.TimerHandle | None = None
        self._publishing: asyncio.Task[None] | None = None
        bus.set_receiver(self.receive)
        bus.on_reconnect = self.beat_soon

    async def join(self, connection: Connection) -> Room:
        """Register a socket before its snapshot is read, so nothing falls between."""
        room = await self._room(connection.actor.session_id)
        room.add(connection)
        return room

    async def leave(self, connection: Connection) -> None:
        room = self.rooms.get(connection.actor.session_id)
        if room is not None:
            room.discard(connection)
            await self._left(room)

    async def observe(self, session_id: int, types: frozenset[str], observer: Observer) -> Room:
        """Follow a session's events of these types (and its roster), before reading its state."""
        room = await self._room(session_id)
        room.observers[observer] = types
        return room

    async def unobserve(self, session_id: int, observer: Observer) -> None:
        room = self.rooms.get(session_id)
        if room is not None:
            room.observers.pop(observer, None)
            await self._left(room)

    async def _room(self, session_id: int) -> Room:
        room = self.rooms.get(session_id)
        if room is None:
            room = self.rooms[session_id] = Room(session_id, self._read_log)
            if self.bus.shared:
                room.read_mark.changed = lambda: self._untold_mark(room)
            await self.bus.subscribe(session_topic(session_id))
        return room

    async def _left(self, room: Room) -> None:
        if room.is_empty and self.rooms.get(room.session_id) is room:
            del self.rooms[room.session_id]
            if self.bus.shared:
                self._untold.pop(room, None)
                await self._publish_mark(room.session_id, f"{self.process} -")
            await self.bus.unsubscribe(session_topic(room.session_id))

    def receive(self, topic: str, data: bytes) -> None:
        session_id = session_of_topic(topic)
        room = self.rooms.get(session_id) if session_id is not None else None
        if room is None:
            return
        if data[:1] == MARK:
            self._heard_mark(room, data)
        else:
            room.arrive(LoggedEvent.decode(data))

    def _untold_mark(self, room: Room) -> None:
        """A room's mark moved: the other processes hear of it soon, once for a burst."""
        self._untold[room] = None
        if self._telling is None:
            self._telling = asyncio.get_running_loop().call_later(TELL_SECONDS, self._tell_marks)

    def _tell_marks(self) -> None:
        loop = asyncio.get_running_loop()
        if self._publishing is not None and not self._publishing.done():
            # The bus is slow (Redis failing over): one publication at a time, the latest marks.
            self._telling = loop.call_later(TELL_SECONDS, self._tell_marks)
            return
        self._telling = None
        rooms, self._untold = list(self._untold), {}
        self._publishing = loop.create_task(self._publish_marks(rooms))

    async def _publish_marks(self, rooms: list[Room]) -> None:
        for room in rooms:
            mark, waited = room.read_mark.stands()
            if mark is not None and self.rooms.get(room.session_id) is room:
                waited_ms = "-" if waited is None else str(round(waited * 1000))
                await self._publish_mark(room.session_id, f"{self.process} {mark} {waited_ms}")

    async def _publish_mark(self, session_id: int, text: str) -> None:
        try:
            await self.bus.publish(session_topic(session_id), MARK + b" " + text.encode())
        except BusUnavailable:
            pass  # the others go by their own rooms meanwhile, and forget this one's

    def _heard_mark(self, room: Room, data: bytes) -> None:
        process, _, rest = data[len(MARK) + 1 :].decode("ascii", "replace").partition(" ")
        if process == self.process:
            return  # our own, back from the bus
        mark, _, waited_ms = rest.partition(" ")
        try:
            if mark == "-":
                room.read_mark.heard_from(process, None, None)
            else:
                waited = None if waited_ms == "-" else int(waited_ms) / 1000
                room.read_mark.heard_from(process, int(mark), waited)
        except ValueError:
            log.warning("a read mark on the bus for session %s could not be read: %r", room.session_id, data[:64])

    def count(self, session_id: int) -> int:
        room = self.rooms.get(session_id)
        return len(room.connections) if room else 0

    async def beat(self) -> None:
        """Tell every socket the session's last seq, after filling any gap:
        a lost last event is noticed and delivered within one heartbeat."""
        if not self.rooms:
            return
        heads = await self._heads(list(self.rooms))
        for session_id, (seq, revision) in heads.items():
            room = self.rooms.get(session_id)
            if room is None:
                continue
            room.catch_up_to(seq)
            await room.settled()
            if room.seq is None:
                continue  # its first socket is still reading its snapshot
            # What the room delivered, which the log may exceed only if reading
            # it failed (the next beat tries again). Every event up to this seq
            # is queued before the heartbeat, so a client may take it as its own.
            room.beat(text_frame(dump({"type": "heartbeat", "seq": room.seq, "server_time": self._clock()})))
            await self._judge_if_moved(room, revision)

    async def watch_access(self, interval: float) -> None:
        """Notice, within ``interval``, what another process committed to the
        people (``tribune load``, ``tribune revoke``) or to the log without a
        bus between them: a revoked link or a removed role ends its sockets
        in a second, not at the next heartbeat. One small read per interval."""
        while True:
            await asyncio.sleep(interval)
            if not self.rooms:
                continue
            try:
                heads = await self._heads(list(self.rooms))
                for session_id, (seq, revision) in heads.items():
                    room = self.rooms.get(session_id)
                    if room is not None and room.seq is not None:
                        room.catch_up_to(seq)
                        await self._judge_if_moved(room, revision)
            except Exception:
                log.exception("could not watch the sessions' access")

    async def _judge_if_moved(self, room: Room, revision: int) -> None:
        if room.revision != revision:
            await self._check_access(room)
            room.revision = revision

    async def _check_access(self, room: Room) -> None:
        """Roles are what the database says now: a socket whose person lost
        access, or whose roles changed, is ended, even if it never sends a
        command (what it may see depends on them). Asked when the event's
        revision moved: roles change by ``tribune load``, and reading every
        participant of a big room (2000: 180-370 ms of the loop's time) at
        each heartbeat held every event behind it."""
        for observer in tuple(room.observers):
            observer.roster_changed()
        if self._current_actors is None or not room.connections:
            return
        # Only the sockets asked about: one that joins while the database is
        # read was just let in on its current roles, and is not in the answer.
        connections = tuple(room.connections)
        ids = sorted({connection.actor.participant_id for connection in connections})
        current = await self._current_actors(room.session_id, ids)
        for connection in connections:
            now = current.get(connection.actor.participant_id)
            code = close_code(now, connection.actor, connection.token_key)
            if code is not None and connection.revoked is None:
                connection.revoke(code)
                self.on_access_lost(connection.actor, None if code == UNAUTHORIZED else now)
            connection.roster_changed()

    def beat_soon(self) -> None:
        asyncio.get_running_loop().create_task(self._beat_logged())

    async def _beat_logged(self) -> None:
        try:
            await self.beat()
        except Exception:
            log.exception("heartbeat failed")

    async def run_heartbeats(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._beat_logged()
