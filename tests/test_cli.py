"""The ``tribune`` command line (all but ``serve``), on a throwaway SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from server import db, models
from server.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "server" / "demo" / "coop-assist-2020.yaml"
TRIBUNE = Path(sys.executable).parent / "tribune"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    values = {
        "TRIBUNE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "TRIBUNE_SECRET": "cli-secret",
        "TRIBUNE_PUBLIC_URL": "https://tribune.example.org",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def _query(url: str, work):
    async def main_():
        engine = db.create_engine(url)
        try:
            return await work(db.sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main_())


def _event_count(url: str) -> int:
    async def count(sessionmaker):
        async with sessionmaker() as session:
            return await session.scalar(select(func.count()).select_from(models.Event))

    return _query(url, count)


def test_load_good_file(env):
    result = run("load", str(DEMO))
    assert result.exit_code == 0, result.output
    assert "coop-assist-2020" in result.output and "43 created" in result.output
    again = run("load", str(DEMO))
    assert again.exit_code == 0
    assert "0 created, 43 updated" in again.output
    assert _event_count(env["TRIBUNE_DATABASE_URL"]) == 1


def test_load_bad_file_exits_1_and_loads_nothing(env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text(encoding="utf-8").replace("delegation: us}", "delegation: usa}"), encoding="utf-8")
    result = run("load", str(bad))
    assert result.exit_code == 1
    assert "bad.yaml:" in result.stderr and "unknown delegation 'usa'" in result.stderr
    assert "Nothing was loaded" in result.stderr
    assert _event_count(env["TRIBUNE_DATABASE_URL"]) == 0


def test_load_missing_file(env, tmp_path):
    result = run("load", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_links_json_and_csv_are_stable(env):
    assert run("load", str(DEMO)).exit_code == 0
    first = run("links", "--format", "json")
    assert first.exit_code == 0
    entries = json.loads(first.stdout)
    assert len(entries) == 43
    assert json.loads(run("links", "--format", "json").stdout) == entries

    chair = next(entry for entry in entries if entry["key"] == "th-chair")
    assert chair["delegation"] == "Thailand" and chair["tier"] == "state_party"
    assert chair["roles"] == ["participant"] and chair["session_roles"] == {"panel": ["chair"]}
    assert chair["url"].startswith("https://tribune.example.org/join/")
    panel = next(session for session in chair["sessions"] if session["key"] == "panel")
    assert panel["roles"] == ["chair"]
    assert {entry["tier"] for entry in entries} >= {
        "state_party",
        "observer_state",
        "international_organisation",
        "civil_society",
    }
    assert len({entry["url"] for entry in entries}) == len(entries)

    table = list(csv.DictReader(io.StringIO(run("links", "--format", "csv").stdout)))
    assert [row["url"] for row in table] == [entry["url"] for entry in entries]
    assert table == list(csv.DictReader(io.StringIO(run("links", "--format", "csv").stdout)))
    interpreter = next(row for row in table if row["key"] == "interp-ils")
    assert interpreter["roles"] == "interpreter" and interpreter["delegation"] == ""

    text = run("links")
    assert text.exit_code == 0 and chair["url"] in text.stdout


def _add_speeches(url: str) -> int:
    async def add(sessionmaker):
        async with sessionmaker() as session, session.begin():
            panel = await session.scalar(select(models.Session).where(models.Session.key == "panel"))
            peru = await session.scalar(select(models.Delegation).where(models.Delegation.key == "pe"))
            speaker = await session.scalar(select(models.Participant).where(models.Participant.key == "pe-panellist"))
            started = datetime(2020, 12, 4, 13, 0, tzinfo=UTC)
            request = models.SpeakingRequest(
                session_id=panel.id,
                delegation_id=peru.id,
                tier="state_party",
                kind="statement",
                status="done",
                requested_at=started - timedelta(minutes=5),
                speaker_id=speaker.id,
                speaker_name=speaker.name,
                language="es",
                note="",
                is_in_room=False,
            )
            session.add(request)
            await session.flush()
            session.add(
                models.Speech(
                    session_id=panel.id,
                    request_id=request.id,
                    started_at=started,
                    ended_at=started + timedelta(seconds=200),
                    paused_s=12.34,
                    limit_s=180,
                    language="es",
                )
            )
            later = models.SpeakingRequest(
                session_id=panel.id,
                delegation_id=peru.id,
                tier="state_party",
                kind="right_of_reply",
                status="speaking",
                requested_at=started,
                speaker_name="Delegate in the room",
                note="",
                is_in_room=True,
            )
            session.add(later)
            await session.flush()
            session.add(
                models.Speech(
                    session_id=panel.id,
                    request_id=later.id,
                    started_at=started + timedelta(minutes=10),
                    paused_s=0.0,
                    limit_s=None,
                )
            )
            return panel.id

    return _query(url, add)


def test_export_speeches(env, tmp_path):
    assert run("load", str(DEMO)).exit_code == 0
    panel_id = _add_speeches(env["TRIBUNE_DATABASE_URL"])

    result = run("export", "speeches", "panel", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "speech_id",
        "session",
        "speaker",
        "delegation",
        "tier",
        "kind",
        "language",
        "is_in_room",
        "started_at",
        "ended_at",
        "duration_s",
        "limit_s",
        "item",
        "override",
    ]
    heard, ongoing = rows
    assert heard["speaker"] == "Rosa Quispe Mamani" and heard["delegation"] == "Peru"
    assert (heard["tier"], heard["kind"], heard["language"], heard["is_in_room"]) == (
        "state_party",
        "statement",
        "es",
        "false",
    )
    assert heard["started_at"] == "2020-12-04T13:00:00+00:00"
    assert heard["ended_at"] == "2020-12-04T13:03:20+00:00"
    assert (heard["duration_s"], heard["limit_s"]) == ("187.7", "180")
    assert (ongoing["kind"], ongoing["is_in_room"], ongoing["ended_at"], ongoing["duration_s"], ongoing["limit_s"]) == (
        "right_of_reply",
        "true",
        "",
        "",
        "",
    )

    # The same session by id and by event/key, written to a file.
    out = tmp_path / "speeches.csv"
    assert run("export", "speeches", str(panel_id), "--output", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == result.stdout
    assert run("export", "speeches", "coop-assist-2020/panel").stdout == result.stdout


def test_export_unknown_session(env):
    assert run("load", str(DEMO)).exit_code == 0
    result = run("export", "speeches", "plenary")
    assert result.exit_code == 1
    assert "no session with id or key 'plenary'" in result.stderr
    assert "no session 'x' in event 'coop-assist-2020'" in run("export", "speeches", "coop-assist-2020/x").stderr


def test_export_ambiguous_session_key(env, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(
        DEMO.read_text(encoding="utf-8").replace("slug: coop-assist-2020", "slug: coop-assist-2021"), encoding="utf-8"
    )
    assert run("load", str(DEMO)).exit_code == 0
    assert run("load", str(other)).exit_code == 0
    result = run("export", "speeches", "panel")
    assert result.exit_code == 1
    assert "coop-assist-2020/panel" in result.stderr and "coop-assist-2021/panel" in result.stderr


def test_migrate(env):
    result = run("migrate")
    assert result.exit_code == 0 and "up to date" in result.output
    assert _event_count(env["TRIBUNE_DATABASE_URL"]) == 0


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["migrate"], ["load"], ["links"], ["export"], ["export", "speeches"]]
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, command + ["--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_real_entry_point(env, tmp_path):
    """The installed console script works end to end."""
    assert TRIBUNE.exists(), f"{TRIBUNE} missing; run pip install -e ."
    environment = {**os.environ, **env}
    loaded = subprocess.run(
        [str(TRIBUNE), "load", str(DEMO)], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr
    links = subprocess.run(
        [str(TRIBUNE), "links", "--format", "json"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert links.returncode == 0, links.stderr
    assert json.loads(links.stdout) == json.loads(run("links", "--format", "json").stdout)


def test_links_from_another_directory_refuse_rather_than_print_dead_links(env, tmp_path, monkeypatch):
    """Without TRIBUNE_SECRET, the secret is the .tribune-secret where the
    server runs; elsewhere, links says so instead of making up a new secret."""
    monkeypatch.delenv("TRIBUNE_SECRET")
    served = tmp_path / "served"
    served.mkdir()
    monkeypatch.chdir(served)
    assert run("load", str(DEMO)).exit_code == 0
    good = run("links", "--format", "json")
    assert good.exit_code == 0 and len(json.loads(good.stdout)) == 43

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    refused = run("links")
    assert refused.exit_code == 1
    assert "No secret here" in refused.stderr and "/join/" not in refused.stdout
    assert not (elsewhere / ".tribune-secret").exists()

    (elsewhere / ".tribune-secret").write_text("another-secret\n")
    refused = run("links")
    assert refused.exit_code == 1
    assert "not the one event coop-assist-2020 was loaded with" in refused.stderr
    assert "/join/" not in refused.stdout
    monkeypatch.setenv("TRIBUNE_SECRET", (served / ".tribune-secret").read_text().strip())
    assert run("links", "--format", "json").stdout == good.stdout


def test_loading_again_with_another_secret_refuses_rather_than_void_the_links(env, tmp_path, monkeypatch):
    monkeypatch.delenv("TRIBUNE_SECRET")
    served = tmp_path / "served"
    served.mkdir()
    monkeypatch.chdir(served)
    assert run("load", str(DEMO)).exit_code == 0
    good = run("links", "--format", "json").stdout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    refused = run("load", str(DEMO))
    assert refused.exit_code == 1
    assert "would void every join link already sent" in refused.stderr and "Nothing was loaded" in refused.stderr
    monkeypatch.chdir(served)
    assert run("links", "--format", "json").stdout == good  # every link still works
    assert run("load", str(DEMO)).exit_code == 0  # where the server runs, loading again is fine


def test_links_carry_the_address_the_server_announced(env, monkeypatch):
    """`tribune serve --port 8765` writes where it is reached; links run beside it carry that, not port 8000."""
    monkeypatch.delenv("TRIBUNE_PUBLIC_URL")
    assert run("load", str(DEMO)).exit_code == 0
    default = json.loads(run("links", "--format", "json").output)
    assert default[0]["url"].startswith("http://127.0.0.1:8000/join/")
    from server.settings import Settings

    Settings(port=8765).remember_address()  # what `tribune serve --port 8765` does before serving
    announced = json.loads(run("links", "--format", "json").output)
    assert all(entry["url"].startswith("http://127.0.0.1:8765/join/") for entry in announced)
    given = json.loads(run("links", "--format", "json", "--url", "https://meet.example.org/").output)
    assert all(entry["url"].startswith("https://meet.example.org/join/") for entry in given)
    monkeypatch.setenv("TRIBUNE_PUBLIC_URL", "https://public.example.org")
    assert json.loads(run("links", "--format", "json").output)[0]["url"].startswith("https://public.example.org/join/")


def test_export_the_list_of_participants_and_the_attendance(env, tmp_path):
    assert run("load", str(DEMO)).exit_code == 0
    listed = run("export", "participants", "coop-assist-2020")
    assert listed.exit_code == 0
    rows = list(csv.reader(io.StringIO(listed.output)))
    assert rows[0][:3] == ["delegation", "kind", "name"] and len(rows) > 10
    kinds = [row[1] for row in rows[1:] if row[1]]
    assert kinds == sorted(
        kinds, key=["State Party", "Observer State", "International organisation", "Civil society"].index
    )
    sheet = tmp_path / "participants.xlsx"
    assert run("export", "participants", "coop-assist-2020", "--format", "xlsx", "-o", str(sheet)).exit_code == 0
    assert sheet.read_bytes()[:2] == b"PK"
    attendance = run("export", "attendance", "coop-assist-2020/opening")
    assert attendance.exit_code == 0, attendance.output
    assert attendance.output.splitlines()[0] == "name,delegation,first_join,last_leave,minutes"
    assert run("export", "participants", "no-such-event").exit_code == 1
