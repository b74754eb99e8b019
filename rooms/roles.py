"""Roles, and the groups of roles commands are given to.

Each command names the roles that may send it where it is declared
(``rooms.commands``); docs/permissions.md is checked against that registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    ORGANIZER = "organizer"
    CHAIR = "chair"
    MODERATOR = "moderator"
    PRESENTER = "presenter"
    PARTICIPANT = "participant"
    INTERPRETER = "interpreter"
    # Types live captions into one language's captions channel.
    CAPTIONER = "captioner"
    # The venue's sound desk: feeds the room's microphones into the floor
    # channel in hybrid sessions, whoever speaks in the room.
    ROOM_FEED = "room_feed"
    OBSERVER = "observer"


ALL_ROLES = tuple(Role)
FLOOR_RUNNERS = frozenset({Role.ORGANIZER, Role.CHAIR, Role.MODERATOR})
# Those who may ask to speak for themselves or their delegation. Interpreters
# voice others, captioners type, the room feed carries the room's sound and
# observers follow only, so none of them takes the floor.
SPEAKERS = frozenset({Role.CHAIR, Role.MODERATOR, Role.PRESENTER, Role.PARTICIPANT, Role.ORGANIZER})


def runs_floor(roles: Iterable[Role]) -> bool:
    return bool(FLOOR_RUNNERS & set(roles))
