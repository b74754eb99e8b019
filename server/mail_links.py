"""Private links in e-mails, kept out of the database.

A message in the outbox names the link it carries by a marker, such as
``⟦join:42⟧``, not by the link itself: links are secrets kept only as hashes
(server/tokens.py). The link is derived when the message is sent or shown
to an organizer, from the current version, so a link revoked while the
message waited is never sent.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import models, tokens

_MARKER = re.compile(r"⟦(join|register|focal):(\d+)⟧")
# What a link that no longer exists reads as.
GONE = "(this link is no longer valid)"


def marker(purpose: str, row_id: int) -> str:
    """``purpose``: join or register (a participant's id), focal (a delegation's)."""
    return f"⟦{purpose}:{row_id}⟧"


async def resolve(db: AsyncSession, text: str, secret: str, base_url: str) -> str:
    """``text`` with each marker replaced by the link it names."""
    wanted = {(purpose, int(row_id)) for purpose, row_id in _MARKER.findall(text)}
    if not wanted:
        return text
    links: dict[tuple[str, int], str] = {}
    for purpose, row_id in wanted:
        links[(purpose, row_id)] = await _link(db, purpose, row_id, secret, base_url) or GONE
    return _MARKER.sub(lambda match: links[(match[1], int(match[2]))], text)


async def _link(db: AsyncSession, purpose: str, row_id: int, secret: str, base_url: str) -> str | None:
    if purpose == "focal":
        row = (
            await db.execute(
                select(models.Event.slug, models.Delegation.key, models.Delegation.focal_token_version)
                .join(models.Event, models.Event.id == models.Delegation.event_id)
                .where(models.Delegation.id == row_id)
            )
        ).first()
        if row is None or not row[2]:
            return None
        return tokens.nominate_url(base_url, tokens.link_token(secret, "focal", row[0], row[1], row[2]))
    person = (
        await db.execute(
            select(
                models.Event.slug,
                models.Participant.key,
                models.Participant.token_version,
                models.Registration.token_version,
            )
            .join(models.Event, models.Event.id == models.Participant.event_id)
            .outerjoin(models.Registration, models.Registration.participant_id == models.Participant.id)
            .where(models.Participant.id == row_id)
        )
    ).first()
    if person is None:
        return None
    slug, key, join_version, register_version = person
    if purpose == "join":
        return tokens.join_url(base_url, tokens.join_token(secret, slug, key, join_version))
    if register_version is None:
        return None
    return tokens.register_url(base_url, tokens.link_token(secret, "register", slug, key, register_version))
