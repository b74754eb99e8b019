"""Roles and the permission matrix (command x role).

The matrix is the single source for authorisation; docs/permissions.md
mirrors it and a test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ORGANIZER = "organizer"
    CHAIR = "chair"
    MODERATOR = "moderator"
    PRESENTER = "presenter"
    PARTICIPANT = "participant"
    INTERPRETER = "interpreter"
    OBSERVER = "observer"


ALL_ROLES = tuple(Role)
FLOOR_RUNNERS = frozenset({Role.ORGANIZER, Role.CHAIR, Role.MODERATOR})
# Those who may ask to speak for themselves or their delegation. Interpreters
# voice others and observers follow only, so neither takes the floor.
SPEAKERS = frozenset({Role.CHAIR, Role.MODERATOR, Role.PRESENTER, Role.PARTICIPANT, Role.ORGANIZER})

PERMISSIONS: dict[str, frozenset[Role]] = {
    "request_floor": SPEAKERS,
    "withdraw": SPEAKERS,
    "declare_language": SPEAKERS,
    "give_floor": FLOOR_RUNNERS,
    "end_speech": FLOOR_RUNNERS,
    "pause_speech": FLOOR_RUNNERS,
    "resume_speech": FLOOR_RUNNERS,
    "move_request": FLOOR_RUNNERS,
    "reorder": FLOOR_RUNNERS,
    "remove_request": FLOOR_RUNNERS,
    "add_speaker": FLOOR_RUNNERS,
    "close_list": FLOOR_RUNNERS,
    "reopen_list": FLOOR_RUNNERS,
}


def may(roles: frozenset[Role] | set[Role], command: str) -> bool:
    return bool(PERMISSIONS.get(command, frozenset()) & set(roles))


def runs_floor(roles) -> bool:
    return bool(FLOOR_RUNNERS & set(roles))


def allowed_commands(roles) -> list[str]:
    return [command for command in PERMISSIONS if may(roles, command)]
