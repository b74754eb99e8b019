"""Reading client frames on the live socket into commands.

Every command is a JSON text frame ``{"type": ..., "id": ..., ...}``, its
schema declared beside its domain (see ``rooms.commands``). A frame that is
not JSON, has an unknown type or wrong fields is answered by an ``error``
and changes nothing. docs/protocol.md documents each one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from rooms.commands import Command, CommandId, Registry

# Messages about the connection itself, answered at once, never logged.
PROTOCOL_MESSAGES = frozenset({"ping"})


class BadCommand(Exception):
    def __init__(self, code: str, message: str, command_id: str | int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.command_id = command_id


class Parser:
    """Turns a text frame into a validated command of the registry."""

    def __init__(self, registry: Registry):
        self.registry = registry
        schemas = tuple(spec.schema for spec in registry.specs.values())
        union: Any = Annotated[Union[schemas], Field(discriminator="type")]  # noqa: UP007
        self._adapter: TypeAdapter[Command] = TypeAdapter(union)
        self.types = frozenset(registry.specs) | PROTOCOL_MESSAGES

    def parse(self, text: str) -> Command | Ping:
        raw = _json_object(text)
        command_id = _readable_id(raw.get("id"))
        kind = raw.get("type")
        if not isinstance(kind, str):
            raise BadCommand("invalid", "A message needs a string field 'type'.", command_id)
        if kind not in self.types:
            raise BadCommand("unknown_type", f"Unknown message type {_quote(kind)}.", command_id)
        if _has_broken_unicode(raw):
            raise BadCommand("invalid", "Text must be valid Unicode (a lone surrogate was sent).", command_id)
        try:
            if kind == "ping":
                return Ping.model_validate_json(text, strict=True)
            # JSON mode: strict about types, yet enums arrive as their strings.
            return self._adapter.validate_json(text, strict=True)
        except ValidationError as exc:
            raise BadCommand("invalid", _describe(exc, tagged=kind != "ping"), command_id) from None


class Ping(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    id: CommandId
    type: Literal["ping"]


def _json_object(text: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise BadCommand("bad_json", "The message is not valid JSON.") from None
    except ValueError:
        # Valid JSON that Python refuses to read: an integer of thousands of digits.
        raise BadCommand("invalid", "A number in the message is far too large.") from None
    if not isinstance(raw, dict):
        raise BadCommand("bad_json", "A message must be a JSON object.")
    return raw


def _readable_id(value: object) -> str | int | None:
    """The command id to echo in an error, if it is one we could have accepted."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) < 2**53:
        return value
    if isinstance(value, str) and 0 < len(value) <= 64 and not _has_broken_unicode(value):
        return value
    return None


def _has_broken_unicode(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_broken_unicode(k) or _has_broken_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_broken_unicode(item) for item in value)
    return False


def _quote(text: str) -> str:
    return repr(text[:40].encode("utf-8", "replace").decode("utf-8"))


def _describe(exc: ValidationError, tagged: bool) -> str:
    parts = []
    for error in exc.errors(include_input=False)[:3]:
        # In the union, the first location part is its tag (the command type).
        where = ".".join(str(part) for part in error["loc"][1 if tagged else 0 :]) or "message"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
