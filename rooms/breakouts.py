"""Breakout groups: the plenary splits into groups for a while, then comes back.

Seeds 001 and 002: at the 2019 conference the delegates split into regional
discussion groups, then reported back. As BigBlueButton does it: the
moderator creates the groups with a duration and assigns people (or lets
them choose), everyone sees the time remaining, the moderator may visit any
group, and "end all groups" brings everyone back and keeps each group's
record. Here each group is a session of its own (its own list of speakers
and questions), and when the groups end, each group's rapporteur is put on
the plenary's list of speakers to report back.

Plain Python, no I/O: the server's store (server/breakout_store.py) reads
the plenary's groups and writes what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rooms.errors import Refused

MIN_SECONDS = 5
MAX_SECONDS = 8 * 3600
MAX_GROUPS = 30


@dataclass
class Group:
    """One breakout group. ``id`` is 0 until the store writes its session."""

    id: int
    name: str
    members: set[int]
    rapporteur_id: int | None = None
    closed_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "members": sorted(self.members),
            "rapporteur_id": self.rapporteur_id,
        }


@dataclass
class Breakouts:
    """A plenary's groups, while they meet."""

    plenary_id: int
    groups: list[Group]
    ends_at: datetime | None
    # Members choose their group (``join``) instead of being assigned.
    is_open_choice: bool = False
    # Who may be put in a group: the event's participants, and the members of each delegation.
    participant_delegations: dict[int, int | None] = field(default_factory=dict)
    delegation_members: dict[int, set[int]] = field(default_factory=dict)
    # What the store writes back.
    added: list[Group] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)
    closed: list[Group] = field(default_factory=list)

    @property
    def meeting(self) -> bool:
        return bool(self.groups)

    def open(
        self,
        plan: list[tuple[str, set[int], int | None]],
        seconds: int,
        now: datetime,
        *,
        open_choice: bool = False,
    ) -> list[Group]:
        """Split into groups: (name, members, rapporteur) each, for ``seconds``."""
        if self.meeting:
            raise Refused("breakouts_meeting", "The groups are meeting already: end them first.")
        if not 1 <= len(plan) <= MAX_GROUPS:
            raise Refused("invalid_groups", f"Make from 1 to {MAX_GROUPS} groups.")
        if not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise Refused("invalid_groups", f"Groups meet from {MIN_SECONDS} seconds to {MAX_SECONDS // 3600} hours.")
        names = [name.strip() for name, _, _ in plan]
        if len(set(names)) != len(names) or not all(names):
            raise Refused("invalid_groups", "Each group needs a name of its own.")
        seen: set[int] = set()
        for name, members, rapporteur in plan:
            twice = seen & members
            if twice:
                raise Refused("invalid_groups", f"A participant is in two groups (again in {name}).")
            seen |= members
            if rapporteur is not None and rapporteur not in members:
                raise Refused("invalid_groups", f"The rapporteur of {name} is not one of its members.")
        self.groups = [Group(0, name.strip(), set(members), rapporteur) for name, members, rapporteur in plan]
        self.added = list(self.groups)
        self.ends_at = now + timedelta(seconds=seconds)
        self.is_open_choice = open_choice
        return self.groups

    def group(self, group_id: int) -> Group:
        for group in self.groups:
            if group.id == group_id:
                return group
        raise Refused("not_found", "No such group meeting now.")

    def join(self, group_id: int, participant_id: int) -> Group:
        """A participant chooses their group (when the chair let them)."""
        if not self.is_open_choice:
            raise Refused("forbidden", "The chair assigns the groups.")
        chosen = self.group(group_id)
        for group in self.groups:
            if participant_id in group.members and group is not chosen:
                group.members.discard(participant_id)
                if group.rapporteur_id == participant_id:
                    group.rapporteur_id = None
                self.changed.add(group.id)
        chosen.members.add(participant_id)
        self.changed.add(chosen.id)
        return chosen

    def set_rapporteur(self, group_id: int, participant_id: int) -> Group:
        group = self.group(group_id)
        if participant_id not in group.members:
            raise Refused("not_found", "The rapporteur must be a member of the group.")
        group.rapporteur_id = participant_id
        self.changed.add(group.id)
        return group

    def end(self, now: datetime) -> list[Group]:
        """Every group ends; the plenary resumes. Returns the groups that met."""
        if not self.meeting:
            raise Refused("no_breakouts", "No groups are meeting.")
        ended = self.groups
        for group in ended:
            group.closed_at = now
        self.closed = list(ended)
        self.groups = []
        self.ends_at = None
        return ended

    def is_due(self, now: datetime) -> bool:
        return self.meeting and self.ends_at is not None and now >= self.ends_at

    def view(self) -> dict[str, Any]:
        return {
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "open_choice": self.is_open_choice,
            "groups": [group.view() for group in self.groups],
        }
