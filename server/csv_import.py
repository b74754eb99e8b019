"""Delegations and participants from a spreadsheet (CSV), into an event.

What a secretariat keeps in a spreadsheet, saved as CSV: one row per
delegation or per participant, upserted by key like the event file (see
README.md). The rows are checked with the event file's own specs and rules,
over the event as stored merged with the file, and every bad row is listed
with its line; nothing is written unless every row is good (one transaction).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rooms.delegations import TIER_LABELS, Tier
from rooms.roles import Role
from server import models
from server.committee_roles import derive_committee_roles
from server.event_export import EventExportError, read_event_spec
from server.keys import free_key
from server.loader import (
    Counts,
    DelegationSpec,
    ParticipantSpec,
    rule_problems,
    store_delegations,
    store_participants,
)

What = Literal["delegations", "participants"]

MAX_CSV_BYTES = 2 * 1024 * 1024
COLUMNS: dict[str, tuple[str, ...]] = {
    "delegations": ("key", "name", "kind", "member_limit", "focal_name", "focal_email", "focal_language"),
    "participants": ("key", "name", "title", "delegation", "roles", "email", "language", "sponsored"),
}
REQUIRED: dict[str, tuple[str, ...]] = {"delegations": ("key", "name", "kind"), "participants": ("name",)}

_KINDS = {tier.value: tier for tier in Tier} | {label.lower(): tier for tier, label in TIER_LABELS.items()}
_YES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False, "": False}


class CsvImportError(Exception):
    """A CSV file that cannot be imported: every problem, as (1-based line, reason)."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = sorted(problems, key=lambda problem: problem[0])
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"line {line}: {reason}" if line else reason for line, reason in self.problems)


@dataclass
class ImportReport:
    event_slug: str
    what: str
    counts: Counts = field(default_factory=Counts)
    # Keys made from the name for rows that had none: (line, key).
    derived_keys: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{self.what.capitalize()} of {self.event_slug!r}: {self.counts.created} created, "
            f"{self.counts.updated} updated."
        ]
        lines += [f"  line {line}: key {key}" for line, key in self.derived_keys]
        return "\n".join(lines)


async def import_csv(
    sessionmaker: async_sessionmaker[AsyncSession], event_slug: str, what: What, data: bytes, secret: str
) -> ImportReport:
    """Upsert the file's rows into the event, all or nothing."""
    if not secret:
        raise ValueError("a secret is needed to derive join tokens")
    rows = read_csv(data, what)
    async with sessionmaker() as db, db.begin():
        event = await db.scalar(select(models.Event).where(models.Event.slug == event_slug))
        if event is None:
            raise CsvImportError([(0, f"no event {event_slug!r}")])
        try:
            current = await read_event_spec(db, event)
        except EventExportError as error:
            raise CsvImportError([(0, str(error))]) from None
        report = ImportReport(event.slug, what)
        problems: list[tuple[int, str]] = []
        if what == "delegations":
            known = {item.key: item for item in current.delegations}
            specs = _specs(rows, lambda row: _delegation_row(row, known.get(row["key"])), DelegationSpec, problems)
        else:
            taken = {person.key for person in current.participants} | {row.get("key") or "" for _, row in rows}
            for line, row in rows:
                row.setdefault("key", "")
                if not row["key"] and row["name"]:
                    row["key"] = free_key(row["name"], taken)
                    report.derived_keys.append((line, row["key"]))
            existing = {person.key: person for person in current.participants}
            specs = _specs(rows, lambda row: _participant_row(row, existing.get(row["key"])), ParticipantSpec, problems)
        problems += _duplicate_keys(specs)
        # Each key once (the duplicates are reported); rows that did not
        # validate are left out, so the rules below still see the good ones.
        lines: dict[str, int] = {}
        for line, spec in specs:
            lines.setdefault(spec.key, line)
        imported: list[Any] = [spec for line, spec in specs if lines[spec.key] == line]
        if what == "delegations":
            kept = [item for item in current.delegations if item.key not in lines]
            merged = current.model_copy(update={"delegations": kept + imported})
        else:
            kept_people = [item for item in current.participants if item.key not in lines]
            merged = current.model_copy(update={"participants": kept_people + imported})
        # The event file's rules, over the event as it will be.
        problems += [_placed(path, reason, merged, lines) for path, reason in rule_problems(merged)]
        if problems:
            raise CsvImportError(problems)

        sessions = {
            row.key: row for row in await db.scalars(select(models.Session).where(models.Session.event_id == event.id))
        }
        if what == "delegations":
            await store_delegations(db, event.id, imported, report.counts)
        else:
            delegations = {
                row.key: row
                for row in await db.scalars(select(models.Delegation).where(models.Delegation.event_id == event.id))
            }
            await store_participants(db, event, imported, report.counts, secret, sessions, delegations)
            # Their roles were replaced: those committees give are derived again.
            await derive_committee_roles(db, event)
        # Like a load of the event file: what processes hold of the event is stale.
        event.revision = (event.revision or 0) + 1
    return report


# --- reading the file -------------------------------------------------------------


def read_csv(data: bytes, what: What) -> list[tuple[int, dict[str, str]]]:
    """The rows of the file, each with its line and the columns the file has;
    raise CsvImportError for a file that cannot be read."""
    if len(data) > MAX_CSV_BYTES:
        raise CsvImportError([(0, f"the file is larger than 2 MiB ({MAX_CSV_BYTES:,} bytes)")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise CsvImportError(
            [(line, f"the file is not UTF-8 (byte 0x{data[error.start]:02x}); save it as CSV UTF-8")]
        ) from None
    first = text.split("\n", 1)[0]
    # European spreadsheets write ';' where the decimal comma is taken.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as error:
        raise CsvImportError([(line, f"malformed CSV: {error}")]) from None
    records = [(number, cells) for number, cells in records if any(cell.strip() for cell in cells)]
    if not records:
        raise CsvImportError([(1, "the file is empty: it needs a first line naming the columns")])
    header_line, header = records[0]
    names = [cell.strip().lower() for cell in header]
    known, required = COLUMNS[what], REQUIRED[what]
    problems = []
    unknown = [name for name in names if name not in known]
    if unknown:
        problems.append(
            (
                header_line,
                f"unknown column {unknown[0]!r}: the first line must name the columns, among {', '.join(known)}",
            )
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append((header_line, f"column {name!r} appears twice"))
        seen.add(name)
    missing = [name for name in required if name not in names]
    if missing and not unknown:
        problems.append((header_line, f"missing column {missing[0]!r} (required: {', '.join(required)})"))
    if problems:
        raise CsvImportError(problems)
    rows = []
    for number, cells in records[1:]:
        if len(cells) > len(names) and any(cell.strip() for cell in cells[len(names) :]):
            problems.append((number, f"{len(cells)} cells where the first line names {len(names)} columns"))
            continue
        # Short rows (a spreadsheet drops trailing empty cells) read as empty.
        row = dict.fromkeys(names, "")
        row.update({name: cell.strip() for name, cell in zip(names, cells)})
        rows.append((number, row))
    if problems:
        raise CsvImportError(problems)
    return rows


def _delegation_row(row: dict[str, str], existing: DelegationSpec | None) -> dict[str, Any]:
    """The spec's fields from a row; a column the file leaves out keeps what the event holds."""
    data: dict[str, Any] = existing.model_dump() if existing is not None else {}
    kind = row["kind"]
    data.update(key=row["key"], name=row["name"], kind=_KINDS.get(kind.lower(), kind))
    if "member_limit" in row:
        limit = row["member_limit"]
        data["member_limit"] = (int(limit) if limit.isdigit() else limit) if limit else None
    if any(f"focal_{name}" in row for name in ("name", "email", "language")):
        focal = dict(data.get("focal_point") or {})
        for name in ("name", "email", "language"):
            if f"focal_{name}" in row:
                focal[name] = (row[f"focal_{name}"].lower() if name == "language" else row[f"focal_{name}"]) or None
        given = {name: value for name, value in focal.items() if value is not None}
        data["focal_point"] = given or None
    return data


def _participant_row(row: dict[str, str], existing: ParticipantSpec | None) -> dict[str, Any]:
    """The spec's fields from a row; a column the file leaves out keeps what
    the event holds (and what no column says, such as sessions or a booth)."""
    data: dict[str, Any] = existing.model_dump() if existing is not None else {}
    data.update(key=row["key"], name=row["name"])
    if "title" in row:
        data["title"] = row["title"] or None
    if "delegation" in row:
        data["delegation"] = row["delegation"] or None
    if "roles" in row:
        roles = [role.lower() for role in re.split(r"[;,\s]+", row["roles"]) if role]
        data["roles"] = roles or [Role.PARTICIPANT.value]
    if "email" in row:
        data["email"] = row["email"] or None
    if "language" in row:
        data["language"] = row["language"].lower() or None
    if "sponsored" in row:
        data["sponsored"] = _YES.get(row["sponsored"].lower(), row["sponsored"])
    return data


def _specs(
    rows: list[tuple[int, dict[str, str]]], build: Any, model: Any, problems: list[tuple[int, str]]
) -> list[tuple[int, Any]]:
    specs = []
    for line, row in rows:
        try:
            specs.append((line, model.model_validate(build(row))))
        except ValidationError as error:
            problems += [(line, _reason(item)) for item in error.errors(include_url=False)]
    return specs


def _reason(item: Any) -> str:
    loc = [str(part) for part in item["loc"]]
    column = "focal_" + loc[1] if loc[0] == "focal_point" and len(loc) > 1 else loc[0]
    if item["type"] == "missing":
        return f"{column}: required"
    if column == "kind":
        tiers = ", ".join(tier.value for tier in Tier)
        return f"kind: unknown kind {item['input']!r} (use {tiers}, or {', '.join(TIER_LABELS.values())})"
    if column == "sponsored" and item["type"] == "bool_type":
        return f"sponsored: {item['input']!r} is not yes or no"
    message = item["msg"].removeprefix("Value error, ")
    return f"{column}: {message}" if item["type"] == "value_error" else f"{column}: {message}, got {item['input']!r}"


def _duplicate_keys(specs: list[tuple[int, Any]]) -> list[tuple[int, str]]:
    first: dict[str, int] = {}
    problems = []
    for line, spec in specs:
        if spec.key in first:
            problems.append((line, f"key: duplicate key {spec.key!r} (already at line {first[spec.key]})"))
        else:
            first[spec.key] = line
    return problems


def _placed(path: tuple[str | int, ...], reason: str, merged: Any, lines: dict[str, int]) -> tuple[int, str]:
    """A problem of the merged event, at the line of the row it comes from."""
    if len(path) >= 2 and isinstance(path[1], int):
        item = getattr(merged, str(path[0]))[path[1]]
        column = f"{path[2]}: " if len(path) > 2 else ""
        if item.key in lines:
            return lines[item.key], column + reason
        delegation = getattr(item, "delegation", None)
        if delegation in lines:
            # A delegation's new limit, broken by the members it already has.
            return lines[delegation], f"member_limit: {reason}"
        return 0, f"{path[0]} {item.key!r} (not in the file): {column}{reason}"
    return 0, reason
