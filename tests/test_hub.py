"""Fan-out in one process: recipients, slow clients, every seq delivered once and in order."""

import asyncio

from rooms.actor import Actor
from rooms.recipients import EVERYONE, MODERATORS, Recipients, moderators_and, only
from rooms.roles import Role
from server.bus import MemoryBus
from server.event_log import LoggedEvent, session_topic
from server.hub import Connection, Hub


def actor(roles=(Role.PARTICIPANT,), participant_id=5, session_id=1):
    return Actor(participant_id, "X", 1, session_id, frozenset(roles), None, None, None)


def event(seq, recipients=EVERYONE, session_id=1, text=None):
    return LoggedEvent(session_id, seq, recipients, text or f"e{seq}")


class Log:
    """The event log as the hub reads it."""

    def __init__(self):
        self.events: dict[int, LoggedEvent] = {}
        self.reads: list[tuple[int, int | None]] = []
        self.last = 0

    def add(self, *events):
        for e in events:
            self.events[e.seq] = e
            self.last = max(self.last, e.seq)

    async def read(self, session_id, after, upto):
        self.reads.append((after, upto))
        return [e for seq, e in sorted(self.events.items()) if after < seq <= (upto or self.last)]

    async def last_seqs(self, session_ids):
        return {session_id: self.last for session_id in session_ids}


async def a_hub(log=None):
    bus = MemoryBus()
    log = log or Log()
    hub = Hub(bus, log.read, log.last_seqs, lambda: "now")
    return bus, hub, log


def drain(connection):
    items = []
    while not connection.queue.empty():
        items.append(connection.queue.get_nowait())
    return items


async def publish(bus, e):
    await bus.publish(session_topic(e.session_id), e.encode())


async def test_recipients_are_respected_and_hidden_events_only_advance_seq():
    bus, hub, _ = await a_hub()
    delegate, chair = Connection(actor(), 16), Connection(actor((Role.CHAIR,), 6), 16)
    room = await hub.join(delegate)
    await hub.join(chair)
    room.started_at(0)
    await publish(bus, event(1))
    await publish(bus, event(2, MODERATORS))
    await publish(bus, event(3, only(5)))
    await publish(bus, event(4, moderators_and(9)))
    await publish(bus, event(1, session_id=2, text="other session"))
    assert drain(delegate) == [(1, "e1"), (2, None), (3, "e3"), (4, None)]
    assert drain(chair) == [(1, "e1"), (2, "e2"), (3, None), (4, "e4")]
    await hub.leave(delegate)
    await hub.leave(chair)
    assert hub.count(1) == 0 and "session.1" not in bus.topics


def test_recipients_survive_their_stored_form():
    for recipients in (EVERYONE, MODERATORS, only(3, 12), moderators_and(7), Recipients()):
        assert Recipients.decode(recipients.encode()) == recipients


async def test_a_process_subscribes_with_its_first_socket_and_leaves_with_its_last():
    bus, hub, _ = await a_hub()
    first, second = Connection(actor(), 8), Connection(actor(participant_id=6), 8)
    await hub.join(first)
    await hub.join(second)
    assert bus.topics == {"session.1"}
    await hub.leave(first)
    assert bus.topics == {"session.1"}
    await hub.leave(second)
    assert bus.topics == set()


async def test_a_client_that_cannot_keep_up_is_cut_off_not_waited_for():
    bus, hub, _ = await a_hub()
    slow, fast = Connection(actor(), 8), Connection(actor(participant_id=6), 64)
    cut = []
    slow.on_overflow = lambda: cut.append(True)
    (await hub.join(slow)).started_at(0)
    await hub.join(fast)
    for seq in range(1, 21):
        await publish(bus, event(seq))
    assert slow.is_too_slow and cut == [True]
    assert fast.queue.qsize() == 20 and not fast.is_too_slow


async def test_a_gap_left_by_the_bus_is_read_once_from_the_log_for_every_socket():
    log = Log()
    log.add(*(event(seq) for seq in range(1, 6)))
    bus, hub, _ = await a_hub(log)
    sockets = [Connection(actor(participant_id=n), 16) for n in range(3)]
    for connection in sockets:
        room = await hub.join(connection)
    room.started_at(1)
    await publish(bus, event(4))  # 2 and 3 were lost on the bus
    await publish(bus, event(5))
    await room.settled()
    for connection in sockets:
        assert [seq for seq, _ in drain(connection)] == [2, 3, 4, 5]
    assert log.reads == [(1, 3)]
    await publish(bus, event(3))  # a late duplicate changes nothing
    assert all(connection.queue.empty() for connection in sockets)


async def test_a_heartbeat_delivers_a_lost_last_event_then_tells_the_seq():
    log = Log()
    log.add(event(1), event(2))
    bus, hub, _ = await a_hub(log)
    connection = Connection(actor(), 16)
    room = await hub.join(connection)
    room.started_at(1)
    await hub.beat()  # event 2 never came over the bus
    items = drain(connection)
    assert items[0] == (2, "e2")
    assert items[1][0] is None and '"type":"heartbeat","seq":2' in items[1][1]


async def test_writer_skips_what_was_sent_and_fills_a_gap_as_a_last_resort():
    connection = Connection(actor(), 16)
    connection.last_seq = 2
    sent, asked = [], []

    async def missed(after, before):
        asked.append((after, before))
        return [f"log {seq}" for seq in range(after + 1, before)]

    async def send(text):
        sent.append(text)

    for item in [(1, "old"), (2, "old"), (3, "e3"), (None, "ack"), (6, "e6"), (7, None), (8, "e8")]:
        connection.queue.put_nowait(item)
    connection.end()
    await asyncio.wait_for(connection.write_loop(send, missed), 5)
    assert sent == ["e3", "ack", "log 4", "log 5", "e6", "e8"]
    assert asked == [(3, 6)] and connection.last_seq == 8


async def test_a_socket_that_joins_during_the_access_check_is_not_cut_off():
    # Seen with 1000 participants connecting: the heartbeat's access check read
    # the database while others joined, and cut off those it had not asked about.
    log = Log()
    early, late = Connection(actor(participant_id=5), 8), Connection(actor(participant_id=6), 8)

    async def current_actors(session_id, participant_ids):
        await hub.join(late)  # joins while the roles are being read
        return {participant_id: actor(participant_id=participant_id) for participant_id in participant_ids}

    hub = Hub(MemoryBus(), log.read, log.last_seqs, lambda: "now", current_actors)
    (await hub.join(early)).started_at(0)
    await hub.beat()
    assert early.revoked is None and late.revoked is None
