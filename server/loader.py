"""Load an event described in YAML (see docs/event-format.md).

Parsing and validation happen before any write, so a bad file changes
nothing; every problem is reported with the line it comes from. Loading the
same file again updates the event in place: rows are matched by the event's
slug and, within the event, by key.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from sqlalchemy import delete, select

from interpretation.languages import DEFAULT_LANGUAGES, LANGUAGE_NAMES, is_known
from rooms.delegations import DEFAULT_MAX_MEMBERS, DEFAULT_PRECEDENCE, MAX_SPONSORED, Tier
from rooms.floor import DEFAULT_TIME_LIMITS
from rooms.roles import Role
from server import models, tokens

Path_ = tuple[str | int, ...]


class EventFileError(Exception):
    """An event file that cannot be loaded. ``line`` is 1-based (or None).

    The first problem found is ``line``/``reason``; ``problems`` holds all of
    them, so an organizer can fix several typos in one go."""

    def __init__(self, filename: str, line: int | None, reason: str, problems: list[tuple[int | None, str]] | None = None):
        self.filename = filename
        self.line = line
        self.reason = reason
        self.problems = problems or [(line, reason)]
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(_locate(self.filename, line, reason) for line, reason in self.problems)


def _locate(filename: str, line: int | None, reason: str) -> str:
    return f"{filename}:{line}: {reason}" if line is not None else f"{filename}: {reason}"


# --- the format ---------------------------------------------------------------


def _key(value: str) -> str:
    # Keys end up in URLs and in "EVENT/SESSION" references, so keep them plain.
    if not value or len(value) > 100 or not all(c.isalnum() or c in "-_." for c in value) or not value[0].isalnum():
        raise ValueError(f"{value!r} is not a valid key (use letters, digits, '-', '_' or '.', starting with a letter or digit; at most 100)")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Brussels')") from None
    return value


def _language(value: str) -> str:
    if not is_known(value):
        raise ValueError(f"unknown language {value!r} (known: {', '.join(LANGUAGE_NAMES)})")
    return value


Key = Annotated[str, AfterValidator(_key)]
Seconds = Annotated[StrictInt, Field(ge=0)]
Text = Annotated[str, Field(min_length=1, max_length=300)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventInfo(_Spec):
    slug: Key
    title: Text
    timezone: Annotated[str, AfterValidator(_time_zone)]
    venue: Text | None = None
    online_url: Annotated[str, Field(max_length=500)] | None = None
    description: str = ""
    languages: list[Annotated[str, AfterValidator(_language)]] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    max_delegation_members: Annotated[StrictInt, Field(ge=1)] = DEFAULT_MAX_MEMBERS


class DelegationSpec(_Spec):
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Tier


class FloorSpec(_Spec):
    precedence: list[Tier] = Field(default_factory=lambda: list(DEFAULT_PRECEDENCE), min_length=1)
    # Tiers left out keep their default limit (rooms.floor.DEFAULT_TIME_LIMITS).
    time_limits: dict[Tier, Seconds | None] = Field(default_factory=dict)
    point_of_order: Seconds | None = 60
    right_of_reply: Seconds | None = 120


class SessionSpec(_Spec):
    key: Key
    title: Text
    kind: Annotated[str, Field(min_length=1, max_length=40)] = "meeting"
    description: str = ""
    room: Annotated[str, Field(max_length=200)] | None = None
    # Local wall-clock times in the event's time zone.
    starts: datetime
    ends: datetime
    hybrid: StrictBool = True
    floor: FloorSpec = Field(default_factory=FloorSpec)


class ParticipantSpec(_Spec):
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    title: Annotated[str, Field(max_length=200)] | None = None
    delegation: Key | None = None
    roles: list[Role] = Field(default_factory=lambda: [Role.PARTICIPANT])
    sponsored: StrictBool = False
    sessions: list[Key] | None = None
    session_roles: dict[Key, list[Role]] = Field(default_factory=dict)


class EventSpec(_Spec):
    event: EventInfo
    delegations: list[DelegationSpec] = Field(default_factory=list)
    sessions: list[SessionSpec] = Field(default_factory=list)
    participants: list[ParticipantSpec] = Field(default_factory=list)

    def session_times(self, session: SessionSpec) -> tuple[datetime, datetime]:
        """The session's start and end as aware UTC datetimes."""
        zone = ZoneInfo(self.event.timezone)
        return _to_utc(session.starts, zone), _to_utc(session.ends, zone)


def _to_utc(moment: datetime, zone: ZoneInfo) -> datetime:
    # A time written with an offset is taken as is; a plain one is local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc)


# The model that a mapping at a given place in the file follows, by the name of
# the list or field holding it; used to suggest the intended key for a typo.
_MODEL_AT = {"event": EventInfo, "delegations": DelegationSpec, "sessions": SessionSpec,
             "participants": ParticipantSpec, "floor": FloorSpec}


# --- parsing and validation -----------------------------------------------------


def parse_event(text: str, filename: str = "event.yaml") -> EventSpec:
    """Parse and validate an event file; raise EventFileError on any problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        reason = "malformed YAML: " + " ".join(str(part) for part in (getattr(error, "context", None), getattr(error, "problem", None)) if part) if mark else f"malformed YAML: {error}"
        raise EventFileError(filename, mark.line + 1 if mark else None, reason) from None
    if root is None:
        raise EventFileError(filename, None, "the file is empty")
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise EventFileError(filename, _line(root), "the file must be a mapping with 'event', 'delegations', 'sessions' and 'participants'")
    problems = _duplicate_mapping_keys(root)
    if not problems:
        try:
            spec = EventSpec.model_validate(data)
        except ValidationError as error:
            problems = [_from_pydantic(root, item) for item in error.errors()]
        else:
            problems = [(_line(_node_at(root, path)), f"{_dotted(path)}: {reason}") for path, reason in _check_rules(spec)]
    if problems:
        problems.sort(key=lambda problem: problem[0] if problem[0] is not None else 0)
        line, reason = problems[0]
        raise EventFileError(filename, line, reason, problems)
    return spec


def _from_pydantic(root: yaml.Node, item: dict) -> tuple[int | None, str]:
    loc = item["loc"]
    path = tuple(part for part in loc if part != "[key]")
    kind = item["type"]
    if kind == "extra_forbidden":
        reason = f"unknown key {loc[-1]!r}"
        model = next((_MODEL_AT[part] for part in reversed(loc[:-1]) if part in _MODEL_AT), EventSpec)
        close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
        if close:
            reason += f" (did you mean {close[0]!r}?)"
        path = path[:-1]
    elif kind == "missing":
        reason = "required"
    else:
        message = item["msg"].removeprefix("Value error, ")
        reason = message if kind == "value_error" else f"{message}, got {item['input']!r}"
        if loc and loc[-1] == "[key]":
            reason = f"key {loc[-2]!r}: {reason}"
    return _line(_node_at(root, loc)), f"{_dotted(path)}: {reason}" if path else reason


def _check_rules(spec: EventSpec) -> list[tuple[Path_, str]]:
    """The rules pydantic cannot see: references, duplicates, delegation size."""
    problems: list[tuple[Path_, str]] = []
    problems += _duplicates(spec.event.languages, ("event", "languages"), "language")
    for name in ("delegations", "sessions", "participants"):
        problems += _duplicates([item.key for item in getattr(spec, name)], (name,), "key", suffix="key")
    for index, session in enumerate(spec.sessions):
        where = ("sessions", index)
        starts, ends = spec.session_times(session)
        if ends <= starts:
            problems.append((where + ("ends",), f"the session ends ({session.ends:%Y-%m-%d %H:%M}) before it starts ({session.starts:%Y-%m-%d %H:%M})"))
        problems += _duplicates(session.floor.precedence, where + ("floor", "precedence"), "tier")

    delegations = {delegation.key: delegation for delegation in spec.delegations}
    sessions = {session.key for session in spec.sessions}
    members: Counter[str] = Counter()
    sponsored: Counter[str] = Counter()
    limit = spec.event.max_delegation_members
    for index, person in enumerate(spec.participants):
        where = ("participants", index)
        problems += _duplicates(person.roles, where + ("roles",), "role")
        if person.delegation is not None:
            if person.delegation not in delegations:
                problems.append((where + ("delegation",), f"unknown delegation {person.delegation!r}"))
            else:
                members[person.delegation] += 1
                if members[person.delegation] == limit + 1:
                    problems.append((where + ("delegation",), f"delegation {person.delegation!r} has more than {limit} members (max_delegation_members)"))
                if person.sponsored:
                    sponsored[person.delegation] += 1
                    if sponsored[person.delegation] == MAX_SPONSORED + 1:
                        problems.append((where + ("sponsored",), f"delegation {person.delegation!r} has more than {MAX_SPONSORED} sponsored member"))
        for position, key in enumerate(person.sessions or ()):
            if key not in sessions:
                problems.append((where + ("sessions", position), f"unknown session {key!r}"))
        if person.sessions is not None:
            problems += _duplicates(person.sessions, where + ("sessions",), "session")
        for key, roles in person.session_roles.items():
            if key not in sessions:
                problems.append((where + ("session_roles", key), f"unknown session {key!r}"))
            elif person.sessions is not None and key not in person.sessions:
                problems.append((where + ("session_roles", key), f"session {key!r} is not among this participant's sessions"))
            problems += _duplicates(roles, where + ("session_roles", key), "role")
    return problems


def _duplicates(values, where: Path_, what: str, suffix: str | None = None) -> list[tuple[Path_, str]]:
    seen: dict[Any, int] = {}
    problems = []
    for index, value in enumerate(values):
        if value in seen:
            path = where + (index,) + ((suffix,) if suffix else ())
            problems.append((path, f"duplicate {what} {str(value)!r} (already at {where[-1]}[{seen[value]}])"))
        else:
            seen[value] = index
    return problems


def _duplicate_mapping_keys(node: yaml.Node, path: Path_ = ()) -> list[tuple[int | None, str]]:
    # PyYAML silently keeps the last of two equal keys; an organizer who
    # wrote "title" twice almost certainly meant something else.
    problems = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append((_line(key_node), f"{_dotted(path + (key,))}: key {key!r} appears twice"))
            seen.add(key)
            problems += _duplicate_mapping_keys(value_node, path + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_mapping_keys(item, path + (index,))
    return problems


def _node_at(root: yaml.Node, loc) -> yaml.Node:
    """The deepest node of the file along a validation path."""
    node = root
    for part in loc:
        if part == "[key]":
            # The key itself was wrong: the walk stopped on its value; good enough.
            break
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# --- storing --------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    # Rows of the event that the file no longer mentions; they are kept.
    kept: int = 0


@dataclass
class LoadReport:
    event_slug: str
    event_id: int
    event_created: bool
    sessions: Counts = field(default_factory=Counts)
    delegations: Counts = field(default_factory=Counts)
    participants: Counts = field(default_factory=Counts)

    def summary(self) -> str:
        verb = "created" if self.event_created else "updated"
        lines = [f"Event {self.event_slug!r} {verb} (id {self.event_id})."]
        for name in ("sessions", "delegations", "participants"):
            counts: Counts = getattr(self, name)
            line = f"  {name}: {counts.created} created, {counts.updated} updated"
            if counts.kept:
                line += f", {counts.kept} kept (no longer in the file)"
            lines.append(line)
        return "\n".join(lines)


async def load_event_file(sessionmaker, path: str | Path, secret: str) -> LoadReport:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise EventFileError(path.name, None, f"cannot read the file: {error}") from None
    return await load_event(sessionmaker, parse_event(text, path.name), secret)


async def load_event(sessionmaker, spec: EventSpec, secret: str) -> LoadReport:
    """Create or update the event in one transaction (all or nothing)."""
    if not secret:
        raise ValueError("a secret is needed to derive join tokens")
    async with sessionmaker() as db, db.begin():
        event = await db.scalar(select(models.Event).where(models.Event.slug == spec.event.slug))
        created = event is None
        if created:
            event = models.Event(slug=spec.event.slug)
            db.add(event)
        info = spec.event
        event.title, event.timezone, event.venue = info.title, info.timezone, info.venue
        event.online_url, event.description = info.online_url, info.description
        event.languages, event.max_delegation_members = list(info.languages), info.max_delegation_members
        await db.flush()
        report = LoadReport(event.slug, event.id, created)

        sessions = await _upsert(db, models.Session, event.id, spec.sessions, report.sessions,
                                 lambda row, item: _fill_session(row, item, spec))
        delegations = await _upsert(db, models.Delegation, event.id, spec.delegations, report.delegations,
                                    _fill_delegation)
        participants = await _upsert(
            db, models.Participant, event.id, spec.participants, report.participants,
            lambda row, item: _fill_participant(row, item, event.slug, secret, sessions, delegations))

        # Roles are replaced wholesale; deleting first keeps the unique
        # (participant, session, role) constraint happy whatever the flush order.
        await db.execute(delete(models.ParticipantRole).where(
            models.ParticipantRole.participant_id.in_([row.id for row in participants.values()])))
        for person in spec.participants:
            participant_id = participants[person.key].id
            db.add_all(models.ParticipantRole(participant_id=participant_id, session_id=None, role=role.value)
                       for role in person.roles)
            for key, roles in person.session_roles.items():
                db.add_all(models.ParticipantRole(participant_id=participant_id, session_id=sessions[key].id, role=role.value)
                           for role in roles)
        await db.flush()
    return report


async def _upsert(db, model, event_id: int, items, counts: Counts, fill) -> dict[str, Any]:
    existing = {row.key: row for row in await db.scalars(select(model).where(model.event_id == event_id))}
    rows = {}
    for item in items:
        row = existing.get(item.key)
        if row is None:
            row = model(event_id=event_id, key=item.key)
            db.add(row)
            counts.created += 1
        else:
            counts.updated += 1
        fill(row, item)
        rows[item.key] = row
    counts.kept = len(set(existing) - set(rows))
    await db.flush()
    return rows


def _fill_session(row: models.Session, item: SessionSpec, spec: EventSpec) -> None:
    row.title, row.kind, row.description, row.room = item.title, item.kind, item.description, item.room
    row.starts_at, row.ends_at = spec.session_times(item)
    row.is_hybrid = item.hybrid
    row.precedence = [tier.value for tier in item.floor.precedence]
    limits = {**DEFAULT_TIME_LIMITS, **item.floor.time_limits}
    row.time_limits = {tier.value: limit for tier, limit in limits.items()}
    row.point_of_order_limit = item.floor.point_of_order
    row.right_of_reply_limit = item.floor.right_of_reply
    # last_seq and is_list_closed belong to the live meeting: left alone.
    if row.id is None:
        row.last_seq, row.is_list_closed = 0, False


def _fill_delegation(row: models.Delegation, item: DelegationSpec) -> None:
    row.name, row.kind = item.name, item.kind.value


def _fill_participant(row: models.Participant, item: ParticipantSpec, slug: str, secret: str, sessions, delegations) -> None:
    row.name, row.title, row.is_sponsored = item.name, item.title, item.sponsored
    row.delegation_id = delegations[item.delegation].id if item.delegation else None
    row.session_ids = [sessions[key].id for key in item.sessions] if item.sessions is not None else None
    if row.token_version is None:
        row.token_version = 1
    row.token_hash = tokens.token_hash(tokens.join_token(secret, slug, item.key, row.token_version))
