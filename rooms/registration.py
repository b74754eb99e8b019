"""Registration and accreditation: from the invitation to the list of participants.

Seed 003 (Phnom Penh 2023) in rules: a State or organisation names its
representatives by a note verbale; its focal point nominates them (at most
``member_limit``, 3 "unless otherwise indicated", of whom at most one
sponsored); nominations asking for sponsorship close earlier than the
others; each nominee completes their own registration; the secretariat
approves or rejects (with a reason the person sees), and decides the
sponsorship, whose conditions the delegate then accepts.

Plain Python, no I/O: ``Desk`` holds one event's registrations; the server's
store (server/desk_store.py) reads it and writes back what changed, and
turns each ``Notice`` into an e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from rooms.errors import Refused


class State(StrEnum):
    # Added by the organizer directly (a panellist, a guest), not by a delegation.
    INVITED = "invited"
    # Named by their delegation's focal point; their own form not yet sent.
    NOMINATED = "nominated"
    # Their form is in; the secretariat decides.
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# Those who take a place in their delegation.
HOLDS_A_PLACE = frozenset({State.INVITED, State.NOMINATED, State.PENDING, State.APPROVED})


class Sponsorship(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    # The delegate accepted the conditions (whole conference, economy travel,
    # daily allowance, the conference hotel).
    ACCEPTED = "accepted"


# Those that take the delegation's one sponsored place.
TAKES_SPONSORED_PLACE = frozenset({Sponsorship.REQUESTED, Sponsorship.APPROVED, Sponsorship.ACCEPTED})


class Gender(StrEnum):
    WOMAN = "woman"
    MAN = "man"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"  # "prefer not to say"


class Need(StrEnum):
    """Common accessibility needs; anything else goes in the free text."""

    SIGN_LANGUAGE = "sign_language"
    CAPTIONS = "captions"
    WHEELCHAIR = "wheelchair"
    ACCOMPANYING_PERSON = "accompanying_person"


class Invitation(StrEnum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"


MAX_SPONSORED = 1


@dataclass
class Delegation:
    id: int
    name: str
    kind: str
    # Its own limit, or the event's.
    member_limit: int
    invitation: Invitation | None = None
    focal_name: str | None = None
    focal_email: str | None = None
    focal_language: str | None = None
    # Raised to void the focal point's previous link.
    focal_token_version: int = 0


@dataclass
class Member:
    """One registration. ``participant_id`` is 0 until the store writes it."""

    participant_id: int
    delegation_id: int | None
    name: str
    state: State
    title: str | None = None
    email: str | None = None
    language: str = "en"
    sponsorship: Sponsorship | None = None
    reject_reason: str | None = None
    gender: Gender | None = None
    needs: tuple[Need, ...] = ()
    needs_note: str = ""
    languages: tuple[str, ...] = ()
    question_session_id: int | None = None
    question_text: str | None = None
    question_language: str | None = None
    speak_session_id: int | None = None
    speak_language: str | None = None
    nominated_at: datetime | None = None
    completed_at: datetime | None = None
    decided_at: datetime | None = None

    @property
    def holds_a_place(self) -> bool:
        return self.state in HOLDS_A_PLACE

    @property
    def sponsored_place(self) -> bool:
        return self.holds_a_place and self.sponsorship in TAKES_SPONSORED_PLACE


@dataclass(frozen=True, eq=False)
class Notice:
    """A message one person must get: the store sends it as an e-mail.
    ``kind`` names the message (server/mail_templates); it goes to ``member``,
    or to the focal point of the delegation ``delegation_id``."""

    kind: str
    member: Member | None = None
    delegation_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class NoteVerbale:
    """The note by which a State or organisation names its representatives."""

    delegation_id: int
    reference: str
    dated: date
    received_at: datetime
    file_name: str | None = None
    file_type: str | None = None
    file_data: bytes | None = None

    def view(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "dated": self.dated.isoformat(),
            "received_at": self.received_at.isoformat(),
            "file_name": self.file_name if self.file_data else None,
        }


@dataclass(frozen=True)
class Deadlines:
    # Nominations without sponsorship close at ``nominations``; those asking
    # for it at ``sponsored`` (earlier in seed 003: 1 September against 15).
    nominations: datetime | None = None
    sponsored: datetime | None = None


@dataclass
class Desk:
    """One event's delegations and registrations, as the secretariat keeps them."""

    delegations: dict[int, Delegation]
    members: dict[int, Member]
    deadlines: Deadlines = Deadlines()
    # The event's sessions, where a question or a request to speak may go.
    session_ids: frozenset[int] = frozenset()
    # What the store writes back.
    added: list[Member] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)
    changed_delegations: set[int] = field(default_factory=set)
    notices: list[Notice] = field(default_factory=list)
    notes: list[NoteVerbale] = field(default_factory=list)

    # --- reading -------------------------------------------------------------

    def delegation(self, delegation_id: int) -> Delegation:
        found = self.delegations.get(delegation_id)
        if found is None:
            raise Refused("not_found", "No such delegation in this event.")
        return found

    def member(self, participant_id: int) -> Member:
        found = self.members.get(participant_id)
        if found is None:
            raise Refused("not_found", "No such registration in this event.")
        return found

    def of_delegation(self, delegation_id: int) -> list[Member]:
        every = [*self.members.values(), *self.added]
        return [member for member in every if member.delegation_id == delegation_id]

    def places_taken(self, delegation_id: int) -> tuple[int, int]:
        """(members holding a place, of whom sponsored) in the delegation."""
        members = [m for m in self.of_delegation(delegation_id) if m.holds_a_place]
        return len(members), sum(1 for m in members if m.sponsored_place)

    # --- the focal point -----------------------------------------------------

    def invite(self, delegation_id: int, name: str, email: str, language: str) -> Delegation:
        delegation = self.delegation(delegation_id)
        delegation.focal_name, delegation.focal_email, delegation.focal_language = name, email, language
        delegation.invitation = Invitation.INVITED
        # A new focal point (or the same one again) gets a new link; the old one opens nothing.
        delegation.focal_token_version += 1
        self.changed_delegations.add(delegation_id)
        self.notices.append(Notice("invitation", delegation_id=delegation_id))
        return delegation

    def check_open(self, now: datetime, wants_sponsorship: bool) -> None:
        """Refuse a nomination after its deadline."""
        if wants_sponsorship and self.deadlines.sponsored is not None and now >= self.deadlines.sponsored:
            raise Refused(
                "sponsored_deadline_passed",
                "Nominations asking for sponsorship are closed; nominate without sponsorship instead.",
            )
        if self.deadlines.nominations is not None and now >= self.deadlines.nominations:
            raise Refused("deadline_passed", "Nominations for this event are closed.")

    def nominate(self, member: Member, now: datetime, *, by_organizer: bool = False) -> Member:
        """Add a member to their delegation (the focal point's nomination, or
        the organizer's invitation when ``by_organizer``)."""
        wants_sponsorship = member.sponsorship is not None
        if not by_organizer:
            self.check_open(now, wants_sponsorship)
        if member.delegation_id is not None:
            delegation = self.delegation(member.delegation_id)
            taken, sponsored = self.places_taken(delegation.id)
            if taken >= delegation.member_limit:
                raise Refused(
                    "member_limit",
                    f"{delegation.name} already has {taken} members, the most it may have ({delegation.member_limit}).",
                )
            if wants_sponsorship and sponsored >= MAX_SPONSORED:
                raise Refused(
                    "sponsored_limit",
                    f"{delegation.name} already asks sponsorship for {sponsored} member; only one may be sponsored.",
                )
            if delegation.invitation in (Invitation.INVITED, Invitation.DECLINED):
                # Nominating someone takes part, whatever was answered before.
                delegation.invitation = Invitation.ACCEPTED
                self.changed_delegations.add(delegation.id)
        member.state = State.INVITED if by_organizer else State.NOMINATED
        member.sponsorship = Sponsorship.REQUESTED if wants_sponsorship else None
        member.nominated_at = now
        self.added.append(member)
        self.notices.append(Notice("nomination", member=member))
        return member

    def decline_invitation(self, delegation_id: int) -> None:
        delegation = self.delegation(delegation_id)
        if any(m.holds_a_place for m in self.of_delegation(delegation_id)):
            raise Refused("has_members", "Withdraw the delegation's members before declining the invitation.")
        delegation.invitation = Invitation.DECLINED
        self.changed_delegations.add(delegation_id)

    # --- the member ------------------------------------------------------------

    def complete(self, member: Member, now: datetime, *, accepts_conditions: bool) -> None:
        """The member sent their own form (again, while it is not decided)."""
        if member.state not in (State.INVITED, State.NOMINATED, State.PENDING):
            raise Refused("already_decided", f"This registration is {member.state.value}; it can no longer be changed.")
        if accepts_conditions:
            self.accept_conditions(member)
        first = member.state != State.PENDING
        member.state = State.PENDING
        member.completed_at = now
        self._changed(member)
        if first:
            self.notices.append(Notice("registration_received", member=member))

    def accept_conditions(self, member: Member) -> None:
        if member.sponsorship == Sponsorship.ACCEPTED:
            return
        if member.sponsorship != Sponsorship.APPROVED:
            raise Refused("no_sponsorship", "There is no approved sponsorship to accept.")
        member.sponsorship = Sponsorship.ACCEPTED
        self._changed(member)

    def withdraw(self, member: Member) -> None:
        if member.state == State.WITHDRAWN:
            raise Refused("already_withdrawn", "This registration is already withdrawn.")
        member.state = State.WITHDRAWN
        self._changed(member)

    # --- the secretariat -------------------------------------------------------

    def approve(self, member: Member, now: datetime) -> None:
        if member.state not in (State.PENDING, State.REJECTED):
            raise Refused(
                "not_pending",
                f"Only a registration the person has completed can be approved; this one is {member.state.value}.",
            )
        if member.state == State.REJECTED and member.delegation_id is not None:
            # Taking a rejected member back takes a place again.
            delegation = self.delegation(member.delegation_id)
            taken, _ = self.places_taken(delegation.id)
            if taken >= delegation.member_limit:
                raise Refused("member_limit", f"{delegation.name} has no place left for another member.")
        member.state = State.APPROVED
        member.reject_reason = None
        member.decided_at = now
        self._changed(member)
        self.notices.append(Notice("approved", member=member))

    def reject(self, member: Member, reason: str, now: datetime) -> None:
        if member.state in (State.REJECTED, State.WITHDRAWN):
            raise Refused("already_decided", f"This registration is already {member.state.value}.")
        member.state = State.REJECTED
        member.reject_reason = reason
        member.decided_at = now
        self._changed(member)
        self.notices.append(Notice("rejected", member=member, reason=reason))

    def decide_sponsorship(self, member: Member, approve: bool) -> None:
        if member.sponsorship not in (Sponsorship.REQUESTED, Sponsorship.APPROVED, Sponsorship.DECLINED):
            raise Refused("no_sponsorship", "This person did not ask for sponsorship.")
        if approve and member.sponsorship == Sponsorship.DECLINED and member.delegation_id is not None:
            _, sponsored = self.places_taken(member.delegation_id)
            if sponsored >= MAX_SPONSORED:
                raise Refused("sponsored_limit", "Another member of this delegation already has the sponsored place.")
        member.sponsorship = Sponsorship.APPROVED if approve else Sponsorship.DECLINED
        self._changed(member)
        kind = "sponsorship_approved" if approve else "sponsorship_declined"
        self.notices.append(Notice(kind, member=member))

    def send_link(self, member: Member) -> None:
        """Send the person their link again: the join link once approved, else their form."""
        if member.state in (State.REJECTED, State.WITHDRAWN):
            raise Refused("no_link", f"This registration is {member.state.value}: there is no link to send.")
        if not member.email:
            raise Refused("no_email", "This person has no e-mail address.")
        kind = "join_link" if member.state == State.APPROVED else "nomination"
        self.notices.append(Notice(kind, member=member))

    def _changed(self, member: Member) -> None:
        if member.participant_id:
            self.changed.add(member.participant_id)

    # --- figures ---------------------------------------------------------------

    def figures(self) -> Figures:
        """What the console counts (organizers only): of those holding a place."""
        placed = [m for m in self.members.values() if m.holds_a_place]
        return Figures(
            delegations=len({m.delegation_id for m in placed if m.delegation_id is not None}),
            members=len(placed),
            approved=sum(1 for m in placed if m.state == State.APPROVED),
            pending=sum(1 for m in placed if m.state == State.PENDING),
            women=sum(1 for m in placed if m.gender == Gender.WOMAN),
            with_disabilities=sum(1 for m in placed if m.needs or m.needs_note),
            sponsored=sum(1 for m in placed if m.sponsored_place),
        )


@dataclass(frozen=True)
class Figures:
    delegations: int
    members: int
    approved: int
    pending: int
    women: int
    with_disabilities: int
    sponsored: int


# --- views (organizers only: they carry personal data) ----------------------------


def delegation_view(delegation: Delegation) -> dict[str, Any]:
    return {
        "id": delegation.id,
        "name": delegation.name,
        "kind": delegation.kind,
        "member_limit": delegation.member_limit,
        "invitation": delegation.invitation.value if delegation.invitation else None,
        "focal_point": None
        if delegation.focal_name is None
        else {"name": delegation.focal_name, "email": delegation.focal_email, "language": delegation.focal_language},
    }


def member_view(member: Member, delegation: Delegation | None) -> dict[str, Any]:
    return {
        "id": member.participant_id,
        "name": member.name,
        "title": member.title,
        "email": member.email,
        "language": member.language,
        "delegation": None if delegation is None else {"id": delegation.id, "name": delegation.name},
        "state": member.state.value,
        "sponsorship": member.sponsorship.value if member.sponsorship else None,
        "reject_reason": member.reject_reason,
        "gender": member.gender.value if member.gender else None,
        "needs": [need.value for need in member.needs],
        "needs_note": member.needs_note,
        "languages": list(member.languages),
        "question": None
        if member.question_text is None
        else {
            "session_id": member.question_session_id,
            "text": member.question_text,
            "language": member.question_language,
        },
        "speak": None
        if member.speak_session_id is None
        else {"session_id": member.speak_session_id, "language": member.speak_language},
    }
