"""Where a join link lands: the session the meeting is in, the same for everyone.

A chair and the delegates must meet on one session whatever roles each holds
elsewhere, so the choice is made for the event first (the session on now,
else the next one, else the one whose floor moved last, else the first) and
only then for the person: the first session they may enter from that one on,
else the last before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import models


def meeting_session(
    sessions: Sequence[models.Session], now: datetime, last_activity: dict[int, datetime]
) -> int | None:
    """The id of the session the event is in now; ``sessions`` in programme order."""
    if not sessions:
        return None
    for session in sessions:
        if session.starts_at <= now < session.ends_at:
            return session.id
    for session in sessions:
        if session.starts_at > now:
            return session.id
    if last_activity:
        return max(last_activity, key=lambda session_id: last_activity[session_id])
    return sessions[0].id


def landing_for(sessions: Sequence[models.Session], meeting_id: int | None, may_enter: set[int]) -> int | None:
    """The meeting's session if the person may enter it, else the nearest one they may."""
    ids = [session.id for session in sessions]
    if meeting_id not in ids:
        return next((session_id for session_id in ids if session_id in may_enter), None)
    start = ids.index(meeting_id)
    later = [session_id for session_id in ids[start:] if session_id in may_enter]
    if later:
        return later[0]
    earlier = [session_id for session_id in ids[:start] if session_id in may_enter]
    return earlier[-1] if earlier else None


async def last_activity(db: AsyncSession, session_ids: list[int]) -> dict[int, datetime]:
    """When each session's event log last grew, for the sessions that have one."""
    if not session_ids:
        return {}
    rows = await db.execute(
        select(models.SessionEvent.session_id, func.max(models.SessionEvent.created_at))
        .where(models.SessionEvent.session_id.in_(session_ids))
        .group_by(models.SessionEvent.session_id)
    )
    return {session_id: at for session_id, at in rows.all() if at is not None}
