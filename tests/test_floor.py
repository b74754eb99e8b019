"""The list of speakers as plain rules: no socket, no database."""

from datetime import UTC, datetime, timedelta

import pytest

from rooms.delegations import Tier
from rooms.errors import Refused
from rooms.floor import Floor, FloorRules, Kind, Request, Status

T0 = datetime(2020, 12, 4, 12, 30, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def ask(floor: Floor, delegation: int, tier: Tier, kind=Kind.STATEMENT, at: int = 0, name=None, speaker=None):
    request = Request(
        delegation_id=delegation,
        tier=tier,
        kind=kind,
        requested_at=T0 + timedelta(seconds=at),
        speaker_name=name or f"delegation {delegation}",
        speaker_id=speaker,
    )
    floor.request(request)
    request.id = next(_ids)  # the store gives ids; here we play the store
    return request


def names(floor: Floor) -> list[str]:
    return [request.speaker_name for request in floor.waiting]


def test_statements_follow_tier_then_time():
    floor = Floor()
    ask(floor, 1, Tier.CIVIL_SOCIETY, at=0, name="NGO")
    ask(floor, 2, Tier.INTERNATIONAL_ORGANISATION, at=1, name="IO")
    ask(floor, 3, Tier.STATE_PARTY, at=2, name="State A")
    ask(floor, 4, Tier.OBSERVER_STATE, at=3, name="Observer")
    ask(floor, 5, Tier.STATE_PARTY, at=4, name="State B")
    assert names(floor) == ["State A", "State B", "Observer", "IO", "NGO"]


def test_point_of_order_goes_ahead_of_every_statement_first_come_first_served():
    floor = Floor()
    ask(floor, 1, Tier.STATE_PARTY, at=0, name="State")
    ask(floor, 2, Tier.CIVIL_SOCIETY, Kind.POINT_OF_ORDER, at=1, name="NGO order")
    ask(floor, 3, Tier.STATE_PARTY, Kind.POINT_OF_ORDER, at=2, name="State order")
    assert names(floor) == ["NGO order", "State order", "State"]


def test_right_of_reply_is_heard_after_the_statements():
    floor = Floor()
    ask(floor, 1, Tier.STATE_PARTY, Kind.RIGHT_OF_REPLY, at=0, name="Reply")
    ask(floor, 2, Tier.CIVIL_SOCIETY, at=1, name="NGO")
    ask(floor, 3, Tier.STATE_PARTY, at=2, name="State")
    assert names(floor) == ["State", "NGO", "Reply"]


def test_session_precedence_can_differ():
    rules = FloorRules(precedence=(Tier.CIVIL_SOCIETY, Tier.STATE_PARTY))
    floor = Floor(rules=rules)
    ask(floor, 1, Tier.STATE_PARTY, at=0, name="State")
    ask(floor, 2, Tier.OBSERVER_STATE, at=1, name="Observer (not listed)")
    ask(floor, 3, Tier.CIVIL_SOCIETY, at=2, name="NGO")
    assert names(floor) == ["NGO", "State", "Observer (not listed)"]


def test_one_open_request_per_delegation_and_kind():
    floor = Floor()
    ask(floor, 1, Tier.STATE_PARTY)
    with pytest.raises(Refused) as refused:
        ask(floor, 1, Tier.STATE_PARTY, at=5)
    assert refused.value.code == "duplicate_request"
    ask(floor, 1, Tier.STATE_PARTY, Kind.POINT_OF_ORDER, at=6)  # another kind is fine
    assert len(floor.waiting) == 2


def test_closed_list_refuses_statements_but_takes_points_of_order():
    floor = Floor()
    floor.close()
    with pytest.raises(Refused) as refused:
        ask(floor, 1, Tier.STATE_PARTY)
    assert refused.value.code == "list_closed"
    ask(floor, 2, Tier.STATE_PARTY, Kind.POINT_OF_ORDER)
    floor.reopen()
    ask(floor, 1, Tier.STATE_PARTY, at=3)
    assert len(floor.waiting) == 2


def test_reorder_from_a_stale_list_is_refused_and_changes_nothing():
    floor = Floor()
    a = ask(floor, 1, Tier.STATE_PARTY, at=0)
    b = ask(floor, 2, Tier.STATE_PARTY, at=1)
    c = ask(floor, 3, Tier.STATE_PARTY, at=2)
    floor.withdraw(b.id, participant_id=0, delegation_id=2)
    with pytest.raises(Refused) as refused:
        floor.reorder([c.id, b.id, a.id])
    assert refused.value.code == "stale_list"
    assert [r.id for r in floor.waiting] == [a.id, c.id]
    floor.reorder([c.id, a.id])
    assert [r.id for r in floor.waiting] == [c.id, a.id]


def test_reorder_must_not_repeat_a_request():
    floor = Floor()
    a = ask(floor, 1, Tier.STATE_PARTY)
    ask(floor, 2, Tier.STATE_PARTY, at=1)
    with pytest.raises(Refused):
        floor.reorder([a.id, a.id])


def test_move_and_new_requests_do_not_overtake_earlier_equals():
    floor = Floor()
    ngo = ask(floor, 1, Tier.CIVIL_SOCIETY, at=0, name="NGO")
    ask(floor, 2, Tier.STATE_PARTY, at=1, name="State A")
    floor.move(ngo.id, 1)
    assert names(floor) == ["NGO", "State A"]
    ask(floor, 3, Tier.STATE_PARTY, at=2, name="State B")
    assert names(floor) == ["NGO", "State A", "State B"]
    with pytest.raises(Refused):
        floor.move(ngo.id, 4)


def test_give_floor_to_next_or_chosen_and_keep_the_speech():
    floor = Floor()
    a = ask(floor, 1, Tier.STATE_PARTY, at=0, name="A")
    b = ask(floor, 2, Tier.STATE_PARTY, at=1, name="B")
    change = floor.give_floor(T0 + timedelta(seconds=10), request_id=b.id)
    assert floor.current.request is b and b.status is Status.SPEAKING
    assert change.ended is None
    change = floor.give_floor(T0 + timedelta(seconds=70))
    assert floor.current.request is a
    assert change.ended.request is b and b.status is Status.DONE
    assert change.ended.elapsed(T0 + timedelta(seconds=999)) == 60
    ended = floor.end_speech(T0 + timedelta(seconds=100)).ended
    assert ended.ended_at == T0 + timedelta(seconds=100) and floor.current is None
    with pytest.raises(Refused) as refused:
        floor.give_floor(T0)
    assert refused.value.code == "empty_list"


def test_timer_counts_down_by_tier_and_paused_time_does_not_count():
    floor = Floor(rules=FloorRules())
    ask(floor, 1, Tier.OBSERVER_STATE)
    floor.give_floor(T0)
    speech = floor.current
    assert speech.limit_s == 120
    floor.pause(T0 + timedelta(seconds=30))
    assert speech.remaining(T0 + timedelta(seconds=500)) == 90  # frozen while paused
    floor.resume(T0 + timedelta(seconds=60))
    assert speech.remaining(T0 + timedelta(seconds=100)) == 50
    assert not speech.is_overrun(T0 + timedelta(seconds=150))
    assert speech.is_overrun(T0 + timedelta(seconds=151))
    with pytest.raises(Refused):
        floor.resume(T0 + timedelta(seconds=152))
    floor.pause(T0 + timedelta(seconds=160))
    ended = floor.end_speech(T0 + timedelta(seconds=200)).ended
    assert ended.elapsed(T0 + timedelta(seconds=300)) == 130


def test_point_of_order_and_reply_have_their_own_limits():
    rules = FloorRules(point_of_order_limit=45, right_of_reply_limit=None)
    floor = Floor(rules=rules)
    ask(floor, 1, Tier.STATE_PARTY, Kind.POINT_OF_ORDER)
    ask(floor, 2, Tier.STATE_PARTY, Kind.RIGHT_OF_REPLY)
    floor.give_floor(T0)
    assert floor.current.limit_s == 45
    floor.give_floor(T0)
    assert floor.current.limit_s is None and floor.current.remaining(T0) is None


def test_withdraw_only_own_or_own_delegation():
    floor = Floor()
    request = ask(floor, 1, Tier.STATE_PARTY, speaker=77)
    with pytest.raises(Refused) as refused:
        floor.withdraw(request.id, participant_id=5, delegation_id=2)
    assert refused.value.code == "forbidden"
    floor.withdraw(request.id, participant_id=78, delegation_id=1)  # a delegation colleague
    assert floor.waiting == [] and request.status is Status.WITHDRAWN


def test_remove_keeps_the_reason_and_position_is_reported():
    floor = Floor()
    a = ask(floor, 1, Tier.STATE_PARTY)
    b = ask(floor, 2, Tier.STATE_PARTY, at=1)
    c = ask(floor, 3, Tier.STATE_PARTY, at=2)
    assert floor.position_of(c.id) == 3
    floor.remove(a.id, "Not registered for this session")
    assert a.removed_reason == "Not registered for this session" and a.status is Status.REMOVED
    assert floor.position_of(c.id) == 2 and floor.position_of(b.id) == 1


def test_declared_language_follows_the_speech():
    floor = Floor()
    ask(floor, 1, Tier.STATE_PARTY, speaker=9)
    floor.give_floor(T0)
    with pytest.raises(Refused):
        floor.declare_language("es", participant_id=3, delegation_id=2, runs_floor=False)
    floor.declare_language("es", participant_id=9, delegation_id=1, runs_floor=False)
    assert floor.current.language == "es"
    floor.declare_language("ar", participant_id=3, delegation_id=None, runs_floor=True)
    assert floor.current.language == "ar"


def test_two_statements_of_one_tier_at_the_same_instant_keep_the_order_they_were_made():
    floor = Floor()
    ask(floor, 1, Tier.STATE_PARTY, at=0, name="First")
    ask(floor, 2, Tier.STATE_PARTY, at=0, name="Second")
    ask(floor, 3, Tier.STATE_PARTY, at=0, name="Third")
    assert names(floor) == ["First", "Second", "Third"]


def test_a_closed_list_is_closed_to_delegates_but_not_to_the_chair():
    floor = Floor()
    floor.close()
    late = Request(delegation_id=9, tier=Tier.STATE_PARTY, kind=Kind.STATEMENT, requested_at=T0, speaker_name="Late")
    with pytest.raises(Refused) as refused:
        floor.request(late)
    assert refused.value.code == "list_closed" and floor.waiting == []
    floor.request(late, by_runner=True)
    assert names(floor) == ["Late"]


def test_the_order_lists_the_waiting_ids():
    floor = Floor()
    a = ask(floor, 1, Tier.CIVIL_SOCIETY)
    b = ask(floor, 2, Tier.STATE_PARTY)
    assert floor.order() == [b.id, a.id] and floor.position_of(a.id) == 2
