"""Registration rules (rooms/registration.py) and their commands through the kernel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from rooms.errors import Refused
from rooms.registration import Deadlines, Delegation, Desk, Member, Sponsorship, State
from rooms.registration_commands import (
    ApproveRegistration,
    CompleteRegistration,
    FocalNominate,
    InviteDelegation,
    RejectRegistration,
)
from rooms.roles import Role
from server import models, tokens
from server.app import command_registry, state_stores
from server.auth import actor_in, participant_by_token
from server.bus import MemoryBus
from server.secretariat import desk_of
from tests.conftest import SECRET

NOW = datetime(2023, 8, 20, 9, 0, tzinfo=UTC)
SPONSORED_CLOSE = datetime(2023, 9, 1, tzinfo=UTC)
CLOSE = datetime(2023, 9, 15, tzinfo=UTC)


def desk(limit: int = 3) -> Desk:
    return Desk({1: Delegation(1, "Cambodia", "state_party", limit)}, {}, Deadlines(CLOSE, SPONSORED_CLOSE))


def nominee(name: str, sponsored: bool = False) -> Member:
    return Member(0, 1, name, State.NOMINATED, sponsorship=Sponsorship.REQUESTED if sponsored else None)


def test_three_members_one_sponsored_then_refusals():
    d = desk()
    d.nominate(nominee("A", sponsored=True), NOW)
    d.nominate(nominee("B"), NOW)
    with pytest.raises(Refused) as second_sponsored:
        d.nominate(nominee("C", sponsored=True), NOW)
    assert second_sponsored.value.code == "sponsored_limit"
    d.nominate(nominee("C"), NOW)
    with pytest.raises(Refused) as fourth:
        d.nominate(nominee("D"), NOW)
    assert fourth.value.code == "member_limit"
    assert d.places_taken(1) == (3, 1)


def test_the_delegation_s_own_limit_unless_otherwise_indicated():
    d = desk(limit=5)
    for name in "ABCDE":
        d.nominate(nominee(name), NOW)
    with pytest.raises(Refused):
        d.nominate(nominee("F"), NOW)


def test_deadlines_sponsorship_closes_first():
    d = desk()
    between = SPONSORED_CLOSE + timedelta(days=3)
    with pytest.raises(Refused) as refused:
        d.nominate(nominee("A", sponsored=True), between)
    assert refused.value.code == "sponsored_deadline_passed"
    d.nominate(nominee("A"), between)
    with pytest.raises(Refused) as closed:
        d.nominate(nominee("B"), CLOSE)
    assert closed.value.code == "deadline_passed"
    # The organizer may still add someone (a note verbale received late).
    d.nominate(Member(0, 1, "B", State.INVITED), CLOSE, by_organizer=True)


def test_withdrawn_and_rejected_free_their_place():
    d = desk(limit=1)
    first = d.nominate(nominee("A", sponsored=True), NOW)
    d.members[7] = first
    first.participant_id = 7
    d.added.clear()
    d.withdraw(first)
    d.nominate(nominee("B", sponsored=True), NOW)


def test_only_a_completed_registration_is_approved_and_sponsorship_is_accepted_after_approval():
    d = desk()
    member = d.nominate(nominee("A", sponsored=True), NOW)
    with pytest.raises(Refused):
        d.approve(member, NOW)
    with pytest.raises(Refused):
        d.complete(member, NOW, accepts_conditions=True)  # nothing approved to accept yet
    d.complete(member, NOW, accepts_conditions=False)
    d.decide_sponsorship(member, approve=True)
    d.accept_conditions(member)
    d.approve(member, NOW)
    assert (member.state, member.sponsorship) == (State.APPROVED, Sponsorship.ACCEPTED)
    d.reject(member, "Not an accredited representative", NOW)
    assert member.reject_reason == "Not an accredited representative"
    assert [notice.kind for notice in d.notices] == [
        "nomination",
        "registration_received",
        "sponsorship_approved",
        "approved",
        "rejected",
    ]


# --- through the kernel -------------------------------------------------------------


async def test_invite_nominate_complete_approve(db, world, kernels):
    async with db() as s, s.begin():
        desk_session = await desk_of(s, world.event_id)
        event = await s.get(models.Event, world.event_id)
        event.nominations_close_at, event.sponsored_nominations_close_at = CLOSE, SPONSORED_CLOSE
    kernel = kernels(MemoryBus(), command_registry(), state_stores(), clock=lambda: NOW, secret=SECRET)
    async with db() as s:
        organizer = await participant_by_token(s, world.tokens["secretariat"])
        chair = await participant_by_token(s, world.tokens["chair"])
        desk_row = await s.get(models.Session, desk_session.id)
        as_organizer = actor_in(organizer, desk_row)
        assert actor_in(chair, desk_row) is None  # the desk is the organizers' alone
    assert as_organizer is not None
    peru = world.delegations["pe"]
    await kernel.execute(
        as_organizer,
        InviteDelegation(
            id=1, type="invite_delegation", delegation_id=peru, focal_name="Focal", focal_email="focal@example.org"
        ),
    )
    executed = await kernel.execute_for_server(
        desk_session.id,
        FocalNominate(
            id=2,
            type="focal_nominate",
            delegation_id=peru,
            name="María López",
            email="maria@example.org",
            language="es",
            sponsorship=True,
        ),
    )
    assert executed.seq == 2
    async with db() as s:
        registration = await s.scalar(select(models.Registration))
        participant = await s.get(models.Participant, registration.participant_id)
        assert (participant.key, registration.state, registration.sponsorship) == (
            "maria-lopez",
            "nominated",
            "requested",
        )
        # Nominated: the join link opens no session yet.
        session = await s.get(models.Session, world.session_id)
        nominee_token = tokens.join_token(SECRET, "test-event", "maria-lopez", 1)
        assert actor_in(await participant_by_token(s, nominee_token), session) is None
    pid = registration.participant_id
    await kernel.execute_for_server(
        desk_session.id,
        CompleteRegistration(
            id=3,
            type="complete_registration",
            participant_id=pid,
            gender="woman",
            needs=["captions"],
            question_session_id=world.session_id,
            question_text="How will survivors take part?",
            speak_session_id=world.session_id,
        ),
    )
    with pytest.raises(Refused):
        await kernel.execute_for_server(
            desk_session.id,
            FocalNominate(
                id=4, type="focal_nominate", delegation_id=peru, name="Two", email="b@example.org", sponsorship=True
            ),
        )
    await kernel.execute(as_organizer, ApproveRegistration(id=5, type="approve_registration", participant_id=pid))
    async with db() as s:
        session = await s.get(models.Session, world.session_id)
        actor = actor_in(await participant_by_token(s, nominee_token), session)
        assert actor is not None and actor.roles == {Role.PARTICIPANT}
        mails = (await s.scalars(select(models.OutboxMessage).order_by(models.OutboxMessage.id))).all()
        assert [(m.kind, m.recipient) for m in mails] == [
            ("invitation", "focal@example.org"),
            ("nomination", "maria@example.org"),
            ("registration_received", "maria@example.org"),
            ("approved", "maria@example.org"),
        ]
        # No private link is kept in the outbox, only a marker of it.
        assert all("/join/" not in m.body and "/register/" not in m.body for m in mails)
        log = (
            await s.scalars(select(models.SessionEvent).where(models.SessionEvent.session_id == desk_session.id))
        ).all()
        assert [e.recipients for e in log] == ["moderators"] * 4
    with pytest.raises(ValidationError):  # a rejection says why
        RejectRegistration(id=6, type="reject_registration", participant_id=pid, reason=" ")
    await kernel.execute(
        as_organizer, RejectRegistration(id=7, type="reject_registration", participant_id=pid, reason="Not accredited")
    )
    async with db() as s:
        session = await s.get(models.Session, world.session_id)
        assert actor_in(await participant_by_token(s, nominee_token), session) is None
        assert (await s.get(models.Event, world.event_id)).revision == 1  # open sockets are judged again


async def test_registration_is_refused_outside_the_desk(db, world, kernels):
    """Its events carry personal data: in a meeting's log they would reach the chairs."""
    kernel = kernels(MemoryBus(), command_registry(), state_stores(), clock=lambda: NOW, secret=SECRET)
    async with db() as s:
        organizer = await participant_by_token(s, world.tokens["secretariat"])
        panel = await s.get(models.Session, world.session_id)
    with pytest.raises(Refused) as refused:
        await kernel.execute(
            actor_in(organizer, panel),
            InviteDelegation(
                id=1,
                type="invite_delegation",
                delegation_id=world.delegations["pe"],
                focal_name="Focal",
                focal_email="focal@example.org",
            ),
        )
    assert refused.value.code == "not_here"
