"""Delegations and participants from CSV, on SQLite and PostgreSQL (no mocks)."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import select

from server import models, tokens
from server.csv_import import CsvImportError, import_csv
from server.loader import load_event, parse_event
from tests.test_event_export import snapshot

SECRET = "test-secret"
SLUG = "csv-event"

BASE = textwrap.dedent("""\
    event:
      slug: csv-event
      title: CSV event
      timezone: Europe/Brussels
      languages: [en, fr]
      max_delegation_members: 2
    delegations:
      - {key: nl, name: Netherlands, kind: state_party}
      - {key: us, name: United States of America, kind: observer_state, member_limit: 3}
    sessions:
      - key: panel
        title: Panel
        starts: "2020-12-04 13:30"
        ends: "2020-12-04 15:00"
    participants:
      - key: chair
        name: Suda
        delegation: nl
        session_roles: {panel: [chair]}
      - key: interp
        name: Layla
        roles: [interpreter]
        booth: fr
        works_from: [en]
    """)


@pytest.fixture
async def event(db):
    await load_event(db, parse_event(BASE), SECRET)
    return db


def csv_bytes(text: str) -> bytes:
    return textwrap.dedent(text).encode("utf-8")


async def _revision(db) -> int:
    async with db() as session:
        return await session.scalar(select(models.Event.revision).where(models.Event.slug == SLUG))


async def test_delegations_with_semicolons_and_bom(event):
    data = b"\xef\xbb\xbf" + csv_bytes("""\
        Key;Name;Kind;member_limit;focal_name;focal_email;focal_language
        kh;Cambodia;State Party;5;Sok Dara;dara@example.org;fr
        icbl;"ICBL; the campaign";civil society;;;;
        nl;Kingdom of the Netherlands;STATE_PARTY;;;;
        """)
    before = await _revision(event)
    report = await import_csv(event, SLUG, "delegations", data, SECRET)
    assert (report.counts.created, report.counts.updated, report.counts.kept) == (2, 1, 1)
    assert await _revision(event) == before + 1
    async with event() as session:
        rows = {row.key: row for row in await session.scalars(select(models.Delegation))}
    assert rows["kh"].kind == "state_party" and rows["kh"].member_limit == 5
    assert (rows["kh"].focal_name, rows["kh"].focal_email, rows["kh"].focal_language) == (
        "Sok Dara",
        "dara@example.org",
        "fr",
    )
    assert rows["icbl"].name == "ICBL; the campaign" and rows["icbl"].kind == "civil_society"
    assert rows["nl"].name == "Kingdom of the Netherlands" and rows["us"].member_limit == 3


async def test_participants_keys_roles_tokens(event):
    data = csv_bytes("""\
        name,delegation,roles,email,language,sponsored,title,key
        María López,us,participant,maria@example.org,es,yes,,
        María López,us,,,,no,Adviser,
        Jo,,organizer; moderator,,,,,jo
        Maria Lopez,,observer,,,0,,
        """)
    report = await import_csv(event, SLUG, "participants", data, SECRET)
    assert report.derived_keys == [(2, "maria-lopez"), (3, "maria-lopez-2"), (5, "maria-lopez-3")]
    assert (report.counts.created, report.counts.updated) == (4, 0)
    async with event() as session:
        people = {row.key: row for row in await session.scalars(select(models.Participant))}
        roles = {
            (people_key, role.role)
            for people_key, row in people.items()
            for role in await session.scalars(
                select(models.ParticipantRole).where(models.ParticipantRole.participant_id == row.id)
            )
        }
    first = people["maria-lopez"]
    assert (first.email, first.language, first.is_sponsored, first.title) == ("maria@example.org", "es", True, None)
    assert first.token_hash == tokens.token_hash(tokens.join_token(SECRET, SLUG, "maria-lopez", 1))
    assert people["maria-lopez-2"].title == "Adviser" and not people["maria-lopez-2"].is_sponsored
    assert {("jo", "organizer"), ("jo", "moderator"), ("maria-lopez-2", "participant")} <= roles
    assert ("maria-lopez-3", "observer") in roles


async def test_reimport_updates_in_place_and_keeps_what_csv_does_not_say(event):
    data = csv_bytes("""\
        key,name,delegation,roles
        chair,Suda R.,nl,participant
        interp,Layla K.,,interpreter
        """)
    await import_csv(event, SLUG, "participants", data, SECRET)
    first = await snapshot(event, SLUG)
    async with event() as session:
        ids = {row.key: row.id for row in await session.scalars(select(models.Participant))}
    report = await import_csv(event, SLUG, "participants", data, SECRET)
    assert (report.counts.created, report.counts.updated) == (0, 2)
    async with event() as session:
        assert {row.key: row.id for row in await session.scalars(select(models.Participant))} == ids
    second = await snapshot(event, SLUG)
    first["event"][0].pop("revision")
    second["event"][0].pop("revision")
    assert first == second
    people = {row["key"]: row for row in second["participants"]}
    assert people["chair"]["name"] == "Suda R."
    # The chair keeps chairing the panel, the interpreter her booth.
    assert {"participant_id": "chair", "session_id": "panel", "role": "chair", "from_committee": False} in second[
        "roles"
    ]
    assert second["languages"][0]["participant_id"] == "interp" and second["languages"][0]["language"] == "fr"


async def test_bad_delegation_rows_are_all_listed_and_nothing_changes(event):
    before = await snapshot(event, SLUG)
    data = csv_bytes("""\
        key,name,kind,member_limit,focal_name,focal_email
        kh,Cambodia,state_party,,,
        xx,Nowhere,empire,,,
        kh,Cambodia again,state_party,,,
        fr,France,state_party,0,,
        sn,Senegal,state_party,,Awa,awa-at-example.org
        bad key,Bad,state_party,,,
        """)
    with pytest.raises(CsvImportError) as caught:
        await import_csv(event, SLUG, "delegations", data, SECRET)
    lines = {line for line, _ in caught.value.problems}
    assert lines == {3, 4, 5, 6, 7}, caught.value.problems
    text = str(caught.value)
    assert "line 3: kind: unknown kind 'empire'" in text
    assert "line 4: key: duplicate key 'kh' (already at line 2)" in text
    assert "line 5: member_limit:" in text
    assert "line 6: focal_email: 'awa-at-example.org' is not an e-mail address" in text
    assert "line 7: key: 'bad key' is not a valid key" in text
    assert await snapshot(event, SLUG) == before


async def test_bad_participant_rows_are_all_listed_and_nothing_changes(event):
    before = await snapshot(event, SLUG)
    data = csv_bytes("""\
        key,name,delegation,email,language,sponsored,roles
        a,Ann,xx,,,,
        b,Bob,nl,bob@,,,
        c,Cid,nl,,,,
        d,Dee,nl,,de,,
        e,Eve,us,,,maybe,
        f,Fay,us,,,,king
        g,Gus,nl,,,,
        """)
    with pytest.raises(CsvImportError) as caught:
        await import_csv(event, SLUG, "participants", data, SECRET)
    text = str(caught.value)
    assert "line 2: delegation: unknown delegation 'xx'" in text
    assert "line 3: email: 'bob@' is not an e-mail address" in text
    assert "line 5: language: 'de' is not a language mail is written in" in text
    assert "line 6: sponsored: 'maybe' is not yes or no" in text
    assert "line 7: roles" in text
    # nl allows 2 (the event's limit): the chair and Cid; Gus is one too many.
    assert "line 8: delegation: delegation 'nl' has more than 2 members (max_delegation_members)" in text
    assert {line for line, _ in caught.value.problems} == {2, 3, 5, 6, 7, 8}
    assert await snapshot(event, SLUG) == before


async def test_member_limit_counts_existing_and_imported(event):
    # us has its own limit of 3.
    rows = "".join(f"us-{n},Person {n},us\n" for n in range(4))
    with pytest.raises(CsvImportError) as caught:
        await import_csv(event, SLUG, "participants", b"key,name,delegation\n" + rows.encode(), SECRET)
    assert caught.value.problems == [(5, "delegation: delegation 'us' has more than 3 members (its member_limit)")]
    # Lowering nl's limit below the members it has is refused at the delegation's line.
    await import_csv(event, SLUG, "participants", b"key,name,delegation\nn2,Two,nl\n", SECRET)
    with pytest.raises(CsvImportError) as caught:
        await import_csv(event, SLUG, "delegations", b"key,name,kind,member_limit\nnl,NL,state_party,1\n", SECRET)
    assert caught.value.problems == [(2, "member_limit: delegation 'nl' has more than 1 members (its member_limit)")]


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"key,name,kind\nnl,Pa\xefs-Bas,state_party\n", 2, "the file is not UTF-8 (byte 0xef)"),
        (b"nl,Netherlands,state_party\n", 1, "unknown column 'nl'"),
        (b"key,name,kind,colour\n", 1, "unknown column 'colour'"),
        (b"key,name\n", 1, "missing column 'kind'"),
        (b"\n\n", 1, "the file is empty"),
    ],
)
async def test_unreadable_files(event, data, line, reason):
    before = await snapshot(event, SLUG)
    with pytest.raises(CsvImportError) as caught:
        await import_csv(event, SLUG, "delegations", data, SECRET)
    assert caught.value.problems[0][0] == line and reason in caught.value.problems[0][1]
    assert await snapshot(event, SLUG) == before


async def test_too_large_and_unknown_event(event):
    with pytest.raises(CsvImportError, match="larger than 2 MiB"):
        await import_csv(event, SLUG, "delegations", b"key,name,kind\n" + b"x" * (2 * 1024 * 1024), SECRET)
    with pytest.raises(CsvImportError, match="no event 'nope'"):
        await import_csv(event, "nope", "delegations", b"key,name,kind\n", SECRET)


def test_cli_import(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from server.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIBUNE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("TRIBUNE_SECRET", "cli-secret")
    (tmp_path / "event.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "people.csv").write_text("name;delegation\nAna Silva;us\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("key,name,kind\nxx,X,empire\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["load", "event.yaml"]).exit_code == 0
    result = runner.invoke(main, ["import", "participants", SLUG, "people.csv"])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output and "key ana-silva" in result.output
    bad = runner.invoke(main, ["import", "delegations", SLUG, "bad.csv"])
    assert bad.exit_code == 1
    assert "bad.csv:2: kind: unknown kind 'empire'" in bad.output and "Nothing was imported." in bad.output


async def test_columns_left_out_keep_what_the_event_holds(event):
    await import_csv(
        event,
        SLUG,
        "participants",
        csv_bytes("""\
            key,name,title,roles,email,sponsored
            jo,Jo,Head,organizer moderator,jo@example.org,no
            """),
        SECRET,
    )
    await import_csv(
        event,
        SLUG,
        "delegations",
        b"key,name,kind,member_limit,focal_name,focal_email\nnl,NL,state_party,3,Focal,focal@example.org\n",
        SECRET,
    )
    # Only names: roles, title, e-mail, the limit and the focal point stay.
    await import_csv(event, SLUG, "participants", b"name,key\nJo Jones,jo\n", SECRET)
    await import_csv(event, SLUG, "delegations", b"kind,name,key\nState Party,Nederland,nl\n", SECRET)
    after = await snapshot(event, SLUG)
    jo = next(row for row in after["participants"] if row["key"] == "jo")
    assert (jo["name"], jo["title"], jo["email"]) == ("Jo Jones", "Head", "jo@example.org")
    assert {row["role"] for row in after["roles"] if row["participant_id"] == "jo"} == {"organizer", "moderator"}
    nl = next(row for row in after["delegations"] if row["key"] == "nl")
    assert (nl["name"], nl["member_limit"], nl["focal_name"]) == ("Nederland", 3, "Focal")
    # An empty cell of a column the file has clears it.
    await import_csv(
        event, SLUG, "delegations", b"key,name,kind,member_limit,focal_name,focal_email\nnl,NL,state_party,,,\n", SECRET
    )
    nl = next(row for row in (await snapshot(event, SLUG))["delegations"] if row["key"] == "nl")
    assert (nl["member_limit"], nl["focal_name"], nl["focal_email"]) == (None, None, None)
