"""Reminders before a nomination deadline (server/reminders.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from server import models
from server.reminders import queue_reminders

NOW = datetime(2023, 8, 28, 9, 0, tzinfo=UTC)


async def test_a_week_and_a_day_before_to_focal_points_who_nominated_nobody(db, world):
    async with db() as s, s.begin():
        await s.execute(
            update(models.Event).values(
                sponsored_nominations_close_at=NOW + timedelta(days=4), nominations_close_at=NOW + timedelta(days=18)
            )
        )
        for key in ("fr", "pe"):
            await s.execute(
                update(models.Delegation)
                .where(models.Delegation.id == world.delegations[key])
                .values(
                    invitation="invited", focal_name="F", focal_email=f"focal-{key}@example.org", focal_language="fr"
                )
            )
        # Peru has nominated someone: no reminder for it.
        s.add(
            models.Registration(
                participant_id=world.participants["peru"],
                event_id=world.event_id,
                state="nominated",
                token_hash="x" * 64,
                token_version=1,
                accessibility=[],
                accessibility_note="",
                languages=[],
                nominated_at=NOW,
            )
        )
    assert await queue_reminders(db, NOW) == 1  # the sponsored deadline is within a week
    assert await queue_reminders(db, NOW + timedelta(hours=1)) == 0  # once
    assert await queue_reminders(db, NOW + timedelta(days=3, hours=12)) == 1  # a day before
    assert await queue_reminders(db, NOW + timedelta(days=11, hours=1)) == 1  # a week before the other
    assert await queue_reminders(db, NOW + timedelta(days=30)) == 0  # all closed
    async with db() as s:
        mails = (await s.scalars(select(models.OutboxMessage))).all()
    assert {(m.kind, m.recipient, m.language) for m in mails} == {("reminder", "focal-fr@example.org", "fr")}
    assert all("/nominate/" not in m.body for m in mails)
