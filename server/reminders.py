"""Reminders before a nomination deadline, to focal points who have not
nominated anyone yet: a week and a day before each deadline, once each
(the outbox's dedupe key), whichever process gets there first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import models
from server.i18n import format_moment
from server.localized import pick
from server.mail import enqueue
from server.mail_links import marker

log = logging.getLogger(__name__)

# How long before a deadline a reminder goes.
BEFORE = (timedelta(days=7), timedelta(days=1))
EVERY_SECONDS = 15 * 60


async def queue_reminders(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Queue the reminders due now; how many were queued."""
    queued = 0
    async with sessionmaker() as db, db.begin():
        events = (
            await db.scalars(
                select(models.Event).where(
                    (models.Event.nominations_close_at > now) | (models.Event.sponsored_nominations_close_at > now)
                )
            )
        ).all()
        connection = await db.connection()
        for event in events:
            for name, deadline in (
                ("sponsored", event.sponsored_nominations_close_at),
                ("nominations", event.nominations_close_at),
            ):
                if deadline is None or deadline <= now:
                    continue
                due = [before for before in BEFORE if deadline - before <= now]
                if not due:
                    continue
                silent = (
                    await db.scalars(
                        select(models.Delegation).where(
                            models.Delegation.event_id == event.id,
                            models.Delegation.invitation == "invited",
                            models.Delegation.focal_email.is_not(None),
                            ~exists()
                            .where(models.Participant.delegation_id == models.Delegation.id)
                            .where(models.Registration.participant_id == models.Participant.id),
                        )
                    )
                ).all()
                for delegation in silent:
                    language = delegation.focal_language or "en"
                    before = min(due)
                    sent = await enqueue(
                        connection,
                        event_id=event.id,
                        kind="reminder",
                        to=delegation.focal_email or "",
                        language=language,
                        context={
                            "event_title": pick(event.titles or {"": event.title}, language).text or event.title,
                            "delegation_name": delegation.name,
                            "nomination_url": marker("focal", delegation.id),
                            "deadline": format_moment(deadline, event.timezone, language),
                        },
                        now=now,
                        dedupe_key=f"reminder:{delegation.id}:{name}:{deadline.isoformat()}:{before.days}",
                    )
                    queued += int(sent)
    return queued


async def run_reminders(sessionmaker: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]) -> None:
    while True:
        try:
            await queue_reminders(sessionmaker, clock())
        except Exception:
            log.exception("could not queue the deadline reminders")
        await asyncio.sleep(EVERY_SECONDS)
