"""Loading event files, against SQLite and PostgreSQL."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from rooms.delegations import Tier
from server import models, tokens
from server.loader import EventFileError, load_event, load_event_file, parse_event

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "server" / "demo" / "coop-assist-2020.yaml"
DOC = ROOT / "docs" / "event-format.md"
SECRET = "test-secret"


@pytest.fixture
def sessionmaker(db):
    # The suite's one database fixture: SQLite, and PostgreSQL when reachable.
    return db


VALID = textwrap.dedent("""\
    event:
      slug: test-event
      title: Test event
      timezone: Europe/Brussels
      languages: [en, fr]
    delegations:
      - {key: nl, name: Netherlands, kind: state_party}
      - {key: us, name: United States of America, kind: observer_state}
      - {key: eu, name: European Union, kind: international_organisation}
      - {key: hi, name: Humanity & Inclusion, kind: civil_society}
    sessions:
      - key: opening
        title: Opening
        starts: "2020-12-04 13:30"
        ends: "2020-12-04 13:45"
      - key: panel
        title: Panel
        kind: panel
        starts: "2020-12-04 13:45"
        ends: "2020-12-04 15:10"
        floor:
          precedence: [state_party, civil_society]
          time_limits: {civil_society: 90, observer_state: null}
          point_of_order: null
    participants:
      - key: chair
        name: Suda R.
        delegation: nl
        session_roles: {panel: [chair, participant]}
      - key: nl-2
        name: Pieter
        delegation: nl
        sponsored: true
      - key: us-1
        name: Jennifer
        delegation: us
        sessions: [panel]
      - key: interp
        name: Layla
        roles: [interpreter]
    """)


async def _count(sessionmaker) -> dict[str, int]:
    async with sessionmaker() as session:
        counts = {}
        for model in (models.Event, models.Session, models.Delegation, models.Participant, models.ParticipantRole):
            counts[model.__tablename__] = await session.scalar(select(func.count()).select_from(model))
        return counts


async def _snapshot(sessionmaker) -> list:
    async with sessionmaker() as session:
        rows = []
        for model in (models.Event, models.Session, models.Delegation, models.Participant, models.ParticipantRole):
            for row in await session.scalars(select(model).order_by(model.id)):
                rows.append({column.key: getattr(row, column.key) for column in model.__table__.columns})
        return rows


async def test_valid_file_loads(sessionmaker):
    report = await load_event(sessionmaker, parse_event(VALID, "event.yaml"), SECRET)
    assert report.event_created
    assert (report.sessions.created, report.delegations.created, report.participants.created) == (2, 4, 4)

    async with sessionmaker() as session:
        event = await session.scalar(select(models.Event))
        assert (event.slug, event.languages, event.max_delegation_members) == ("test-event", ["en", "fr"], 3)
        sessions = {row.key: row for row in await session.scalars(select(models.Session))}
        opening, panel = sessions["opening"], sessions["panel"]
        # 13:30 in Brussels in December is 12:30 UTC.
        assert opening.starts_at.isoformat() == "2020-12-04T12:30:00+00:00"
        assert opening.precedence == [tier.value for tier in Tier]
        assert opening.time_limits["state_party"] == 180
        assert (opening.point_of_order_limit, opening.right_of_reply_limit) == (60, 120)
        assert panel.precedence == ["state_party", "civil_society"]
        assert panel.time_limits == {
            "state_party": 180,
            "observer_state": None,
            "international_organisation": 120,
            "civil_society": 90,
        }
        assert panel.point_of_order_limit is None

        people = {row.key: row for row in await session.scalars(select(models.Participant))}
        assert people["nl-2"].is_sponsored
        assert people["us-1"].session_ids == [panel.id]
        assert people["chair"].session_ids is None
        assert people["interp"].delegation_id is None
        token = tokens.join_token(SECRET, "test-event", "chair", 1)
        assert people["chair"].token_hash == tokens.token_hash(token)

        roles = {
            (row.participant_id, row.session_id, row.role)
            for row in await session.scalars(select(models.ParticipantRole))
        }
        chair = people["chair"].id
        assert {(chair, None, "participant"), (chair, panel.id, "chair"), (chair, panel.id, "participant")} <= roles
        assert (people["interp"].id, None, "interpreter") in roles


async def test_loading_twice_updates(sessionmaker, tmp_path):
    path = tmp_path / "event.yaml"
    path.write_text(VALID)
    await load_event_file(sessionmaker, path, SECRET)
    before = await _count(sessionmaker)
    async with sessionmaker() as session, session.begin():
        panel = await session.scalar(select(models.Session).where(models.Session.key == "panel"))
        panel.last_seq = 7  # live state must survive a reload

    path.write_text(
        VALID.replace("title: Panel", "title: Panel discussion").replace(
            "session_roles: {panel: [chair, participant]}", "session_roles: {panel: [chair]}"
        )
    )
    report = await load_event_file(sessionmaker, path, SECRET)

    assert not report.event_created
    assert (report.sessions.created, report.sessions.updated) == (0, 2)
    assert (report.participants.created, report.participants.updated) == (0, 4)
    after = await _count(sessionmaker)
    assert after == {**before, "participant_roles": before["participant_roles"] - 1}
    async with sessionmaker() as session:
        panel = await session.scalar(select(models.Session).where(models.Session.key == "panel"))
        assert (panel.title, panel.last_seq) == ("Panel discussion", 7)
        # Every load moves the event's revision: running processes drop what they held (server/held.py).
        assert (await session.get(models.Event, panel.event_id)).revision == 2


async def test_items_left_out_are_kept(sessionmaker):
    await load_event(sessionmaker, parse_event(VALID, "event.yaml"), SECRET)
    shorter = VALID.split("  - key: interp")[0]
    report = await load_event(sessionmaker, parse_event(shorter, "event.yaml"), SECRET)
    assert report.participants.kept == 1
    assert (await _count(sessionmaker))["participants"] == 4


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


BAD = [
    # (what, replace this, with this, line marker, words in the reason)
    ("unknown key", "    title: Panel\n", "    title: Panel\n    titel: oops\n", "titel: oops", "unknown key 'titel'"),
    ("bad type", "sponsored: true", "sponsored: 3", "sponsored: 3", "valid boolean"),
    ("missing key", "  - key: opening\n    title: Opening\n", "  - key: opening\n", "key: opening", "title: required"),
    ("unknown tier", "kind: observer_state", "kind: observer", "kind: observer", "observer_state"),
    ("unknown role", "roles: [interpreter]", "roles: [interpretor]", "interpretor", "interpretor"),
    ("unknown language", "languages: [en, fr]", "languages: [en, xx]", "languages: [en, xx]", "unknown language 'xx'"),
    ("unknown time zone", "Europe/Brussels", "Europe/Bruxelles", "Bruxelles", "unknown time zone"),
    (
        "unknown precedence tier",
        "precedence: [state_party, civil_society]",
        "precedence: [state_party, ngo]",
        "precedence",
        "'ngo'",
    ),
    (
        "duplicate tier",
        "precedence: [state_party, civil_society]",
        "precedence: [state_party, state_party]",
        "precedence",
        "duplicate tier",
    ),
    (
        "duplicate key",
        "{key: hi, name: Humanity",
        "{key: nl, name: Humanity",
        "key: nl, name: Humanity",
        "duplicate key 'nl'",
    ),
    (
        "duplicate mapping key",
        "    title: Opening\n",
        "    title: Opening\n    title: Again\n",
        "title: Again",
        "appears twice",
    ),
    (
        "unknown delegation",
        "delegation: us",
        "delegation: xx",
        "delegation: xx",
        "participants[2].delegation: unknown delegation 'xx'",
    ),
    (
        "unknown session",
        "sessions: [panel]",
        "sessions: [panel, plenary]",
        "sessions: [panel, plenary]",
        "unknown session 'plenary'",
    ),
    (
        "unknown session in session_roles",
        "session_roles: {panel:",
        "session_roles: {plenary:",
        "plenary",
        "unknown session 'plenary'",
    ),
    (
        "too many members",
        "  - key: interp\n    name: Layla\n",
        "  - {key: nl-3, name: C, delegation: nl}\n  - {key: nl-4, name: D, delegation: nl}\n  - key: interp\n    name: Layla\n",
        "key: nl-4",
        "more than 3 members",
    ),
    ("two sponsored", "    name: Suda R.\n", "    name: Suda R.\n    sponsored: true\n", "name: Pieter", None),
    (
        "ends before it starts",
        'ends: "2020-12-04 13:45"',
        'ends: "2020-12-04 13:00"',
        '"2020-12-04 13:00"',
        "before it starts",
    ),
    (
        "negative time limit",
        "civil_society: 90",
        "civil_society: -90",
        "civil_society: -90",
        "greater than or equal to 0",
    ),
    ("malformed YAML", "  languages: [en, fr]", "  languages: [en, fr", "timezone", "malformed YAML"),
]


@pytest.mark.parametrize("what, old, new, marker, words", BAD, ids=[case[0] for case in BAD])
async def test_bad_file_is_rejected_and_changes_nothing(sessionmaker, what, old, new, marker, words):
    await load_event(sessionmaker, parse_event(VALID, "event.yaml"), SECRET)
    before = await _snapshot(sessionmaker)
    assert old in VALID, what
    text = VALID.replace(old, new, 1).replace("title: Test event", "title: Changed")

    with pytest.raises(EventFileError) as caught:
        await load_event(sessionmaker, parse_event(text, "event.yaml"), SECRET)

    error = caught.value
    if what == "two sponsored":
        # The second sponsored member is the one reported.
        second = [n for n, line in enumerate(text.splitlines(), 1) if "sponsored: true" in line][1]
        assert error.line == second and "sponsored member" in error.reason
    elif what == "malformed YAML":
        assert error.line is not None and words in error.reason
    else:
        assert error.line == _line_of(text, marker), str(error)
        assert words in error.reason, str(error)
    assert str(error).startswith(f"event.yaml:{error.line}: ")
    assert await _snapshot(sessionmaker) == before


async def test_database_error_rolls_back(sessionmaker):
    await load_event(sessionmaker, parse_event(VALID, "event.yaml"), SECRET)
    # A second event whose participant gets the same token hash as one already
    # stored: the unique constraint fails halfway through the load.
    other = VALID.replace("slug: test-event", "slug: other-event").replace("title: Test event", "title: Other")
    spec = parse_event(other, "other.yaml")
    async with sessionmaker() as session, session.begin():
        chair = await session.scalar(select(models.Participant).where(models.Participant.key == "chair"))
        chair.token_hash = tokens.token_hash(tokens.join_token(SECRET, "other-event", "interp", 1))
    before = await _snapshot(sessionmaker)
    with pytest.raises(IntegrityError):
        await load_event(sessionmaker, spec, SECRET)
    assert await _snapshot(sessionmaker) == before


def test_error_message_names_file_line_and_path():
    text = VALID.replace("delegation: us", "delegation: xx")
    with pytest.raises(EventFileError) as caught:
        parse_event(text, "event.yaml")
    line = _line_of(text, "delegation: xx")
    assert str(caught.value) == f"event.yaml:{line}: participants[2].delegation: unknown delegation 'xx'"


def test_several_problems_are_all_reported():
    text = VALID.replace("kind: observer_state", "kind: observer").replace("roles: [interpreter]", "roles: [spy]")
    with pytest.raises(EventFileError) as caught:
        parse_event(text, "event.yaml")
    assert len(caught.value.problems) == 2
    assert caught.value.line == _line_of(text, "kind: observer")


def test_empty_and_non_mapping_files():
    with pytest.raises(EventFileError, match="empty"):
        parse_event("", "e.yaml")
    with pytest.raises(EventFileError) as caught:
        parse_event("- a\n- b\n", "e.yaml")
    assert caught.value.line == 1


def test_aliases_that_multiply_are_refused_at_their_line():
    # "Billion laughs": nine levels of nine aliases would make 387 million
    # values; were they expanded, this test would hang.
    lines = ['lol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"lol{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    with pytest.raises(EventFileError) as caught:
        parse_event("\n".join(lines) + "\n", "event.yaml")
    error = caught.value
    assert "YAML aliases" in error.reason and error.line is not None, str(error)
    assert str(error).startswith(f"event.yaml:{error.line}: ")
    assert "*" in lines[error.line - 1]


def test_sessions_can_still_share_floor_rules_through_an_alias():
    more = (
        '  - {key: closing, title: Closing, starts: "2020-12-04 15:10", ends: "2020-12-04 15:30", floor: *rules}\n'
        '  - {key: late, title: Late, starts: "2020-12-04 15:30", ends: "2020-12-04 16:00",\n'
        "     floor: {<<: *rules, point_of_order: 30}}\n"
    )
    text = VALID.replace("    floor:\n", "    floor: &rules\n").replace("participants:\n", more + "participants:\n")
    spec = parse_event(text, "event.yaml")
    assert spec.sessions[2].floor == spec.sessions[1].floor
    assert spec.sessions[2].floor.time_limits[Tier.CIVIL_SOCIETY] == 90
    # A merge key is no duplicate key, and a problem is found where it is written.
    assert (spec.sessions[3].floor.point_of_order, spec.sessions[3].floor.right_of_reply) == (30, 120)
    with pytest.raises(EventFileError) as caught:
        parse_event(text.replace("point_of_order: 30", "point_of_order: -30"), "event.yaml")
    assert caught.value.problems == [
        (
            _line_of(text, "point_of_order: 30"),
            "sessions[3].floor.point_of_order: Input should be greater than or equal to 0, got -30",
        )
    ]


async def test_file_over_the_size_limit_is_refused(sessionmaker, tmp_path):
    path = tmp_path / "event.yaml"
    # The documented limit is 2 MiB: a valid file padded with comments just past it.
    comment = "# " + "x" * 97 + "\n"
    path.write_text(VALID + comment * (2 * 1024 * 1024 // len(comment)), encoding="utf-8")
    with pytest.raises(EventFileError) as caught:
        await load_event_file(sessionmaker, path, SECRET)
    assert (
        str(caught.value)
        == "event.yaml: the file is larger than 2 MiB (2,097,152 bytes), the most an event file may be"
    )
    with pytest.raises(EventFileError, match="larger than 2 MiB"):
        parse_event(path.read_text(encoding="utf-8"), "event.yaml")


async def test_file_not_in_utf8_is_refused_at_its_line(sessionmaker, tmp_path):
    text = VALID.replace("name: Pieter", "name: Piéter")
    path = tmp_path / "event.yaml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(EventFileError) as caught:
        await load_event_file(sessionmaker, path, SECRET)
    line = _line_of(text, "Piéter")
    assert str(caught.value) == f"event.yaml:{line}: the file is not UTF-8 (byte 0xe9); save it as UTF-8"


def test_type_errors_do_not_hide_other_problems():
    text = (
        VALID.replace("    title: Opening\n", "    title: Opening\n    title: Again\n")
        .replace("sponsored: true", "sponsored: 3")
        .replace("delegation: us", "delegation: xx")
        .replace('ends: "2020-12-04 15:10"', 'ends: "2020-12-04 12:00"')
    )
    with pytest.raises(EventFileError) as caught:
        parse_event(text, "event.yaml")
    problems = caught.value.problems
    assert [line for line, _ in problems] == [
        _line_of(text, "title: Again"),
        _line_of(text, '"2020-12-04 12:00"'),
        _line_of(text, "sponsored: 3"),
        _line_of(text, "delegation: xx"),
    ], str(caught.value)
    reasons = " | ".join(reason for _, reason in problems)
    for words in ("appears twice", "before it starts", "valid boolean", "unknown delegation 'xx'"):
        assert words in reasons


UNREADABLE = [
    # (what, replace this, with this, line marker, words in the reason)
    (
        "impossible date",
        'starts: "2020-12-04 13:30"',
        "starts: 2020-12-32 13:30:00",
        "2020-12-32",
        "day is out of range",
    ),
    (
        "alias inside its own anchor",
        "roles: [interpreter]",
        "roles: &self [*self]",
        "&self",
        "inside the part it names",
    ),
    ("control character", "name: Layla", "name: La\x07yla", "La\x07yla", "unacceptable character"),
    ("deep nesting", "name: Layla", "name: " + "[" * 60 + "]" * 60, "[[[", "more than 50 levels deep"),
]


@pytest.mark.parametrize("what, old, new, marker, words", UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_unreadable_values_are_reported_at_their_line(what, old, new, marker, words):
    assert old in VALID, what
    text = VALID.replace(old, new, 1)
    with pytest.raises(EventFileError) as caught:
        parse_event(text, "event.yaml")
    assert caught.value.line == _line_of(text, marker) and words in caught.value.reason, str(caught.value)


def _doc_example() -> str:
    match = re.search(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, "docs/event-format.md has no ```yaml block"
    return match.group(1)


async def test_doc_example_loads(sessionmaker):
    report = await load_event(sessionmaker, parse_event(_doc_example(), "event-format.md"), SECRET)
    assert report.sessions.created == 3 and report.participants.created == 10


async def test_demo_loads_with_every_tier(sessionmaker):
    report = await load_event_file(sessionmaker, DEMO, SECRET)
    assert report.event_slug == "coop-assist-2020"
    async with sessionmaker() as session:
        kinds = set(await session.scalars(select(models.Delegation.kind)))
        assert kinds == {tier.value for tier in Tier}
        event = await session.scalar(select(models.Event))
        assert event.languages == ["ar", "en", "fr", "es", "ils"]
        sessions = list(await session.scalars(select(models.Session).order_by(models.Session.starts_at)))
        assert [s.key for s in sessions] == ["opening", "panel", "conclusions"]
        assert sessions[0].starts_at.isoformat() == "2020-12-04T12:30:00+00:00"
        assert sessions[-1].ends_at.isoformat() == "2020-12-04T14:30:00+00:00"
        panel = sessions[1]
        chair_roles = await session.scalars(
            select(models.ParticipantRole.role)
            .join(models.Participant)
            .where(models.Participant.key == "th-chair", models.ParticipantRole.session_id == panel.id)
        )
        assert list(chair_roles) == ["chair"]
        interpreters = await session.scalar(
            select(func.count()).select_from(models.ParticipantRole).where(models.ParticipantRole.role == "interpreter")
        )
        assert interpreters >= 5
