"""Fan-out rules in one process: audiences, slow clients, gaps filled from the log."""

import asyncio

from rooms.roles import Role
from server.auth import Actor
from server.bus import BusMessage, MemoryBus
from server.hub import Connection, Hub


def actor(roles=(Role.PARTICIPANT,), participant_id=5, session_id=1):
    return Actor(participant_id, "X", 1, session_id, frozenset(roles), None, None, None)


async def test_audiences_are_respected_and_hidden_events_only_advance_seq():
    bus = MemoryBus()
    hub = Hub(bus)
    delegate, chair = Connection(actor(), 16), Connection(actor((Role.CHAIR,), 6), 16)
    hub.join(delegate)
    hub.join(chair)
    await bus.publish(1, 1, "all", "a")
    await bus.publish(1, 2, "moderators", "m")
    await bus.publish(1, 3, "participant:5", "p")
    await bus.publish(2, 1, "all", "other session")
    assert [delegate.queue.get_nowait() for _ in range(3)] == [(1, "a"), (2, None), (3, "p")]
    assert [chair.queue.get_nowait() for _ in range(3)] == [(1, "a"), (2, "m"), (3, None)]
    hub.leave(delegate)
    hub.leave(chair)
    assert hub.count(1) == 0


async def test_a_client_that_cannot_keep_up_is_cut_off_not_waited_for():
    hub = Hub(MemoryBus())
    slow, fast = Connection(actor(), 8), Connection(actor(participant_id=6), 64)
    cut = []
    slow.on_overflow = lambda: cut.append(True)
    hub.join(slow)
    hub.join(fast)
    for seq in range(1, 21):
        hub.deliver(BusMessage(1, seq, "all", str(seq)))
    assert slow.is_too_slow and cut == [True]
    assert fast.queue.qsize() == 20 and not fast.is_too_slow


async def test_writer_fills_a_gap_from_the_log_and_skips_what_was_sent():
    connection = Connection(actor(), 16)
    connection.last_seq = 2
    sent, asked = [], []

    async def missed(after, before):
        asked.append((after, before))
        return [f"log {seq}" for seq in range(after + 1, before)]

    for item in [(1, "old"), (2, "old"), (3, "e3"), (None, "ack"), (6, "e6"), (7, None), (8, "e8")]:
        connection.queue.put_nowait(item)
    writer = asyncio.create_task(connection.write_loop(_append(sent), missed))
    while connection.queue.qsize():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    writer.cancel()
    assert sent == ["e3", "ack", "log 4", "log 5", "e6", "e8"]
    assert asked == [(3, 6)] and connection.last_seq == 8


def _append(into):
    async def send(text):
        into.append(text)

    return send
