"""Guiding questions and pre-submitted questions in the event file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from server import models
from server.loader import EventFileError, load_event, parse_event

DEMO = Path(__file__).resolve().parents[1] / "server" / "demo" / "coop-assist-2020.yaml"
SECRET = "test-secret"


async def _questions(db) -> dict[str, models.Question]:
    async with db() as s:
        return {row.key: row for row in await s.scalars(select(models.Question))}


async def test_the_demo_has_the_six_guiding_questions_and_presubmitted_questions(db):
    text = DEMO.read_text()
    report = await load_event(db, parse_event(text, DEMO.name), SECRET)
    assert report.questions.created == 5
    async with db() as s:
        panel = await s.scalar(select(models.Session).where(models.Session.key == "panel"))
        topics = (
            await s.scalars(
                select(models.QuestionTopic)
                .where(models.QuestionTopic.session_id == panel.id)
                .order_by(models.QuestionTopic.position)
            )
        ).all()
        kh = await s.scalar(select(models.Participant).where(models.Participant.key == "kh-delegate"))
    assert len(topics) == 6
    assert topics[0].texts["fr"].startswith("Un financement durable")
    assert set(topics[0].texts) >= {"en", "fr", "es"}
    questions = await _questions(db)
    first = questions["kh-funding"]
    assert first.state == "pending" and first.is_presubmitted and first.wants_to_ask
    assert first.author_id == kh.id and first.delegation_id == kh.delegation_id
    assert first.topic_id == topics[0].id
    assert questions["sn-regional-fund"].is_anonymous and questions["sn-regional-fund"].language == "fr"

    # Loading again never duplicates; a question moderated since keeps the
    # meeting's record, one still pending takes the file's new words.
    async with db() as s, s.begin():
        await s.execute(update(models.Question).where(models.Question.key == "kh-funding").values(state="approved"))
    changed = text.replace("Which donors have moved", "Which donors moved").replace(
        "How can survivors' networks", "How could survivors' networks"
    )
    report = await load_event(db, parse_event(changed, DEMO.name), SECRET)
    assert report.questions.created == 0
    again = await _questions(db)
    assert len(again) == 5
    assert "Which donors have moved" in again["kh-funding"].text
    assert again["survivors-accountability"].text.startswith("How could survivors' networks")
    async with db() as s:
        assert len((await s.scalars(select(models.QuestionTopic))).all()) == 6


@pytest.mark.parametrize(
    "old, new, words",
    [
        ("author: kh-delegate", "author: nobody", "unknown participant 'nobody'"),
        ("topic: sustainable-funding\n    language: en", "topic: no-such\n    language: en", "unknown topic"),
        ("language: fr\n    submitted", "language: ru\n    submitted", "not one of the event's languages"),
        ("session: panel\n    author: kh-delegate", "session: nowhere\n    author: kh-delegate", "unknown session"),
        ("- key: co-regional-funds", "- key: kh-funding", "duplicate key 'kh-funding'"),
        ("ask_myself: true\n    text: >\n      Cambodia", 'ask_myself: "sure"\n    text: >\n      Cambodia', "bool"),
        ("- key: rights-based", "- key: first-steps", "duplicate topic 'first-steps'"),
    ],
)
def test_questions_in_the_file_are_checked(old, new, words):
    text = DEMO.read_text()
    assert old in text
    with pytest.raises(EventFileError) as error:
        parse_event(text.replace(old, new, 1), DEMO.name)
    assert words in str(error.value)
    assert str(error.value).startswith(f"{DEMO.name}:")
