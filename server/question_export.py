"""Questions of a session as CSV, for the meeting's record.

Anyone may type a question, and spreadsheets run a cell that starts like a
formula: such cells are written with a leading apostrophe so they stay text.
"""

from __future__ import annotations

import csv
from typing import TextIO

from sqlalchemy import select

from rooms.floor_views import iso
from server import models
from server.export import Sessions, resolve_session
from server.localized import primary
from server.question_store import load_board, load_votes

QUESTION_COLUMNS = [
    "question_id",
    "session",
    "author",
    "delegation",
    "is_anonymous",
    "text",
    "original_text",
    "language",
    "topic",
    "state",
    "votes",
    "is_presubmitted",
    "wants_to_ask",
    "submitted_at",
    "approved_at",
    "answered_at",
    "merged_into",
    "speaking_request_id",
    "reject_reason",
]

# What spreadsheets take for the start of a formula (OWASP's list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


async def question_rows(sessionmaker: Sessions, ref: str, *, with_authors: bool = False) -> list[dict[str, str]]:
    async with sessionmaker() as db:
        session = await resolve_session(db, ref)
        board = await load_board(db, session)
        await load_votes(db, board, list(board.questions))
        topics = {
            row.id: primary(row.texts)
            for row in await db.scalars(
                select(models.QuestionTopic).where(models.QuestionTopic.session_id == session.id)
            )
        }
    rows = []
    for question in sorted(board.questions.values(), key=lambda q: (q.submitted_at, q.id or 0)):
        shown = with_authors or not question.is_anonymous
        row = {
            "question_id": question.id,
            "session": session.key,
            "author": question.author_name if shown else "",
            "delegation": (question.delegation_name or "") if shown else "",
            "is_anonymous": "true" if question.is_anonymous else "false",
            "text": question.text,
            "original_text": question.original_text or "",
            "language": question.language,
            "topic": topics.get(question.topic_id, "") if question.topic_id else "",
            "state": question.state.value,
            "votes": board.votes(question),
            "is_presubmitted": "true" if question.is_presubmitted else "false",
            "wants_to_ask": "true" if question.wants_to_ask else "false",
            "submitted_at": iso(question.submitted_at),
            "approved_at": iso(question.approved_at),
            "answered_at": iso(question.answered_at),
            "merged_into": question.merged_into,
            "speaking_request_id": question.speaking_request_id,
            "reject_reason": question.reject_reason,
        }
        rows.append({name: neutralise(value) for name, value in row.items()})
    return rows


async def export_questions(sessionmaker: Sessions, ref: str, out: TextIO, *, with_authors: bool = False) -> int:
    """Write the session's questions as CSV; return how many."""
    rows = await question_rows(sessionmaker, ref, with_authors=with_authors)
    writer = csv.DictWriter(out, fieldnames=QUESTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return len(rows)
