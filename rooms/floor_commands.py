"""The commands of the list of speakers: schemas, who may send them, handlers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from rooms.budgets import MAX_BUDGET_SECONDS
from rooms.commands import PRINTABLE, Command, CommandSet, Context, EntityId, LanguageCode
from rooms.delegations import Tier
from rooms.errors import Refused
from rooms.floor import AGENDA_COUNTS, Change, Floor, Kind, Request
from rooms.floor_views import change_data
from rooms.roles import FLOOR_RUNNERS, SPEAKERS

commands = CommandSet()

# User-written text: trimmed, bounded, no control characters.
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=280), PRINTABLE]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), PRINTABLE]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=280), PRINTABLE]


async def _record(ctx: Context, floor: Floor, change: Change) -> None:
    await ctx.emit(change.type, lambda: change_data(change, floor, ctx.now))


class RequestFloor(Command):
    type: Literal["request_floor"]
    kind: Kind = Kind.STATEMENT
    # "self": I will speak; "delegation": any member of my delegation will.
    on_behalf: Literal["self", "delegation"] = "self"
    language: LanguageCode | None = None
    note: Note = ""


@commands.command(RequestFloor, roles=SPEAKERS)
async def request_floor(ctx: Context, command: RequestFloor) -> None:
    actor = ctx.actor
    if actor.delegation_id is None or actor.tier is None:
        raise Refused("no_delegation", "Only a member of a delegation can ask for the floor.")
    # A reply counts against the delegation on the item in every session: read the counts now.
    floor = await ctx.state(Floor, AGENDA_COUNTS) if command.kind is Kind.RIGHT_OF_REPLY else await ctx.state(Floor)
    for_self = command.on_behalf == "self"
    request = Request(
        delegation_id=actor.delegation_id,
        delegation_name=actor.delegation_name or "",
        tier=actor.tier,
        kind=command.kind,
        requested_at=ctx.now,
        speaker_name=actor.name if for_self else (actor.delegation_name or ""),
        speaker_id=actor.participant_id if for_self else None,
        requester_id=actor.participant_id,
        language=command.language,
        note=command.note,
    )
    await _record(ctx, floor, floor.request(request))


class AddSpeaker(Command):
    """A speaker in the room, entered by a moderator for their delegation;
    with ``speaker_id``, a remote participant of that delegation."""

    type: Literal["add_speaker"]
    delegation_id: EntityId
    speaker_name: Name
    kind: Kind = Kind.STATEMENT
    language: LanguageCode | None = None
    note: Note = ""
    speaker_id: EntityId | None = None
    # A right of reply beyond the item's limit, or one held to the end of
    # the day: the chair's to give, and recorded as such (rooms/agenda.py).
    override: bool = False


@commands.command(AddSpeaker, roles=FLOOR_RUNNERS)
async def add_speaker(ctx: Context, command: AddSpeaker) -> None:
    delegation = await ctx.delegation(command.delegation_id)
    if delegation is None:
        raise Refused("not_found", f"No delegation {command.delegation_id} in this event.")
    if command.speaker_id is not None:
        speaker = await ctx.participant(command.speaker_id)
        if speaker is None or speaker.delegation_id != delegation.id:
            raise Refused("not_found", f"No participant {command.speaker_id} in this delegation.")
    floor = await ctx.state(Floor, AGENDA_COUNTS) if command.kind is Kind.RIGHT_OF_REPLY else await ctx.state(Floor)
    request = Request(
        delegation_id=delegation.id,
        delegation_name=delegation.name,
        tier=Tier(delegation.kind),
        kind=command.kind,
        requested_at=ctx.now,
        speaker_name=command.speaker_name,
        speaker_id=command.speaker_id,
        language=command.language,
        note=command.note,
        is_in_room=command.speaker_id is None,
    )
    await _record(ctx, floor, floor.request(request, by_runner=True, override=command.override))


class TakeUpItem(Command):
    """The session moves on to another of its agenda items."""

    type: Literal["take_up_item"]
    item_id: EntityId


@commands.command(TakeUpItem, roles=FLOOR_RUNNERS)
async def take_up_item(ctx: Context, command: TakeUpItem) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.take_up(command.item_id))


class AddTime(Command):
    """Add time to every group's speaking-time budget on the item under discussion."""

    type: Literal["add_time"]
    seconds: Annotated[int, Field(ge=1, le=MAX_BUDGET_SECONDS)]


@commands.command(AddTime, roles=FLOOR_RUNNERS)
async def add_time(ctx: Context, command: AddTime) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.add_time(command.seconds))


class Withdraw(Command):
    type: Literal["withdraw"]
    request_id: EntityId


@commands.command(Withdraw, roles=SPEAKERS)
async def withdraw(ctx: Context, command: Withdraw) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.withdraw(command.request_id, ctx.actor.participant_id, ctx.actor.delegation_id))


class DeclareLanguage(Command):
    type: Literal["declare_language"]
    language: LanguageCode
    request_id: EntityId | None = None


@commands.command(DeclareLanguage, roles=SPEAKERS)
async def declare_language(ctx: Context, command: DeclareLanguage) -> None:
    floor = await ctx.state(Floor)
    actor = ctx.actor
    change = floor.declare_language(
        command.language,
        actor.participant_id,
        actor.delegation_id,
        runs_floor=actor.runs_floor,
        request_id=command.request_id,
    )
    await _record(ctx, floor, change)


class GiveFloor(Command):
    type: Literal["give_floor"]
    request_id: EntityId | None = None


@commands.command(GiveFloor, roles=FLOOR_RUNNERS)
async def give_floor(ctx: Context, command: GiveFloor) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.give_floor(ctx.now, command.request_id))


class EndSpeech(Command):
    type: Literal["end_speech"]


@commands.command(EndSpeech, roles=FLOOR_RUNNERS)
async def end_speech(ctx: Context, command: EndSpeech) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.end_speech(ctx.now))


class PauseSpeech(Command):
    type: Literal["pause_speech"]


@commands.command(PauseSpeech, roles=FLOOR_RUNNERS)
async def pause_speech(ctx: Context, command: PauseSpeech) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.pause(ctx.now))


class ResumeSpeech(Command):
    type: Literal["resume_speech"]


@commands.command(ResumeSpeech, roles=FLOOR_RUNNERS)
async def resume_speech(ctx: Context, command: ResumeSpeech) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.resume(ctx.now))


class MoveRequest(Command):
    type: Literal["move_request"]
    request_id: EntityId
    position: Annotated[int, Field(ge=1, le=100_000)]


@commands.command(MoveRequest, roles=FLOOR_RUNNERS)
async def move_request(ctx: Context, command: MoveRequest) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.move(command.request_id, command.position))


class Reorder(Command):
    type: Literal["reorder"]
    request_ids: Annotated[list[EntityId], Field(max_length=1000)]


@commands.command(Reorder, roles=FLOOR_RUNNERS)
async def reorder(ctx: Context, command: Reorder) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.reorder(list(command.request_ids)))


class RemoveRequest(Command):
    type: Literal["remove_request"]
    request_id: EntityId
    reason: Reason


@commands.command(RemoveRequest, roles=FLOOR_RUNNERS)
async def remove_request(ctx: Context, command: RemoveRequest) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.remove(command.request_id, command.reason))


class CloseList(Command):
    type: Literal["close_list"]


@commands.command(CloseList, roles=FLOOR_RUNNERS)
async def close_list(ctx: Context, command: CloseList) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.close())


class ReopenList(Command):
    type: Literal["reopen_list"]


@commands.command(ReopenList, roles=FLOOR_RUNNERS)
async def reopen_list(ctx: Context, command: ReopenList) -> None:
    floor = await ctx.state(Floor)
    await _record(ctx, floor, floor.reopen())
