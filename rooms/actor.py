"""Who sends a command: a participant as seen from one session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rooms.delegations import Tier
from rooms.roles import Role, runs_floor


@dataclass(frozen=True, slots=True)
class Actor:
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

    def view(self) -> dict[str, Any]:
        return {
            "id": self.participant_id,
            "name": self.name,
            "roles": sorted(role.value for role in self.roles),
            "delegation": None
            if self.delegation_id is None or self.tier is None
            else {"id": self.delegation_id, "name": self.delegation_name, "tier": self.tier.value},
        }
