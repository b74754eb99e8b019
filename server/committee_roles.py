"""A committee's meeting takes its roles from the membership on the meeting's date.

In a session that names a committee, the participants of the delegation of
the State chairing the committee on the session's date (in the event's time
zone) chair the session, and those of the other member States take part in
it. The roles are ordinary session roles (``participant_roles``), marked
``from_committee``: auth and the kernel see nothing new, and each load of the
event file derives them again from the memberships then in force.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.committees import Committee, CommitteeRole, Membership
from rooms.roles import Role
from server import models


def committee_of(row: models.Committee, memberships: list[models.CommitteeMembership]) -> Committee:
    """The domain committee of stored rows (checked when the file was loaded)."""
    return Committee(
        row.key,
        row.name,
        [
            Membership(
                item.organisation_key, item.organisation_name, CommitteeRole(item.role), item.start_date, item.end_date
            )
            for item in memberships
        ],
    )


def meeting_roles(
    committee: Committee,
    day: date,
    delegation_of: Mapping[int, str],
    event_roles: Mapping[int, set[str]],
    session_roles: Mapping[int, set[str]],
) -> dict[int, set[str]]:
    """The roles to add, per participant id, in a meeting of ``committee`` on ``day``.

    ``delegation_of`` gives each participant's delegation key; the roles they
    already hold come from the event (``event_roles``) and from this session
    (``session_roles``, which replace the event's there). The chair's people
    get ``chair`` beside what they hold (their event's roles kept, as session
    roles replace them); members' people get ``participant`` if they hold no role."""
    chair = committee.chair_on(day)
    members = {membership.organisation_key for membership in committee.members_on(day)}
    added: dict[int, set[str]] = {}
    for participant_id, delegation in delegation_of.items():
        if delegation not in members:
            continue
        own = session_roles.get(participant_id, set())
        if chair is not None and delegation == chair.organisation_key:
            held = own if own else event_roles.get(participant_id, set())
            wanted = ({Role.CHAIR.value} | held) - own
        elif not own and not event_roles.get(participant_id):
            wanted = {Role.PARTICIPANT.value}
        else:
            wanted = set()
        if wanted:
            added[participant_id] = wanted
    return added


async def derive_committee_roles(db: AsyncSession, event: models.Event) -> None:
    """Replace the event's roles derived from committees by those of the memberships now stored."""
    people = list(
        await db.execute(
            select(models.Participant.id, models.Delegation.key)
            .outerjoin(models.Delegation, models.Participant.delegation_id == models.Delegation.id)
            .where(models.Participant.event_id == event.id)
        )
    )
    ids = [participant_id for participant_id, _ in people]
    if ids:
        await db.execute(
            delete(models.ParticipantRole).where(
                models.ParticipantRole.participant_id.in_(ids), models.ParticipantRole.from_committee.is_(True)
            )
        )
    sessions = list(
        await db.scalars(
            select(models.Session).where(models.Session.event_id == event.id, models.Session.committee_id.isnot(None))
        )
    )
    if not sessions or not ids:
        await db.flush()
        return
    committees = {
        row.id: row for row in await db.scalars(select(models.Committee).where(models.Committee.event_id == event.id))
    }
    terms: dict[int, list[models.CommitteeMembership]] = defaultdict(list)
    for item in await db.scalars(
        select(models.CommitteeMembership)
        .where(models.CommitteeMembership.committee_id.in_(committees))
        .order_by(models.CommitteeMembership.position, models.CommitteeMembership.id)
    ):
        terms[item.committee_id].append(item)
    event_roles: dict[int, set[str]] = defaultdict(set)
    by_session: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for role in await db.scalars(select(models.ParticipantRole).where(models.ParticipantRole.participant_id.in_(ids))):
        if role.session_id is None:
            event_roles[role.participant_id].add(role.role)
        else:
            by_session[role.session_id][role.participant_id].add(role.role)
    delegation_of = {participant_id: key for participant_id, key in people if key is not None}
    zone = ZoneInfo(event.timezone)
    for session in sessions:
        assert session.committee_id is not None
        committee = committee_of(committees[session.committee_id], terms[session.committee_id])
        day = session.starts_at.astimezone(zone).date()
        for participant_id, roles in meeting_roles(
            committee, day, delegation_of, event_roles, by_session[session.id]
        ).items():
            db.add_all(
                models.ParticipantRole(
                    participant_id=participant_id, session_id=session.id, role=role, from_committee=True
                )
                for role in sorted(roles)
            )
    await db.flush()
