"""The commands of the booths: the mic, handover, what interpreters hear, booth chat, slow down.

Every booth command is sent by an interpreter about their own booth (the
one the event file assigns them to). ``mic_changed`` goes to everyone, so
that the media relay and the listeners know which channels are live; the
rest of a booth's life goes to its interpreters only. The booths also
follow the floor: when the speaker's language changes they are advised (or
switched) to a relay, and a booth whose language is the speaker's carries
the floor (see ``follow_floor_language``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import StrictBool, StringConstraints

from interpretation.booth_views import handover_view, message_view, mic_view
from interpretation.booths import Booth, Booths, MicChange, MicReason
from interpretation.captions import MAX_MESSAGE_LENGTH, BoothMessage
from interpretation.relay import advise, follow
from rooms.commands import PRINTABLE, Command, CommandSet, Context, Emitted, EntityId
from rooms.errors import Refused
from rooms.floor import Floor
from rooms.recipients import EVERYONE, Recipients, moderators_and, only
from rooms.roles import Role

commands = CommandSet()
INTERPRETERS = frozenset({Role.INTERPRETER})

MessageText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_LENGTH), PRINTABLE
]


def booth_members(booth: Booth) -> Recipients:
    return only(*booth.member_ids())


def _given(data: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: data


async def _my_booth(ctx: Context) -> tuple[Booths, Booth]:
    booths = await ctx.state(Booths)
    return booths, booths.of(ctx.actor.participant_id)


async def _mic_changed(ctx: Context, change: MicChange) -> None:
    await ctx.emit("mic_changed", lambda: mic_view(change), EVERYONE)


class TakeMic(Command):
    type: Literal["take_mic"]


@commands.command(TakeMic, roles=INTERPRETERS)
async def take_mic(ctx: Context, command: TakeMic) -> None:
    _, booth = await _my_booth(ctx)
    await _mic_changed(ctx, booth.take(ctx.actor.participant_id, ctx.now))


class ReleaseMic(Command):
    type: Literal["release_mic"]
    # "disconnected" is what the server sends for an interpreter whose last
    # socket closed and who did not come back within the grace period.
    reason: Literal["released", "disconnected"] = "released"


@commands.command(ReleaseMic, roles=INTERPRETERS)
async def release_mic(ctx: Context, command: ReleaseMic) -> None:
    _, booth = await _my_booth(ctx)
    await _mic_changed(ctx, booth.release(ctx.actor.participant_id, ctx.now, MicReason(command.reason)))


class ReleaseDeparted(Command):
    """Sent by the server, never a client: the interpreter on air is gone
    (their last socket closed and the grace period passed) or was removed
    (their access, their booth or their join link was taken away)."""

    type: Literal["release_departed"]
    participant_id: EntityId
    reason: Literal["disconnected", "removed"]


# Given to no role: ``Kernel.execute_for_server`` runs it.
@commands.command(ReleaseDeparted, roles=())
async def release_departed(ctx: Context, command: ReleaseDeparted) -> None:
    booths = await ctx.state(Booths)
    await _mic_changed(ctx, booths.release_departed(command.participant_id, MicReason(command.reason)))


class RequestHandover(Command):
    type: Literal["request_handover"]


@commands.command(RequestHandover, roles=INTERPRETERS)
async def request_handover(ctx: Context, command: RequestHandover) -> None:
    _, booth = await _my_booth(ctx)
    handover = booth.request_handover(ctx.actor.participant_id, ctx.now)
    await ctx.emit("handover_requested", lambda: handover_view(booth, handover), booth_members(booth))


class CancelHandover(Command):
    type: Literal["cancel_handover"]


@commands.command(CancelHandover, roles=INTERPRETERS)
async def cancel_handover(ctx: Context, command: CancelHandover) -> None:
    _, booth = await _my_booth(ctx)
    handover = booth.cancel_handover(ctx.actor.participant_id, ctx.now)
    data = {"language": booth.language, "requester_id": handover.requester_id}
    await ctx.emit("handover_cancelled", lambda: data, booth_members(booth))


class AnswerHandover(Command):
    type: Literal["answer_handover"]
    accept: StrictBool


@commands.command(AnswerHandover, roles=INTERPRETERS)
async def answer_handover(ctx: Context, command: AnswerHandover) -> None:
    _, booth = await _my_booth(ctx)
    handover, change = booth.answer_handover(ctx.actor.participant_id, command.accept, ctx.now)
    data = {"language": booth.language, "requester_id": handover.requester_id, "accepted": command.accept}
    await ctx.emit("handover_answered", lambda: data, booth_members(booth))
    if change is not None:
        await _mic_changed(ctx, change)


SourceName = Annotated[str, StringConstraints(min_length=2, max_length=8)]


class SetSource(Command):
    """What I hear: ``floor`` or another booth's channel (relay)."""

    type: Literal["set_source"]
    source: SourceName


@commands.command(SetSource, roles=INTERPRETERS)
async def set_source(ctx: Context, command: SetSource) -> None:
    booths, booth = await _my_booth(ctx)
    me = booth.set_source(ctx.actor.participant_id, command.source, booths.languages())
    data = {"language": booth.language, "participant_id": me.participant_id, "source": me.source}
    await ctx.emit("source_changed", lambda: data, booth_members(booth))


class SetAutoRelay(Command):
    type: Literal["set_auto_relay"]
    enabled: StrictBool


@commands.command(SetAutoRelay, roles=INTERPRETERS)
async def set_auto_relay(ctx: Context, command: SetAutoRelay) -> None:
    _, booth = await _my_booth(ctx)
    booth.is_auto_relay = command.enabled
    data = {"language": booth.language, "is_auto_relay": booth.is_auto_relay}
    await ctx.emit("auto_relay_set", lambda: data, booth_members(booth))


class SendBoothMessage(Command):
    """Chat between booth partners; nobody else reads it."""

    type: Literal["send_booth_message"]
    text: MessageText


@commands.command(SendBoothMessage, roles=INTERPRETERS)
async def send_booth_message(ctx: Context, command: SendBoothMessage) -> None:
    booths, booth = await _my_booth(ctx)
    actor = ctx.actor
    message = BoothMessage(booth.language, command.text, actor.participant_id, actor.name, ctx.now)
    booths.new_messages.append(message)
    await ctx.emit("booth_message", lambda: message_view(message), booth_members(booth))


class SlowDown(Command):
    """Ask the speaker to slow down: the speaker and the chair see it."""

    type: Literal["slow_down"]


@commands.command(SlowDown, roles=INTERPRETERS)
async def slow_down(ctx: Context, command: SlowDown) -> None:
    _, booth = await _my_booth(ctx)
    floor = await ctx.state(Floor)
    speech = floor.current
    if speech is None:
        raise Refused("no_speech", "Nobody has the floor.")
    request = speech.request
    # A delegation's request names no speaker: whoever asked for it is told.
    speaker = request.speaker_id if request.speaker_id is not None else request.requester_id
    ids = [ctx.actor.participant_id] + ([speaker] if speaker is not None else [])
    data = {
        "language": booth.language,
        "interpreter": {"id": ctx.actor.participant_id, "name": ctx.actor.name},
        "speech_id": speech.id,
        "speaker_id": speaker,
    }
    await ctx.emit("slow_down_requested", lambda: data, moderators_and(*ids))


# -- following the floor ---------------------------------------------------------


def _floor_language(event: Emitted) -> tuple[bool, str | None]:
    """Whether the event changes the language of the speech on the floor, and to what."""
    data = event.data
    if event.type == "floor_given":
        return True, data["speech"]["language"]
    if event.type == "language_declared":
        return data.get("speech_id") is not None, data["language"]
    return True, None  # speech_ended: nobody speaks


@commands.reaction("floor_given", "language_declared", "speech_ended")
async def follow_floor_language(ctx: Context, event: Emitted) -> None:
    changes, language = _floor_language(event)
    if not changes:
        return
    booths = await ctx.state(Booths)
    for booth in booths.booths.values():
        advice = advise(booth, booths, language)
        if advice.is_passthrough != booth.is_passthrough:
            booth.is_passthrough = advice.is_passthrough
            data = {"language": booth.language, "is_passthrough": advice.is_passthrough, "floor_language": language}
            await ctx.emit("passthrough_changed", _given(data), EVERYONE)
        if not booth.interpreters:
            continue
        switches = follow(booth, advice)
        booth.relay_advice = advice.relay
        advised = {
            "language": booth.language,
            "floor_language": language,
            "needs_relay": advice.needs_relay,
            "relay": advice.relay,
            "is_auto_relay": booth.is_auto_relay,
        }
        await ctx.emit("relay_advised", _given(advised), booth_members(booth))
        for switch in switches:
            data = {"language": booth.language, "participant_id": switch.participant_id, "source": switch.source}
            await ctx.emit("source_changed", _given(data), booth_members(booth))
