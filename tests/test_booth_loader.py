"""Interpreters' booths and captioners' languages from the event file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from server import models
from server.loader import EventFileError, load_event_file, parse_event

DEMO = Path(__file__).resolve().parent.parent / "server" / "demo" / "coop-assist-2020.yaml"

HEAD = """
event: {slug: e, title: E, timezone: UTC, languages: [en, fr, ils]}
participants:
"""


def problems(text: str) -> list[str]:
    with pytest.raises(EventFileError) as caught:
        parse_event(HEAD + text)
    return [reason for _, reason in caught.value.problems]


async def test_the_demo_gives_two_interpreters_to_each_booth_and_a_captioner(db):
    await load_event_file(db, DEMO, "secret")
    async with db() as s:
        rows = (await s.scalars(select(models.LanguageAssignment).order_by(models.LanguageAssignment.id))).all()
    booths = [row.language for row in rows if row.role == "interpreter"]
    assert sorted(booths) == sorted(["ar", "en", "fr", "es", "ils"] * 2)
    english = [row.works_from for row in rows if row.role == "interpreter" and row.language == "en"]
    assert all("ar" in languages for languages in english)
    assert [(row.role, row.language) for row in rows if row.role == "captioner"] == [("captioner", "en")]
    # Loading again replaces, never duplicates.
    await load_event_file(db, DEMO, "secret")
    async with db() as s:
        assert len((await s.scalars(select(models.LanguageAssignment))).all()) == len(rows)


def test_booths_and_captions_are_checked_against_the_event():
    assert problems("  - {key: a, name: A, roles: [interpreter], booth: es, works_from: [en]}\n") == [
        "participants[0].booth: the event does not offer 'es' (event.languages)"
    ]
    assert problems("  - {key: a, name: A, roles: [participant], booth: fr, works_from: [en]}\n") == [
        "participants[0].booth: only an interpreter works in a booth (add the role interpreter)"
    ]
    assert problems("  - {key: a, name: A, roles: [interpreter], booth: fr}\n") == [
        "participants[0].booth: an interpreter needs works_from: the languages they interpret from"
    ]
    assert problems("  - {key: a, name: A, roles: [interpreter], booth: fr, works_from: [fr, en, en]}\n") == [
        "participants[0].works_from: an interpreter into 'fr' does not work from it",
        "participants[0].works_from[2]: duplicate language 'en' (already at works_from[1])",
    ]
    assert problems("  - {key: a, name: A, roles: [captioner], captions: ils}\n") == [
        "participants[0].captions: captions are text in a spoken language"
    ]
    parse_event(HEAD + "  - {key: a, name: A, roles: [captioner], captions: fr}\n")
