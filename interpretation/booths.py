"""Booths: the interpreters working into one language, one of them on air.

Plain Python, no I/O. A booth holds exactly one live interpreter or none
(the mic lock): the live one is a single field, so two interpreters can never
both be on air, and the kernel runs the commands of a session one at a time,
so a take-over decided here is never decided twice. Every method either
changes the booth and returns what changed, or raises ``Refused`` before
touching anything.

Handover, as professional consoles do it: the partner asks, the live one
accepts (the mic swaps at once) or declines; an unanswered request lapses
after ``HANDOVER_TIMEOUT``. An interpreter whose every socket has gone is
``is_present = False``: their partner may then take the mic without asking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from interpretation.captions import BoothMessage, Caption
from interpretation.channels import FLOOR
from rooms.errors import Refused

HANDOVER_TIMEOUT = timedelta(seconds=60)


class MicReason(StrEnum):
    TAKEN = "taken"  # nobody was on air
    TAKEN_OVER = "taken_over"  # the live interpreter had gone
    HANDOVER = "handover"  # the live one accepted their partner's request
    RELEASED = "released"
    DISCONNECTED = "disconnected"  # the live one's last socket closed
    REMOVED = "removed"  # the live one's access, booth or join link was taken away


@dataclass
class Interpreter:
    participant_id: int
    name: str
    # The languages they interpret from, in their order of preference.
    works_from: tuple[str, ...]
    # The channel they hear: the floor, or another booth's output (relay).
    source: str = FLOOR
    is_present: bool = False


@dataclass(frozen=True)
class Handover:
    requester_id: int
    requested_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.requested_at + HANDOVER_TIMEOUT

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class MicChange:
    """Who holds a booth's mic after a command, for ``mic_changed``."""

    language: str
    live_id: int | None
    live_name: str | None
    since: datetime | None
    previous_id: int | None
    reason: MicReason


@dataclass
class Booth:
    language: str
    interpreters: list[Interpreter] = field(default_factory=list)
    live_id: int | None = None
    live_since: datetime | None = None
    handover: Handover | None = None
    # Switch the interpreters to a relay by themselves when the speaker's
    # language is not one the booth works from (else they are only told).
    is_auto_relay: bool = False
    # The floor language is the booth's own: its channel carries the floor.
    is_passthrough: bool = False
    # The booth channel advised as relay for the current speaker, if any.
    relay_advice: str | None = None
    id: int | None = None

    # -- who -----------------------------------------------------------------

    def member(self, participant_id: int) -> Interpreter:
        for interpreter in self.interpreters:
            if interpreter.participant_id == participant_id:
                return interpreter
        raise Refused("not_in_booth", f"You are not an interpreter of the {self.language} booth.")

    def has_member(self, participant_id: int) -> bool:
        return any(i.participant_id == participant_id for i in self.interpreters)

    @property
    def live(self) -> Interpreter | None:
        if self.live_id is None:
            return None
        return next((i for i in self.interpreters if i.participant_id == self.live_id), None)

    def member_ids(self) -> list[int]:
        return [interpreter.participant_id for interpreter in self.interpreters]

    def works_from(self) -> tuple[str, ...]:
        """The languages every interpreter of the booth works from, so that
        whoever is on the mic, after any handover, understands the source."""
        if not self.interpreters:
            return ()
        first, *others = self.interpreters
        return tuple(code for code in first.works_from if all(code in other.works_from for other in others))

    def pending_handover(self, now: datetime) -> Handover | None:
        if self.handover is None or self.handover.is_expired(now):
            return None
        return self.handover

    # -- the mic ---------------------------------------------------------------

    def take(self, participant_id: int, now: datetime) -> MicChange:
        """Go on air: when nobody is, or when the live interpreter has gone."""
        me = self.member(participant_id)
        previous = self.live
        if self.live_id == participant_id:
            raise Refused("already_live", "You are already on air.")
        if previous is not None and previous.is_present:
            raise Refused("mic_taken", f"{previous.name} is on air; ask for a handover.")
        reason = MicReason.TAKEN if self.live_id is None else MicReason.TAKEN_OVER
        return self._give(me, now, reason)

    def release(self, participant_id: int, now: datetime, reason: MicReason = MicReason.RELEASED) -> MicChange:
        self.member(participant_id)
        if self.live_id != participant_id:
            raise Refused("not_live", "You are not on air.")
        return self.cut(reason)

    def cut(self, reason: MicReason) -> MicChange:
        """Nobody on air any more, whoever was (and whether or not still a member)."""
        previous = self.live_id
        self.live_id, self.live_since = None, None
        # A request was addressed to whoever was on air.
        self.handover = None
        return MicChange(self.language, None, None, None, previous, reason)

    def _give(self, interpreter: Interpreter, now: datetime, reason: MicReason) -> MicChange:
        previous = self.live_id
        self.live_id, self.live_since = interpreter.participant_id, now
        self.handover = None
        return MicChange(self.language, interpreter.participant_id, interpreter.name, now, previous, reason)

    # -- handover ----------------------------------------------------------------

    def request_handover(self, participant_id: int, now: datetime) -> Handover:
        self.member(participant_id)
        if self.live_id is None:
            raise Refused("nobody_live", "Nobody is on air: take the mic.")
        if self.live_id == participant_id:
            raise Refused("already_live", "You are on air: your partner asks for the handover.")
        pending = self.pending_handover(now)
        if pending is not None and pending.requester_id != participant_id:
            raise Refused("handover_pending", "Another partner has already asked for the handover.")
        # Asking again restarts the 60 seconds.
        self.handover = Handover(participant_id, now)
        return self.handover

    def cancel_handover(self, participant_id: int, now: datetime) -> Handover:
        pending = self.pending_handover(now)
        if pending is None or pending.requester_id != participant_id:
            raise Refused("no_handover", "You have no handover request waiting.")
        self.handover = None
        return pending

    def answer_handover(self, participant_id: int, accept: bool, now: datetime) -> tuple[Handover, MicChange | None]:
        """The live interpreter accepts (the mic swaps now) or declines."""
        self.member(participant_id)
        if self.live_id != participant_id:
            raise Refused("not_live", "Only the interpreter on air answers a handover request.")
        if self.handover is None:
            raise Refused("no_handover", "Nobody has asked for the handover.")
        if self.handover.is_expired(now):
            raise Refused(
                "handover_expired", "The handover request has expired (60 seconds); your partner may ask again."
            )
        request = self.handover
        self.handover = None
        if not accept:
            return request, None
        partner = self.member(request.requester_id)
        return request, self._give(partner, now, MicReason.HANDOVER)

    # -- what they hear --------------------------------------------------------------

    def set_source(self, participant_id: int, source: str, booth_languages: Iterable[str]) -> Interpreter:
        me = self.member(participant_id)
        if source != FLOOR and (source == self.language or source not in set(booth_languages)):
            raise Refused("invalid_source", f"{source!r} is neither the floor nor another booth of this session.")
        me.source = source
        return me


@dataclass
class Booths:
    """The booths of one session, and who captions which language."""

    booths: dict[str, Booth] = field(default_factory=dict)
    # participant id -> the language they caption.
    captioners: dict[int, str] = field(default_factory=dict)
    # Lines written by this command, stored when its events are recorded.
    new_captions: list[Caption] = field(default_factory=list)
    new_messages: list[BoothMessage] = field(default_factory=list)

    def of(self, participant_id: int) -> Booth:
        for booth in self.booths.values():
            if booth.has_member(participant_id):
                return booth
        raise Refused("not_in_booth", "You are not assigned to a booth in this session.")

    def release_departed(self, participant_id: int, reason: MicReason) -> MicChange:
        """Release the mic this person holds in any booth, member or not: an
        interpreter removed from their booth, or gone, no longer voices it."""
        for booth in self.booths.values():
            if booth.live_id == participant_id:
                return booth.cut(reason)
        raise Refused("not_live", "This interpreter is not on air.")

    def caption_language(self, participant_id: int) -> str:
        language = self.captioners.get(participant_id)
        if language is None:
            raise Refused("not_captioner", "You are not assigned to caption a language in this session.")
        return language

    def languages(self) -> list[str]:
        return list(self.booths)
