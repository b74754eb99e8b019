"""The registration desk in the database: one event's delegations and
registrations for a command in its secretariat session, and what it changed
written back: new participants with their registration, roles given or taken
by a decision, notes verbales, and the e-mails the decisions call for (in the
outbox, in the same transaction: a decision and its mail commit together).

Not held between commands: focal points and members change it from their
pages, and an event's desk is small (hundreds of rows).
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.errors import Refused
from rooms.registration import (
    Deadlines,
    Delegation,
    Desk,
    Gender,
    Invitation,
    Member,
    Need,
    Sponsorship,
    State,
)
from rooms.roles import Role
from server import models, tokens
from server.keys import base_key, free_key
from server.notices import send_notices
from server.state import Access, Store

_R = models.Registration
_P = models.Participant


class DeskStore(Store[Desk]):
    kind = Desk
    is_held = False

    def __init__(self, state: Desk, event: models.Event) -> None:
        super().__init__(state)
        self.event = event

    @classmethod
    async def load(cls, tx: Access, parts: tuple[int, ...]) -> DeskStore:
        if tx.session.kind != "secretariat":
            # Its events carry personal data: in a meeting they would reach its chairs.
            raise Refused("not_here", "Registration is done at the secretariat's desk, not in a session.")
        db = tx.db
        event = await db.get(models.Event, tx.session.event_id)
        assert event is not None  # the session's event
        delegations = {
            row.id: _delegation(row, event)
            for row in await db.scalars(select(models.Delegation).where(models.Delegation.event_id == event.id))
        }
        rows = (
            await db.execute(
                select(_R, _P.name, _P.title, _P.email, _P.language, _P.delegation_id)
                .join(_P, _P.id == _R.participant_id)
                .where(_R.event_id == event.id)
            )
        ).all()
        members = {row[0].participant_id: _member(*row) for row in rows}
        session_ids = frozenset(
            await db.scalars(
                select(models.Session.id).where(
                    models.Session.event_id == event.id, models.Session.kind != "secretariat"
                )
            )
        )
        deadlines = Deadlines(event.nominations_close_at, event.sponsored_nominations_close_at)
        return cls(Desk(delegations, members, deadlines, session_ids), event)

    def has_changes(self, tx: Access) -> bool:
        desk = self.state
        return bool(desk.added or desk.changed or desk.changed_delegations or desk.notes or desk.notices)

    async def save(self, tx: Access) -> None:
        desk = self.state
        if not self.has_changes(tx):
            return
        if not tx.secret:
            raise RuntimeError("the registration desk needs the server's secret to make private links")
        db = tx.db
        for member in desk.added:
            await self._add(db, tx, member)
            desk.members[member.participant_id] = member
        desk.added.clear()
        revoked = False
        for participant_id in sorted(desk.changed):
            revoked |= await self._update(db, desk.members[participant_id])
        desk.changed.clear()
        for delegation_id in sorted(desk.changed_delegations):
            await self._update_delegation(db, tx, desk.delegations[delegation_id])
        desk.changed_delegations.clear()
        for note in desk.notes:
            db.add(
                models.NoteVerbale(
                    delegation_id=note.delegation_id,
                    reference=note.reference,
                    dated=note.dated,
                    received_at=note.received_at,
                    file_name=note.file_name,
                    file_type=note.file_type,
                    file_data=note.file_data,
                )
            )
        desk.notes.clear()
        if revoked:
            # Someone lost their place: the sockets they have open are judged
            # again (server.hub.watch_access) and what processes hold is stale.
            self.event.revision += 1
        await db.flush()
        await send_notices(tx, self.event, desk, desk.notices)
        desk.notices.clear()

    async def _add(self, db: AsyncSession, tx: Access, member: Member) -> None:
        key = await _free_key(db, self.event.id, member)
        participant = models.Participant(
            event_id=self.event.id,
            key=key,
            name=member.name,
            title=member.title,
            delegation_id=member.delegation_id,
            email=member.email,
            language=member.language,
            is_sponsored=False,
            session_ids=None,
            token_version=1,
            token_hash=tokens.token_hash(tokens.join_token(tx.secret, self.event.slug, key, 1)),
        )
        db.add(participant)
        await db.flush()
        member.participant_id = participant.id
        db.add(
            _R(
                participant_id=participant.id,
                event_id=self.event.id,
                state=member.state.value,
                sponsorship=member.sponsorship.value if member.sponsorship else None,
                token_hash=tokens.token_hash(tokens.link_token(tx.secret, "register", self.event.slug, key, 1)),
                token_version=1,
                accessibility=[],
                accessibility_note="",
                languages=[],
                nominated_at=member.nominated_at or tx.now,
            )
        )

    async def _update(self, db: AsyncSession, member: Member) -> bool:
        """Write one registration; True when the person lost the access approval gave."""
        row = await db.get(_R, member.participant_id)
        assert row is not None  # loaded with the desk
        was_approved = row.state == State.APPROVED.value
        row.state = member.state.value
        row.sponsorship = member.sponsorship.value if member.sponsorship else None
        row.reject_reason = member.reject_reason
        row.gender = member.gender.value if member.gender else None
        row.accessibility = [need.value for need in member.needs]
        row.accessibility_note = member.needs_note
        row.languages = list(member.languages)
        row.question_session_id = member.question_session_id
        row.question_text = member.question_text
        row.question_language = member.question_language
        row.speak_session_id = member.speak_session_id
        row.speak_language = member.speak_language
        row.completed_at = member.completed_at
        row.decided_at = member.decided_at
        await db.execute(
            update(_P)
            .where(_P.id == member.participant_id)
            .values(is_sponsored=member.sponsorship in (Sponsorship.APPROVED, Sponsorship.ACCEPTED))
        )
        approved = member.state == State.APPROVED
        if approved and not was_approved:
            # Approval opens the join link: the person may now enter the sessions.
            db.add(models.ParticipantRole(participant_id=member.participant_id, session_id=None, role=Role.PARTICIPANT))
        elif was_approved and not approved:
            await db.execute(
                delete(models.ParticipantRole).where(models.ParticipantRole.participant_id == member.participant_id)
            )
            return True
        return False

    async def _update_delegation(self, db: AsyncSession, tx: Access, delegation: Delegation) -> None:
        row = await db.get(models.Delegation, delegation.id)
        assert row is not None
        row.invitation = delegation.invitation.value if delegation.invitation else None
        row.focal_name, row.focal_email = delegation.focal_name, delegation.focal_email
        row.focal_language = delegation.focal_language
        if row.focal_token_version != delegation.focal_token_version:
            row.focal_token_version = delegation.focal_token_version
            row.focal_token_hash = tokens.token_hash(
                tokens.link_token(tx.secret, "focal", self.event.slug, row.key, delegation.focal_token_version)
            )
            row.invited_at = tx.now


def _delegation(row: models.Delegation, event: models.Event) -> Delegation:
    return Delegation(
        id=row.id,
        name=row.name,
        kind=row.kind,
        member_limit=row.member_limit or event.max_delegation_members,
        invitation=Invitation(row.invitation) if row.invitation else None,
        focal_name=row.focal_name,
        focal_email=row.focal_email,
        focal_language=row.focal_language,
        focal_token_version=row.focal_token_version,
    )


def _member(
    row: models.Registration,
    name: str,
    title: str | None,
    email: str | None,
    language: str | None,
    delegation_id: int | None,
) -> Member:
    return Member(
        participant_id=row.participant_id,
        delegation_id=delegation_id,
        name=name,
        state=State(row.state),
        title=title,
        email=email,
        language=language or "en",
        sponsorship=Sponsorship(row.sponsorship) if row.sponsorship else None,
        reject_reason=row.reject_reason,
        gender=Gender(row.gender) if row.gender else None,
        needs=tuple(Need(need) for need in row.accessibility),
        needs_note=row.accessibility_note,
        languages=tuple(row.languages),
        question_session_id=row.question_session_id,
        question_text=row.question_text,
        question_language=row.question_language,
        speak_session_id=row.speak_session_id,
        speak_language=row.speak_language,
        nominated_at=row.nominated_at,
        completed_at=row.completed_at,
        decided_at=row.decided_at,
    )


async def _free_key(db: AsyncSession, event_id: int, member: Member) -> str:
    """A participant key for a new member, made from their name."""
    base = base_key(member.name, "member")
    taken = set(await db.scalars(select(_P.key).where(_P.event_id == event_id, _P.key.like(f"{base}%"))))
    return free_key(member.name, taken, "member")
