"""Commands: each declared once beside its domain, with its schema, roles and handler.

A domain module makes a ``CommandSet`` and registers each command on it::

    floor = CommandSet()

    @floor.command(GiveFloor, roles=FLOOR_RUNNERS)
    async def give_floor(ctx: Context, command: GiveFloor) -> None: ...

The server composes the sets into one ``Registry`` and runs every command
through its kernel (authorise, lock, handler, seq, event log, commit,
publish). A handler reads state through the ``Context`` port
(``await ctx.state(Floor)``) and reports what changed with ``ctx.emit``; it
never writes on its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from rooms.actor import Actor
from rooms.languages import is_known
from rooms.recipients import EVERYONE, Recipients
from rooms.roles import Role

S = TypeVar("S")


def _printable(text: str) -> str:
    # Control characters (NUL above all) are refused rather than stored: one
    # engine keeps them, another refuses them, and no reader can see them.
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs") and char not in "\n\t":
            raise ValueError(f"contains the control character U+{ord(char):04X}")
    return text


# Add to every user-written text field: no control characters.
PRINTABLE = AfterValidator(_printable)

# Ids the database can hold (PostgreSQL's ``integer``).
EntityId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# A client's own command id, echoed back; integers stay exact in JavaScript.
CommandId = (
    Annotated[str, StringConstraints(min_length=1, max_length=64), PRINTABLE]
    | Annotated[int, Field(ge=-(2**53) + 1, le=2**53 - 1)]
)


def _known_language(code: str) -> str:
    if not is_known(code):
        raise ValueError(f"unknown language code {code[:8]!r}")
    return code


LanguageCode = Annotated[str, StringConstraints(min_length=2, max_length=8), AfterValidator(_known_language)]


class Command(BaseModel):
    """The fields every command shares. ``type`` is a Literal in each subclass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: CommandId
    type: str


class DelegationInfo(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...


class ParticipantInfo(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def delegation_id(self) -> int | None: ...


class Context(Protocol):
    """What a handler may use, inside the command's transaction."""

    actor: Actor
    now: datetime

    async def state(self, kind: type[S], *parts: int) -> S:
        """The session's state of one domain (``Floor``, ``Board``,
        ``Booths``...), read once per command or kept from the last one.
        ``parts`` asks for more of it (the votes of these questions). What the
        handler changes in it is written when the command commits; a refused
        command leaves nothing of it behind."""
        ...

    async def delegation(self, delegation_id: int) -> DelegationInfo | None:
        """A delegation of this session's event, or None."""
        ...

    async def emit(self, type_: str, data: Callable[[], dict[str, Any]], recipients: Recipients = EVERYONE) -> None:
        """Record an event. ``data`` is called after pending changes are
        written, so new rows already have their ids."""
        ...

    async def execute(self, command: Command) -> None:
        """Run another command in this same transaction, as the same actor."""
        ...

    async def participant(self, participant_id: int) -> ParticipantInfo | None:
        """A participant of this session's event, or None."""
        ...

    async def limit(self, name: str, rate: float, burst: int) -> None:
        """Refuse (``rate_limited``) when the sender does this more often than
        ``burst`` at once and ``rate`` per second after."""
        ...


Handler = Callable[[Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class Emitted:
    """An event recorded in this transaction, as its reactions see it."""

    type: str
    data: dict[str, Any]


# A reaction runs inside the transaction of the command whose event it
# follows, after that command's handler: what it records commits (or not)
# with it. This is how one domain follows another without importing it (the
# booths follow the floor language; the floor knows nothing of booths).
Reaction = Callable[[Any, Emitted], Awaitable[None]]
# Reactions may record events that have reactions; this bounds the chain.
MAX_REACTION_EVENTS = 1000


@dataclass(frozen=True)
class Coalesced:
    """Events of ``event_type`` come fast and only their latest value matters
    to most people (vote counts): instead of telling everyone at each one,
    the server runs ``command``, at most every so often per session, with
    the ``key`` of each event since its last run (as ``ids``)."""

    event_type: str
    command: str
    key: str


@dataclass(frozen=True)
class CommandSpec:
    name: str
    schema: type[Command]
    roles: frozenset[Role]
    handler: Handler


class CommandSet:
    """The commands of one domain module."""

    def __init__(self) -> None:
        self.specs: list[CommandSpec] = []
        self.reactions: list[tuple[str, Reaction]] = []
        self.coalesced: list[Coalesced] = []

    def command(self, schema: type[Command], *, roles: Iterable[Role]) -> Callable[[Handler], Handler]:
        name = command_name(schema)

        def register(handler: Handler) -> Handler:
            self.specs.append(CommandSpec(name, schema, frozenset(roles), handler))
            return handler

        return register

    def coalesce(self, event_type: str, command: type[Command], *, key: str = "id") -> None:
        """Follow ``event_type`` events with ``command``, coalesced (see ``Coalesced``);
        ``command`` has an ``ids`` field and is given to no role."""
        self.coalesced.append(Coalesced(event_type, command_name(command), key))

    def reaction(self, *event_types: str) -> Callable[[Reaction], Reaction]:
        """Run the decorated function after each of these events, in the same transaction."""

        def register(reaction: Reaction) -> Reaction:
            self.reactions += [(event_type, reaction) for event_type in event_types]
            return reaction

        return register


def command_name(schema: type[Command]) -> str:
    annotation = schema.model_fields["type"].annotation
    values: tuple[object, ...] = getattr(annotation, "__args__", ())
    name = values[0] if len(values) == 1 else None
    if not isinstance(name, str):
        raise TypeError(f"{schema.__name__}.type must be a Literal of one string")
    return name


class Registry:
    """Every command the server accepts, by name."""

    def __init__(self, *sets: CommandSet) -> None:
        self.specs: dict[str, CommandSpec] = {}
        self.reactions: dict[str, list[Reaction]] = {}
        self.coalesced: dict[str, Coalesced] = {}
        for command_set in sets:
            self.coalesced.update((rule.event_type, rule) for rule in command_set.coalesced)
            for event_type, reaction in command_set.reactions:
                self.reactions.setdefault(event_type, []).append(reaction)
            for spec in command_set.specs:
                if spec.name in self.specs:
                    raise ValueError(f"command {spec.name!r} is declared twice")
                self.specs[spec.name] = spec

    def __getitem__(self, name: str) -> CommandSpec:
        return self.specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def may(self, roles: Iterable[Role], name: str) -> bool:
        spec = self.specs.get(name)
        return spec is not None and bool(spec.roles & set(roles))

    def allowed(self, roles: Iterable[Role]) -> list[str]:
        roles = set(roles)
        return [name for name, spec in self.specs.items() if spec.roles & roles]
