"""Join links for every participant, derived again from the secret.

Only token hashes are stored (server/tokens.py), so the links are rebuilt
from the secret, the event slug, the participant key and its token version.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rooms.delegations import TIER_LABELS, Tier
from rooms.roster import effective_roles, may_enter
from server import models, tokens
from server.settings import Settings


class WrongSecret(Exception):
    """The secret at hand does not derive the tokens the database knows: the
    links printed with it would all be refused."""


async def participant_links(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, event_slug: str | None = None
) -> list[dict[str, Any]]:
    """One entry per participant, ordered by event and then as first loaded.

    Raises WrongSecret when a participant's token from this secret is not the
    one stored (a secret from another directory, or a changed TRIBUNE_SECRET)."""
    async with sessionmaker() as db:
        query = select(models.Event).order_by(models.Event.slug)
        if event_slug is not None:
            query = query.where(models.Event.slug == event_slug)
        events = list(await db.scalars(query))
        event_ids = [event.id for event in events]
        sessions = list(
            await db.scalars(
                select(models.Session)
                # The secretariat's desk is reached from the organizer console, not by a link.
                .where(models.Session.event_id.in_(event_ids), models.Session.kind != "secretariat")
                .order_by(models.Session.starts_at, models.Session.id)
            )
        )
        delegations = {
            row.id: row
            for row in await db.scalars(select(models.Delegation).where(models.Delegation.event_id.in_(event_ids)))
        }
        people = list(
            await db.scalars(
                select(models.Participant)
                .where(models.Participant.event_id.in_(event_ids))
                .order_by(models.Participant.id)
            )
        )
        booths = {
            row.participant_id: row.language
            for row in await db.scalars(
                select(models.LanguageAssignment).where(
                    models.LanguageAssignment.event_id.in_(event_ids), models.LanguageAssignment.role == "interpreter"
                )
            )
        }
        roles = list(
            await db.scalars(
                select(models.ParticipantRole)
                .where(models.ParticipantRole.participant_id.in_([p.id for p in people]))
                .order_by(models.ParticipantRole.id)
            )
        )

    event_roles: dict[int, list[str]] = defaultdict(list)
    session_roles: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in roles:
        if row.session_id is None:
            event_roles[row.participant_id].append(row.role)
        else:
            session_roles[row.participant_id][row.session_id].append(row.role)

    by_event = {event.id: event for event in events}
    sessions_of: dict[int, list[models.Session]] = defaultdict(list)
    for session in sessions:
        sessions_of[session.event_id].append(session)

    links = []
    for person in people:
        if not event_roles[person.id] and not session_roles.get(person.id):
            # Nominated, not yet approved (rooms/registration.py): the link opens nothing yet.
            continue
        event = by_event[person.event_id]
        delegation = delegations.get(person.delegation_id) if person.delegation_id is not None else None
        overrides = session_roles.get(person.id, {})
        keys = {session.id: session.key for session in sessions_of[event.id]}
        entering = []
        for session in sessions_of[event.id]:
            here = effective_roles(event_roles[person.id], overrides, session.id)
            if may_enter(person.session_ids, session.id, here):
                entering.append(
                    {
                        "id": session.id,
                        "key": session.key,
                        "title": session.title,
                        "roles": sorted(role.value for role in here),
                    }
                )
        token = tokens.join_token(settings.secret, event.slug, person.key, person.token_version)
        if tokens.token_hash(token) != person.token_hash:
            raise WrongSecret(event.slug)
        links.append(
            {
                "event": event.slug,
                "key": person.key,
                "name": person.name,
                "title": person.title,
                "delegation": delegation.name if delegation else None,
                "delegation_key": delegation.key if delegation else None,
                "tier": delegation.kind if delegation else None,
                "tier_label": TIER_LABELS[Tier(delegation.kind)] if delegation else None,
                "is_sponsored": person.is_sponsored,
                "roles": list(event_roles[person.id]),
                "session_roles": {
                    keys[session_id]: list(values) for session_id, values in overrides.items() if session_id in keys
                },
                "sessions": entering,
                "url": tokens.join_url(settings.base_url, token),
                "booth": booths.get(person.id),
            }
        )
    return links
