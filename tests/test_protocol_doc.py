"""docs/protocol.md documents every message the code sends or accepts."""

import json
import re
from pathlib import Path

import rooms.floor
from server.app import command_registry
from server.protocol import Parser

PARSER = Parser(command_registry())
COMMAND_TYPES = PARSER.types

DOC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()

EVENT_TYPES = {
    "floor_requested",
    "request_withdrawn",
    "request_removed",
    "request_moved",
    "list_reordered",
    "list_closed",
    "list_reopened",
    "floor_given",
    "speech_ended",
    "speech_paused",
    "speech_resumed",
    "language_declared",
    "item_taken_up",
    "time_added",
}
# The events of the booths and captions (interpretation/*_commands.py).
INTERPRETATION_EVENTS = {
    "mic_changed",
    "handover_requested",
    "handover_cancelled",
    "handover_answered",
    "source_changed",
    "auto_relay_set",
    "relay_advised",
    "passthrough_changed",
    "booth_message",
    "slow_down_requested",
    "caption",
}
QUESTION_EVENT_TYPES = {
    "question_updated",
    "question_hidden",
    "question_votes",
    "question_voted",
    "question_queue",
    "question_moderation",
}
SERVER_MESSAGES = {"snapshot", "resumed", "ack", "error", "pong", "heartbeat"}


def sections() -> dict[str, str]:
    parts = re.split(r"^### `([a-z_]+)`\s*$", DOC, flags=re.M)
    # A section ends at the next heading of any level.
    return {name: re.split(r"^#{1,2} ", text, flags=re.M)[0] for name, text in zip(parts[1::2], parts[2::2])}


def test_every_message_has_a_section_with_an_example():
    documented = sections()
    for name in COMMAND_TYPES | EVENT_TYPES | QUESTION_EVENT_TYPES | SERVER_MESSAGES:
        assert name in documented, f"{name} is not documented"
        assert "```json" in documented[name], f"{name} has no example"


def test_every_command_example_is_accepted_by_the_parser():
    documented = sections()
    for name in COMMAND_TYPES:
        for block in re.findall(r"```json\n(.*?)```", documented[name], flags=re.S):
            command = PARSER.parse(block)
            assert command.type == name


def test_every_event_the_floor_can_emit_is_known():
    # The event types are the Change types produced by rooms.floor.Floor.
    source = Path(rooms.floor.__file__).read_text()
    emitted = set(re.findall(r'Change\("([a-z_]+)"', source))
    assert emitted == EVENT_TYPES


def test_event_examples_are_valid_json_apart_from_the_floor_placeholder():
    for name in EVENT_TYPES | QUESTION_EVENT_TYPES | SERVER_MESSAGES:
        first = re.search(r"```json\n(.*?)```", sections()[name], flags=re.S).group(1)
        message = json.loads(first.replace('"floor": {...}', '"floor": {}'))
        assert message["type"] == name


def test_every_interpretation_event_is_documented_with_its_example():
    # The event types are those the interpretation commands emit.
    root = Path(rooms.floor.__file__).resolve().parent.parent / "interpretation"
    source = "".join(path.read_text() for path in root.glob("*_commands.py"))
    emitted = set(re.findall(r'ctx\.emit\(\s*"([a-z_]+)"', source))
    assert emitted == INTERPRETATION_EVENTS
    documented = sections()
    for name in INTERPRETATION_EVENTS:
        first = re.search(r"```json\n(.*?)```", documented[name], flags=re.S).group(1)
        assert json.loads(first)["type"] == name


def test_every_event_the_questions_can_emit_is_known():
    import rooms.question_commands
    import rooms.question_views

    source = Path(rooms.question_views.__file__).read_text() + Path(rooms.question_commands.__file__).read_text()
    # Names of fields ("question_id") are not events.
    emitted = set(re.findall(r'"(question_[a-z_]+)"', source)) - COMMAND_TYPES - {"question_id", "question_ids"}
    assert emitted == QUESTION_EVENT_TYPES


REGISTRATION_EVENTS = {"registration", "delegation", "note_verbale"}


def test_every_registration_event_is_documented_with_its_example():
    import rooms.registration_commands

    source = Path(rooms.registration_commands.__file__).read_text()
    emitted = set(re.findall(r'ctx\.emit\(\s*"([a-z_]+)"', source))
    assert emitted == REGISTRATION_EVENTS
    documented = sections()
    for name in REGISTRATION_EVENTS:
        first = re.search(r"```json\n(.*?)```", documented[name], flags=re.S).group(1)
        assert json.loads(first)["type"] == name


BREAKOUT_EVENTS = {"breakouts_opened", "breakout_changed", "breakouts_ended", "breakout_closed"}


def test_every_breakout_event_is_documented_with_its_example():
    import rooms.breakout_commands

    source = Path(rooms.breakout_commands.__file__).read_text()
    emitted = set(re.findall(r'ctx\.emit\(\s*"([a-z_]+)"', source))
    assert emitted == BREAKOUT_EVENTS
    documented = sections()
    for name in BREAKOUT_EVENTS:
        first = re.search(r"```json\n(.*?)```", documented[name], flags=re.S).group(1)
        assert json.loads(first)["type"] == name
