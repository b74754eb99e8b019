"""Agenda items: what sessions discuss, and the rights of reply on each.

The UN General Assembly (Rules of procedure, annex V): rights of reply are
limited to two per delegation per item, the first of 10 minutes and the
second of 5, and when two meetings that day are on the same item they are
taken at the end of the day. Here each item says its own limits (the UN's
as the preset), counted across every session that takes the item up; the
chair may give one beyond the limit, and that is recorded.

Plain Python, no I/O: the floor's store loads the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rooms.errors import Refused

# The UN General Assembly's preset: two replies, of 10 and 5 minutes.
UN_REPLY_LIMITS: tuple[int, ...] = (600, 300)
MIN_REPLY_SECONDS = 10
MAX_REPLY_SECONDS = 4 * 3600
MAX_REPLIES = 10


@dataclass(frozen=True)
class AgendaItem:
    id: int
    key: str
    title: str
    # Seconds of each right of reply a delegation may make on the item, in order.
    reply_limits: tuple[int, ...] = UN_REPLY_LIMITS
    hold_replies_to_day_end: bool = False
    # The title per language, as the event file gave it (pages pick theirs).
    titles: tuple[tuple[str, str], ...] = ()


@dataclass
class Replies:
    """The rights of reply made on one item, per delegation, across its sessions."""

    item: AgendaItem
    used: dict[int, int] = field(default_factory=dict)
    # When replies on this item are held to the day's last session and this is
    # not it: when that session starts.
    held_until: datetime | None = None

    def allow(self, delegation_id: int, delegation_name: str, *, override: bool) -> tuple[int, bool]:
        """The time limit of this delegation's next reply, and whether it goes beyond the limit.
        Refuses a reply held to a later session, or one beyond the count without the chair."""
        if self.held_until is not None and not override:
            raise Refused(
                "reply_held",
                f"Rights of reply on this item are taken at the end of the day: ask for it in the session at "
                f"{self.held_until.strftime('%H:%M')} UTC.",
            )
        used = self.used.get(delegation_id, 0)
        limits = self.item.reply_limits
        if used >= len(limits):
            if not override:
                raise Refused(
                    "reply_limit",
                    f"{delegation_name} has had its {len(limits)} rights of reply on this item; only the chair may give another.",
                )
            return limits[-1] if limits else MIN_REPLY_SECONDS, True
        return limits[used], False

    def made(self, delegation_id: int) -> None:
        self.used[delegation_id] = self.used.get(delegation_id, 0) + 1

    def taken_back(self, delegation_id: int) -> None:
        if self.used.get(delegation_id, 0) > 0:
            self.used[delegation_id] -= 1
