"""Committees whose members serve dated, overlapping terms (seed 004).

A committee is a list of memberships, Popolo style: an organisation (a
State), its role in the committee and the dates its term starts and ends.
Who sits in the committee, and who chairs it, on a given day is derived from
those memberships, never written down a second time. Plain Python: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from rooms.errors import Refused


class CommitteeRole(StrEnum):
    CHAIR = "chair"
    VICE_CHAIR = "vice_chair"
    MEMBER = "member"


@dataclass(frozen=True)
class Membership:
    """One State's term in the committee, both dates included."""

    organisation_key: str
    organisation_name: str
    role: CommitteeRole
    start: date
    end: date

    def on(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: Membership) -> bool:
        return self.start <= other.end and other.start <= self.end

    @property
    def years(self) -> str:
        """The term as seed 004 writes it: ``2019-2020`` (one year: ``2019``)."""
        if self.start.year == self.end.year:
            return str(self.start.year)
        return f"{self.start.year}-{self.end.year}"


def _overlap(first: Membership, second: Membership) -> tuple[date, date]:
    return max(first.start, second.start), min(first.end, second.end)


def check_membership(membership: Membership, others: Iterable[Membership]) -> None:
    """Refuse ``membership`` if it cannot join ``others`` (already valid together)."""
    if membership.end < membership.start:
        raise Refused(
            "term_ends_before_it_starts",
            f"the term of {membership.organisation_name} ends ({membership.end.isoformat()}) "
            f"before it starts ({membership.start.isoformat()})",
        )
    for other in others:
        if not membership.overlaps(other):
            continue
        start, end = _overlap(membership, other)
        if other.organisation_key == membership.organisation_key:
            raise Refused(
                "overlapping_terms",
                f"{membership.organisation_name} would have two terms at once, "
                f"from {start.isoformat()} to {end.isoformat()}",
            )
        if membership.role is CommitteeRole.CHAIR and other.role is CommitteeRole.CHAIR:
            raise Refused(
                "two_chairs",
                f"the committee would have two chairs, {other.organisation_name} and "
                f"{membership.organisation_name}, from {start.isoformat()} to {end.isoformat()}",
            )


@dataclass
class Committee:
    key: str
    name: str
    memberships: list[Membership] = field(default_factory=list)

    @classmethod
    def of(cls, key: str, name: str, memberships: Iterable[Membership]) -> Committee:
        """A committee with these memberships, each checked against those before it."""
        committee = cls(key, name)
        for membership in memberships:
            committee.add(membership)
        return committee

    def add(self, membership: Membership) -> None:
        check_membership(membership, self.memberships)
        self.memberships.append(membership)

    def members_on(self, day: date) -> list[Membership]:
        """The memberships running on ``day``, the chair first, then in the order given."""
        running = [membership for membership in self.memberships if membership.on(day)]
        order = {CommitteeRole.CHAIR: 0, CommitteeRole.VICE_CHAIR: 1, CommitteeRole.MEMBER: 2}
        return sorted(running, key=lambda membership: order[membership.role])

    def chair_on(self, day: date) -> Membership | None:
        return next((membership for membership in self.members_on(day) if membership.role is CommitteeRole.CHAIR), None)
