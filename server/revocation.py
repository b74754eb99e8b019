"""Revoking a join link: the person gets a new one, the old one opens nothing.

A link is derived from the secret, the event slug, the participant's key and
their ``token_version``; the database keeps only the hash of the current
one, and sockets and pages find people by that hash. So revoking raises the
version and stores the new hash in one transaction: from the commit, the
old link finds nobody, and ``tribune load`` and ``tribune links`` (which
derive the link from the stored version) keep agreeing with the database.

It also moves the event's revision, which every server process watches
(``server.hub``, ``Hub.watch_access``): within a second each closes the
sockets opened with the old link (4401) and stops their media.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import models, tokens
from server.links import WrongSecret


class NoSuchParticipant(LookupError):
    """No participant has that key (in that event), or more than one event has one."""


@dataclass(frozen=True)
class Revoked:
    event_slug: str
    key: str
    name: str
    token_version: int
    # The new personal link's token, to hand to the person if they keep their access.
    token: str


async def revoke_link(
    sessionmaker: async_sessionmaker[AsyncSession], secret: str, key: str, event_slug: str | None = None
) -> Revoked:
    async with sessionmaker() as db, db.begin():
        return await revoke_in(db, secret, key, event_slug)


async def revoke_in(db: AsyncSession, secret: str, key: str, event_slug: str | None = None) -> Revoked:
    """Revoke inside the caller's transaction (a console action commits it with its other changes)."""
    query = (
        select(models.Participant, models.Event)
        .join(models.Event, models.Event.id == models.Participant.event_id)
        .where(models.Participant.key == key)
        .with_for_update(of=models.Participant)
    )
    if event_slug is not None:
        query = query.where(models.Event.slug == event_slug)
    found = (await db.execute(query)).all()
    if not found:
        where = f" in event {event_slug!r}" if event_slug else ""
        raise NoSuchParticipant(f"No participant with the key {key!r}{where}.")
    if len(found) > 1:
        slugs = ", ".join(sorted(event.slug for _, event in found))
        raise NoSuchParticipant(f"Participants with the key {key!r} are in several events ({slugs}): say which.")
    participant, event = found[0]
    current = tokens.join_token(secret, event.slug, participant.key, participant.token_version)
    if tokens.token_hash(current) != participant.token_hash:
        # Revoking with another secret would store a link the server cannot derive.
        raise WrongSecret(event.slug)
    participant.token_version += 1
    token = tokens.join_token(secret, event.slug, participant.key, participant.token_version)
    participant.token_hash = tokens.token_hash(token)
    # Every process re-judges the sockets of the event's sessions when it moves.
    event.revision = (event.revision or 0) + 1
    return Revoked(event.slug, participant.key, participant.name, participant.token_version, token)
