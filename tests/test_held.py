"""What the kernel holds between commands is the truth, or is dropped.

Two kernels on one database stand for two server processes: each keeps its
own copy of the session, and each must see what the other committed.
"""

import asyncio
import json
from datetime import UTC, datetime
from functools import partial
from typing import Literal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from rooms.commands import Command, CommandSet, Context, Registry
from rooms.errors import Refused
from rooms.floor import Floor
from rooms.floor_commands import commands as floor_commands
from rooms.floor_views import floor_view
from rooms.question_commands import commands as question_commands
from rooms.questions import Board
from rooms.roles import ALL_ROLES
from server import models
from server.app import state_stores
from server.auth import actor_in
from server.bus import MemoryBus
from server.db import create_engine, migrate, sessionmaker
from server.floor_store import load_floor
from server.kernel import Kernel
from server.protocol import Parser
from server.question_store import load_board, load_votes
from tests.conftest import POSTGRES_URL, build_world, reset_postgres

NOW = datetime(2020, 12, 4, 13, 0, tzinfo=UTC)

# A command that changes the floor in memory, then is refused: what the
# kernel held must not keep that change.
second_thoughts = CommandSet()


class CloseThenRefuse(Command):
    type: Literal["close_then_refuse"]


@second_thoughts.command(CloseThenRefuse, roles=ALL_ROLES)
async def close_then_refuse(ctx: Context, command: CloseThenRefuse) -> None:
    floor = await ctx.state(Floor)
    floor.close()
    floor.waiting.clear()
    raise Refused("invalid", "Changed my mind.")


class PauseThenRefuse(Command):
    """Records an event, then is refused: the event's change is undone with it."""

    type: Literal["pause_then_refuse"]


@second_thoughts.command(PauseThenRefuse, roles=ALL_ROLES)
async def pause_then_refuse(ctx: Context, command: PauseThenRefuse) -> None:
    floor = await ctx.state(Floor)
    floor.pause(ctx.now)
    await ctx.emit("speech_paused", lambda: {})
    raise Refused("invalid", "Changed my mind.")


class CloseQuietly(Command):
    """A change without an event: no other process could know of it."""

    type: Literal["close_quietly"]


@second_thoughts.command(CloseQuietly, roles=ALL_ROLES)
async def close_quietly(ctx: Context, command: CloseQuietly) -> None:
    (await ctx.state(Floor)).close()


REGISTRY = Registry(floor_commands, question_commands, second_thoughts)


class Sender:
    """One kernel (one process) and the people who send through it."""

    def __init__(self, db, world, kernels):
        self.db, self.world = db, world
        self.kernel = kernels(MemoryBus(), REGISTRY, state_stores(), clock=lambda: NOW)
        self.parser = Parser(REGISTRY)
        self.count = 0

    async def actor(self, who):
        async with self.db() as s:
            session = await s.get(models.Session, self.world.session_id)
            participant = await s.scalar(
                select(models.Participant)
                .where(models.Participant.id == self.world.participants[who])
                .options(selectinload(models.Participant.roles), selectinload(models.Participant.delegation))
            )
            return actor_in(participant, session)

    async def send(self, who, type_, **fields):
        self.count += 1
        command = self.parser.parse(json.dumps({"type": type_, "id": f"c{self.count}", **fields}))
        return await self.kernel.execute(await self.actor(who), command)


async def floor_in_database(db, world):
    async with db() as s:
        session = await s.get(models.Session, world.session_id)
        return floor_view(await load_floor(s, session), NOW)


async def held_floor(sender, world):
    held = sender.kernel._held[world.session_id]
    return floor_view(held.kept[Floor].state, NOW)


async def test_the_floor_held_after_each_command_is_the_floor_in_the_database(db, world, kernels):
    one = Sender(db, world, kernels)
    for who in ("usa", "france", "icrc", "peru"):
        await one.send(who, "request_floor")
        assert await held_floor(one, world) == await floor_in_database(db, world)
    waiting = (await floor_in_database(db, world))["waiting"]
    by_name = {request["delegation"]["name"]: request["id"] for request in waiting}
    steps = [
        ("chair", "give_floor", {}),
        ("chair", "move_request", {"request_id": by_name["Peru"], "position": 1}),
        ("chair", "pause_speech", {}),
        ("chair", "resume_speech", {}),
        ("icrc", "withdraw", {"request_id": by_name["International Committee of the Red Cross"]}),
        ("chair", "close_list", {}),
        ("chair", "give_floor", {}),
        ("chair", "end_speech", {}),
        ("chair", "reopen_list", {}),
    ]
    for who, type_, fields in steps:
        await one.send(who, type_, **fields)
        assert await held_floor(one, world) == await floor_in_database(db, world), type_


async def test_a_process_sees_what_another_committed_before_its_next_command(db, world, kernels):
    one, other = Sender(db, world, kernels), Sender(db, world, kernels)
    await one.send("france", "request_floor")
    await other.send("peru", "request_floor")  # one's copy is now behind
    peru = (await floor_in_database(db, world))["waiting"][-1]["id"]
    # Only a floor that knows Peru's request can move it first.
    executed = await one.send("chair", "move_request", request_id=peru, position=1)
    assert executed.seq == 3
    view = await floor_in_database(db, world)
    assert [r["delegation"]["name"] for r in view["waiting"]] == ["Peru", "France"]
    assert await held_floor(one, world) == view
    # And the other way round, with the list closed by one.
    await one.send("chair", "close_list")
    with pytest.raises(Refused) as refused:
        await other.send("usa", "request_floor")
    assert refused.value.code == "list_closed"


async def test_a_command_refused_half_way_leaves_nothing_of_its_changes(db, world, kernels):
    one = Sender(db, world, kernels)
    await one.send("france", "request_floor")
    with pytest.raises(Refused):
        await one.send("chair", "close_then_refuse")
    await one.send("peru", "request_floor")  # the list is open, France still waits
    view = await floor_in_database(db, world)
    assert [r["delegation"]["name"] for r in view["waiting"]] == ["France", "Peru"]
    assert await held_floor(one, world) == view


async def test_a_command_refused_after_recording_an_event_leaves_nothing_of_it(db, world, kernels):
    one = Sender(db, world, kernels)
    await one.send("france", "request_floor")
    await one.send("chair", "give_floor")
    with pytest.raises(Refused):
        await one.send("chair", "pause_then_refuse")
    await one.send("peru", "request_floor")
    view = await floor_in_database(db, world)
    assert view["current"]["paused_at"] is None
    assert await held_floor(one, world) == view


async def test_a_refused_command_keeps_what_it_did_not_open_and_reads_the_rest_again(db, world, kernels):
    one = Sender(db, world, kernels)
    await one.send("france", "request_floor")
    held = one.kernel._held[world.session_id]
    floor = held.kept[Floor]
    with pytest.raises(Refused) as refused:
        await one.send("peru", "vote_question", question_id=999)
    assert refused.value.code == "not_found"
    # The floor was not opened: nothing to load again. The questions were,
    # and a handler may have changed them before refusing: they are read again.
    assert one.kernel._held[world.session_id] is held and held.kept[Floor] is floor
    assert Board not in held.kept
    france_request = floor.state.waiting[0].id
    with pytest.raises(Refused):
        await one.send("peru", "withdraw", request_id=france_request)  # not Peru's to withdraw
    assert Floor not in held.kept
    await one.send("peru", "request_floor")
    assert await held_floor(one, world) == await floor_in_database(db, world)


async def test_a_change_without_an_event_is_refused_whole(db, world, kernels):
    one = Sender(db, world, kernels)
    await one.send("france", "request_floor")
    with pytest.raises(RuntimeError):
        await one.send("chair", "close_quietly")
    await one.send("peru", "request_floor")  # the list was never closed
    assert not (await floor_in_database(db, world))["is_closed"]


async def test_a_new_load_of_the_event_is_seen_at_the_next_command(db, world, kernels):
    one = Sender(db, world, kernels)
    await one.send("france", "request_floor")
    # What `tribune load` does when the organizer renames a delegation.
    async with db() as s, s.begin():
        await s.execute(
            update(models.Delegation)
            .where(models.Delegation.id == world.delegations["fr"])
            .values(name="French Republic")
        )
        await s.execute(
            update(models.Event).where(models.Event.id == world.event_id).values(revision=models.Event.revision + 1)
        )
    await one.send("peru", "request_floor")
    held = await held_floor(one, world)
    assert held["waiting"][0]["delegation"]["name"] == "French Republic"
    assert held == await floor_in_database(db, world)


async def test_roles_taken_away_in_the_database_refuse_the_next_command_at_once(db, world, kernels):
    one = Sender(db, world, kernels)
    chair = await one.actor("chair")
    await one.send("france", "request_floor")
    async with db() as s, s.begin():
        await s.execute(
            update(models.ParticipantRole)
            .where(models.ParticipantRole.participant_id == world.participants["chair"])
            .values(role="participant")
        )
    command = one.parser.parse(json.dumps({"type": "give_floor", "id": "late"}))
    with pytest.raises(Refused) as refused:
        await one.kernel.execute(chair, command)
    assert refused.value.code == "forbidden"


async def questions_in_database(db, world):
    async with db() as s:
        session = await s.get(models.Session, world.session_id)
        board = await load_board(s, session)
        await load_votes(s, board, list(board.questions))
        return board


def facts(board, ids):
    """What a participant would notice of each question: its state, where it went, its voters."""
    return {
        i: (board.questions[i].state, board.questions[i].merged_into, board.voters(board.questions[i]), board.queue)
        for i in ids
    }


async def test_the_questions_held_with_their_votes_are_the_questions_in_the_database(db, world, kernels):
    one, other = Sender(db, world, kernels), Sender(db, world, kernels)
    for who, text in (("france", "What of the stockpiles?"), ("peru", "And the stockpiles?"), ("usa", "Funding?")):
        await one.send(who, "submit_question", text=text, language="en")
    ids = sorted((await questions_in_database(db, world)).questions)
    for question_id in ids:
        await one.send("chair", "approve_question", question_id=question_id)
    await one.send("icrc", "vote_question", question_id=ids[0])
    await one.send("icbl", "vote_question", question_id=ids[1])
    await other.send("usa", "vote_question", question_id=ids[1])  # through the other process
    await one.send("usa", "vote_question", question_id=ids[2])
    await one.send("chair", "merge_questions", question_id=ids[1], into_id=ids[0])
    await one.send("icbl", "unvote_question", question_id=ids[0])
    await one.send("chair", "queue_question", question_id=ids[2])
    held = one.kernel._held[world.session_id].kept[Board].state
    stored = await questions_in_database(db, world)
    assert facts(held, ids) == facts(stored, ids)
    assert stored.voters(stored.questions[ids[0]]) == {world.participants[p] for p in ("icrc", "usa")}


async def test_a_command_the_database_undoes_to_break_a_deadlock_runs_again():
    """PostgreSQL undoes one of two transactions that wait for each other; if
    it is the command's, the command runs again and the sender never knows."""
    await reset_postgres(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    await migrate(engine)
    db = sessionmaker(engine)
    world = await build_world(db)
    one = Sender(db, world, partial(Kernel, db))  # on PostgreSQL it keeps no connection to close
    await one.send("france", "request_floor")
    request_id = (await floor_in_database(db, world))["waiting"][0]["id"]
    async with engine.connect() as other:
        await other.begin()
        # Another transaction holds the request's row ...
        await other.execute(
            update(models.SpeakingRequest).where(models.SpeakingRequest.id == request_id).values(note="being edited")
        )
        withdraw = asyncio.create_task(one.send("france", "withdraw", request_id=request_id))
        await asyncio.sleep(0.3)  # ... while the command holds the session and waits for that row,
        # ... and then waits for the session: neither can go on.
        await other.execute(select(models.Session.id).where(models.Session.id == world.session_id).with_for_update())
        await other.commit()
    executed = await asyncio.wait_for(withdraw, 10)
    assert executed.seq == 2
    assert (await floor_in_database(db, world))["waiting"] == []
    await engine.dispose()
