"""Load an event described in YAML (see docs/event-format.md).

Parsing and validation happen before any write, so a bad file changes
nothing; every problem is reported with the line it comes from. Loading the
same file again updates the event in place: rows are matched by the event's
slug and, within the event, by key.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
)
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from interpretation.channels import is_sign_language
from rooms.agenda import MAX_REPLIES, MAX_REPLY_SECONDS, MIN_REPLY_SECONDS, UN_REPLY_LIMITS
from rooms.budgets import MAX_BUDGET_SECONDS
from rooms.committees import Committee, CommitteeRole, Membership
from rooms.delegations import DEFAULT_MAX_MEMBERS, DEFAULT_PRECEDENCE, MAX_SPONSORED, Tier
from rooms.errors import Refused
from rooms.floor import DEFAULT_TIME_LIMITS
from rooms.languages import DEFAULT_LANGUAGES, LANGUAGE_NAMES, is_known
from rooms.roles import Role
from server import models, tokens
from server.committee_roles import derive_committee_roles
from server.links import WrongSecret
from server.localized import LocalizedText, LocalizedTitle, longest, primary
from server.question_loader import load_questions

Path_ = tuple[str | int, ...]


class EventFileError(Exception):
    """An event file that cannot be loaded. ``line`` is 1-based (or None).

    The first problem found is ``line``/``reason``; ``problems`` holds all of
    them, so an organizer can fix several typos in one go."""

    def __init__(
        self, filename: str, line: int | None, reason: str, problems: list[tuple[int | None, str]] | None = None
    ):
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
        raise ValueError(
            f"{value!r} is not a valid key (use letters, digits, '-', '_' or '.', starting with a letter or digit; at most 100)"
        )
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


# What mail and private pages are written in: the page languages (server/i18n.py).
CORRESPONDENCE_LANGUAGES = ("ar", "en", "es", "fr")
# An address's shape only (something@domain.tld, no spaces); delivery tells the rest.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _email(value: str) -> str:
    if len(value) > 320 or not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address (name@example.org)")
    return value


def _correspondence_language(value: str) -> str:
    if value not in CORRESPONDENCE_LANGUAGES:
        raise ValueError(f"{value!r} is not a language mail is written in ({', '.join(CORRESPONDENCE_LANGUAGES)})")
    return value


Key = Annotated[str, AfterValidator(_key)]
Email = Annotated[str, AfterValidator(_email)]
MailLanguage = Annotated[str, AfterValidator(_correspondence_language)]
Seconds = Annotated[StrictInt, Field(ge=0)]
Text = Annotated[str, Field(min_length=1, max_length=300)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Language = Annotated[str, AfterValidator(_language)]


class EventInfo(_Spec):
    slug: Key
    title: LocalizedTitle
    timezone: Annotated[str, AfterValidator(_time_zone)]
    venue: Text | None = None
    online_url: Annotated[str, Field(max_length=500)] | None = None
    description: LocalizedText = Field(default_factory=dict)
    languages: list[Language] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    max_delegation_members: Annotated[StrictInt, Field(ge=1)] = DEFAULT_MAX_MEMBERS
    # Local times in the event's time zone, like a session's; left out: open.
    nominations_close: datetime | None = None
    sponsored_nominations_close: datetime | None = None


class FocalPointSpec(_Spec):
    """Who nominates the delegation's members."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Email
    language: MailLanguage | None = None


class DelegationSpec(_Spec):
    key: Key
    # One name, or one per language ({en: Cambodia, fr: Cambodge, ...}).
    name: Annotated[LocalizedTitle, AfterValidator(lambda texts: longest(texts, 200))]
    kind: Tier
    # "Unless otherwise indicated": this delegation's own limit; None: the event's.
    member_limit: Annotated[StrictInt, Field(ge=1)] | None = None
    focal_point: FocalPointSpec | None = None


class FloorSpec(_Spec):
    precedence: list[Tier] = Field(default_factory=lambda: list(DEFAULT_PRECEDENCE), min_length=1)
    # Tiers left out keep their default limit (rooms.floor.DEFAULT_TIME_LIMITS).
    time_limits: dict[Tier, Seconds | None] = Field(default_factory=dict)
    point_of_order: Seconds | None = 60
    right_of_reply: Seconds | None = 120


class TopicSpec(_Spec):
    """A guiding question of the session, announced in advance."""

    key: Key
    text: Annotated[LocalizedText, Field(min_length=1)]


class SessionQuestionsSpec(_Spec):
    # False: questions are shown to the audience as soon as they are sent.
    moderated: StrictBool = True
    topics: list[TopicSpec] = Field(default_factory=list)


class MembershipSpec(_Spec):
    """One State's term in a committee, both dates included (YYYY-MM-DD)."""

    state: Key
    name: LocalizedTitle
    role: CommitteeRole = CommitteeRole.MEMBER
    start: date
    end: date


class CommitteeSpec(_Spec):
    key: Key
    name: LocalizedTitle
    memberships: list[MembershipSpec] = Field(default_factory=list)


class SessionSpec(_Spec):
    key: Key
    title: LocalizedTitle
    kind: Annotated[str, Field(min_length=1, max_length=40)] = "meeting"
    description: LocalizedText = Field(default_factory=dict)
    # The languages the session is interpreted into, among the event's; left
    # out: all of the event's.
    languages: list[Language] | None = None
    room: Annotated[str, Field(max_length=200)] | None = None
    # Local wall-clock times in the event's time zone.
    starts: datetime
    ends: datetime
    hybrid: StrictBool = True
    floor: FloorSpec = Field(default_factory=FloorSpec)
    questions: SessionQuestionsSpec = Field(default_factory=SessionQuestionsSpec)
    # The agenda items the session takes up, in order; the first is discussed first.
    items: list[Key] = Field(default_factory=list)
    # The committee meeting in this session: its chair on the session's date
    # chairs it (server/committee_roles.py).
    committee: Key | None = None


class ParticipantSpec(_Spec):
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    title: Annotated[str, Field(max_length=200)] | None = None
    delegation: Key | None = None
    roles: list[Role] = Field(default_factory=lambda: [Role.PARTICIPANT])
    sponsored: StrictBool = False
    sessions: list[Key] | None = None
    session_roles: dict[Key, list[Role]] = Field(default_factory=dict)
    # Interpretation: the booth an interpreter works in (its target language)
    # and the languages they work from; the language a captioner types.
    booth: Annotated[str, AfterValidator(_language)] | None = None
    works_from: list[Annotated[str, AfterValidator(_language)]] = Field(default_factory=list)
    captions: Annotated[str, AfterValidator(_language)] | None = None
    email: Email | None = None
    language: MailLanguage | None = None

    def has_role(self, role: Role) -> bool:
        return role in self.roles or any(role in roles for roles in self.session_roles.values())


class QuestionSpec(_Spec):
    """A question sent in advance (at registration), imported as pre-submitted."""

    key: Key
    session: Key
    author: Key
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]
    language: Language
    topic: Key | None = None
    anonymous: StrictBool = False
    # "I wish to ask it myself".
    ask_myself: StrictBool = False
    # Local time in the event's time zone; left out: when first loaded.
    submitted: datetime | None = None


ReplySeconds = Annotated[StrictInt, Field(ge=MIN_REPLY_SECONDS, le=MAX_REPLY_SECONDS)]


BudgetSeconds = Annotated[StrictInt, Field(ge=1, le=MAX_BUDGET_SECONDS)]


class BudgetGroupSpec(_Spec):
    """A named group of delegations sharing a budget (a regional group)."""

    delegations: list[Key] = Field(min_length=1)
    seconds: BudgetSeconds


class BudgetsSpec(_Spec):
    """Speaking-time budgets on an item (rooms/budgets.py), in seconds: each
    delegation's, each tier's, and each named group's."""

    per_delegation: BudgetSeconds | None = None
    per_tier: dict[Tier, BudgetSeconds] = Field(default_factory=dict)
    groups: dict[Annotated[str, StringConstraints(min_length=1, max_length=60)], BudgetGroupSpec] = Field(
        default_factory=dict
    )


class AgendaItemSpec(_Spec):
    """An item of the agenda (rooms/agenda.py), taken up by sessions (their ``items``)."""

    key: Key
    title: LocalizedTitle
    # Seconds of each right of reply a delegation may make on the item, in
    # order; their number is the limit (the UN General Assembly: 600, 300).
    reply_limits: Annotated[list[ReplySeconds], Field(max_length=MAX_REPLIES)] = Field(
        default_factory=lambda: list(UN_REPLY_LIMITS)
    )
    # Rights of reply are taken in the day's last session on the item.
    hold_replies_to_day_end: StrictBool = False
    budgets: BudgetsSpec | None = None


class EventSpec(_Spec):
    event: EventInfo
    agenda: list[AgendaItemSpec] = Field(default_factory=list)
    delegations: list[DelegationSpec] = Field(default_factory=list)
    sessions: list[SessionSpec] = Field(default_factory=list)
    participants: list[ParticipantSpec] = Field(default_factory=list)
    questions: list[QuestionSpec] = Field(default_factory=list)
    committees: list[CommitteeSpec] = Field(default_factory=list)

    def session_times(self, session: SessionSpec) -> tuple[datetime, datetime]:
        """The session's start and end as aware UTC datetimes."""
        zone = ZoneInfo(self.event.timezone)
        return _to_utc(session.starts, zone), _to_utc(session.ends, zone)


def _to_utc(moment: datetime, zone: ZoneInfo) -> datetime:
    # A time written with an offset is taken as is; a plain one is local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


# The model that a mapping at a given place in the file follows, by the name of
# the list or field holding it; used to suggest the intended key for a typo.
_MODEL_AT: dict[str, type[_Spec]] = {
    "event": EventInfo,
    "delegations": DelegationSpec,
    "sessions": SessionSpec,
    "participants": ParticipantSpec,
    "floor": FloorSpec,
    "questions": QuestionSpec,
    "topics": TopicSpec,
    "focal_point": FocalPointSpec,
    "agenda": AgendaItemSpec,
    "budgets": BudgetsSpec,
    "committees": CommitteeSpec,
    "memberships": MembershipSpec,
}


# --- parsing and validation -----------------------------------------------------

# An event file is typed by hand; a few thousand participants fit in a fraction
# of this. The limit keeps a wrong file (a log, a dump) from being parsed at all.
MAX_FILE_BYTES = 2 * 1024 * 1024
# Aliases let sessions share floor rules (docs/event-format.md), but each one
# repeats a whole part of the file, and aliases of parts holding aliases
# multiply: nine levels of nine aliases make 387 million values out of a few
# hundred bytes ("billion laughs"). What aliases repeat is counted while the
# file is composed, before anything walks the expanded data.
MAX_ALIASED_VALUES = 100_000
# An event file needs about five levels; deeper nesting would only exhaust the
# recursion of the YAML composer and of the checks below.
MAX_DEPTH = 50


class _Refused(Exception):
    """A problem found while reading the YAML itself: 1-based line and reason."""

    def __init__(self, line: int | None, reason: str):
        super().__init__(reason)
        self.line, self.reason = line, reason


class _EventFileLoader(yaml.SafeLoader):
    """The safe loader, refusing aliases that would expand the file out of bounds."""

    def __init__(self, text: str):
        super().__init__(text)
        self.open_anchors: list[str] = []
        self.depth = 0
        self.aliased_values = 0
        # node -> (values in it, levels deep), aliases expanded.
        self.measures: dict[yaml.Node, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            target = super().compose_node(parent, index)
            assert target is not None  # an alias always names a node
            return self._alias(event.anchor or "", line, target)
        if self.depth == MAX_DEPTH:
            raise _Refused(line, f"the file nests more than {MAX_DEPTH} levels deep")
        self.depth += 1
        self.open_anchors.append(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1
            self.open_anchors.pop()

    def _alias(self, anchor: str, line: int, node: yaml.Node) -> yaml.Node:
        if anchor in self.open_anchors:
            raise _Refused(line, f"the YAML alias *{anchor} is inside the part it names (&{anchor})")
        values, levels = self._measure(node)
        if self.depth + levels > MAX_DEPTH:
            raise _Refused(line, f"the YAML alias *{anchor} nests the file more than {MAX_DEPTH} levels deep")
        self.aliased_values += values
        if self.aliased_values > MAX_ALIASED_VALUES:
            raise _Refused(
                line,
                f"YAML aliases repeat too much of the file: with *{anchor} they repeat more than "
                f"{MAX_ALIASED_VALUES:,} values (an alias of a part holding aliases multiplies them); "
                "write the repeated parts out instead",
            )
        return node

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        # Memoized, so measuring shared parts costs once per node of the file.
        if node not in self.measures:
            children = _children(node)
            measures = [self._measure(child) for child in children]
            self.measures[node] = (
                1 + sum(values for values, _ in measures),
                1 + max((levels for _, levels in measures), default=0),
            )
        return self.measures[node]

    # PyYAML flattens merge keys (<<: *rules) into the nodes themselves; flatten
    # copies instead, so that the tree stays as written for the checks of
    # duplicate keys and for the line numbers of problems.
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        copy = _copy_of(node)
        assert isinstance(copy, yaml.MappingNode)
        return super().construct_mapping(copy, deep)

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        node.value = [
            (key, _copy_of(value)) if key.tag == "tag:yaml.org,2002:merge" else (key, value)
            for key, value in node.value
        ]
        super().flatten_mapping(node)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # Some scalars pass YAML's patterns yet fail in Python (2020-12-32,
        # an integer of 5000 digits): report them at their line, not as a crash.
        try:
            return super().construct_object(node, deep)
        except ValueError as error:
            raise _Refused(
                _line(node), f"{_shortened(str(node.value))!r} cannot be read: {str(error).split(';')[0]}"
            ) from None


def _shortened(text: str, most: int = 40) -> str:
    return text if len(text) <= most else text[:most] + "..."


def _copy_of(node: yaml.Node) -> yaml.Node:
    """A copy of a mapping, or of a list of mappings, that flattening can change."""
    if isinstance(node, yaml.MappingNode):
        return yaml.MappingNode(node.tag, list(node.value), node.start_mark, node.end_mark, node.flow_style)
    if isinstance(node, yaml.SequenceNode):
        return yaml.SequenceNode(
            node.tag, [_copy_of(item) for item in node.value], node.start_mark, node.end_mark, node.flow_style
        )
    return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_event(text: str, filename: str = "event.yaml") -> EventSpec:
    """Parse and validate an event file; raise EventFileError on any problem."""
    _check_size(len(text.encode("utf-8", "surrogatepass")), filename)
    root, data = _compose(text, filename)
    if root is None:
        raise EventFileError(filename, None, "the file is empty")
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise EventFileError(
            filename,
            _line(root),
            "the file must be a mapping with 'event', 'delegations', 'sessions' and 'participants'",
        )
    problems = _duplicate_mapping_keys(root)
    spec: EventSpec | None = None
    try:
        spec = EventSpec.model_validate(data)
    except ValidationError as error:
        # Check the rules over what did validate, so that fixing a type error
        # does not merely reveal the next problem.
        problems += [_from_pydantic(root, item) for item in error.errors()]
        parts = _Validated.salvage(data)
    else:
        parts = _Validated.of(spec)
    problems += [(_line(_node_at(root, path)), f"{_dotted(path)}: {reason}") for path, reason in _check_rules(parts)]
    if problems:
        problems.sort(key=lambda problem: problem[0] if problem[0] is not None else 0)
        line, reason = problems[0]
        raise EventFileError(filename, line, reason, problems)
    assert spec is not None  # no problem means the whole file validated
    return spec


def _check_size(size: int, filename: str) -> None:
    if size > MAX_FILE_BYTES:
        raise EventFileError(
            filename,
            None,
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB "
            f"({MAX_FILE_BYTES:,} bytes), the most an event file may be",
        )


def _compose(text: str, filename: str) -> tuple[yaml.Node | None, Any]:
    """The file's node tree (for line numbers) and the data built from that same tree."""
    loader = None
    try:
        # The reader checks every character as it is created.
        loader = _EventFileLoader(text)
        root = loader.get_single_node()
        # Built from the composed tree, so each alias is one shared object.
        return root, loader.construct_document(root) if root is not None else None
    except _Refused as refused:
        raise EventFileError(filename, refused.line, refused.reason) from None
    except yaml.reader.ReaderError as error:
        # The reader knows the position of the bad character, not its line.
        line = text.count("\n", 0, error.position) + 1
        raise EventFileError(filename, line, f"malformed YAML: {str(error).splitlines()[0]}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        reason = (
            "malformed YAML: "
            + " ".join(str(part) for part in (getattr(error, "context", None), getattr(error, "problem", None)) if part)
            if mark
            else f"malformed YAML: {error}"
        )
        raise EventFileError(filename, mark.line + 1 if mark else None, reason) from None
    finally:
        if loader is not None:
            loader.dispose()


def _from_pydantic(root: yaml.Node, item: Any) -> tuple[int | None, str]:
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


_LISTS: dict[str, type[_Spec]] = {
    "agenda": AgendaItemSpec,
    "delegations": DelegationSpec,
    "sessions": SessionSpec,
    "participants": ParticipantSpec,
    "questions": QuestionSpec,
    "committees": CommitteeSpec,
}


@dataclass
class _Validated:
    """The parts of a file that passed validation, each with its place in its list."""

    event: EventInfo | None
    delegations: list[tuple[int, DelegationSpec]]
    sessions: list[tuple[int, SessionSpec]]
    participants: list[tuple[int, ParticipantSpec]]
    # Every key written in the list, valid item or not, so that a reference to
    # an item with a typo elsewhere is not also reported as unknown; None when
    # the list itself is unreadable and references cannot be checked.
    delegation_keys: set[str] | None
    session_keys: set[str] | None
    questions: list[tuple[int, QuestionSpec]] = field(default_factory=list)
    participant_keys: set[str] | None = None
    agenda_keys: set[str] | None = None
    agenda: list[tuple[int, AgendaItemSpec]] = field(default_factory=list)
    committees: list[tuple[int, CommitteeSpec]] = field(default_factory=list)
    committee_keys: set[str] | None = None

    @classmethod
    def of(cls, spec: EventSpec) -> _Validated:
        return cls(
            spec.event,
            list(enumerate(spec.delegations)),
            list(enumerate(spec.sessions)),
            list(enumerate(spec.participants)),
            {item.key for item in spec.delegations},
            {item.key for item in spec.sessions},
            list(enumerate(spec.questions)),
            {item.key for item in spec.participants},
            {item.key for item in spec.agenda},
            list(enumerate(spec.agenda)),
            list(enumerate(spec.committees)),
            {item.key for item in spec.committees},
        )

    @classmethod
    def salvage(cls, data: dict[str, Any]) -> _Validated:
        """The parts of a file that validate on their own when the whole does not."""
        items = {name: _valid_items(model, data.get(name, [])) for name, model in _LISTS.items()}
        return cls(
            _valid_or_none(EventInfo, data.get("event")),
            items["delegations"],
            items["sessions"],
            items["participants"],
            _keys_written(data.get("delegations", [])),
            _keys_written(data.get("sessions", [])),
            items["questions"],
            _keys_written(data.get("participants", [])),
            _keys_written(data.get("agenda", [])),
            items["agenda"],
            items["committees"],
            _keys_written(data.get("committees", [])),
        )


def _valid_or_none(model: type[_Spec], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _valid_items(model: type[_Spec], raw: Any) -> list[tuple[int, Any]]:
    if not isinstance(raw, list):
        return []
    items = ((index, _valid_or_none(model, item)) for index, item in enumerate(raw))
    return [(index, item) for index, item in items if item is not None]


def _keys_written(raw: Any) -> set[str] | None:
    if not isinstance(raw, list):
        return None
    return {item["key"] for item in raw if isinstance(item, dict) and isinstance(item.get("key"), str)}


def rule_problems(spec: EventSpec) -> list[tuple[Path_, str]]:
    """What ``parse_event`` checks beyond the fields of a validated spec
    (references, duplicates, delegation sizes...), as (path, reason)."""
    return _check_rules(_Validated.of(spec))


def _check_rules(parts: _Validated) -> list[tuple[Path_, str]]:
    """The rules pydantic cannot see: references, duplicates, delegation size."""
    problems: list[tuple[Path_, str]] = []
    if parts.event is not None:
        problems += _duplicates(enumerate(parts.event.languages), ("event", "languages"), "language")
    for name in _LISTS:
        problems += _duplicates(
            ((index, item.key) for index, item in getattr(parts, name)), (name,), "key", suffix="key"
        )
    # Without a valid time zone, times are compared as UTC: wrong at most
    # around a change of daylight saving time, and the zone is reported anyway.
    zone = ZoneInfo(parts.event.timezone if parts.event is not None else "UTC")
    for index, session in parts.sessions:
        where = ("sessions", index)
        if _to_utc(session.ends, zone) <= _to_utc(session.starts, zone):
            problems.append(
                (
                    where + ("ends",),
                    f"the session ends ({session.ends:%Y-%m-%d %H:%M}) before it starts ({session.starts:%Y-%m-%d %H:%M})",
                )
            )
        problems += _duplicates(enumerate(session.floor.precedence), where + ("floor", "precedence"), "tier")
        problems += _duplicates(enumerate(session.items), where + ("items",), "agenda item")
        if parts.agenda_keys is not None:
            for position, key in enumerate(session.items):
                if key not in parts.agenda_keys:
                    problems.append((where + ("items", position), f"unknown agenda item {key!r}"))
        problems += _check_session_languages(session, where, parts)
    for index, person in parts.participants:
        problems += _check_participant(person, ("participants", index), parts)
    for index, agenda_item in parts.agenda:
        if agenda_item.budgets is None or parts.delegation_keys is None:
            continue
        for name, group in agenda_item.budgets.groups.items():
            for position, key in enumerate(group.delegations):
                if key not in parts.delegation_keys:
                    problems.append(
                        (
                            ("agenda", index, "budgets", "groups", name, "delegations", position),
                            f"unknown delegation {key!r}",
                        )
                    )
    problems += _check_delegation_sizes(parts)
    for index, person in parts.participants:
        problems += _check_languages(person, ("participants", index), parts.event)
    problems += _check_questions(parts)
    problems += _check_committees(parts)
    return problems


def _check_committees(parts: _Validated) -> list[tuple[Path_, str]]:
    """Each committee's terms (rooms.committees), and the committees sessions name."""
    problems: list[tuple[Path_, str]] = []
    for index, spec in parts.committees:
        committee = Committee(spec.key, primary(spec.name))
        for position, item in enumerate(spec.memberships):
            try:
                committee.add(membership_of(item))
            except Refused as refused:
                where = ("term_ends_before_it_starts", "end"), ("two_chairs", "role"), ("overlapping_terms", "start")
                place = dict(where)[refused.code]
                problems.append((("committees", index, "memberships", position, place), refused.message))
    for index, session in parts.sessions:
        if session.committee is not None and parts.committee_keys is not None:
            if session.committee not in parts.committee_keys:
                problems.append((("sessions", index, "committee"), f"unknown committee {session.committee!r}"))
    return problems


def membership_of(item: MembershipSpec) -> Membership:
    return Membership(item.state, primary(item.name), item.role, item.start, item.end)


def _check_languages(person: ParticipantSpec, where: Path_, event: EventInfo | None) -> list[tuple[Path_, str]]:
    """An interpreter's booth and a captioner's language, against the event's languages."""
    problems: list[tuple[Path_, str]] = []
    offered = set(event.languages) if event is not None else None
    if person.booth is not None:
        if not person.has_role(Role.INTERPRETER):
            problems.append((where + ("booth",), "only an interpreter works in a booth (add the role interpreter)"))
        if offered is not None and person.booth not in offered:
            problems.append((where + ("booth",), f"the event does not offer {person.booth!r} (event.languages)"))
        if not person.works_from:
            problems.append((where + ("booth",), "an interpreter needs works_from: the languages they interpret from"))
        if person.booth in person.works_from:
            problems.append((where + ("works_from",), f"an interpreter into {person.booth!r} does not work from it"))
        problems += _duplicates(enumerate(person.works_from), where + ("works_from",), "language")
    elif person.works_from:
        problems.append((where + ("works_from",), "works_from needs a booth"))
    if person.captions is not None:
        if not person.has_role(Role.CAPTIONER):
            problems.append((where + ("captions",), "only a captioner types captions (add the role captioner)"))
        if offered is not None and person.captions not in offered:
            problems.append((where + ("captions",), f"the event does not offer {person.captions!r} (event.languages)"))
        if is_sign_language(person.captions):
            problems.append((where + ("captions",), "captions are text in a spoken language"))
    return problems


def _check_questions(parts: _Validated) -> list[tuple[Path_, str]]:
    problems: list[tuple[Path_, str]] = []
    topics: dict[str, set[str]] = {}
    for index, session in parts.sessions:
        keys = enumerate(topic.key for topic in session.questions.topics)
        problems += _duplicates(keys, ("sessions", index, "questions", "topics"), "topic", suffix="key")
        topics[session.key] = {topic.key for topic in session.questions.topics}
    languages = set(parts.event.languages) if parts.event is not None else None
    for index, question in parts.questions:
        where: Path_ = ("questions", index)
        if parts.session_keys is not None and question.session not in parts.session_keys:
            problems.append((where + ("session",), f"unknown session {question.session!r}"))
        if parts.participant_keys is not None and question.author not in parts.participant_keys:
            problems.append((where + ("author",), f"unknown participant {question.author!r}"))
        if languages is not None and question.language not in languages:
            problems.append((where + ("language",), f"{question.language!r} is not one of the event's languages"))
        known_topics = topics.get(question.session)
        if question.topic is not None and known_topics is not None and question.topic not in known_topics:
            problems.append((where + ("topic",), f"unknown topic {question.topic!r} in session {question.session!r}"))
    return problems


def _check_session_languages(session: SessionSpec, where: Path_, parts: _Validated) -> list[tuple[Path_, str]]:
    if session.languages is None:
        return []
    problems = _duplicates(enumerate(session.languages), where + ("languages",), "language")
    if parts.event is not None:
        offered = parts.event.languages
        problems += [
            (where + ("languages", index), f"{code!r} is not one of the event's languages ({', '.join(offered)})")
            for index, code in enumerate(session.languages)
            if code not in offered
        ]
    return problems


def _check_participant(person: ParticipantSpec, where: Path_, parts: _Validated) -> list[tuple[Path_, str]]:
    problems = _duplicates(enumerate(person.roles), where + ("roles",), "role")
    if (
        person.delegation is not None
        and parts.delegation_keys is not None
        and person.delegation not in parts.delegation_keys
    ):
        problems.append((where + ("delegation",), f"unknown delegation {person.delegation!r}"))
    sessions = parts.session_keys
    for position, key in enumerate(person.sessions or ()):
        if sessions is not None and key not in sessions:
            problems.append((where + ("sessions", position), f"unknown session {key!r}"))
    if person.sessions is not None:
        problems += _duplicates(enumerate(person.sessions), where + ("sessions",), "session")
    for key, roles in person.session_roles.items():
        if sessions is not None and key not in sessions:
            problems.append((where + ("session_roles", key), f"unknown session {key!r}"))
        elif person.sessions is not None and key not in person.sessions:
            problems.append(
                (where + ("session_roles", key), f"session {key!r} is not among this participant's sessions")
            )
        problems += _duplicates(enumerate(roles), where + ("session_roles", key), "role")
    return problems


def _check_delegation_sizes(parts: _Validated) -> list[tuple[Path_, str]]:
    # Participants that did not validate are not counted: a size problem may
    # show only once they are fixed, but none is reported that is not real.
    problems: list[tuple[Path_, str]] = []
    members: Counter[str] = Counter()
    sponsored: Counter[str] = Counter()
    event_limit = parts.event.max_delegation_members if parts.event is not None else None
    own_limits = {item.key: item.member_limit for _, item in parts.delegations if item.member_limit is not None}
    valid = {item.key for _, item in parts.delegations}
    known = parts.delegation_keys
    for index, person in parts.participants:
        delegation = person.delegation
        if delegation is None or (known is not None and delegation not in known):
            continue
        if known is not None and delegation not in valid:
            continue  # its own limit is unknown until its problem is fixed
        where = ("participants", index)
        members[delegation] += 1
        limit = own_limits.get(delegation, event_limit)
        if limit is not None and members[delegation] == limit + 1:
            setting = "its member_limit" if delegation in own_limits else "max_delegation_members"
            problems.append(
                (where + ("delegation",), f"delegation {delegation!r} has more than {limit} members ({setting})")
            )
        if person.sponsored:
            sponsored[delegation] += 1
            if sponsored[delegation] == MAX_SPONSORED + 1:
                problems.append(
                    (
                        where + ("sponsored",),
                        f"delegation {delegation!r} has more than {MAX_SPONSORED} sponsored member",
                    )
                )
    return problems


def _duplicates(values: Iterable[Any], where: Path_, what: str, suffix: str | None = None) -> list[tuple[Path_, str]]:
    """Values seen before among ``values``, pairs of (place in the list, value)."""
    seen: dict[Any, int] = {}
    problems = []
    for index, value in values:
        if value in seen:
            path = where + (index,) + ((suffix,) if suffix else ())
            problems.append((path, f"duplicate {what} {str(value)!r} (already at {where[-1]}[{seen[value]}])"))
        else:
            seen[value] = index
    return problems


def _duplicate_mapping_keys(
    node: yaml.Node, path: Path_ = (), visited: set[yaml.Node] | None = None
) -> list[tuple[int | None, str]]:
    # PyYAML silently keeps the last of two equal keys; an organizer who
    # wrote "title" twice almost certainly meant something else.
    # A part shared through aliases is looked at (and reported) once.
    visited = set() if visited is None else visited
    if node in visited:
        return []
    visited.add(node)
    problems = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append((_line(key_node), f"{_dotted(path + (key,))}: key {key!r} appears twice"))
            seen.add(key)
            problems += _duplicate_mapping_keys(value_node, path + (key,), visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_mapping_keys(item, path + (index,), visited)
    return problems


def _node_at(root: yaml.Node, loc: Iterable[int | str]) -> yaml.Node:
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
    questions: Counts = field(default_factory=Counts)
    committees: Counts = field(default_factory=Counts)

    def summary(self) -> str:
        verb = "created" if self.event_created else "updated"
        lines = [f"Event {self.event_slug!r} {verb} (id {self.event_id})."]
        for name in ("sessions", "delegations", "participants", "questions", "committees"):
            counts: Counts = getattr(self, name)
            if name == "committees" and counts == Counts():
                continue
            line = f"  {name}: {counts.created} created, {counts.updated} updated"
            if counts.kept:
                line += f", {counts.kept} kept (no longer in the file)"
            lines.append(line)
        return "\n".join(lines)


async def load_event_file(sessionmaker: async_sessionmaker[AsyncSession], path: str | Path, secret: str) -> LoadReport:
    path = Path(path)
    return await load_event(sessionmaker, parse_event(_read_event_file(path), path.name), secret)


def _read_event_file(path: Path) -> str:
    try:
        with path.open("rb") as file:
            # One byte past the limit is enough to refuse a larger file
            # without reading all of it (or an endless device) into memory.
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise EventFileError(path.name, None, f"cannot read the file: {error}") from None
    _check_size(len(raw), path.name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise EventFileError(
            path.name, line, f"the file is not UTF-8 (byte 0x{raw[error.start]:02x}); save it as UTF-8"
        ) from None


async def load_event(sessionmaker: async_sessionmaker[AsyncSession], spec: EventSpec, secret: str) -> LoadReport:
    """Create or update the event in one transaction (all or nothing)."""
    if not secret:
        raise ValueError("a secret is needed to derive join tokens")
    async with sessionmaker() as db, db.begin():
        found = await db.scalar(select(models.Event).where(models.Event.slug == spec.event.slug))
        created = found is None
        event = models.Event(slug=spec.event.slug) if found is None else found
        if created:
            db.add(event)
        info = spec.event
        event.titles, event.descriptions = dict(info.title), dict(info.description)
        event.title, event.description = primary(info.title), primary(info.description)
        event.timezone, event.venue, event.online_url = info.timezone, info.venue, info.online_url
        event.languages, event.max_delegation_members = list(info.languages), info.max_delegation_members
        zone = ZoneInfo(info.timezone)
        event.nominations_close_at = _maybe_utc(info.nominations_close, zone)
        event.sponsored_nominations_close_at = _maybe_utc(info.sponsored_nominations_close, zone)
        event.revision = (event.revision or 0) + 1
        await db.flush()
        report = LoadReport(event.slug, event.id, created)

        items = await _upsert(db, models.AgendaItem, event.id, spec.agenda, Counts(), _fill_agenda_item)
        for position, agenda_item in enumerate(spec.agenda):
            items[agenda_item.key].position = position
        committees = await store_committees(db, event.id, spec.committees, report.committees)
        sessions = await _upsert(
            db,
            models.Session,
            event.id,
            spec.sessions,
            report.sessions,
            lambda row, item: _fill_session(row, item, spec, committees),
        )
        for session_spec in spec.sessions:
            row = sessions[session_spec.key]
            row.item_ids = [items[key].id for key in session_spec.items]
            if row.current_item_id not in row.item_ids:
                row.current_item_id = row.item_ids[0] if row.item_ids else None
        delegations = await store_delegations(db, event.id, spec.delegations, report.delegations)
        participants = await store_participants(
            db, event, spec.participants, report.participants, secret, sessions, delegations
        )
        await load_questions(db, spec, sessions, participants, report.questions)
        await derive_committee_roles(db, event)
    return report


async def store_committees(
    db: AsyncSession, event_id: int, items: list[CommitteeSpec], counts: Counts
) -> dict[str, models.Committee]:
    """Create or update these committees by key; their memberships are replaced wholesale."""
    committees = await _upsert(db, models.Committee, event_id, items, counts, _fill_committee)
    if committees:
        await db.execute(
            delete(models.CommitteeMembership).where(
                models.CommitteeMembership.committee_id.in_([row.id for row in committees.values()])
            )
        )
    for item in items:
        db.add_all(
            models.CommitteeMembership(
                committee_id=committees[item.key].id,
                position=position,
                organisation_key=membership.state,
                organisation_name=primary(membership.name),
                names=dict(membership.name),
                role=membership.role.value,
                start_date=membership.start,
                end_date=membership.end,
            )
            for position, membership in enumerate(item.memberships)
        )
    await db.flush()
    return committees


def _fill_committee(row: models.Committee, item: CommitteeSpec) -> None:
    row.name, row.names = primary(item.name), dict(item.name)


def _maybe_utc(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return _to_utc(moment, zone) if moment is not None else None


async def store_delegations(
    db: AsyncSession, event_id: int, items: list[DelegationSpec], counts: Counts
) -> dict[str, models.Delegation]:
    """Create or update these delegations of the event, by key (others are kept)."""
    return await _upsert(db, models.Delegation, event_id, items, counts, _fill_delegation)


async def store_participants(
    db: AsyncSession,
    event: models.Event,
    people: list[ParticipantSpec],
    counts: Counts,
    secret: str,
    sessions: dict[str, models.Session],
    delegations: dict[str, models.Delegation],
) -> dict[str, models.Participant]:
    """Create or update these participants, by key, with their roles and
    languages (replaced by the specs'); the event's others are kept.

    ``sessions`` and ``delegations`` must hold every key the people name."""
    participants = await _upsert(
        db,
        models.Participant,
        event.id,
        people,
        counts,
        lambda row, item: _fill_participant(row, item, event.slug, secret, sessions, delegations),
    )
    # Roles are replaced wholesale; deleting first keeps the unique
    # (participant, session, role) constraint happy whatever the flush order.
    await db.execute(
        delete(models.ParticipantRole).where(
            models.ParticipantRole.participant_id.in_([row.id for row in participants.values()])
        )
    )
    for person in people:
        participant_id = participants[person.key].id
        db.add_all(
            models.ParticipantRole(participant_id=participant_id, session_id=None, role=role.value)
            for role in person.roles
        )
        for key, roles in person.session_roles.items():
            db.add_all(
                models.ParticipantRole(participant_id=participant_id, session_id=sessions[key].id, role=role.value)
                for role in roles
            )
    await _assign_languages(db, event.id, people, participants)
    await db.flush()
    return participants


async def _assign_languages(
    db: AsyncSession, event_id: int, people: list[ParticipantSpec], rows: dict[str, Any]
) -> None:
    """Booths and captions languages are replaced wholesale, like roles."""
    await db.execute(
        delete(models.LanguageAssignment).where(
            models.LanguageAssignment.participant_id.in_([row.id for row in rows.values()])
        )
    )
    for person in people:
        participant_id = rows[person.key].id
        if person.booth is not None:
            db.add(
                models.LanguageAssignment(
                    event_id=event_id,
                    participant_id=participant_id,
                    role=Role.INTERPRETER.value,
                    language=person.booth,
                    works_from=list(person.works_from),
                )
            )
        if person.captions is not None:
            db.add(
                models.LanguageAssignment(
                    event_id=event_id,
                    participant_id=participant_id,
                    role=Role.CAPTIONER.value,
                    language=person.captions,
                    works_from=[],
                )
            )


async def _upsert(
    db: AsyncSession,
    model: type[Any],
    event_id: int,
    items: Iterable[Any],
    counts: Counts,
    fill: Callable[[Any, Any], None],
) -> dict[str, Any]:
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


def _fill_session(
    row: models.Session, item: SessionSpec, spec: EventSpec, committees: dict[str, models.Committee]
) -> None:
    row.titles, row.descriptions = dict(item.title), dict(item.description)
    row.title, row.description = primary(item.title), primary(item.description)
    row.kind, row.room = item.kind, item.room
    row.languages = list(item.languages) if item.languages is not None else None
    row.starts_at, row.ends_at = spec.session_times(item)
    row.is_hybrid = item.hybrid
    row.precedence = [tier.value for tier in item.floor.precedence]
    limits = {**DEFAULT_TIME_LIMITS, **item.floor.time_limits}
    row.time_limits = {tier.value: limit for tier, limit in limits.items()}
    row.point_of_order_limit = item.floor.point_of_order
    row.right_of_reply_limit = item.floor.right_of_reply
    row.questions_moderated = item.questions.moderated
    row.committee_id = committees[item.committee].id if item.committee is not None else None
    # last_seq and is_list_closed belong to the live meeting: left alone.
    if row.id is None:
        row.last_seq, row.is_list_closed = 0, False


def _fill_agenda_item(row: models.AgendaItem, item: AgendaItemSpec) -> None:
    row.titles, row.title = dict(item.title), primary(item.title)
    row.reply_limits = list(item.reply_limits)
    row.hold_replies_to_day_end = item.hold_replies_to_day_end
    row.budgets = item.budgets.model_dump(mode="json", exclude_defaults=True) if item.budgets is not None else {}


def _fill_delegation(row: models.Delegation, item: DelegationSpec) -> None:
    row.names, row.name = dict(item.name), primary(item.name)
    row.kind, row.member_limit = item.kind.value, item.member_limit
    focal = item.focal_point
    row.focal_name = focal.name if focal is not None else None
    row.focal_email = focal.email if focal is not None else None
    row.focal_language = focal.language if focal is not None else None


def _fill_participant(
    row: models.Participant,
    item: ParticipantSpec,
    slug: str,
    secret: str,
    sessions: dict[str, models.Session],
    delegations: dict[str, models.Delegation],
) -> None:
    row.name, row.title, row.is_sponsored = item.name, item.title, item.sponsored
    row.email, row.language = item.email, item.language
    row.delegation_id = delegations[item.delegation].id if item.delegation else None
    row.session_ids = [sessions[key].id for key in item.sessions] if item.sessions is not None else None
    if row.token_version is None:
        row.token_version = 1
    token_hash = tokens.token_hash(tokens.join_token(secret, slug, item.key, row.token_version))
    if row.token_hash is not None and row.token_hash != token_hash:
        # Loading with another secret (another directory, a changed
        # TRIBUNE_SECRET) would silently void every link already sent.
        raise WrongSecret(slug)
    row.token_hash = token_hash
