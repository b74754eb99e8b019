"""The questions part of an event file: each session's guiding questions
(topics) and the questions sent in advance, imported as pre-submitted.

Loading the file again never duplicates them: topics and questions are found
again by their key within their session. A question the meeting has already
moderated is left as it is; one still pending takes the file's words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.questions import State
from server import models
from server.models import utcnow

if TYPE_CHECKING:
    from server.loader import Counts, EventSpec


async def load_questions(
    db: AsyncSession, spec: EventSpec, sessions: dict[str, Any], participants: dict[str, Any], counts: Counts
) -> None:
    topic_ids: dict[tuple[str, str], int] = {}
    for item in spec.sessions:
        session = sessions[item.key]
        existing = {
            row.key: row
            for row in await db.scalars(
                select(models.QuestionTopic).where(models.QuestionTopic.session_id == session.id)
            )
        }
        for position, topic in enumerate(item.questions.topics, start=1):
            row = existing.get(topic.key)
            if row is None:
                row = models.QuestionTopic(session_id=session.id, key=topic.key)
                db.add(row)
            row.position, row.texts = position, dict(topic.text)
        await db.flush()
        for row in await db.scalars(select(models.QuestionTopic).where(models.QuestionTopic.session_id == session.id)):
            topic_ids[(item.key, row.key)] = row.id

    zone = ZoneInfo(spec.event.timezone)
    now = utcnow()
    session_ids = [sessions[question.session].id for question in spec.questions]
    existing_questions = {
        (row.session_id, row.key): row
        for row in await db.scalars(
            select(models.Question).where(models.Question.session_id.in_(session_ids), models.Question.key.isnot(None))
        )
    }
    for question in spec.questions:
        session = sessions[question.session]
        author = participants[question.author]
        topic_id = topic_ids.get((question.session, question.topic)) if question.topic else None
        stored = existing_questions.get((session.id, question.key))
        if stored is None:
            submitted = question.submitted
            if submitted is not None and submitted.tzinfo is None:
                submitted = submitted.replace(tzinfo=zone)
            stored = models.Question(
                session_id=session.id,
                key=question.key,
                state=State.PENDING.value,
                is_presubmitted=True,
                submitted_at=submitted or now,
                updated_at=now,
            )
            db.add(stored)
            counts.created += 1
        elif stored.state != State.PENDING.value or stored.original_text is not None:
            continue  # moderated since: the meeting's record wins
        else:
            counts.updated += 1
        stored.author_id, stored.delegation_id = author.id, author.delegation_id
        stored.text, stored.language, stored.topic_id = question.text, question.language, topic_id
        stored.is_anonymous, stored.wants_to_ask = question.anonymous, question.ask_myself
    await db.flush()
