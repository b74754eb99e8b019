"""Speaking-time budgets across an agenda item (OpenSlides' structure levels).

A group (one delegation, a tier, or a named group of delegations such as a
regional group) has a budget of speaking time on an item, across every
session that takes it up. What a speech of one of its delegations actually
lasts (pauses excluded) is taken from it; the remaining time may go below
zero, and the chair sees it; the chair may add time to every group.
Points of order are procedural and count against no one.

Plain Python, no I/O: the floor's store reads the budgets and what was spoken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_BUDGET_SECONDS = 24 * 3600


@dataclass(frozen=True)
class BudgetGroup:
    key: str
    # "delegation", "tier" or "group" (a named group of delegations).
    kind: str
    label: str
    delegation_ids: frozenset[int]
    initial_s: int


@dataclass
class Budgets:
    """An item's groups and what each has spoken so far, in seconds."""

    groups: list[BudgetGroup]
    spent: dict[str, float] = field(default_factory=dict)
    # Added by the chair to every group ("add time to everyone").
    additional_s: int = 0
    # The chair added time since the store last wrote it.
    added: bool = False
    _static: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def groups_of(self, delegation_id: int) -> list[BudgetGroup]:
        return [group for group in self.groups if delegation_id in group.delegation_ids]

    def spoke(self, delegation_id: int, seconds: float) -> None:
        for group in self.groups_of(delegation_id):
            self.spent[group.key] = self.spent.get(group.key, 0.0) + max(0.0, seconds)

    def add_time(self, seconds: int) -> None:
        self.additional_s += seconds
        self.added = True

    def remaining(self, group: BudgetGroup) -> float:
        return group.initial_s + self.additional_s - self.spent.get(group.key, 0.0)

    def view(self, speaking_delegation: int | None = None, speech_started: datetime | None = None) -> dict[str, Any]:
        """Each group's remaining seconds (negative: over its budget); the groups
        the current speaker spends from run down from ``remaining_s`` live."""
        running = {group.key for group in self.groups_of(speaking_delegation)} if speaking_delegation else set()
        if self._static is None:
            # What does not change between views, built once (end_speech pays for the rest).
            self._static = [
                {
                    "key": group.key,
                    "kind": group.kind,
                    "label": group.label,
                    "delegation_ids": sorted(group.delegation_ids),
                    "initial_s": group.initial_s,
                }
                for group in self.groups
            ]
        return {
            "additional_s": self.additional_s,
            "groups": [
                {
                    **static,
                    "remaining_s": round(self.remaining(group), 1),
                    "running": group.key in running,
                }
                for static, group in zip(self._static, self.groups)
            ],
        }


def budget_groups(config: dict[str, Any], delegations: dict[int, tuple[str, str, str]]) -> list[BudgetGroup]:
    """The groups an item's ``budgets`` make, for the event's delegations
    (id -> (key, name, tier)): one per delegation, per tier, and each named group."""
    groups: list[BudgetGroup] = []
    per_delegation = config.get("per_delegation")
    if per_delegation:
        for delegation_id, (key, name, _) in sorted(delegations.items(), key=lambda item: item[1][1]):
            groups.append(
                BudgetGroup(f"delegation:{key}", "delegation", name, frozenset({delegation_id}), int(per_delegation))
            )
    for tier, seconds in (config.get("per_tier") or {}).items():
        members = frozenset(d for d, (_, _, kind) in delegations.items() if kind == tier)
        groups.append(BudgetGroup(f"tier:{tier}", "tier", tier, members, int(seconds)))
    by_key = {key: delegation_id for delegation_id, (key, _, _) in delegations.items()}
    for name, group in (config.get("groups") or {}).items():
        members = frozenset(by_key[key] for key in group.get("delegations", []) if key in by_key)
        groups.append(BudgetGroup(f"group:{name}", "group", name, members, int(group["seconds"])))
    return groups
