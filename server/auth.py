"""Who is connecting: join tokens to participants and their roles in a session."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from rooms.actor import Actor
from rooms.delegations import Tier
from rooms.roles import runs_floor
from rooms.roster import effective_roles, may_enter
from server import models
from server.close_codes import FORBIDDEN, ROLES_CHANGED, UNAUTHORIZED
from server.secretariat import admits
from server.tokens import token_hash

COOKIE = "tribune_token"
# What deciding a participant's standing in a session needs, in one round trip more.
_WITH_ROLES = (selectinload(models.Participant.roles), joinedload(models.Participant.delegation))


def token_key(token: str | None) -> str | None:
    """What a join token is looked up by; None for no token, or one too long to be one."""
    if not token or len(token) > 200:
        return None
    return token_hash(token)


async def participant_by_token(db: AsyncSession, token: str | None) -> models.Participant | None:
    key = token_key(token)
    if key is None:
        return None
    return await db.scalar(select(models.Participant).where(models.Participant.token_hash == key).options(*_WITH_ROLES))


async def participants_by_id(db: AsyncSession, participant_ids: list[int]) -> list[models.Participant]:
    return list(
        await db.scalars(
            select(models.Participant).where(models.Participant.id.in_(participant_ids)).options(*_WITH_ROLES)
        )
    )


async def current_actor(db: AsyncSession, participant_id: int, session: models.Session) -> Actor | None:
    """The participant's standing in the session as the database says now."""
    found = await participants_by_id(db, [participant_id])
    return actor_in(found[0], session) if found else None


@dataclass(frozen=True, slots=True)
class Person:
    """What a participant's standing is made of, besides their roles."""

    id: int
    name: str
    event_id: int
    session_ids: list[int] | None
    delegation_id: int | None
    delegation_name: str | None
    delegation_kind: str | None

    @classmethod
    def of(cls, participant: models.Participant) -> Person:
        delegation = participant.delegation
        return cls(
            participant.id,
            participant.name,
            participant.event_id,
            participant.session_ids,
            delegation.id if delegation else None,
            delegation.name if delegation else None,
            delegation.kind if delegation else None,
        )


_PERSON = (
    select(
        models.Participant.id,
        models.Participant.name,
        models.Participant.event_id,
        models.Participant.session_ids,
        models.Delegation.id,
        models.Delegation.name,
        models.Delegation.kind,
    )
    .outerjoin(models.Delegation, models.Delegation.id == models.Participant.delegation_id)
    .where(models.Participant.id == bindparam("participant_id"))
)


async def person_by_id(connection: AsyncConnection, participant_id: int) -> Person | None:
    """One statement, no ORM: the kernel asks at a participant's first command."""
    row = (await connection.execute(_PERSON, {"participant_id": participant_id})).first()
    return None if row is None else Person(*row)


def actor_in(participant: models.Participant, session: models.Session) -> Actor | None:
    """The participant's standing in a session, or None if they may not enter it."""
    return standing(Person.of(participant), [(r.role, r.session_id) for r in participant.roles], session)


def standing(participant: Person, roles: Iterable[tuple[str, int | None]], session: models.Session) -> Actor | None:
    """``actor_in`` with the role rows given, (role, session id or None), as read now."""
    if participant.event_id != session.event_id:
        return None
    event_roles: list[str] = []
    session_roles: dict[int, list[str]] = {}
    for role, session_id in roles:
        if session_id is None:
            event_roles.append(role)
        else:
            session_roles.setdefault(session_id, []).append(role)
    effective = effective_roles(event_roles, session_roles, session.id)
    if session.parent_id is not None and session.id not in session_roles:
        # A breakout group: its members (a role given for it), and whoever
        # runs the plenary's floor, visiting with those powers.
        effective = effective_roles(event_roles, session_roles, session.parent_id)
        if not runs_floor(effective):
            return None
    if not may_enter(participant.session_ids, session.parent_id or session.id, effective) or not admits(
        session.kind, effective
    ):
        return None
    return Actor(
        participant_id=participant.id,
        name=participant.name,
        event_id=participant.event_id,
        session_id=session.id,
        roles=effective,
        delegation_id=participant.delegation_id,
        delegation_name=participant.delegation_name,
        tier=None if participant.delegation_kind is None else Tier(participant.delegation_kind),
    )


class Standing(NamedTuple):
    """A participant as the database has them now, to judge their open sockets by."""

    # None: they may no longer enter the session.
    actor: Actor | None
    # The hash of their one valid join link.
    token_hash: str


def close_code(now: Standing | None, actor: Actor, token_key: str | None) -> int | None:
    """What a socket opened as ``actor`` with the link whose hash is
    ``token_key`` must now close with, or None if it may stay open. The one
    rule for the command and the media sockets."""
    if now is not None and token_key is not None and now.token_hash != token_key:
        return UNAUTHORIZED  # the link it opened with was revoked
    if now is None or now.actor is None:
        return FORBIDDEN
    if now.actor != actor:
        return ROLES_CHANGED
    return None
