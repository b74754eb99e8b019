"""An event written back as an event file (docs/event-format.md).

``tribune export event SLUG`` writes what ``tribune load`` reads, such that
loading the export into an empty database gives the same event: sessions
with their floor rules and guiding questions, delegations, participants with
their roles, sessions and languages, and the questions sent in advance (those
with a key). Keys come in the documented order, times as local wall-clock
times in the event's zone, texts per language as the file gave them, and
values left at their defaults are left out.

What only the live meeting makes (speeches, questions asked in the meeting,
moderation) is not part of an event file; see ``tribune export speeches``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rooms.floor import DEFAULT_TIME_LIMITS
from rooms.roles import Role
from server import models, secretariat
from server.loader import EventInfo, EventSpec, rule_problems
from server.localized import ANY


class EventExportError(Exception):
    """The event is unknown, or what the database holds is no valid event file."""


async def export_event(sessionmaker: async_sessionmaker[AsyncSession], slug: str) -> str:
    """The event file of the event ``slug``, as YAML text."""
    async with sessionmaker() as db:
        event = await db.scalar(select(models.Event).where(models.Event.slug == slug))
        if event is None:
            raise EventExportError(f"no event {slug!r}")
        spec = await read_event_spec(db, event)
    problems = rule_problems(spec)
    if problems:
        raise EventExportError(
            f"event {slug!r} cannot be written as a file that loads again: "
            + "; ".join(f"{'.'.join(str(part) for part in path)}: {reason}" for path, reason in problems)
        )
    return event_yaml(spec)


# --- the database as a spec -------------------------------------------------------


async def read_event_spec(db: AsyncSession, event: models.Event) -> EventSpec:
    """The event as the spec of a file that would load it (validated)."""
    zone = ZoneInfo(event.timezone)
    sessions = list(
        await db.scalars(
            # The secretariat's desk is where registration runs, not a session of the programme.
            select(models.Session)
            # Breakout groups are made in the meeting, not by the file.
            .where(
                models.Session.event_id == event.id,
                models.Session.kind != secretariat.KIND,
                models.Session.parent_id.is_(None),
            )
            .order_by(models.Session.id)
        )
    )
    session_keys = {row.id: row.key for row in sessions}
    agenda = list(
        await db.scalars(
            select(models.AgendaItem)
            .where(models.AgendaItem.event_id == event.id)
            .order_by(models.AgendaItem.position, models.AgendaItem.id)
        )
    )
    item_keys = {row.id: row.key for row in agenda}
    delegations = list(
        await db.scalars(
            select(models.Delegation).where(models.Delegation.event_id == event.id).order_by(models.Delegation.id)
        )
    )
    delegation_keys = {row.id: row.key for row in delegations}
    topics: dict[int, list[models.QuestionTopic]] = {row.id: [] for row in sessions}
    for topic in await db.scalars(
        select(models.QuestionTopic)
        .where(models.QuestionTopic.session_id.in_(session_keys))
        .order_by(models.QuestionTopic.position, models.QuestionTopic.id)
    ):
        topics[topic.session_id].append(topic)
    committees = list(
        await db.scalars(
            select(models.Committee).where(models.Committee.event_id == event.id).order_by(models.Committee.id)
        )
    )
    committee_keys = {row.id: row.key for row in committees}
    terms: dict[int, list[models.CommitteeMembership]] = {row.id: [] for row in committees}
    for term in await db.scalars(
        select(models.CommitteeMembership)
        .where(models.CommitteeMembership.committee_id.in_(committee_keys))
        .order_by(models.CommitteeMembership.position, models.CommitteeMembership.id)
    ):
        terms[term.committee_id].append(term)
    data: dict[str, Any] = {
        "event": {
            "slug": event.slug,
            "title": _texts(event.titles, event.title),
            "timezone": event.timezone,
            "venue": event.venue,
            "online_url": event.online_url,
            "description": _texts(event.descriptions, event.description),
            "languages": list(event.languages),
            "max_delegation_members": event.max_delegation_members,
            "nominations_close": _local(event.nominations_close_at, zone),
            "sponsored_nominations_close": _local(event.sponsored_nominations_close_at, zone),
        },
        "agenda": [
            {
                "key": row.key,
                "title": _texts(row.titles, row.title),
                "reply_limits": list(row.reply_limits),
                "hold_replies_to_day_end": row.hold_replies_to_day_end,
                "budgets": row.budgets or None,
            }
            for row in agenda
        ],
        "delegations": [_delegation(row) for row in delegations],
        "sessions": [
            {
                **_session(row, topics[row.id], zone, committee_keys),
                "items": [item_keys[i] for i in row.item_ids or [] if i in item_keys],
            }
            for row in sessions
        ],
        "participants": await _participants(db, event.id, session_keys, delegation_keys),
        "questions": await _questions(db, session_keys, topics, zone),
        "committees": [_committee(row, terms[row.id]) for row in committees],
    }
    try:
        return EventSpec.model_validate(data)
    except ValidationError as error:
        reasons = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors(include_url=False)
        )
        raise EventExportError(f"event {event.slug!r} holds what an event file cannot say: {reasons}") from None


def _texts(texts: Mapping[str, str] | None, plain: str | None) -> dict[str, str]:
    if texts:
        return dict(texts)
    return {ANY: plain} if plain else {}


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """Wall-clock time in the zone; with its offset only where the wall clock
    is ambiguous (the hour repeated when daylight saving time ends)."""
    if moment is None:
        return None
    local = moment.astimezone(zone)
    naive = local.replace(tzinfo=None, fold=0)  # as a file reads it
    return naive if naive.replace(tzinfo=zone).astimezone(UTC) == moment else local


def _delegation(row: models.Delegation) -> dict[str, Any]:
    focal = None
    if row.focal_name is not None or row.focal_email is not None:
        focal = {"name": row.focal_name, "email": row.focal_email, "language": row.focal_language}
    return {
        "key": row.key,
        "name": _texts(row.names, row.name),
        "kind": row.kind,
        "member_limit": row.member_limit,
        "focal_point": focal,
    }


def _committee(row: models.Committee, terms: list[models.CommitteeMembership]) -> dict[str, Any]:
    return {
        "key": row.key,
        "name": _texts(row.names, row.name),
        "memberships": [
            {
                "state": term.organisation_key,
                "name": _texts(term.names, term.organisation_name),
                "role": term.role,
                "start": term.start_date,
                "end": term.end_date,
            }
            for term in terms
        ],
    }


def _session(
    row: models.Session, topics: list[models.QuestionTopic], zone: ZoneInfo, committee_keys: dict[int, str]
) -> dict[str, Any]:
    defaults = {tier.value: limit for tier, limit in DEFAULT_TIME_LIMITS.items()}
    return {
        "key": row.key,
        "title": _texts(row.titles, row.title),
        "kind": row.kind,
        "description": _texts(row.descriptions, row.description),
        "languages": row.languages,
        "room": row.room,
        "starts": _local(row.starts_at, zone),
        "ends": _local(row.ends_at, zone),
        "hybrid": row.is_hybrid,
        "floor": {
            "precedence": list(row.precedence),
            # Tiers left out of a file keep their default: only the others are said.
            "time_limits": {
                tier: limit
                for tier, limit in row.time_limits.items()
                if tier not in defaults or defaults[tier] != limit
            },
            "point_of_order": row.point_of_order_limit,
            "right_of_reply": row.right_of_reply_limit,
        },
        "questions": {
            "moderated": row.questions_moderated,
            "topics": [{"key": topic.key, "text": dict(topic.texts)} for topic in topics],
        },
        "committee": committee_keys[row.committee_id] if row.committee_id is not None else None,
    }


async def _participants(
    db: AsyncSession, event_id: int, session_keys: dict[int, str], delegation_keys: dict[int, str]
) -> list[dict[str, Any]]:
    people = list(
        await db.scalars(
            select(models.Participant).where(models.Participant.event_id == event_id).order_by(models.Participant.id)
        )
    )
    ids = [row.id for row in people]
    roles: dict[int, list[str]] = {row.id: [] for row in people}
    session_roles: dict[int, dict[str, list[str]]] = {row.id: {} for row in people}
    for role in await db.scalars(
        select(models.ParticipantRole)
        .where(models.ParticipantRole.participant_id.in_(ids))
        .order_by(models.ParticipantRole.id)
    ):
        if role.from_committee:
            continue  # derived from the committees at each load (server/committee_roles.py)
        if role.session_id is None:
            roles[role.participant_id].append(role.role)
        else:
            session_roles[role.participant_id].setdefault(session_keys[role.session_id], []).append(role.role)
    languages: dict[int, dict[str, models.LanguageAssignment]] = {row.id: {} for row in people}
    for assignment in await db.scalars(
        select(models.LanguageAssignment).where(models.LanguageAssignment.event_id == event_id)
    ):
        if assignment.participant_id in languages:
            languages[assignment.participant_id][assignment.role] = assignment
    entries = []
    for row in people:
        booth = languages[row.id].get(Role.INTERPRETER.value)
        captions = languages[row.id].get(Role.CAPTIONER.value)
        entries.append(
            {
                "key": row.key,
                "name": row.name,
                "title": row.title,
                "delegation": delegation_keys[row.delegation_id] if row.delegation_id is not None else None,
                "roles": roles[row.id],
                "sponsored": row.is_sponsored,
                "sessions": [session_keys[id_] for id_ in row.session_ids] if row.session_ids is not None else None,
                "session_roles": session_roles[row.id],
                "booth": booth.language if booth is not None else None,
                "works_from": list(booth.works_from) if booth is not None else [],
                "captions": captions.language if captions is not None else None,
                "email": row.email,
                "language": row.language,
            }
        )
    return entries


async def _questions(
    db: AsyncSession, session_keys: dict[int, str], topics: dict[int, list[models.QuestionTopic]], zone: ZoneInfo
) -> list[dict[str, Any]]:
    topic_keys = {topic.id: topic.key for session_topics in topics.values() for topic in session_topics}
    authors = {
        row.id: row.key
        for row in await db.scalars(
            select(models.Participant)
            .join(models.Question, models.Question.author_id == models.Participant.id)
            .where(models.Question.session_id.in_(session_keys))
        )
    }
    questions = await db.scalars(
        select(models.Question)
        .where(models.Question.session_id.in_(session_keys), models.Question.key.isnot(None))
        .order_by(models.Question.id)
    )
    return [
        {
            "key": row.key,
            "session": session_keys[row.session_id],
            "author": authors[row.author_id],
            "topic": topic_keys.get(row.topic_id) if row.topic_id is not None else None,
            "language": row.language,
            "submitted": _local(row.submitted_at, zone),
            "anonymous": row.is_anonymous,
            "ask_myself": row.wants_to_ask,
            "text": row.text,
        }
        for row in questions
    ]


# --- the spec as YAML ---------------------------------------------------------------

# Said of the event even at their default value, as the documented example does.
_ALWAYS = {"languages", "max_delegation_members"}
# The order of docs/event-format.md where it differs from the spec's fields.
_QUESTION_ORDER = ("key", "session", "author", "topic", "language", "submitted", "anonymous", "ask_myself", "text")
_TEXTS = {"title", "description", "text", "name"}


def event_yaml(spec: EventSpec) -> str:
    """The spec as an event file: UTF-8 text, readable, loading back to the spec."""
    sections: dict[str, Any] = {"event": _plain(spec.event)}
    for name in ("agenda", "delegations", "committees", "sessions", "participants"):
        items = [_plain(item) for item in getattr(spec, name)]
        if name == "committees":
            for item in items:
                item["memberships"] = [_Flow(term) if _flat(term) else term for term in item.get("memberships", [])]
        if items:
            sections[name] = [_Flow(item) if name == "delegations" and _flat(item) else item for item in items]
    if spec.questions:
        sections["questions"] = [
            {name: plain[name] for name in _QUESTION_ORDER if name in plain}
            for plain in (_plain(question) for question in spec.questions)
        ]
    header = (
        f"# Event file of {spec.event.slug!r}, written by `tribune export event`.\n"
        "# Load it with `tribune load FILE` (docs/event-format.md).\n\n"
    )
    parts = [
        yaml.dump({name: value}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
        for name, value in sections.items()
    ]
    return header + "\n".join(parts)


def _plain(model: BaseModel) -> dict[str, Any]:
    """The fields of a spec that differ from their defaults, as plain YAML values."""
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        always = isinstance(model, EventInfo) and name in _ALWAYS
        if not info.is_required() and not always and value == info.get_default(call_default_factory=True):
            continue
        out[name] = _value(value, name)
    return out


def _value(value: Any, name: str = "") -> Any:
    if isinstance(value, BaseModel):
        plain = _plain(value)
        return _Flow(plain) if name == "focal_point" else plain
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _time_text(value)
    if isinstance(value, dict):
        if name in _TEXTS and set(value) == {ANY}:
            return value[ANY]
        return {_value(key): _value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_value(item) for item in value]
    return value


def _time_text(moment: datetime) -> str:
    text = f"{moment:%Y-%m-%d %H:%M}"
    if moment.second or moment.microsecond:
        text += f":{moment:%S}"
    if moment.microsecond:
        text += f".{moment:%f}"
    if moment.tzinfo is not None:
        offset = f"{moment:%z}"
        text = text.replace(" ", "T") + f"{offset[:3]}:{offset[3:]}"
    return text


def _flat(item: dict[str, Any]) -> bool:
    return not any(isinstance(value, dict | list) for value in item.values())


class _Flow(dict[str, Any]):
    """A mapping written on one line: ``{key: nl, name: Netherlands, kind: state_party}``."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Items of a list indented under their key, as in the documentation.
        super().increase_indent(flow, False)


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    # Lists of plain values on one line ([en, fr]); lists of mappings in blocks.
    flat = all(not isinstance(item, dict | list) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Paragraphs as literal blocks (|), which keep every line break as written.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(_Flow, _represent_flow)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)
