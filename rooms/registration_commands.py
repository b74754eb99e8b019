"""Registration commands: the secretariat's decisions, and what focal points
and members send from their private pages.

They run in the event's secretariat session (server/secretariat.py), which
only organizers enter: its events carry personal data and go to them alone,
so two organizers see each other's decisions live, and the log keeps them.

Focal points and members are not participants of that session: their pages
check their private link, then the server runs the command for them
(``Kernel.execute_for_server``; roles ``()``, so no socket may send it).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from rooms.commands import PRINTABLE, Command, CommandSet, Context, EntityId, LanguageCode
from rooms.errors import Refused
from rooms.recipients import MODERATORS
from rooms.registration import (
    Desk,
    Gender,
    Member,
    Need,
    NoteVerbale,
    Sponsorship,
    State,
    delegation_view,
    member_view,
)
from rooms.roles import Role

commands = CommandSet()

ORGANIZERS = frozenset({Role.ORGANIZER})
# Run by the server for a focal point or a member, after their page checked their link.
SERVER = ()

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), PRINTABLE]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), PRINTABLE]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), PRINTABLE]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), PRINTABLE]
QuestionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000), PRINTABLE]
# An address's shape only: whether it exists, the mail server says.
EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
EmailStr = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320, pattern=EMAIL.pattern)]
# A page language: the one the person's e-mails are written in.
MailLanguage = Literal["ar", "en", "es", "fr"]
# A note verbale's scan, checked by its page for type and size before it gets here.
MAX_NOTE_BYTES = 5 * 1024 * 1024


class InviteDelegation(Command):
    """Name the delegation's focal point and send them their nomination link."""

    type: Literal["invite_delegation"]
    delegation_id: EntityId
    focal_name: Name
    focal_email: EmailStr
    focal_language: MailLanguage = "en"


@commands.command(InviteDelegation, roles=ORGANIZERS)
async def invite_delegation(ctx: Context, command: InviteDelegation) -> None:
    desk = await ctx.state(Desk)
    delegation = desk.invite(command.delegation_id, command.focal_name, command.focal_email, command.focal_language)
    await ctx.emit("delegation", lambda: {"change": "invited", "delegation": delegation_view(delegation)}, MODERATORS)


class Nomination(Command):
    """A member as their focal point (or the organizer) names them."""

    delegation_id: EntityId
    name: Name
    title: OptionalText = ""
    email: EmailStr
    language: MailLanguage = "en"
    sponsorship: bool = False


class NominateMember(Nomination):
    """The organizer adds a member (a note verbale received by post, a guest)."""

    type: Literal["nominate_member"]


class FocalNominate(Nomination):
    """The focal point nominates a member: deadlines and limits apply."""

    type: Literal["focal_nominate"]


@commands.command(NominateMember, roles=ORGANIZERS)
async def nominate_member(ctx: Context, command: NominateMember) -> None:
    await _nominate(ctx, command, by_organizer=True)


@commands.command(FocalNominate, roles=SERVER)
async def focal_nominate(ctx: Context, command: FocalNominate) -> None:
    await _nominate(ctx, command, by_organizer=False)


async def _nominate(ctx: Context, command: Nomination, *, by_organizer: bool) -> None:
    desk = await ctx.state(Desk)
    member = Member(
        participant_id=0,
        delegation_id=command.delegation_id,
        name=command.name,
        title=command.title or None,
        email=str(command.email),
        language=command.language,
        state=State.INVITED if by_organizer else State.NOMINATED,
        sponsorship=Sponsorship.REQUESTED if command.sponsorship else None,
    )
    desk.nominate(member, ctx.now, by_organizer=by_organizer)
    await ctx.emit("registration", lambda: _change("nominated", desk, member), MODERATORS)


class RecordNoteVerbale(Command):
    type: Literal["record_note_verbale"]
    delegation_id: EntityId
    reference: Name
    dated: date
    file_name: OptionalText | None = None
    file_type: Literal["application/pdf"] | None = None
    file_data: Annotated[bytes, Field(max_length=MAX_NOTE_BYTES)] | None = None


@commands.command(RecordNoteVerbale, roles=SERVER)
async def record_note_verbale(ctx: Context, command: RecordNoteVerbale) -> None:
    desk = await ctx.state(Desk)
    delegation = desk.delegation(command.delegation_id)
    note = NoteVerbale(
        delegation.id,
        command.reference,
        command.dated,
        ctx.now,
        command.file_name,
        command.file_type,
        command.file_data,
    )
    desk.notes.append(note)
    await ctx.emit(
        "note_verbale",
        lambda: {"delegation": delegation_view(delegation), "note": note.view()},
        MODERATORS,
    )


class FocalDecline(Command):
    """The focal point answers that their delegation will not take part."""

    type: Literal["focal_decline"]
    delegation_id: EntityId


@commands.command(FocalDecline, roles=SERVER)
async def focal_decline(ctx: Context, command: FocalDecline) -> None:
    desk = await ctx.state(Desk)
    desk.decline_invitation(command.delegation_id)
    delegation = desk.delegation(command.delegation_id)
    await ctx.emit("delegation", lambda: {"change": "declined", "delegation": delegation_view(delegation)}, MODERATORS)


class FocalWithdraw(Command):
    """The focal point takes back one of their delegation's nominations."""

    type: Literal["focal_withdraw"]
    delegation_id: EntityId
    participant_id: EntityId


@commands.command(FocalWithdraw, roles=SERVER)
async def focal_withdraw(ctx: Context, command: FocalWithdraw) -> None:
    desk = await ctx.state(Desk)
    member = desk.member(command.participant_id)
    if member.delegation_id != command.delegation_id:
        raise Refused("not_found", "No such member in your delegation.")
    desk.withdraw(member)
    await ctx.emit("registration", lambda: _change("withdrawn", desk, member), MODERATORS)


class CompleteRegistration(Command):
    """The member's own form (seed 001: a question and/or a request to speak)."""

    type: Literal["complete_registration"]
    participant_id: EntityId
    gender: Gender | None = None
    needs: list[Need] = Field(default_factory=list, max_length=len(Need))
    needs_note: Note = ""
    languages: list[LanguageCode] = Field(default_factory=list, max_length=8)
    question_session_id: EntityId | None = None
    question_text: QuestionText | None = None
    question_language: LanguageCode | None = None
    speak_session_id: EntityId | None = None
    speak_language: LanguageCode | None = None
    accepts_conditions: bool = False


@commands.command(CompleteRegistration, roles=SERVER)
async def complete_registration(ctx: Context, command: CompleteRegistration) -> None:
    desk = await ctx.state(Desk)
    member = desk.member(command.participant_id)
    if (command.question_text is None) != (command.question_session_id is None):
        raise Refused("invalid_question", "A question needs its session and its text.")
    for session_id in (command.question_session_id, command.speak_session_id):
        if session_id is not None and session_id not in desk.session_ids:
            raise Refused("not_found", "No such session in this event.")
    member.gender = command.gender
    member.needs = tuple(dict.fromkeys(command.needs))
    member.needs_note = command.needs_note
    member.languages = tuple(dict.fromkeys(command.languages))
    member.question_session_id = command.question_session_id
    member.question_text = command.question_text
    member.question_language = command.question_language or member.language
    member.speak_session_id = command.speak_session_id
    member.speak_language = command.speak_language or member.language
    desk.complete(member, ctx.now, accepts_conditions=command.accepts_conditions)
    await ctx.emit("registration", lambda: _change("completed", desk, member), MODERATORS)


class AcceptConditions(Command):
    """The sponsored delegate accepts the sponsorship's conditions on their page."""

    type: Literal["accept_conditions"]
    participant_id: EntityId


@commands.command(AcceptConditions, roles=SERVER)
async def accept_conditions(ctx: Context, command: AcceptConditions) -> None:
    desk = await ctx.state(Desk)
    member = desk.member(command.participant_id)
    desk.accept_conditions(member)
    await ctx.emit("registration", lambda: _change("conditions_accepted", desk, member), MODERATORS)


class Decision(Command):
    participant_id: EntityId


class ApproveRegistration(Decision):
    type: Literal["approve_registration"]


@commands.command(ApproveRegistration, roles=ORGANIZERS)
async def approve_registration(ctx: Context, command: ApproveRegistration) -> None:
    desk = await ctx.state(Desk)
    member = desk.member(command.participant_id)
    desk.approve(member, ctx.now)
    await ctx.emit("registration", lambda: _change("approved", desk, member), MODERATORS)


class RejectRegistration(Decision):
    type: Literal["reject_registration"]
    reason: Reason


@commands.command(RejectRegistration, roles=ORGANIZERS)
async def reject_registration(ctx: Context, command: RejectRegistration) -> None:
    desk = await ctx.state(Desk)
    member = desk.member(command.participant_id)
    desk.reject(member, command.reason, ctx.now)
    await ctx.emit("registration", lambda: _change("rejected", desk, member), MODERATORS)


class WithdrawRegistration(Decision):
    type: Literal["withdraw_registration"]


@commands.command(WithdrawRegistration, roles=ORGANIZERS)
async def withdraw_registration(ctx: Context, command: WithdrawRegistration) -> None:
    desk = await ctx.state(Desk)
    member = desk.member(command.participant_id)
    desk.withdraw(member)
    await ctx.emit("registration", lambda: _change("withdrawn", desk, member), MODERATORS)


class DecideSponsorship(Decision):
    type: Literal["decide_sponsorship"]
    approve: bool


@commands.command(DecideSponsorship, roles=ORGANIZERS)
async def decide_sponsorship(ctx: Context, command: DecideSponsorship) -> None:
    desk = await ctx.state(Desk)
    member = desk.member(command.participant_id)
    desk.decide_sponsorship(member, command.approve)
    change = "sponsorship_approved" if command.approve else "sponsorship_declined"
    await ctx.emit("registration", lambda: _change(change, desk, member), MODERATORS)


class SendLink(Decision):
    """Send (again) the person's link: their join link once approved, else their registration form."""

    type: Literal["send_link"]


@commands.command(SendLink, roles=ORGANIZERS)
async def send_link(ctx: Context, command: SendLink) -> None:
    desk = await ctx.state(Desk)
    member = desk.member(command.participant_id)
    desk.send_link(member)
    await ctx.emit("registration", lambda: _change("link_sent", desk, member), MODERATORS)


def _change(change: str, desk: Desk, member: Member) -> dict[str, object]:
    delegation = desk.delegations.get(member.delegation_id) if member.delegation_id is not None else None
    return {"change": change, "registration": member_view(member, delegation)}
