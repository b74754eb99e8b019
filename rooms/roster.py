"""Who is who in a session: roles given per event, overridden per session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rooms.roles import Role


def effective_roles(
    event_roles: Iterable[str],
    session_roles: Mapping[int, Iterable[str]],
    session_id: int,
) -> frozenset[Role]:
    """Roles given for a session replace the event's roles there; an empty
    list given for a session keeps the participant out of it."""
    if session_id in session_roles:
        return frozenset(Role(role) for role in session_roles[session_id])
    return frozenset(Role(role) for role in event_roles)


def may_enter(roles: frozenset[Role]) -> bool:
    return bool(roles)
