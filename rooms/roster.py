"""Who is who in a session: roles given per event, overridden per session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rooms.roles import Role


def effective_roles(
    event_roles: Iterable[str],
    session_roles: Mapping[int, Iterable[str]],
    session_id: int,
) -> frozenset[Role]:
    """Roles given for a session replace the event's roles there."""
    if session_id in session_roles:
        return frozenset(Role(role) for role in session_roles[session_id])
    return frozenset(Role(role) for role in event_roles)


def may_enter(allowed_session_ids: Iterable[int] | None, session_id: int, roles: frozenset[Role]) -> bool:
    """A participant enters every session of the event unless limited to some."""
    if allowed_session_ids is not None and session_id not in set(allowed_session_ids):
        return False
    return bool(roles)
