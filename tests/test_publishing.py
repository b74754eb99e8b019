"""Who may speak into which channel: the rule the relay applies to every publisher."""

import pytest

from interpretation.channels import parse_channel
from interpretation.publishing import FloorHolder, check_publish
from rooms.actor import Actor
from rooms.delegations import Tier
from rooms.errors import Refused
from rooms.roles import Role

LANGUAGES = ["ar", "en", "fr", "es", "ils"]
FRANCE, PERU = 10, 20


def person(pid, *roles, delegation=None):
    return Actor(
        participant_id=pid,
        name=f"p{pid}",
        event_id=1,
        session_id=1,
        roles=frozenset(roles or (Role.PARTICIPANT,)),
        delegation_id=delegation,
        delegation_name=None,
        tier=Tier.STATE_PARTY if delegation else None,
    )


def allowed(actor, channel, holder=None, live=None):
    try:
        check_publish(actor, parse_channel(channel, LANGUAGES), holder, live or {})
    except Refused as refused:
        return refused.code
    return True


def test_the_named_speaker_may_publish_into_the_floor_and_nobody_else_of_their_delegation():
    holder = FloorHolder(speaker_id=1, delegation_id=FRANCE)
    assert allowed(person(1, delegation=FRANCE), "floor", holder) is True
    assert allowed(person(2, delegation=FRANCE), "floor", holder) == "not_your_floor"
    assert allowed(person(3, delegation=PERU), "floor", holder) == "not_your_floor"


def test_a_request_for_the_whole_delegation_lets_any_member_speak():
    holder = FloorHolder(speaker_id=None, delegation_id=FRANCE)
    assert allowed(person(2, delegation=FRANCE), "floor", holder) is True
    assert allowed(person(3, delegation=PERU), "floor", holder) == "not_your_floor"


def test_an_in_room_speaker_is_heard_through_the_room_feed_not_the_delegation_devices():
    holder = FloorHolder(speaker_id=None, delegation_id=FRANCE, is_in_room=True)
    assert allowed(person(2, delegation=FRANCE), "floor", holder) == "not_your_floor"
    assert allowed(person(9, Role.ROOM_FEED), "floor", holder) is True


def test_nobody_holds_an_empty_floor_but_the_chair_and_the_room_feed():
    assert allowed(person(1, delegation=FRANCE), "floor") == "not_your_floor"
    for role in (Role.CHAIR, Role.MODERATOR, Role.ORGANIZER, Role.ROOM_FEED):
        assert allowed(person(5, role), "floor") is True
    assert allowed(person(5, Role.INTERPRETER), "floor") == "not_your_floor"


def test_a_language_channel_belongs_to_its_live_interpreter_only():
    live = {"fr": 7, "ar": None}
    assert allowed(person(7, Role.INTERPRETER), "fr", live=live) is True
    assert allowed(person(8, Role.INTERPRETER), "fr", live=live) == "not_live"
    assert allowed(person(7, Role.INTERPRETER), "es", live=live) == "not_live"
    assert allowed(person(7, Role.INTERPRETER), "ar", live=live) == "not_live"
    # Not even the chair speaks for a booth.
    assert allowed(person(1, Role.CHAIR), "fr", live=live) == "not_live"


def test_sign_language_belongs_to_the_live_sign_interpreter():
    assert allowed(person(7, Role.INTERPRETER), "ils", live={"ils": 7}) is True
    assert allowed(person(7, Role.INTERPRETER), "ils", live={"fr": 7}) == "not_live"


@pytest.mark.parametrize("who", [person(1, Role.CAPTIONER), person(1, Role.CHAIR), person(7, Role.INTERPRETER)])
def test_captions_never_travel_as_media(who):
    assert allowed(who, "captions:fr", live={"fr": 7}) == "not_media"
