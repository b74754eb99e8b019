"""Who is connecting: join tokens to participants and their roles in a session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rooms.delegations import Tier
from rooms.roles import Role, runs_floor
from rooms.roster import effective_roles, may_enter
from server import models
from server.tokens import token_hash

COOKIE = "tribune_token"


@dataclass(frozen=True)
class Actor:
    """A participant as seen from one session."""

    participant_id: int
    name: str
    event_id: int
    session_id: int
    roles: frozenset[Role]
    delegation_id: int | None
    delegation_name: str | None
    tier: Tier | None

    @property
    def runs_floor(self) -> bool:
        return runs_floor(self.roles)

    def view(self) -> dict:
        return {
            "id": self.participant_id,
            "name": self.name,
            "roles": sorted(role.value for role in self.roles),
            "delegation": None
            if self.delegation_id is None
            else {"id": self.delegation_id, "name": self.delegation_name, "tier": self.tier.value},
        }


async def participant_by_token(db: AsyncSession, token: str | None) -> models.Participant | None:
    if not token or len(token) > 200:
        return None
    return await db.scalar(
        select(models.Participant)
        .where(models.Participant.token_hash == token_hash(token))
        .options(selectinload(models.Participant.roles), selectinload(models.Participant.delegation))
    )


def actor_in(participant: models.Participant, session: models.Session) -> Actor | None:
    """The participant's standing in a session, or None if they may not enter it."""
    if participant.event_id != session.event_id:
        return None
    event_roles = [r.role for r in participant.roles if r.session_id is None]
    session_roles: dict[int, list[str]] = {}
    for r in participant.roles:
        if r.session_id is not None:
            session_roles.setdefault(r.session_id, []).append(r.role)
    roles = effective_roles(event_roles, session_roles, session.id)
    if not may_enter(participant.session_ids, session.id, roles):
        return None
    delegation = participant.delegation
    return Actor(
        participant_id=participant.id,
        name=participant.name,
        event_id=participant.event_id,
        session_id=session.id,
        roles=roles,
        delegation_id=delegation.id if delegation else None,
        delegation_name=delegation.name if delegation else None,
        tier=Tier(delegation.kind) if delegation else None,
    )
