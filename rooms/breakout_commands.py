"""Breakout group commands, sent in the plenary (and one the server runs in each group).

When the groups end (the chair's "end all groups", or their time is up),
each group's rapporteur is put on the plenary's list of speakers to report
back, in the same transaction; then the server tells each group's page to
go back to the plenary (``close_breakout``, run in each group).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rooms.breakouts import MAX_GROUPS, MAX_SECONDS, MIN_SECONDS, Breakouts, Group
from rooms.commands import PRINTABLE, Command, CommandSet, Context, EntityId
from rooms.errors import Refused
from rooms.floor import Kind
from rooms.floor_commands import AddSpeaker
from rooms.recipients import EVERYONE
from rooms.roles import FLOOR_RUNNERS, SPEAKERS

commands = CommandSet()

GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), PRINTABLE]


class GroupPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: GroupName
    # Whole delegations (a regional group), and/or people one by one.
    delegation_ids: list[EntityId] = Field(default_factory=list, max_length=500)
    participant_ids: list[EntityId] = Field(default_factory=list, max_length=2000)
    rapporteur_id: EntityId | None = None


class OpenBreakouts(Command):
    type: Literal["open_breakouts"]
    groups: list[GroupPlan] = Field(min_length=1, max_length=MAX_GROUPS)
    seconds: Annotated[int, Field(ge=MIN_SECONDS, le=MAX_SECONDS)]
    # Members choose their group themselves (join_breakout).
    open_choice: bool = False


@commands.command(OpenBreakouts, roles=FLOOR_RUNNERS)
async def open_breakouts(ctx: Context, command: OpenBreakouts) -> None:
    breakouts = await ctx.state(Breakouts)
    plan = []
    for group in command.groups:
        members = set(group.participant_ids)
        for delegation_id in group.delegation_ids:
            if delegation_id not in breakouts.delegation_members:
                raise Refused("not_found", f"No delegation {delegation_id} in this event.")
            members |= breakouts.delegation_members[delegation_id]
        unknown = members - set(breakouts.participant_delegations)
        if unknown:
            raise Refused("not_found", f"No participant {min(unknown)} in this event.")
        plan.append((group.name, members, group.rapporteur_id))
    breakouts.open(plan, command.seconds, ctx.now, open_choice=command.open_choice)
    await ctx.emit("breakouts_opened", breakouts.view, EVERYONE)


class JoinBreakout(Command):
    """A participant chooses their group, when the chair let them choose."""

    type: Literal["join_breakout"]
    group_id: EntityId


@commands.command(JoinBreakout, roles=SPEAKERS)
async def join_breakout(ctx: Context, command: JoinBreakout) -> None:
    breakouts = await ctx.state(Breakouts)
    group = breakouts.join(command.group_id, ctx.actor.participant_id)
    await ctx.emit("breakout_changed", lambda: {"group": group.view()}, EVERYONE)


class SetRapporteur(Command):
    type: Literal["set_rapporteur"]
    group_id: EntityId
    participant_id: EntityId


@commands.command(SetRapporteur, roles=FLOOR_RUNNERS)
async def set_rapporteur(ctx: Context, command: SetRapporteur) -> None:
    breakouts = await ctx.state(Breakouts)
    group = breakouts.set_rapporteur(command.group_id, command.participant_id)
    await ctx.emit("breakout_changed", lambda: {"group": group.view()}, EVERYONE)


class EndBreakouts(Command):
    """Every group ends; their rapporteurs go on the plenary's list to report back."""

    type: Literal["end_breakouts"]


@commands.command(EndBreakouts, roles=FLOOR_RUNNERS)
async def end_breakouts(ctx: Context, command: EndBreakouts) -> None:
    breakouts = await ctx.state(Breakouts)
    ended = breakouts.end(ctx.now)
    reports = []
    for group in ended:
        rapporteur = _rapporteur(breakouts, group)
        reports.append({"id": group.id, "name": group.name, "rapporteur_id": rapporteur})
        if rapporteur is None:
            continue
        person = await ctx.participant(rapporteur)
        if person is None or person.delegation_id is None:
            continue
        await ctx.execute(
            AddSpeaker(
                id=f"report-{group.id}",
                type="add_speaker",
                delegation_id=person.delegation_id,
                speaker_name=person.name,
                speaker_id=person.id,
                kind=Kind.STATEMENT,
                note=f"Report of {group.name}"[:500],
            )
        )
    await ctx.emit("breakouts_ended", lambda: {"groups": reports}, EVERYONE)


def _rapporteur(breakouts: Breakouts, group: Group) -> int | None:
    """The group's rapporteur, or else its first member who speaks for a delegation."""
    if group.rapporteur_id is not None:
        return group.rapporteur_id
    return next((pid for pid in sorted(group.members) if breakouts.participant_delegations.get(pid)), None)


class CloseBreakout(Command):
    """Run by the server in each group once the groups ended: its pages go back to the plenary."""

    type: Literal["close_breakout"]
    plenary_id: EntityId


@commands.command(CloseBreakout, roles=())
async def close_breakout(ctx: Context, command: CloseBreakout) -> None:
    await ctx.emit("breakout_closed", lambda: {"plenary_id": command.plenary_id}, EVERYONE)
