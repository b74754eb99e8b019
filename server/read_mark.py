"""How far most of a room has read: the mark a sender keeps behind.

TCP tells a server late that its clients are behind. On loopback a client's
receive buffer takes some 200 events before anything backs up on the
server's side (more on the internet), and all that time the server sees a
socket that keeps up. A server faster than its listeners can read then
fills their buffers, and every event waits behind hundreds (bench/fanout.py's
``unread`` column: 276 events and a p99 of 2.1 s at 500 listeners).

So the room asks. Every ``PROBE_EVERY`` events, once the last of them is
written to every socket, a WebSocket ping carrying its seq goes to a sample
of the room's live sockets, taken in turn (up to ``SOUNDINGS`` of these
soundings under way at once). A client answers a ping once it has read what
came before it from its socket: browsers answer in their network stack, as
the websockets library does; the page has nothing to do. Once all but an
eighth of the sample has answered, the room's *mark* is that seq.

A sender's command waits (``Room.keep_up``), for at most ``HOLD_SECONDS``,
while its event is more than ``READ_LAG`` events past the mark, or more
than ``PROBE_EVERY`` with a sounding unanswered for ``READ_LAG_SECONDS`` (a
big room reads fewer events a second: a count alone would let it fall
behind by seconds). A minority that stops reading is the slow-client
policy's (4408), never the room's pace. A meeting's usual pace (a few
events a second) never comes near the lag; a burst does, and is then paced
by what the room reads.

With several server processes, each has its own room of the session, fed
through the bus, and sounds its own sockets. What a room's mark is (and
since when its oldest sounding waits) is told to the others on the bus
(``Hub``), at most every ``TELL_SECONDS``: a sender is held by whichever
process's room is furthest behind, not only by its own. A process not
heard from for ``PROBE_SECONDS`` is forgotten (it left, or died).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

# Events between two soundings of the room, the sockets asked each time,
# and the most under way at once.
PROBE_EVERY = 4
SAMPLE = 32
SOUNDINGS = 8
# The share of the sample that may not answer (stopped reading, or a stale page).
SPARE = 1 / 8
# How far a sender's own event may be ahead of what most of the room has
# read: in events, and in time (a sounding unanswered this long). The count
# holds a small room, which reads many events a second: at 500 listeners, 16
# held the sender enough to put its deliveries at the floor (x0.80-0.87 of
# websockets'); 32 gives it a little room (x0.87-0.94) and keeps its saturated
# p99 below websockets'. A big room is held by the time.
READ_LAG = 32
READ_LAG_SECONDS = 0.1
# The longest a command waits for the room.
HOLD_SECONDS = 1.0
# A sounding left unanswered this long is given up for a fresh sample.
PROBE_SECONDS = 2.0

# The most often a room tells the other processes where it stands.
TELL_SECONDS = 0.01

PREFIX = b"read"


def ping_frame(seq: int) -> bytes:
    """A server's ping (unmasked) carrying ``seq``: the same bytes for every socket."""
    payload = PREFIX + seq.to_bytes(8, "big")
    return bytes((0x89, len(payload))) + payload


def seq_of(payload: bytes) -> int | None:
    """The seq a pong answers for, when it answers a sounding."""
    if len(payload) != len(PREFIX) + 8 or not payload.startswith(PREFIX):
        return None
    return int.from_bytes(payload[len(PREFIX) :], "big")


class Sounded(Protocol):
    def sound(self, frame: bytes, seq: int) -> bool:
        """Write the room's ping if the socket is live and has ``seq``; whether it was."""
        ...


class _Sounding:
    """One sounding under way: who has yet to answer, how many may not, since when."""

    __slots__ = ("waiting", "spare", "at")

    def __init__(self, waiting: set[Sounded], at: float):
        self.waiting = waiting
        self.spare = math.floor(len(waiting) * SPARE)
        self.at = at


class _Other:
    """Another process's room of the same session, as it last told."""

    __slots__ = ("mark", "since", "heard")

    def __init__(self, mark: int, since: float | None, heard: float):
        self.mark = mark
        # When its oldest unanswered sounding began, on this process's clock.
        self.since = since
        self.heard = heard


def _is_behind(seq: int, mark: int, since: float | None, now: float) -> bool:
    lag = seq - mark
    if lag > READ_LAG:
        return True
    # Slow answers alone are a long way to the clients (a delegate on
    # another continent), not a room behind: only with events piling up.
    return lag > PROBE_EVERY and since is not None and now - since > READ_LAG_SECONDS


class ReadMark:
    def __init__(self, order: Callable[[], Sequence[Sounded | None]]) -> None:
        # The room's sockets, in its sweep's order.
        self._order = order
        # Called when where the room stands changed (``stands``), for the
        # other processes; the hub sets it when there may be others.
        self.changed: Callable[[], None] | None = None
        self._told: tuple[int | None, float | None] = (None, None)
        # The other processes' rooms of this session, by process.
        self._others: dict[str, _Other] = {}
        # The last seq written to every socket.
        self._written: int | None = None
        # The last seq most of a sample confirmed read (None: none yet).
        self.mark: int | None = None
        # The soundings under way, by seq, oldest first: several at once, so
        # the mark moves on while the room reads, instead of a sender waiting
        # a round trip for each.
        self._soundings: dict[int, _Sounding] = {}
        self._sounded_seq: int | None = None
        # Where the next sample starts in the room's order.
        self._next = 0
        self._moved: list[asyncio.Future[None]] = []

    def written(self, seq: int) -> None:
        """Everything up to ``seq`` is written to every socket: sound a sample when it is time."""
        self._written = seq
        if self._soundings:
            given_up = time.monotonic() - PROBE_SECONDS
            for sounded, sounding in tuple(self._soundings.items()):
                if sounding.at > given_up:
                    break
                del self._soundings[sounded]  # an unlucky sample: others are asked
        self._sound_if_due()
        self._tell_if_changed()

    def _sound_if_due(self) -> None:
        seq = self._written
        if seq is None or len(self._soundings) >= SOUNDINGS:
            return
        if self._sounded_seq is not None and seq - self._sounded_seq < PROBE_EVERY:
            return
        self._sounded_seq = seq
        order = self._order()
        frame = ping_frame(seq)
        asked: set[Sounded] = set()
        size = len(order)
        index = self._next if self._next < size else 0
        for _ in range(size):
            connection = order[index]
            index = index + 1 if index + 1 < size else 0
            if connection is not None and connection.sound(frame, seq):
                asked.add(connection)
                if len(asked) == SAMPLE:
                    break
        self._next = index
        if asked:
            self._soundings[seq] = _Sounding(asked, time.monotonic())
        else:
            self._answered(seq)  # nobody live to wait for

    def heard(self, connection: Sounded, payload: bytes) -> None:
        """A socket's pong."""
        seq = seq_of(payload)
        if seq is not None:
            self._off(connection, seq)
            self._tell_if_changed()

    def left(self, connection: Sounded) -> None:
        """A socket left the room: it holds nobody up."""
        for seq in tuple(self._soundings):
            self._off(connection, seq)
        self._tell_if_changed()

    def _oldest_at(self) -> float | None:
        """When the oldest sounding under way began (None: none is)."""
        oldest = next(iter(self._soundings.values()), None)
        return None if oldest is None else oldest.at

    def stands(self) -> tuple[int | None, float | None]:
        """The mark, and how long the oldest sounding under way has waited (None: none is)."""
        since = self._oldest_at()
        return self.mark, None if since is None else time.monotonic() - since

    def _tell_if_changed(self) -> None:
        if self.changed is None:
            return
        now = (self.mark, self._oldest_at())
        if now != self._told:
            self._told = now
            self.changed()

    def heard_from(self, process: str, mark: int | None, waited: float | None) -> None:
        """Where another process's room stands (``stands``); a mark of None: it left."""
        if mark is None:
            self._others.pop(process, None)
        else:
            now = time.monotonic()
            self._others[process] = _Other(mark, None if waited is None else now - waited, now)
        self._wake()

    def _off(self, connection: Sounded, seq: int) -> None:
        sounding = self._soundings.get(seq)
        if sounding is not None and connection in sounding.waiting:
            sounding.waiting.discard(connection)
            if len(sounding.waiting) <= sounding.spare:
                self._answered(seq)

    def _answered(self, seq: int) -> None:
        for sounded in tuple(self._soundings):
            if sounded > seq:
                break
            del self._soundings[sounded]  # older ones are read too, by most
        self._moved_to(seq)
        self._sound_if_due()  # the room went on meanwhile

    def _moved_to(self, seq: int) -> None:
        if self.mark is None or seq > self.mark:
            self.mark = seq
        self._wake()

    def _wake(self) -> None:
        waiting, self._moved = self._moved, []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    def is_behind(self, seq: int) -> bool:
        """Whether a sender whose event is ``seq`` is too far ahead of the room."""
        now = time.monotonic()
        if self.mark is not None and _is_behind(seq, self.mark, self._oldest_at(), now):
            return True
        if not self._others:
            return False
        forgotten = now - PROBE_SECONDS
        for process, other in tuple(self._others.items()):
            if other.heard < forgotten:
                del self._others[process]
            elif _is_behind(seq, other.mark, other.since, now):
                return True
        return False

    async def keep_within(self, seq: int) -> None:
        """Wait until the room is no longer behind ``seq`` (``is_behind``),
        or ``HOLD_SECONDS`` have passed."""
        if not self.is_behind(seq):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HOLD_SECONDS
        while self.is_behind(seq):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            future = loop.create_future()
            self._moved.append(future)
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                return
