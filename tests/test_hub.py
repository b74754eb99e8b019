"""Fan-out in one process: recipients, slow clients, every seq delivered once and in order."""

import asyncio

import pytest

from rooms.actor import Actor
from rooms.recipients import EVERYONE, MODERATORS, Recipients, moderators_and, only
from rooms.roles import Role
from server.auth import Standing
from server.bus import MemoryBus, create_bus
from server.event_log import LoggedEvent, session_topic
from server.hub import CHUNK, REPLY_HOLD, Connection, Hub
from server.read_mark import READ_LAG, SAMPLE, ping_frame, seq_of
from tests.conftest import eventually


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
        self.revision = 1

    def add(self, *events):
        for e in events:
            self.events[e.seq] = e
            self.last = max(self.last, e.seq)

    async def read(self, session_id, after, upto):
        self.reads.append((after, upto))
        return [e for seq, e in sorted(self.events.items()) if after < seq <= (upto or self.last)]

    async def heads(self, session_ids):
        return {session_id: (self.last, self.revision) for session_id in session_ids}


async def a_hub(log=None):
    bus = MemoryBus()
    log = log or Log()
    hub = Hub(bus, log.read, log.heads, lambda: "now")
    return bus, hub, log


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """A server's unmasked frames, written one after another: (first byte, payload)."""
    found = []
    while data:
        assert data[0] in (0x81, 0x89)  # text, or the room's ping
        length = data[1] & 0x7F
        start = {126: 4, 127: 10}.get(length, 2)
        if length >= 126:
            length = int.from_bytes(data[2:start], "big")
        found.append((data[0], data[start : start + length]))
        data = data[start + length :]
    return found


def payloads(data: bytes) -> list[str]:
    """The texts of a server's text frames."""
    return [payload.decode() for opcode, payload in frames(data) if opcode == 0x81]


class Sink:
    """A socket's transport as the connection sees it: what was written, and
    how many bytes the client may leave unread. The room's pings
    (server/read_mark.py) are kept apart: the seqs they carry."""

    def __init__(self, bound=1 << 20):
        self.texts: list[str] = []
        self.writes: list[list[str]] = []
        self.pings: list[int | None] = []
        self.unread = 0
        self.bound = bound

    def write(self, frame: bytes) -> bool:
        written = frames(frame)
        pings = [seq_of(payload) for opcode, payload in written if opcode == 0x89]
        self.pings.extend(pings)
        if len(pings) < len(written):
            self.writes.append(payloads(frame))
            self.texts.extend(self.writes[-1])
        self.unread += len(frame)
        return self.unread <= self.bound


def connect(who=None, *, bound=1 << 20, hold=16, missed=None):
    sink = Sink(bound)
    return Connection(who or actor(), sink, hold, missed), sink


async def publish(bus, e):
    await bus.publish(session_topic(e.session_id), e.encode())


async def test_recipients_are_respected_and_hidden_events_only_advance_seq():
    bus, hub, _ = await a_hub()
    (delegate, to_delegate), (chair, to_chair) = connect(), connect(actor((Role.CHAIR,), 6))
    room = await hub.join(delegate)
    await hub.join(chair)
    room.started_at(0)
    delegate.live_from(0)
    chair.live_from(0)
    await publish(bus, event(1))
    await publish(bus, event(2, MODERATORS))
    await publish(bus, event(3, only(5)))
    await publish(bus, event(4, moderators_and(9)))
    await publish(bus, event(1, session_id=2, text="other session"))
    assert to_delegate.texts == ["e1", "e3"] and to_chair.texts == ["e1", "e2", "e4"]
    # What a person may not see still moves their seq on.
    assert delegate.last_seq == chair.last_seq == 4
    await hub.leave(delegate)
    await hub.leave(chair)
    assert hub.count(1) == 0 and "session.1" not in bus.topics


def test_recipients_survive_their_stored_form():
    for recipients in (EVERYONE, MODERATORS, only(3, 12), moderators_and(7), Recipients()):
        assert Recipients.decode(recipients.encode()) == recipients


async def test_a_process_subscribes_with_its_first_socket_and_leaves_with_its_last():
    bus, hub, _ = await a_hub()
    (first, _), (second, _) = connect(), connect(actor(participant_id=6))
    await hub.join(first)
    await hub.join(second)
    assert bus.topics == {"session.1"}
    await hub.leave(first)
    assert bus.topics == {"session.1"}
    await hub.leave(second)
    assert bus.topics == set()


async def test_a_client_that_stops_reading_is_cut_off_by_its_unread_bytes_not_waited_for():
    bus, hub, _ = await a_hub()
    (slow, to_slow), (fast, to_fast) = connect(bound=100), connect(actor(participant_id=6))
    cut = []
    slow.on_overflow = lambda: cut.append(True)
    (await hub.join(slow)).started_at(0)
    await hub.join(fast)
    slow.live_from(0)
    fast.live_from(0)
    for seq in range(1, 21):
        await publish(bus, event(seq, text="x" * 30))
    # Cut by the write that took its unread bytes (the room's pings among them) past the bound.
    assert slow.is_too_slow and cut == [True] and 0 < len(to_slow.texts) < 20
    assert to_slow.unread > 100 >= to_slow.unread - len(event(1, text="x" * 30).frame)
    assert len(to_fast.texts) == 20 and not fast.is_too_slow


async def test_a_gap_left_by_the_bus_is_read_once_from_the_log_for_every_socket():
    log = Log()
    log.add(*(event(seq) for seq in range(1, 6)))
    bus, hub, _ = await a_hub(log)
    sockets = [connect(actor(participant_id=n)) for n in range(3)]
    for connection, _ in sockets:
        room = await hub.join(connection)
        connection.live_from(1)
    room.started_at(1)
    await publish(bus, event(4))  # 2 and 3 were lost on the bus
    await publish(bus, event(5))
    await room.settled()
    for _, sink in sockets:
        assert sink.texts == ["e2", "e3", "e4", "e5"]
    assert log.reads == [(1, 3)]
    await publish(bus, event(3))  # a late duplicate changes nothing
    assert all(len(sink.texts) == 4 for _, sink in sockets)


async def test_a_heartbeat_delivers_a_lost_last_event_then_tells_the_seq():
    log = Log()
    log.add(event(1), event(2))
    bus, hub, _ = await a_hub(log)
    connection, sink = connect()
    room = await hub.join(connection)
    room.started_at(1)
    connection.live_from(1)
    await hub.beat()  # event 2 never came over the bus
    assert sink.texts[0] == "e2"
    assert '"type":"heartbeat","seq":2' in sink.texts[1]


async def test_what_arrives_while_the_snapshot_is_read_waits_and_what_it_covered_is_dropped():
    connection, sink = connect()
    for e in (event(1), event(2), event(3)):
        connection.offer(e)
    connection.reply('{"type":"pong"}')
    assert sink.texts == []
    connection.live_from(2)  # the snapshot was at seq 2
    assert sink.texts == ["e3", '{"type":"pong"}'] and connection.last_seq == 3


async def test_too_much_waiting_for_a_socket_that_is_not_live_cuts_it():
    connection, sink = connect(hold=3)
    cut = []
    connection.on_overflow = lambda: cut.append(True)
    for seq in range(1, 6):
        connection.offer(event(seq))
    assert cut == [True] and connection.is_too_slow
    connection.live_from(0)
    assert sink.texts == []


async def test_a_gap_in_one_socket_is_filled_from_the_log_as_a_last_resort():
    asked = []

    async def missed(after, before):
        asked.append((after, before))
        return [f"log {seq}" for seq in range(after + 1, before)]

    connection, sink = connect(missed=missed)
    connection.live_from(2)
    connection.offer(event(1))  # already covered
    connection.offer(event(3))
    connection.reply("ack")
    connection.offer(event(6))
    connection.offer(event(7, only(99)))
    connection.offer(event(8))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sink.texts == ["e3", "ack", "log 4", "log 5", "e6", "e8"]
    assert asked == [(3, 6)] and connection.last_seq == 8


async def test_a_senders_own_event_goes_with_its_reply_in_one_write_after_everyone_elses():
    bus, hub, _ = await a_hub()
    (sender, to_sender), (other, to_other) = connect(), connect(actor(participant_id=6))
    for connection in (sender, other):
        await hub.join(connection)
        connection.live_from(0)
    await publish(bus, event(1))
    sender.hold_for_reply()  # its command runs
    await publish(bus, event(2, text="e2, the command's"))
    await publish(bus, event(3, only(6)))  # not for the sender: it only moves its seq on
    sender.reply('{"type":"ack"}')
    await publish(bus, event(4))
    assert to_other.writes == [["e1"], ["e2, the command's"], ["e3"], ["e4"]]
    assert to_sender.writes == [["e1"], ["e2, the command's", '{"type":"ack"}'], ["e4"]]
    assert sender.last_seq == other.last_seq == 4


async def a_big_room(log=None):
    """A room of more sockets than are written at once, all live from seq 0."""
    bus, hub, log = await a_hub(log)
    sockets = [connect(actor(participant_id=n)) for n in range(4 * CHUNK + 10)]
    for connection, _ in sockets:
        room = await hub.join(connection)
        connection.live_from(0)
    room.started_at(0)
    return bus, hub, room, sockets


async def test_a_big_room_is_written_a_chunk_at_a_time_in_order_heartbeats_behind_the_events():
    log = Log()
    log.add(event(1), event(2))
    bus, hub, room, sockets = await a_big_room(log)
    await publish(bus, event(1))
    await publish(bus, event(2))
    # One chunk at once; the rest with the loop free between chunks.
    assert sorted(len(sink.texts) for _, sink in sockets) == [0] * (len(sockets) - CHUNK) + [1] * CHUNK
    await hub.beat()  # queued behind both events: never a seq before its event
    await room.written()
    for connection, sink in sockets:
        assert sink.texts[:2] == ["e1", "e2"] and '"type":"heartbeat","seq":2' in sink.texts[2]
        assert len(sink.texts) == 3 and connection.last_seq == 2


async def test_an_event_accepted_while_a_big_room_is_written_goes_with_the_one_before_where_the_sweep_has_not_been():
    bus, hub, room, sockets = await a_big_room()
    await publish(bus, event(1))  # the first chunk at once
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # a second chunk
    reached = [sink for _, sink in sockets if sink.texts]
    assert len(reached) == 2 * CHUNK
    await publish(bus, event(2))
    await publish(bus, event(3, only(7)))  # for one socket: the others' seq moves on
    await room.written()
    for connection, sink in sockets:
        expected = ["e1", "e2", "e3"] if connection.actor.participant_id == 7 else ["e1", "e2"]
        assert sink.texts == expected and connection.last_seq == 3
        if sink in reached:
            assert len(sink.writes) == 2  # e1, then the others on the next round
        else:
            assert sink.writes == [expected]  # all three in one write
    assert sum(len(sink.writes) for _, sink in sockets) == len(sockets) + 2 * CHUNK


async def test_a_sender_in_a_big_room_is_answered_with_its_event_once_the_events_before_are_everyones():
    bus, hub, room, sockets = await a_big_room()
    await publish(bus, event(1))  # being written
    sender, to_sender = next((connection, sink) for connection, sink in sockets if not sink.texts)
    sender.hold_for_reply()  # its command runs
    await publish(bus, event(2, text="e2, the sender's"))
    others = [sink for connection, sink in sockets if connection is not sender]

    async def answered():
        await room.keep_up()
        return [sink.texts[:] for sink in others]  # as the sender is answered

    answer = asyncio.ensure_future(answered())
    await asyncio.sleep(0)
    assert not answer.done()  # the sender does not run ahead of the room
    seen = await answer
    # Answered once e1 is everyone's, its own event still on its way to some.
    assert all(texts[:1] == ["e1"] for texts in seen)
    assert 0 < sum(texts == ["e1"] for texts in seen) < len(others)
    room.bring(sender)
    sender.reply("ack")
    assert to_sender.writes == [["e1", "e2, the sender's", "ack"]]
    await room.written()
    # Its turn in the room came after: nothing twice.
    assert to_sender.texts == ["e1", "e2, the sender's", "ack"] and sender.last_seq == 2
    assert all(sink.texts == ["e1", "e2, the sender's"] for connection, sink in sockets if connection is not sender)


async def test_sockets_that_leave_and_join_while_a_big_room_is_written_leave_the_others_their_events_once():
    log = Log()
    bus, hub, room, sockets = await a_big_room(log)
    await publish(bus, event(1))  # the first chunk at once
    await publish(bus, event(2))  # from the second chunk on, with e1
    # Sockets leave before and after where the sweep stands.
    leaving = {sockets[n][0] for n in (0, 3, CHUNK + 1, 3 * CHUNK, len(sockets) - 1)}
    for connection in leaving:
        await hub.leave(connection)
    late, to_late = connect(actor(participant_id=999))
    await hub.join(late)
    late.live_from(2)  # its snapshot covers both
    await publish(bus, event(3))
    await room.written()
    await publish(bus, event(4))  # a round that starts without those who left
    await room.written()
    for connection, sink in sockets:
        if connection not in leaving:
            assert sink.texts == ["e1", "e2", "e3", "e4"] and connection.last_seq == 4
    assert to_late.texts == ["e3", "e4"]
    assert room.connections == {connection for connection, _ in sockets if connection not in leaving} | {late}


async def test_a_socket_that_joins_while_a_big_room_is_written_gets_what_its_snapshot_did_not_cover_once():
    bus, hub, room, sockets = await a_big_room()
    await publish(bus, event(1))
    late, to_late = connect(actor(participant_id=999))
    await hub.join(late)  # its snapshot, read now, covers e1
    await publish(bus, event(2))
    late.live_from(1)
    await room.written()
    assert to_late.texts == ["e2"] and late.last_seq == 2
    assert all(sink.texts == ["e1", "e2"] for _, sink in sockets)


async def test_a_socket_that_joins_after_events_its_snapshot_missed_gets_them_from_the_log_before_any_heartbeat():
    # Its snapshot is read at seq 0; events 1 and 2 are committed and written
    # to the room before it joins. A heartbeat must not tell it seq 2 before
    # it has had both (a page takes the heartbeat's seq as its own).
    log = Log()
    bus, hub, _ = await a_hub(log)
    early, _ = connect(actor(participant_id=6))
    room = await hub.join(early)
    room.started_at(0)
    early.live_from(0)
    for e in (event(1), event(2, only(6)), event(3)):
        log.add(e)
        await publish(bus, e)
    await room.written()

    async def missed(after, before):
        return [
            e.payload
            for seq, e in sorted(log.events.items())
            if after < seq < before and e.recipients.includes(late.actor)
        ]

    late, to_late = connect(missed=missed)
    await hub.join(late)
    late.live_from(0, room.seq)
    await hub.beat()  # while the log is read for it
    await room.written()
    await asyncio.sleep(0)
    assert to_late.texts[:2] == ["e1", "e3"] and '"type":"heartbeat","seq":3' in to_late.texts[2]
    assert late.last_seq == 3
    await publish(bus, event(4))
    assert to_late.texts[3:] == ["e4"]

    # One whose snapshot is one event behind the room gets that event once.
    log.add(event(5))
    await publish(bus, event(5))
    again, to_again = connect(actor(participant_id=7), missed=missed)
    await hub.join(again)
    again.live_from(4, room.seq)
    await room.written()
    await asyncio.sleep(0)
    assert to_again.texts == ["e5"] and again.last_seq == 5


async def test_a_command_that_ends_without_a_reply_sends_what_was_held():
    connection, sink = connect()
    connection.live_from(0)
    connection.hold_for_reply()
    connection.offer(event(1))
    assert sink.texts == []
    connection.release_reply_hold()
    connection.offer(event(2))
    assert sink.writes == [["e1"], ["e2"]] and connection.last_seq == 2


async def test_a_gap_while_held_for_a_reply_is_filled_before_the_reply():
    async def missed(after, before):
        return [f"log {seq}" for seq in range(after + 1, before)]

    connection, sink = connect(missed=missed)
    connection.live_from(0)
    connection.hold_for_reply()
    connection.offer(event(1))
    connection.offer(event(3))  # 2 was lost on the bus
    connection.reply("ack")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sink.texts == ["e1", "log 2", "e3", "ack"]
    assert connection.last_seq == 3


async def test_a_socket_not_yet_live_keeps_its_own_hold():
    connection, sink = connect()
    connection.hold_for_reply()  # the snapshot is still being read: nothing changes
    connection.offer(event(1))
    connection.reply("ack")
    connection.release_reply_hold()
    assert sink.texts == []
    connection.live_from(0)
    assert sink.texts == ["e1", "ack"]


async def test_a_long_command_in_a_busy_session_lets_what_it_held_go_and_is_not_cut_off():
    connection, sink = connect(hold=REPLY_HOLD + 1)
    connection.live_from(0)
    overflowed = []
    connection.on_overflow = lambda: overflowed.append(True)
    connection.hold_for_reply()
    for seq in range(1, REPLY_HOLD + 3):
        connection.offer(event(seq))
    # Let go at the bound, then written as they come.
    assert sink.texts == [f"e{seq}" for seq in range(1, REPLY_HOLD + 3)]
    assert sink.writes[0] == ["e1"]
    connection.reply("ack")
    assert sink.texts[-2:] == [f"e{REPLY_HOLD + 2}", "ack"] and overflowed == []


async def test_a_client_too_slow_when_what_was_held_goes_is_cut_off():
    connection, sink = connect(bound=10)
    connection.live_from(0)
    overflowed = []
    connection.on_overflow = lambda: overflowed.append(True)
    connection.hold_for_reply()
    for seq in (1, 2, 3):
        connection.offer(event(seq))
    connection.reply("ack")
    assert overflowed == [True]


async def test_a_socket_that_joins_during_the_access_check_is_not_cut_off():
    # Seen with 1000 participants connecting: the heartbeat's access check read
    # the database while others joined, and cut off those it had not asked about.
    log = Log()
    (early, _), (late, _) = connect(actor(participant_id=5)), connect(actor(participant_id=6))

    async def current_actors(session_id, participant_ids):
        await hub.join(late)  # joins while the roles are being read
        return {
            participant_id: Standing(actor(participant_id=participant_id), "") for participant_id in participant_ids
        }

    hub = Hub(MemoryBus(), log.read, log.heads, lambda: "now", current_actors)
    (await hub.join(early)).started_at(0)
    await hub.beat()
    assert early.revoked is None and late.revoked is None


async def test_roles_are_read_again_only_when_the_event_was_loaded_again():
    # Reading 2000 participants' roles at every heartbeat held every event behind it.
    log = Log()
    (france, _), (peru, _) = connect(actor(participant_id=5)), connect(actor(participant_id=6))
    asked: list[list[int]] = []
    standing: dict[int, object] = {}

    async def current_actors(session_id, participant_ids):
        asked.append(participant_ids)
        return {p: Standing(standing.get(p, actor(participant_id=p)), "") for p in participant_ids}

    hub = Hub(MemoryBus(), log.read, log.heads, lambda: "now", current_actors)
    room = await hub.join(france)
    await hub.join(peru)
    room.started_at(0)
    for _ in range(3):
        await hub.beat()
    assert asked == [[5, 6]]  # once, when the room was new
    standing[5] = None  # the organizer took France out, and loaded the event again
    log.revision += 1
    await hub.beat()
    await hub.beat()
    assert asked == [[5, 6], [5, 6]]
    assert france.revoked == 4403 and peru.revoked is None


class Follower:
    """An observer of the hub, as the media relay is."""

    def __init__(self):
        self.seen: list[tuple[int, str]] = []
        self.rosters = 0

    def event(self, event):
        self.seen.append((event.seq, event.type))

    def roster_changed(self):
        self.rosters += 1


def typed(seq, type_):
    return LoggedEvent(1, seq, only(99), f"e{seq}", type_)


async def test_an_observer_sees_the_types_it_follows_in_order_gaps_filled_whoever_they_are_for():
    bus, hub, log = await a_hub()
    follower = Follower()
    room = await hub.observe(1, frozenset({"floor_given", "mic_changed"}), follower)
    room.started_at(0)
    log.add(typed(1, "floor_given"), typed(2, "question_voted"), typed(3, "mic_changed"), typed(4, "floor_given"))
    await bus.publish(session_topic(1), log.events[1].encode())
    await bus.publish(session_topic(1), log.events[4].encode())  # 2 and 3 lost on the bus
    await room.settled()
    assert follower.seen == [(1, "floor_given"), (3, "mic_changed"), (4, "floor_given")]
    assert hub.count(1) == 0  # an observer is nobody's socket


async def test_an_observer_hears_the_roster_change_and_keeps_the_room_until_it_leaves():
    bus, hub, log = await a_hub()
    follower = Follower()
    (await hub.observe(1, frozenset({"mic_changed"}), follower)).started_at(0)
    await hub.beat()
    log.revision += 1
    await hub.beat()
    assert follower.rosters == 2  # the room's first judgement, then the load
    assert session_topic(1) in bus.topics
    await hub.unobserve(1, follower)
    assert 1 not in hub.rooms and session_topic(1) not in bus.topics


def test_an_event_keeps_its_type_across_the_bus():
    sent = LoggedEvent(3, 7, moderators_and(4, 5), '{"type":"mic_changed"}', "mic_changed")
    assert LoggedEvent.decode(sent.encode()) == sent


async def test_a_sender_waits_while_most_of_a_big_room_has_not_read_its_events_and_goes_once_it_has():
    bus, hub, room, sockets = await a_big_room()
    sender, _ = sockets[0]
    await publish(bus, event(1))
    await room.written()
    # Once an event is everyone's, a sample of the live sockets is asked, in a ping after it.
    asked = [(connection, sink) for connection, sink in sockets if sink.pings]
    assert len(asked) == SAMPLE and all(sink.pings == [1] and sink.texts == ["e1"] for _, sink in asked)
    for seq in range(2, READ_LAG + 3):
        await publish(bus, event(seq))
    await room.written()
    sender.hold_for_reply()  # its command ran: it waits for the room before its reply
    answer = asyncio.ensure_future(room.keep_up())
    await asyncio.sleep(0.05)
    assert not answer.done()  # the room has not said it read e1 yet
    for connection, _ in asked:
        room.read_mark.heard(connection, ping_frame(1)[2:])
    await asyncio.sleep(0)
    assert not answer.done()  # read e1, but the sender's event is more than READ_LAG past it
    # Meanwhile the next sockets were asked for the last seq written to all.
    later = [connection for connection, sink in sockets if sink.pings == [READ_LAG + 2]]
    assert len(later) == SAMPLE
    for connection in later:
        room.read_mark.heard(connection, ping_frame(READ_LAG + 2)[2:])
    await asyncio.wait_for(answer, 1)


async def test_only_live_sockets_that_have_the_event_are_asked():
    (live, to_live), (opening, to_opening), (sending, to_sending) = connect(), connect(), connect()
    live.live_from(3)
    sending.live_from(3)
    sending.hold_for_reply()
    frame = ping_frame(3)
    assert live.sound(frame, 3) and to_live.pings == [3]
    assert not live.sound(frame, 4)  # not written to it yet
    assert not opening.sound(frame, 3) and not sending.sound(frame, 3)
    assert to_opening.pings == to_sending.pings == []


def answer_every_ping(room, connection, sink):
    for seq in sink.pings:
        room.read_mark.heard(connection, ping_frame(seq)[2:])


@pytest.mark.parametrize("bus_url", ["redis"], indirect=True)
async def test_a_room_holds_a_sender_of_another_process_until_it_has_read_and_not_once_it_is_gone(bus_url):
    log = Log()
    buses = [create_bus(bus_url), create_bus(bus_url)]
    for bus in buses:
        await bus.start()
    here, there = (Hub(bus, log.read, log.heads, lambda: "now") for bus in buses)
    try:
        (sender, to_sender), (listener, to_listener) = connect(), connect(actor(participant_id=6))
        ours, theirs = await here.join(sender), await there.join(listener)
        for room, connection in ((ours, sender), (theirs, listener)):
            room.started_at(0)
            connection.live_from(0)
        last = READ_LAG + 2
        for seq in range(1, last + 1):
            log.add(event(seq))
            await publish(buses[0], event(seq))
        await eventually(lambda: listener.last_seq == last)
        answer_every_ping(ours, sender, to_sender)  # the sender's own room has read
        await ours.written()
        # The listener there has not: its room tells ours, and a sender here waits.
        await eventually(lambda: ours.read_mark.is_behind(last))
        held = asyncio.ensure_future(ours.keep_up())
        await asyncio.sleep(0.05)
        assert not held.done()
        while theirs.read_mark.mark != last:
            answer_every_ping(theirs, listener, to_listener)
            await asyncio.sleep(0.01)
        await asyncio.wait_for(held, 2)
        # Behind again, then that room empties: it holds nobody.
        for seq in range(last + 1, 2 * last + 1):
            log.add(event(seq))
            await publish(buses[0], event(seq))
        answer_every_ping(ours, sender, to_sender)
        await eventually(lambda: ours.read_mark.is_behind(2 * last))
        await there.leave(listener)
        # At once, not once it has been silent too long (read_mark.PROBE_SECONDS).
        await eventually(lambda: not ours.read_mark.is_behind(2 * last), timeout=1)
    finally:
        for bus in buses:
            await bus.stop()
