"""The list of participants, as published after a UN meeting, and the
attendance of each session: rows, then CSV or a spreadsheet (openpyxl).

The list groups people by delegation in the order of precedence (States
Parties, observer States, international organisations, civil society; each
alphabetically, accents and case aside), then those with no delegation
("Secretariat and others"). Who is listed: everyone the event file names,
and of those who registered, those approved. E-mail is added only on request
(for organizers); gender and accessibility needs are never in it.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rooms.delegations import DEFAULT_PRECEDENCE, TIER_LABELS, Tier
from server import models
from server.attendance import attended, stays_of

NO_DELEGATION = "Secretariat and others"


@dataclass(frozen=True)
class ListedPerson:
    delegation: str
    kind: str
    name: str
    title: str
    roles: str
    sponsored: bool
    email: str


def _sort_key(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text)
    return "".join(char for char in plain if not unicodedata.combining(char)).casefold()


async def participant_rows(db: AsyncSession, event_id: int) -> list[ListedPerson]:
    registrations = dict(
        (
            await db.execute(
                select(models.Registration.participant_id, models.Registration.state).where(
                    models.Registration.event_id == event_id
                )
            )
        ).all()
    )
    people = (
        await db.scalars(
            select(models.Participant)
            .where(models.Participant.event_id == event_id)
            .options(selectinload(models.Participant.roles), selectinload(models.Participant.delegation))
            .order_by(models.Participant.id)
        )
    ).all()
    order = {tier.value: index for index, tier in enumerate(DEFAULT_PRECEDENCE)}
    listed = []
    for person in people:
        if registrations.get(person.id, "approved") != "approved":
            continue
        delegation = person.delegation
        listed.append(
            (
                (order.get(delegation.kind, 99), _sort_key(delegation.name)) if delegation else (100, ""),
                person.id,
                ListedPerson(
                    delegation=delegation.name if delegation else NO_DELEGATION,
                    kind=TIER_LABELS.get(Tier(delegation.kind), delegation.kind) if delegation else "",
                    name=person.name,
                    title=person.title or "",
                    roles=", ".join(sorted({role.role for role in person.roles})),
                    sponsored=person.is_sponsored,
                    email=person.email or "",
                ),
            )
        )
    listed.sort(key=lambda item: (item[0], item[1]))
    return [person for _, _, person in listed]


def _cell(value: str) -> str:
    # A cell a spreadsheet would run as a formula is written as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def participants_csv(rows: list[ListedPerson], out: TextIO, *, with_contacts: bool = False) -> None:
    writer = csv.writer(out)
    writer.writerow(
        ["delegation", "kind", "name", "title", "roles", "sponsored", *(["email"] if with_contacts else [])]
    )
    for row in rows:
        writer.writerow(
            [
                _cell(row.delegation),
                row.kind,
                _cell(row.name),
                _cell(row.title),
                row.roles,
                "yes" if row.sponsored else "",
                *([row.email] if with_contacts else []),
            ]
        )


def participants_xlsx(rows: list[ListedPerson], title: str, *, with_contacts: bool = False) -> bytes:
    """One sheet: a heading per delegation, its members under it, as the UN's lists are printed."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Participants"
    bold = Font(bold=True)
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    header = ["Name", "Title", "Roles", "Sponsored", *(["E-mail"] if with_contacts else [])]
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = bold
    sheet.freeze_panes = "A3"
    current = None
    for row in rows:
        if row.delegation != current:
            current = row.delegation
            sheet.append([f"{row.delegation}" + (f" ({row.kind})" if row.kind else "")])
            sheet.cell(row=sheet.max_row, column=1).font = bold
        sheet.append(
            [
                _cell(row.name),
                _cell(row.title),
                row.roles,
                "yes" if row.sponsored else "",
                *([row.email] if with_contacts else []),
            ]
        )
    for column, width in zip("ABCDE", (36, 40, 24, 10, 32)):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class AttendanceRow:
    name: str
    delegation: str
    first_join: str
    last_leave: str
    minutes: int


async def attendance_rows(db: AsyncSession, session_id: int, now: datetime) -> list[AttendanceRow]:
    """Per participant who opened the session: first join, last leave (the
    event's time zone) and minutes attended."""
    session = await db.get(models.Session, session_id)
    if session is None:
        return []
    event = await db.get(models.Event, session.event_id)
    assert event is not None
    zone = ZoneInfo(event.timezone)
    each = attended((await stays_of(db, [session_id], now)).get(session_id, []))
    people = {
        person.id: person
        for person in await db.scalars(
            select(models.Participant)
            .where(models.Participant.id.in_([a.participant_id for a in each]))
            .options(selectinload(models.Participant.delegation))
        )
    }
    rows = []
    for stay in sorted(each, key=lambda a: a.first_join):
        person = people.get(stay.participant_id)
        if person is None:
            continue
        rows.append(
            AttendanceRow(
                name=person.name,
                delegation=person.delegation.name if person.delegation else "",
                first_join=stay.first_join.astimezone(zone).isoformat(timespec="seconds"),
                last_leave=stay.last_leave.astimezone(zone).isoformat(timespec="seconds"),
                minutes=round(stay.seconds / 60),
            )
        )
    return rows


def attendance_csv(rows: list[AttendanceRow], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(["name", "delegation", "first_join", "last_leave", "minutes"])
    for row in rows:
        writer.writerow([_cell(row.name), _cell(row.delegation), row.first_join, row.last_leave, row.minutes])


def attendance_xlsx(rows: list[AttendanceRow], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Attendance"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(["Name", "Delegation", "First join", "Last leave", "Minutes"])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A3"
    for row in rows:
        sheet.append([_cell(row.name), _cell(row.delegation), row.first_join, row.last_leave, row.minutes])
    for column, width in zip("ABCDE", (36, 36, 26, 26, 10)):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
