"""The floor: the list of speakers and the speech in progress.

Plain Python, no I/O. The server loads a ``Floor`` from the database, applies
one command, and stores what changed; every method either returns a
``Change`` or raises ``Refused`` before touching anything.

Ordering (UN practice, as in OpenSlides' bands):
  1. points of order, first come first served, ahead of every statement;
  2. statements, by delegation tier (the session's precedence), then by the
     server's time of request;
  3. rights of reply, after the statements, first come first served.
A moderator may move or reorder; new requests are then inserted after the
last waiting request that ranks the same or higher, so nobody who asked
earlier with equal or higher precedence is overtaken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from rooms.agenda import Replies
from rooms.budgets import Budgets
from rooms.delegations import DEFAULT_PRECEDENCE, Tier
from rooms.errors import Refused


class Kind(StrEnum):
    STATEMENT = "statement"
    POINT_OF_ORDER = "point_of_order"
    RIGHT_OF_REPLY = "right_of_reply"
    # An audience question its author puts to the room (rooms.questions):
    # heard among the statements, by the same precedence and time limits.
    QUESTION = "question"


class Status(StrEnum):
    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"
    WITHDRAWN = "withdrawn"
    REMOVED = "removed"


# Asked of the floor's store as a part (``ctx.state(Floor, AGENDA_COUNTS)``):
# read again the rights of reply made on the session's items, which other
# sessions on the same item change without this session's floor knowing.
AGENDA_COUNTS = 0

_BAND = {Kind.POINT_OF_ORDER: 0, Kind.STATEMENT: 1, Kind.QUESTION: 1, Kind.RIGHT_OF_REPLY: 2}
# Kinds ranked by delegation tier and timed like statements.
_LIKE_STATEMENTS = frozenset({Kind.STATEMENT, Kind.QUESTION})

DEFAULT_TIME_LIMITS: dict[Tier, int | None] = {
    Tier.STATE_PARTY: 180,
    Tier.OBSERVER_STATE: 120,
    Tier.INTERNATIONAL_ORGANISATION: 120,
    Tier.CIVIL_SOCIETY: 120,
}


@dataclass(frozen=True)
class FloorRules:
    """A session's floor rules. A limit of ``None`` means no time limit."""

    precedence: tuple[Tier, ...] = DEFAULT_PRECEDENCE
    time_limits: dict[Tier, int | None] = field(default_factory=lambda: dict(DEFAULT_TIME_LIMITS))
    point_of_order_limit: int | None = 60
    right_of_reply_limit: int | None = 120

    def tier_rank(self, tier: Tier) -> int:
        # A tier left out of the session's precedence speaks after all listed ones.
        try:
            return self.precedence.index(tier)
        except ValueError:
            return len(self.precedence)

    def limit_for(self, kind: Kind, tier: Tier) -> int | None:
        if kind is Kind.POINT_OF_ORDER:
            return self.point_of_order_limit
        if kind is Kind.RIGHT_OF_REPLY:
            return self.right_of_reply_limit
        return self.time_limits.get(tier)


@dataclass(eq=False)
class Request:
    """A request for the floor by (or on behalf of) a delegation.

    Compared by identity: two requests with equal fields are still two."""

    delegation_id: int
    tier: Tier
    kind: Kind
    requested_at: datetime
    speaker_name: str
    delegation_name: str = ""
    # The participant who will speak; None when the delegation as a whole asked
    # or when the speaker is in the room, entered by a moderator.
    speaker_id: int | None = None
    requester_id: int | None = None
    language: str | None = None
    note: str = ""
    is_in_room: bool = False
    status: Status = Status.WAITING
    removed_reason: str | None = None
    id: int | None = None
    # The agenda item under discussion when it was made (rooms/agenda.py); a
    # right of reply's own time limit, and whether the chair gave it beyond the limit.
    agenda_item_id: int | None = None
    limit_s: int | None = None
    is_override: bool = False

    def belongs_to(self, participant_id: int, delegation_id: int | None) -> bool:
        return (
            self.speaker_id == participant_id
            or self.requester_id == participant_id
            or (delegation_id is not None and self.delegation_id == delegation_id)
        )


@dataclass(eq=False)
class Speech:
    """A speech in progress or heard. Paused time does not count."""

    request: Request
    started_at: datetime
    limit_s: int | None
    language: str | None
    paused_at: datetime | None = None
    paused_s: float = 0.0
    ended_at: datetime | None = None
    id: int | None = None

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def elapsed(self, now: datetime) -> float:
        until = self.ended_at or self.paused_at or now
        return max(0.0, (until - self.started_at).total_seconds() - self.paused_s)

    def remaining(self, now: datetime) -> float | None:
        if self.limit_s is None:
            return None
        return self.limit_s - self.elapsed(now)

    def is_overrun(self, now: datetime) -> bool:
        remaining = self.remaining(now)
        return remaining is not None and remaining < 0


@dataclass
class Change:
    """What one command did, for the event the server publishes."""

    type: str
    request: Request | None = None
    speech: Speech | None = None
    ended: Speech | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Floor:
    rules: FloorRules = field(default_factory=FloorRules)
    waiting: list[Request] = field(default_factory=list)
    current: Speech | None = None
    is_closed: bool = False
    # The agenda items the session takes up, the one under discussion, and
    # the rights of reply made on each (rooms/agenda.py); None: no agenda.
    replies: dict[int, Replies] = field(default_factory=dict)
    item_id: int | None = None
    # Each item's speaking-time budgets, when it has any (rooms/budgets.py).
    budgets: dict[int, Budgets] = field(default_factory=dict)
    # Requests and speeches whose stored form must be updated after a command.
    touched_requests: list[Request] = field(default_factory=list, repr=False)
    touched_speeches: list[Speech] = field(default_factory=list, repr=False)

    # -- queries ---------------------------------------------------------

    def find_waiting(self, request_id: int) -> Request:
        for request in self.waiting:
            if request.id == request_id:
                return request
        raise Refused("not_found", f"No waiting request {request_id} on this list.")

    def position_of(self, request_id: int) -> int:
        """1-based place in the list; ``position - 1`` people speak before."""
        for index, request in enumerate(self.waiting):
            if request.id == request_id:
                return index + 1
        raise Refused("not_found", f"No waiting request {request_id} on this list.")

    def order(self) -> list[int]:
        """The waiting requests' ids, in order (what every floor event carries)."""
        return [request.id for request in self.waiting if request.id is not None]

    def _key(self, request: Request) -> tuple[int, int, datetime]:
        tier_rank = self.rules.tier_rank(request.tier) if request.kind in _LIKE_STATEMENTS else 0
        return (_BAND[request.kind], tier_rank, request.requested_at)

    # -- requests ----------------------------------------------------------

    def take_up(self, item_id: int) -> Change:
        """The session moves on to another of its agenda items."""
        if item_id not in self.replies:
            raise Refused("not_found", "This session does not take up that agenda item.")
        if item_id == self.item_id:
            raise Refused("already_taken_up", "This item is under discussion already.")
        self.item_id = item_id
        item = self.replies[item_id].item
        view = {"id": item.id, "key": item.key, "title": item.title, "titles": dict(item.titles)}
        return Change("item_taken_up", data={"item": view})

    def add_time(self, seconds: int) -> Change:
        """The chair adds time to every group's budget on the item under discussion."""
        budgets = self.budgets.get(self.item_id) if self.item_id is not None else None
        if budgets is None:
            raise Refused("no_budgets", "The item under discussion has no speaking-time budgets.")
        budgets.add_time(seconds)
        return Change("time_added", data={"seconds": seconds})

    def current_budgets(self) -> Budgets | None:
        return self.budgets.get(self.item_id) if self.item_id is not None else None

    def request(self, request: Request, *, by_runner: bool = False, override: bool = False) -> Change:
        """Add a request at the place its kind, tier and time give it.

        A closed list stops delegates adding their own statements; whoever
        runs the floor may still accord it (UN chairs' discretion)."""
        if self.is_closed and request.kind is Kind.STATEMENT and not by_runner:
            raise Refused(
                "list_closed",
                "The list of speakers is closed; points of order and rights of reply are still taken.",
            )
        for other in self.waiting:
            if other.delegation_id == request.delegation_id and other.kind is request.kind:
                raise Refused(
                    "duplicate_request",
                    f"This delegation already has a waiting {request.kind.value.replace('_', ' ')} request.",
                )
        replies = self.replies.get(self.item_id) if self.item_id is not None else None
        request.agenda_item_id = self.item_id
        if replies is not None and request.kind is Kind.RIGHT_OF_REPLY:
            request.limit_s, request.is_override = replies.allow(
                request.delegation_id, request.delegation_name, override=override and by_runner
            )
            replies.made(request.delegation_id)
        key = self._key(request)
        place = 0
        for index, other in enumerate(self.waiting):
            if self._key(other) <= key:
                place = index + 1
        request.status = Status.WAITING
        self.waiting.insert(place, request)
        self.touched_requests.append(request)
        return Change("floor_requested", request=request, data={"position": place + 1})

    def withdraw(self, request_id: int, participant_id: int, delegation_id: int | None) -> Change:
        request = self.find_waiting(request_id)
        if not request.belongs_to(participant_id, delegation_id):
            raise Refused("forbidden", "You may withdraw only your own or your delegation's request.")
        self._leave(request, Status.WITHDRAWN)
        return Change("request_withdrawn", request=request)

    def remove(self, request_id: int, reason: str) -> Change:
        request = self.find_waiting(request_id)
        request.removed_reason = reason
        self._leave(request, Status.REMOVED)
        return Change("request_removed", request=request, data={"reason": reason})

    def _leave(self, request: Request, status: Status) -> None:
        self.waiting.remove(request)
        request.status = status
        self.touched_requests.append(request)
        replies = self.replies.get(request.agenda_item_id) if request.agenda_item_id is not None else None
        if replies is not None and request.kind is Kind.RIGHT_OF_REPLY and not request.is_override:
            replies.taken_back(request.delegation_id)  # a reply not made does not count

    def move(self, request_id: int, position: int) -> Change:
        request = self.find_waiting(request_id)
        if not 1 <= position <= len(self.waiting):
            raise Refused("invalid", f"Position must be between 1 and {len(self.waiting)}.")
        self.waiting.remove(request)
        self.waiting.insert(position - 1, request)
        return Change("request_moved", request=request, data={"position": position})

    def reorder(self, request_ids: list[int]) -> Change:
        """Set the whole order. The moderator must list exactly the waiting
        requests, so an order built from a stale list is refused."""
        current_ids = [request.id for request in self.waiting]
        if len(request_ids) != len(current_ids) or set(request_ids) != set(current_ids):
            raise Refused(
                "stale_list",
                "The list has changed: reorder must list exactly the requests waiting now.",
            )
        by_id = {request.id: request for request in self.waiting}
        self.waiting = [by_id[request_id] for request_id in request_ids]
        return Change("list_reordered", data={"order": list(request_ids)})

    def close(self) -> Change:
        if self.is_closed:
            raise Refused("already_closed", "The list of speakers is already closed.")
        self.is_closed = True
        return Change("list_closed")

    def reopen(self) -> Change:
        if not self.is_closed:
            raise Refused("not_closed", "The list of speakers is open.")
        self.is_closed = False
        return Change("list_reopened")

    # -- the speech --------------------------------------------------------

    def give_floor(self, now: datetime, request_id: int | None = None) -> Change:
        """Give the floor to the next request, or to a chosen one. Whoever
        speaks now stops: the floor is one person's at a time."""
        if request_id is None:
            if not self.waiting:
                raise Refused("empty_list", "Nobody is waiting for the floor.")
            request = self.waiting[0]
        else:
            request = self.find_waiting(request_id)
        ended = self._end(now) if self.current else None
        self.waiting.remove(request)
        request.status = Status.SPEAKING
        self.touched_requests.append(request)
        speech = Speech(
            request=request,
            started_at=now,
            limit_s=request.limit_s
            if request.limit_s is not None
            else self.rules.limit_for(request.kind, request.tier),
            language=request.language,
        )
        self.current = speech
        self.touched_speeches.append(speech)
        return Change("floor_given", request=request, speech=speech, ended=ended)

    def end_speech(self, now: datetime) -> Change:
        ended = self._end(now)
        return Change("speech_ended", request=ended.request, ended=ended)

    def _end(self, now: datetime) -> Speech:
        speech = self._speaking()
        if speech.paused_at is not None:
            speech.paused_s += (now - speech.paused_at).total_seconds()
            speech.paused_at = None
        speech.ended_at = now
        request = speech.request
        budgets = self.budgets.get(request.agenda_item_id) if request.agenda_item_id is not None else None
        if budgets is not None and request.kind is not Kind.POINT_OF_ORDER:
            # What was actually spoken, pauses excluded, is taken from the delegation's groups.
            budgets.spoke(request.delegation_id, (now - speech.started_at).total_seconds() - speech.paused_s)
        speech.request.status = Status.DONE
        self.touched_requests.append(speech.request)
        self.touched_speeches.append(speech)
        self.current = None
        return speech

    def pause(self, now: datetime) -> Change:
        speech = self._speaking()
        if speech.is_paused:
            raise Refused("already_paused", "The speech is already paused.")
        speech.paused_at = now
        self.touched_speeches.append(speech)
        return Change("speech_paused", speech=speech)

    def resume(self, now: datetime) -> Change:
        speech = self._speaking()
        paused_at = speech.paused_at
        if paused_at is None:
            raise Refused("not_paused", "The speech is not paused.")
        speech.paused_s += (now - paused_at).total_seconds()
        speech.paused_at = None
        self.touched_speeches.append(speech)
        return Change("speech_resumed", speech=speech)

    def declare_language(
        self,
        language: str,
        participant_id: int,
        delegation_id: int | None,
        *,
        runs_floor: bool,
        request_id: int | None = None,
    ) -> Change:
        """Declare the language of the current speech, or of a waiting request."""
        if request_id is None:
            speech = self._speaking()
            target = speech.request
        else:
            speech = None
            target = self.find_waiting(request_id)
        if not runs_floor and not target.belongs_to(participant_id, delegation_id):
            raise Refused("forbidden", "Only the speaker or a moderator may declare this language.")
        target.language = language
        self.touched_requests.append(target)
        if speech is not None:
            speech.language = language
            self.touched_speeches.append(speech)
        return Change("language_declared", request=target, speech=speech, data={"language": language})

    def _speaking(self) -> Speech:
        if self.current is None:
            raise Refused("no_speech", "Nobody has the floor.")
        return self.current
