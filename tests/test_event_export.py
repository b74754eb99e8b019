"""`tribune export event`: the event file written back, loading to the same state.

Round trip on SQLite and PostgreSQL: load a file, export, load the export into
a fresh database, export again; both exports are the same text and the rows
of both databases, compared field by field with ids replaced by keys, are equal.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from server import models
from server.db import create_engine, migrate, sessionmaker
from server.event_export import EventExportError, export_event
from server.loader import EventFileError, load_event, load_event_file, parse_event

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "server" / "demo" / "coop-assist-2020.yaml"
SECRET = "test-secret"

RICH = textwrap.dedent("""\
    event:
      slug: rich-event
      title: {en: Rich event, fr: "Événement riche", "": Rich}
      timezone: Europe/Brussels
      venue: "Palais des Nations: salle XX"
      online_url: https://example.org/rich
      description: |
        Two lines
        of description.
      languages: [en, fr, es, ils]
      max_delegation_members: 2
      nominations_close: "2021-10-01 18:00"
      sponsored_nominations_close: "2021-09-15 12:30:15"
    delegations:
      - {key: "no", name: Norway, kind: state_party, member_limit: 4}
      - key: kh
        name: Cambodia
        kind: state_party
        focal_point: {name: Sok Dara, email: dara@example.org, language: fr}
      - key: icbl
        name: "ICBL: campaign"
        kind: civil_society
        focal_point: {name: "Ann O'Neil", email: ann@icbl.example.org}
    sessions:
      - key: opening
        title: Opening
        starts: "2021-10-31 02:30+01:00"
        ends: "2021-10-31 03:30"
      - key: panel
        title: {en: Panel, fr: Table ronde}
        kind: panel
        description: {en: "The panel.", fr: "La table ronde."}
        languages: [en, fr]
        room: Room 1
        starts: "2021-11-02 09:00"
        ends: "2021-11-02 12:00"
        hybrid: false
        committee: cooperation
        floor:
          precedence: [civil_society, state_party]
          time_limits: {state_party: 300, civil_society: null}
          point_of_order: null
          right_of_reply: 90
        questions:
          moderated: false
          topics:
            - {key: money, text: {en: "Money?", fr: "L'argent ?"}}
            - {key: plain, text: "Anything else?"}
    participants:
      - key: chair
        name: "Chair: Dr. Suda"
        title: Chair
        delegation: "no"
        roles: [participant]
        session_roles: {panel: [chair, participant]}
        email: suda@example.org
        language: en
      - key: no-2
        name: Ola
        delegation: "no"
        sponsored: true
      - key: no-3
        name: Kari
        delegation: "no"
        sessions: [panel, opening]
      - key: no-4
        name: Per
        delegation: "no"
        roles: []
      - key: kh-1
        name: Dara
        delegation: kh
        language: ar
      - key: interp
        name: Layla
        roles: [interpreter]
        booth: fr
        works_from: [en, es]
      - key: capt
        name: Cap
        roles: [captioner, observer]
        captions: en
    committees:
      - key: cooperation
        name: {en: Committee on Cooperation, fr: "Comité sur la coopération"}
        memberships:
          - {state: "no", name: Norway, role: chair, start: 2021-01-01, end: 2021-12-31}
          - {state: kh, name: {en: Cambodia, fr: Cambodge}, start: 2020-01-01, end: 2021-12-31}
          - {state: gb, name: United Kingdom, role: vice_chair, start: "2021-06-01", end: "2022-05-31"}
    questions:
      - key: q1
        session: panel
        author: kh-1
        topic: money
        language: fr
        submitted: "2021-10-20 08:05"
        anonymous: true
        ask_myself: true
        text: "  Une question ?  "
      - key: q2
        session: opening
        author: chair
        language: en
        text: Asked without a time.
    """)

# Foreign keys, and the table whose key names them.
_REFS = {
    "session_id": models.Session,
    "question_session_id": models.Session,
    "speak_session_id": models.Session,
    "delegation_id": models.Delegation,
    "participant_id": models.Participant,
    "author_id": models.Participant,
    "topic_id": models.QuestionTopic,
    "committee_id": models.Committee,
}


async def snapshot(maker, slug: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the event, ids replaced by the keys they point at."""
    async with maker() as db:
        event = await db.scalar(select(models.Event).where(models.Event.slug == slug))
        sessions = list(await db.scalars(select(models.Session).where(models.Session.event_id == event.id)))
        delegations = list(await db.scalars(select(models.Delegation).where(models.Delegation.event_id == event.id)))
        people = list(await db.scalars(select(models.Participant).where(models.Participant.event_id == event.id)))
        session_ids = [row.id for row in sessions]
        people_ids = [row.id for row in people]
        topics = list(
            await db.scalars(select(models.QuestionTopic).where(models.QuestionTopic.session_id.in_(session_ids)))
        )
        roles = list(
            await db.scalars(
                select(models.ParticipantRole).where(models.ParticipantRole.participant_id.in_(people_ids))
            )
        )
        assignments = list(
            await db.scalars(select(models.LanguageAssignment).where(models.LanguageAssignment.event_id == event.id))
        )
        questions = list(await db.scalars(select(models.Question).where(models.Question.session_id.in_(session_ids))))
        committees = list(await db.scalars(select(models.Committee).where(models.Committee.event_id == event.id)))
        terms = list(
            await db.scalars(
                select(models.CommitteeMembership).where(
                    models.CommitteeMembership.committee_id.in_([row.id for row in committees])
                )
            )
        )
    keys = {
        models.Session: {row.id: row.key for row in sessions},
        models.Delegation: {row.id: row.key for row in delegations},
        models.Participant: {row.id: row.key for row in people},
        models.QuestionTopic: {row.id: row.key for row in topics},
        models.Committee: {row.id: row.key for row in committees},
    }

    def plain(row: Any) -> dict[str, Any]:
        out = {}
        for column in row.__table__.columns:
            name, value = column.name, getattr(row, column.key)
            if name in ("id", "event_id") or (isinstance(row, models.Question) and name == "updated_at"):
                continue  # ids, and the time of the load
            if name in _REFS and value is not None:
                value = keys[_REFS[name]][value]
            if name == "session_ids" and value is not None:
                value = [keys[models.Session][id_] for id_ in value]
            out[name] = value
        return out

    def rows(items: list[Any]) -> list[dict[str, Any]]:
        return sorted((plain(item) for item in items), key=repr)

    return {
        "event": [plain(event)],
        "sessions": rows(sessions),
        "delegations": rows(delegations),
        "participants": rows(people),
        "roles": rows(roles),
        "languages": rows(assignments),
        "topics": rows(topics),
        "questions": rows(questions),
        "committees": rows(committees),
        "memberships": rows(terms),
    }


async def _round_trip(db, database_url: str, tmp_path: Path, text: str, slug: str) -> tuple[str, str]:
    await load_event(db, parse_event(text), SECRET)
    first_export = await export_event(db, slug)
    before = await snapshot(db, slug)
    # A fresh database: a new SQLite file, or PostgreSQL emptied.
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    else:
        from tests.conftest import reset_postgres

        url = database_url
        await reset_postgres(url)
    engine = create_engine(url)
    try:
        await migrate(engine)
        fresh = sessionmaker(engine)
        exported = tmp_path / "exported.yaml"
        exported.write_text(first_export, encoding="utf-8")
        await load_event_file(fresh, exported, SECRET)
        second_export = await export_event(fresh, slug)
        after = await snapshot(fresh, slug)
    finally:
        await engine.dispose()
    for table in before:
        assert after[table] == before[table], table
    return first_export, second_export


async def test_demo_round_trip(db, database_url, tmp_path):
    first, second = await _round_trip(db, database_url, tmp_path, DEMO.read_text("utf-8"), "coop-assist-2020")
    assert first == second
    # Readable: the documented order, local times, per-language titles as given.
    assert first.index("event:") < first.index("delegations:") < first.index("sessions:") < first.index("participants:")
    assert "starts: 2020-12-04 13:30\n" in first
    assert "    fr: Coopération et assistance, Promouvoir les partenariats !\n" in first
    assert "  - key: 'no'\n    name:\n      en: Norway\n      fr: Norvège\n" in first


async def test_rich_round_trip(db, database_url, tmp_path):
    first, second = await _round_trip(db, database_url, tmp_path, RICH, "rich-event")
    assert first == second
    data = yaml.safe_load(first)
    assert data["event"]["title"] == {"en": "Rich event", "fr": "Événement riche", "": "Rich"}
    assert data["event"]["nominations_close"] == "2021-10-01 18:00"
    assert data["event"]["sponsored_nominations_close"] == "2021-09-15 12:30:15"
    assert data["event"]["description"] == "Two lines\nof description.\n"
    # The second 02:30 of the night daylight saving time ends keeps its offset
    # (a plain 02:30 reads as the first).
    opening, panel = data["sessions"]
    assert opening["starts"] == "2021-10-31T02:30+01:00"
    assert opening["ends"] == "2021-10-31 03:30"
    assert panel["floor"] == {
        "precedence": ["civil_society", "state_party"],
        "time_limits": {"state_party": 300, "civil_society": None},
        "point_of_order": None,
        "right_of_reply": 90,
    }
    assert panel["questions"]["moderated"] is False
    assert data["delegations"][0] == {"key": "no", "name": "Norway", "kind": "state_party", "member_limit": 4}
    assert data["delegations"][1]["focal_point"] == {"name": "Sok Dara", "email": "dara@example.org", "language": "fr"}
    people = {person["key"]: person for person in data["participants"]}
    assert people["no-4"]["roles"] == []
    assert "roles" not in people["no-2"]
    assert people["no-3"]["sessions"] == ["panel", "opening"]
    assert people["interp"]["booth"] == "fr" and people["interp"]["works_from"] == ["en", "es"]
    assert people["capt"]["captions"] == "en"
    assert people["chair"]["email"] == "suda@example.org"
    assert [question["key"] for question in data["questions"]] == ["q1", "q2"]
    # The committee and its terms; the roles it gives in the panel are derived, not written.
    assert panel["committee"] == "cooperation"
    (committee,) = data["committees"]
    assert committee["name"] == {"en": "Committee on Cooperation", "fr": "Comité sur la coopération"}
    assert committee["memberships"][0] == {
        "state": "no",
        "name": "Norway",
        "role": "chair",
        "start": date(2021, 1, 1),
        "end": date(2021, 12, 31),
    }
    assert "role" not in committee["memberships"][1]
    assert "- {state: 'no', name: Norway, role: chair, start: 2021-01-01, end: 2021-12-31}" in first
    assert people["no-2"].get("session_roles") is None
    assert data["questions"][0]["text"] == "Une question ?"


async def test_ambiguous_local_time_reads_back_the_same(db):
    # 02:30 happens twice in Brussels on 2021-10-31: the first (+02:00) is what
    # a plain "02:30" reads as, so it is written plain; the second keeps its offset.
    text = RICH.replace('"2021-10-31 02:30+01:00"', '"2021-10-31 02:30+02:00"')
    await load_event(db, parse_event(text), SECRET)
    exported = await export_event(db, "rich-event")
    assert "starts: 2021-10-31 02:30\n" in exported
    async with db() as session:
        row = await session.scalar(select(models.Session).where(models.Session.key == "opening"))
    spec = parse_event(exported)
    assert spec.session_times(spec.sessions[0])[0] == row.starts_at


async def test_unknown_event(db):
    with pytest.raises(EventExportError, match="no event 'nope'"):
        await export_event(db, "nope")


async def test_a_key_no_file_can_hold_is_refused(db):
    await load_event(db, parse_event(RICH), SECRET)
    async with db() as session, session.begin():
        row = await session.scalar(select(models.Participant).where(models.Participant.key == "no-4"))
        row.key = "bad key!"
    with pytest.raises(EventExportError, match="not a valid key"):
        await export_event(db, "rich-event")


def test_cli_export_event(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from server.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIBUNE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("TRIBUNE_SECRET", "cli-secret")
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(DEMO)]).exit_code == 0
    result = runner.invoke(main, ["export", "event", "coop-assist-2020", "-o", "out.yaml"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out.yaml").read_text("utf-8")
    assert parse_event(text).event.slug == "coop-assist-2020"
    assert runner.invoke(main, ["export", "event", "coop-assist-2020"]).output == text
    missing = runner.invoke(main, ["export", "event", "nope"])
    assert missing.exit_code == 1 and "no event 'nope'" in missing.output


def test_new_fields_are_checked_with_their_lines():
    text = textwrap.dedent("""\
        event:
          slug: checks
          title: Checks
          timezone: Europe/Brussels
          max_delegation_members: 1
          nominations_close: "2021-02-30 10:00"
        delegations:
          - {key: a, name: A, kind: state_party, member_limit: 0}
          - key: b
            name: B
            kind: state_party
            member_limit: 2
            focal_point: {name: F, email: f@example.org, language: ar}
          - {key: c, name: C, kind: state_party, focal_point: {email: c@x, language: de}}
          - {key: d, name: D, kind: state_party, focal_point: {name: D, email: d@example.org}}
        participants:
          - {key: b1, name: B1, delegation: b, email: b1@example.org, language: fr}
          - {key: b2, name: B2, delegation: b}
          - {key: b3, name: B3, delegation: b}
          - {key: d1, name: D1, delegation: d, language: ru}
          - {key: c1, name: C1, delegation: c}
          - {key: c2, name: C2, delegation: c}
        """)
    with pytest.raises(EventFileError) as caught:
        parse_event(text)
    problems = caught.value.problems
    reasons = "\n".join(f"{line}: {reason}" for line, reason in problems)
    assert "6: event.nominations_close" in reasons
    assert "8: delegations[0].member_limit" in reasons
    assert "14: delegations[2].focal_point.email: 'c@x' is not an e-mail address" in reasons
    assert "14: delegations[2].focal_point.language: 'de' is not a language mail is written in" in reasons
    assert "14: delegations[2].focal_point.name: required" in reasons
    assert "20: participants[3].language: 'ru' is not a language mail is written in" in reasons
    # b's own limit (2) replaces the event's (1): only the third member is too many.
    assert "19: participants[2].delegation: delegation 'b' has more than 2 members (its member_limit)" in reasons
    # c's limit is unknown while c is wrong: its members are not counted.
    assert {line for line, _ in problems} == {6, 8, 14, 19, 20}, reasons


def test_new_fields_are_stored(tmp_path):
    spec = parse_event(RICH)
    assert spec.delegations[0].member_limit == 4
    assert spec.participants[0].email == "suda@example.org"
