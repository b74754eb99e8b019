"""Placeholder until the outbox's sender lands: queues a message as is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server import models


async def enqueue(
    connection: AsyncConnection,
    *,
    event_id: int | None,
    kind: str,
    to: str,
    language: str,
    context: Mapping[str, str],
    now: datetime,
    dedupe_key: str | None = None,
) -> bool:
    if dedupe_key is not None and await connection.scalar(
        select(models.OutboxMessage.id).where(models.OutboxMessage.dedupe_key == dedupe_key)
    ):
        return False
    body = "\n".join(f"{key}: {value}" for key, value in context.items())
    await connection.execute(
        insert(models.OutboxMessage).values(
            event_id=event_id,
            kind=kind,
            dedupe_key=dedupe_key,
            recipient=to,
            language=language,
            subject=kind,
            body=body,
            created_at=now,
            attempts=0,
        )
    )
    return True
