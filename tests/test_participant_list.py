"""The list of participants (server/participant_list.py), as published
after a UN meeting: by delegation in the order of precedence."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlalchemy import update

from server import models
from server.participant_list import NO_DELEGATION, participant_rows, participants_csv, participants_xlsx


async def test_by_delegation_in_the_order_of_precedence_with_only_the_approved(db, world):
    async with db() as s, s.begin():
        # Names are given in an order that is not the list's.
        s.add(models.Delegation(event_id=world.event_id, key="at", name="Österreich", kind="state_party"))
        s.add(models.Delegation(event_id=world.event_id, key="ao", name="Angola", kind="state_party"))
        await s.execute(update(models.Participant).values(email="x@example.org"))
        for key, state in (("france2", "pending"), ("usa", "rejected"), ("peru", "approved")):
            s.add(
                models.Registration(
                    participant_id=world.participants[key],
                    event_id=world.event_id,
                    state=state,
                    token_hash=f"{key:x<64}",
                    token_version=1,
                    gender="woman",
                    accessibility=["wheelchair"],
                    accessibility_note="",
                    languages=[],
                    nominated_at=datetime.now(UTC),
                )
            )
    async with db() as s:
        rows = await participant_rows(s, world.event_id)
    order = [(row.delegation, row.name) for row in rows]
    delegations = list(dict.fromkeys(delegation for delegation, _ in order))
    assert delegations == [
        "France",
        "Peru",
        "Thailand",
        "International Committee of the Red Cross",
        "International Campaign to Ban Landmines",
        NO_DELEGATION,
    ]
    names = [name for _, name in order]
    assert "Second delegate of France" not in names  # pending
    assert "Delegate of the United States" not in names  # rejected: the observer State has no one listed
    assert "Delegate of Peru" in names  # approved
    out = io.StringIO()
    participants_csv(rows, out)
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table[0] == ["delegation", "kind", "name", "title", "roles", "sponsored"]
    assert "woman" not in out.getvalue() and "wheelchair" not in out.getvalue() and "@" not in out.getvalue()
    with_contacts = io.StringIO()
    participants_csv(rows, with_contacts, with_contacts=True)
    assert "x@example.org" in with_contacts.getvalue()
    sheet = load_workbook(io.BytesIO(participants_xlsx(rows, "Test event"))).active
    values = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert values[0] == "Test event" and values[2] == "France (State Party)"
    assert (
        values.index("Peru (State Party)") < values.index("Delegate of Peru") < values.index("Thailand (State Party)")
    )


async def test_a_name_that_looks_like_a_formula_is_written_as_text(db, world):
    async with db() as s, s.begin():
        await s.execute(
            update(models.Participant)
            .where(models.Participant.id == world.participants["peru"])
            .values(name="=HYPERLINK(1)")
        )
    async with db() as s:
        rows = await participant_rows(s, world.event_id)
    out = io.StringIO()
    participants_csv(rows, out)
    assert "'=HYPERLINK(1)" in out.getvalue()
