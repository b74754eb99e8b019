"""Client commands on the live WebSocket, as typed schemas.

Every command is a JSON text frame ``{"type": ..., "id": ..., ...}``. A frame
that is not JSON, has an unknown type or wrong fields is answered by an
``error`` and changes nothing. docs/protocol.md documents each one.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from rooms.floor import Kind

CommandId = Annotated[str, StringConstraints(min_length=1, max_length=64)] | int
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=280)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=280)]
LanguageCode = Annotated[str, StringConstraints(min_length=2, max_length=8)]
RequestId = Annotated[int, Field(ge=1)]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: CommandId


class RequestFloor(_Command):
    type: Literal["request_floor"]
    kind: Kind = Kind.STATEMENT
    # "self": I will speak; "delegation": any member of my delegation will.
    on_behalf: Literal["self", "delegation"] = "self"
    language: LanguageCode | None = None
    note: ShortText = ""

    # Kind arrives as a JSON string; strict mode would refuse it otherwise.
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class Withdraw(_Command):
    type: Literal["withdraw"]
    request_id: RequestId


class DeclareLanguage(_Command):
    type: Literal["declare_language"]
    language: LanguageCode
    request_id: RequestId | None = None


class GiveFloor(_Command):
    type: Literal["give_floor"]
    request_id: RequestId | None = None


class EndSpeech(_Command):
    type: Literal["end_speech"]


class PauseSpeech(_Command):
    type: Literal["pause_speech"]


class ResumeSpeech(_Command):
    type: Literal["resume_speech"]


class MoveRequest(_Command):
    type: Literal["move_request"]
    request_id: RequestId
    position: Annotated[int, Field(ge=1)]


class Reorder(_Command):
    type: Literal["reorder"]
    request_ids: Annotated[list[RequestId], Field(max_length=1000)]


class RemoveRequest(_Command):
    type: Literal["remove_request"]
    request_id: RequestId
    reason: Reason


class AddSpeaker(_Command):
    """A speaker in the room, entered by a moderator for their delegation."""

    type: Literal["add_speaker"]
    delegation_id: RequestId
    speaker_name: Name
    kind: Kind = Kind.STATEMENT
    language: LanguageCode | None = None
    note: ShortText = ""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class CloseList(_Command):
    type: Literal["close_list"]


class ReopenList(_Command):
    type: Literal["reopen_list"]


class Ping(_Command):
    type: Literal["ping"]


Command = Annotated[
    Union[
        RequestFloor,
        Withdraw,
        DeclareLanguage,
        GiveFloor,
        EndSpeech,
        PauseSpeech,
        ResumeSpeech,
        MoveRequest,
        Reorder,
        RemoveRequest,
        AddSpeaker,
        CloseList,
        ReopenList,
        Ping,
    ],
    Field(discriminator="type"),
]

COMMAND_TYPES = frozenset(
    model.model_fields["type"].annotation.__args__[0]  # the Literal's value
    for model in Command.__origin__.__args__
)

_adapter: TypeAdapter = TypeAdapter(Command)


class BadCommand(Exception):
    def __init__(self, code: str, message: str, command_id=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.command_id = command_id


def parse_command(text: str):
    """Parse one text frame into a command, or raise ``BadCommand``."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise BadCommand("bad_json", "The message is not valid JSON.") from None
    if not isinstance(raw, dict):
        raise BadCommand("bad_json", "A message must be a JSON object.")
    command_id = raw.get("id") if isinstance(raw.get("id"), (str, int)) else None
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise BadCommand("invalid", "A message needs a string field 'type'.", command_id)
    if kind not in COMMAND_TYPES:
        raise BadCommand("unknown_type", f"Unknown message type {kind[:40]!r}.", command_id)
    try:
        return _adapter.validate_python(raw)
    except ValidationError as exc:
        raise BadCommand("invalid", _describe(exc), command_id) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"][1:]) or "message"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
