"""The room's read mark: soundings of a sample, the mark most of it has read, a sender held behind it."""

import asyncio

import pytest

from server import read_mark
from server.read_mark import PROBE_EVERY, READ_LAG, SAMPLE, SOUNDINGS, ReadMark, ping_frame, seq_of


class Socket:
    """A socket as the mark sees it: live from ``since``, and the pings written to it."""

    def __init__(self, since=0):
        self.since = since
        self.pings: list[int | None] = []

    def sound(self, frame: bytes, seq: int) -> bool:
        if seq < self.since:
            return False
        assert frame[0] == 0x89 and frame[1] == len(frame) - 2
        self.pings.append(seq_of(frame[2:]))
        return True


def answer(mark, sockets, seq):
    for socket in sockets:
        mark.heard(socket, ping_frame(seq)[2:])


def test_the_ping_carries_the_seq_and_nothing_else_is_taken_for_an_answer():
    assert seq_of(ping_frame(123456789)[2:]) == 123456789
    assert seq_of(b"\x00" * 8) is None  # the keepalive's
    assert seq_of(b"read1234") is None
    assert seq_of(b"") is None


def test_a_sounding_asks_a_sample_in_turn_so_everyone_is_asked_over_time():
    room = [Socket() for _ in range(SAMPLE * 2 + 5)]
    mark = ReadMark(lambda: room)
    mark.written(1)
    asked = [socket for socket in room if socket.pings]
    assert asked == room[:SAMPLE] and all(socket.pings == [1] for socket in asked)
    answer(mark, asked, 1)
    assert mark.mark == 1
    mark.written(1 + PROBE_EVERY)
    assert [socket for socket in room if socket.pings == [1 + PROBE_EVERY]] == room[SAMPLE : 2 * SAMPLE]


def test_sockets_not_live_are_not_asked_and_an_empty_room_has_read_everything():
    room = [None, Socket(since=9), Socket(), None]
    mark = ReadMark(lambda: room)
    mark.written(5)
    assert room[1].pings == [] and room[2].pings == [5]
    answer(mark, [room[2]], 5)
    assert mark.mark == 5
    empty = ReadMark(lambda: [None, Socket(since=9)])
    empty.written(3)
    assert empty.mark == 3


def test_the_mark_moves_once_all_but_an_eighth_of_the_sample_answered():
    room = [Socket() for _ in range(SAMPLE)]
    mark = ReadMark(lambda: room)
    mark.written(7)
    spare = SAMPLE // 8
    answer(mark, room[: SAMPLE - spare - 1], 7)
    assert mark.mark is None
    answer(mark, room[:1], 7)  # twice from the same socket counts once
    assert mark.mark is None
    answer(mark, room[SAMPLE - 1 :], 6)  # an older seq, or another ping's
    mark.heard(room[-1], b"\x00" * 8)
    assert mark.mark is None
    answer(mark, [Socket()], 7)  # someone who was not asked
    assert mark.mark is None
    answer(mark, room[SAMPLE - spare - 1 : SAMPLE - spare], 7)
    assert mark.mark == 7


def test_sockets_that_leave_hold_nobody_up():
    room = [Socket() for _ in range(10)]
    mark = ReadMark(lambda: room)
    mark.written(4)
    answer(mark, room[:2], 4)
    for socket in room[2:]:
        mark.left(socket)
    assert mark.mark == 4


def test_soundings_go_on_while_earlier_ones_wait_and_a_later_answer_moves_the_mark_past_them():
    room = [Socket() for _ in range(SAMPLE * SOUNDINGS)]
    mark = ReadMark(lambda: room)
    for seq in range(1, 1 + PROBE_EVERY * SOUNDINGS, PROBE_EVERY):
        mark.written(seq)
    last = 1 + PROBE_EVERY * (SOUNDINGS - 1)
    assert [socket.pings for socket in room[::SAMPLE]] == [[seq] for seq in range(1, last + 1, PROBE_EVERY)]
    mark.written(last + PROBE_EVERY)  # as many under way as may be: nobody more is asked
    assert sum(len(socket.pings) for socket in room) == SAMPLE * SOUNDINGS
    answer(mark, room[-SAMPLE:], last)
    assert mark.mark == last
    answer(mark, room[:SAMPLE], 1)  # an older one, answered late: the mark stays
    assert mark.mark == last
    # Those under way were dropped with the answer: the next sample is asked at once.
    assert room[0].pings == [1, last + PROBE_EVERY]


def test_a_sounding_unanswered_too_long_is_given_up(monkeypatch):
    room = [Socket() for _ in range(4)]
    mark = ReadMark(lambda: room)
    mark.written(1)
    now = read_mark.time.monotonic()
    monkeypatch.setattr(read_mark.time, "monotonic", lambda: now + read_mark.PROBE_SECONDS + 1)
    mark.written(1 + PROBE_EVERY)
    answer(mark, room, 1)  # too late: that sounding was given up
    assert mark.mark is None
    answer(mark, room, 1 + PROBE_EVERY)
    assert mark.mark == 1 + PROBE_EVERY


def test_soundings_come_every_few_events_not_every_event():
    room = [Socket()]
    mark = ReadMark(lambda: room)
    for seq in range(1, 3 * PROBE_EVERY + 1):
        mark.written(seq)
        answer(mark, room, seq)
    assert room[0].pings == [1, 1 + PROBE_EVERY, 1 + 2 * PROBE_EVERY]


async def test_a_sender_waits_while_most_of_the_room_is_behind_and_goes_once_it_reads():
    room = [Socket() for _ in range(8)]
    mark = ReadMark(lambda: room)
    mark.written(10)
    answer(mark, room, 10)
    await asyncio.wait_for(mark.keep_within(10 + READ_LAG), 1)  # within the lag: no wait
    mark.written(20)
    waiting = asyncio.ensure_future(mark.keep_within(11 + READ_LAG))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    answer(mark, room, 20)
    await asyncio.wait_for(waiting, 1)


async def test_a_room_that_never_reads_holds_a_sender_no_longer_than_the_limit(monkeypatch):
    monkeypatch.setattr(read_mark, "HOLD_SECONDS", 0.1)
    room = [Socket() for _ in range(8)]
    mark = ReadMark(lambda: room)
    mark.written(1)
    answer(mark, room, 1)
    mark.written(2 + READ_LAG)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(mark.keep_within(2 + READ_LAG), 2)
    assert 0.1 <= loop.time() - started < 1


@pytest.mark.parametrize("seq", [0, 2**63 - 1])
def test_the_ping_fits_any_seq(seq):
    frame = ping_frame(seq)
    assert len(frame) == 14 and seq_of(frame[2:]) == seq


def test_a_room_whose_answers_are_slow_holds_a_sender_only_once_events_pile_up(monkeypatch):
    room = [Socket() for _ in range(4)]
    mark = ReadMark(lambda: room)
    mark.written(1)
    answer(mark, room, 1)
    mark.written(1 + PROBE_EVERY)  # asked, not answered yet
    assert not mark.is_behind(2 + PROBE_EVERY)  # answers take a moment
    now = read_mark.time.monotonic()
    monkeypatch.setattr(read_mark.time, "monotonic", lambda: now + read_mark.READ_LAG_SECONDS + 0.01)
    # Far away, answering late, at a meeting's pace: nobody waits.
    assert not mark.is_behind(1 + PROBE_EVERY)
    # Events piling up behind an unanswered sounding: a sender waits before READ_LAG.
    assert mark.is_behind(2 + PROBE_EVERY) and 2 + PROBE_EVERY < 1 + READ_LAG
    answer(mark, room, 1 + PROBE_EVERY)
    assert not mark.is_behind(2 + PROBE_EVERY)


def test_where_the_room_stands_is_told_when_the_mark_moves_or_a_sounding_begins_not_for_every_answer():
    room = [Socket() for _ in range(SAMPLE)]
    mark = ReadMark(lambda: room)
    told = []
    mark.changed = lambda: told.append(mark.stands())
    mark.written(1)  # a sounding begins
    assert len(told) == 1 and told[0][0] is None and told[0][1] >= 0
    answer(mark, room[:3], 1)  # answers that move nothing
    assert len(told) == 1
    answer(mark, room, 1)
    assert told[-1] == (1, None) and len(told) == 2  # read, and nothing under way


async def test_a_sender_waits_while_another_process_room_is_behind_and_goes_once_it_has_read():
    room = [Socket() for _ in range(8)]
    mark = ReadMark(lambda: room)
    sent = 15 + READ_LAG
    mark.written(sent)
    answer(mark, room, sent)  # this process's room has read everything
    mark.heard_from("other", 5, None)
    assert mark.is_behind(6 + READ_LAG) and not mark.is_behind(5 + READ_LAG)
    waiting = asyncio.ensure_future(mark.keep_within(sent))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    mark.heard_from("other", 10, None)  # read more, still too far
    await asyncio.sleep(0.01)
    assert not waiting.done()
    mark.heard_from("other", 15, None)
    await asyncio.wait_for(waiting, 1)


def test_another_process_room_whose_answers_are_slow_holds_only_once_events_pile_up():
    mark = ReadMark(list)
    mark.written(10)  # nobody here
    mark.heard_from("other", 10, read_mark.READ_LAG_SECONDS + 0.05)  # its sounding has waited that long
    assert not mark.is_behind(10 + PROBE_EVERY)
    assert mark.is_behind(11 + PROBE_EVERY)
    mark.heard_from("other", 10, 0.0)
    assert not mark.is_behind(11 + PROBE_EVERY)


def test_another_process_that_left_or_went_silent_holds_nobody(monkeypatch):
    mark = ReadMark(list)
    mark.written(100)
    mark.heard_from("gone", 1, None)
    mark.heard_from("silent", 1, None)
    assert mark.is_behind(100)
    mark.heard_from("gone", None, None)  # its room emptied
    assert mark.is_behind(100)
    now = read_mark.time.monotonic()
    monkeypatch.setattr(read_mark.time, "monotonic", lambda: now + read_mark.PROBE_SECONDS + 0.1)
    assert not mark.is_behind(100)  # died, or lost its link: not heard from
