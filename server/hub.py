"""Fan-out in one process: bus messages to the WebSocket connections of a session.

An event arrives encoded once; the hub pushes that same text into each
connection's bounded queue and never waits on a socket. A connection whose
queue is full is cut off (close code 4408); it resumes by ``last_seq``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from server.auth import Actor
from server.bus import Bus, BusMessage

SLOW_CLIENT = 4408


def audience_includes(actor: Actor, audience: str) -> bool:
    if audience == "all":
        return True
    if audience == "moderators":
        return actor.runs_floor
    return audience == f"participant:{actor.participant_id}"


class Connection:
    """One participant's socket on one session, as the hub sees it."""

    def __init__(self, actor: Actor, queue_size: int):
        self.actor = actor
        # Items are (seq, text): seq None for replies (ack, error, pong), text
        # None for an event this person may not see (it only advances seq).
        self.queue: asyncio.Queue[tuple[int | None, str | None]] = asyncio.Queue(queue_size)
        self.last_seq = 0
        self.is_too_slow = False
        self.on_overflow: Callable[[], None] = lambda: None

    def offer(self, message: BusMessage) -> None:
        text = message.payload if audience_includes(self.actor, message.audience) else None
        self._put((message.seq, text))

    def reply(self, text: str) -> None:
        self._put((None, text))

    def _put(self, item) -> None:
        if self.is_too_slow:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.is_too_slow = True
            self.on_overflow()

    async def write_loop(
        self,
        send: Callable[[str], Awaitable[None]],
        missed: Callable[[int, int], Awaitable[list[str]]],
    ) -> None:
        """Send queued messages in order, filling any gap in seq from the log."""
        while True:
            seq, text = await self.queue.get()
            if seq is not None:
                if seq <= self.last_seq:
                    continue  # already sent, by the snapshot, replay or a gap fill
                if seq > self.last_seq + 1:
                    for earlier in await missed(self.last_seq, seq):
                        await send(earlier)
                self.last_seq = seq
            if text is not None:
                await send(text)


class Hub:
    def __init__(self, bus: Bus):
        self.rooms: dict[int, set[Connection]] = {}
        bus.add_receiver(self.deliver)

    def join(self, connection: Connection) -> None:
        self.rooms.setdefault(connection.actor.session_id, set()).add(connection)

    def leave(self, connection: Connection) -> None:
        room = self.rooms.get(connection.actor.session_id)
        if room is not None:
            room.discard(connection)
            if not room:
                del self.rooms[connection.actor.session_id]

    def deliver(self, message: BusMessage) -> None:
        for connection in tuple(self.rooms.get(message.session_id, ())):
            connection.offer(message)

    def count(self, session_id: int) -> int:
        return len(self.rooms.get(session_id, ()))
