"""A refused command leaves nothing behind, whatever its domain did first.

For every command of every domain, the handler runs to its end (changing
what it changes in memory, recording its events) and is then refused. What
the kernel holds of the session afterwards must be what the database holds,
and the next command must work from it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from rooms.commands import CommandSpec, Registry
from rooms.errors import Refused
from rooms.floor import Floor
from rooms.floor_views import floor_view
from rooms.questions import MAX_QUEUE, Board, State
from server import models
from server.app import command_registry, state_stores
from server.auth import actor_in
from server.bus import MemoryBus
from server.floor_store import load_floor
from server.protocol import Parser
from server.question_store import load_board, load_votes
from tests.booth_world import add_booth_staff
from tests.test_protocol_doc import sections

NOW = datetime(2020, 12, 4, 13, 0, tzinfo=UTC)
# Who sends each command: the first of these its roles allow.
SENDERS = (
    ("participant", "france"),
    ("chair", "chair"),
    ("organizer", "secretariat"),
    ("interpreter", "fr1"),
    ("captioner", "captioner"),
)


class Forced(Refused):
    def __init__(self) -> None:
        super().__init__("forced", "Refused after the handler ran to its end.")


class RefusingAtFirstEvent:
    """The handler's context, except that recording an event refuses: the
    domain has changed what it changes, and nothing is recorded."""

    def __init__(self, ctx) -> None:
        self._ctx = ctx

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    async def emit(self, *args, **kwargs) -> None:
        raise Forced()


def refusing(registry: Registry, armed: dict[str, str]) -> Registry:
    """The same commands; the one named in ``armed`` is refused at its first
    event ("first event") or once its handler has done everything ("end")."""
    forced = Registry()
    forced.reactions = registry.reactions
    for name, spec in registry.specs.items():

        async def handler(ctx, command, run=spec.handler, name=name):
            when = armed.get(name)
            await run(RefusingAtFirstEvent(ctx) if when == "first event" else ctx, command)
            if when is not None:
                raise Forced()

        forced.specs[name] = CommandSpec(name, spec.schema, spec.roles, handler)
    return forced


class Meeting:
    """One kernel over a session with something in every domain."""

    def __init__(self, db, world, kernels, registry: Registry):
        self.db, self.world = db, world
        self.kernel = kernels(MemoryBus(), registry, state_stores(), clock=lambda: NOW)
        self.parser = Parser(command_registry())
        self.count = 0

    async def actor(self, who: str):
        async with self.db() as s:
            session = await s.get(models.Session, self.world.session_id)
            participant = await s.scalar(
                select(models.Participant)
                .where(models.Participant.id == self.world.participants[who])
                .options(selectinload(models.Participant.roles), selectinload(models.Participant.delegation))
            )
            return actor_in(participant, session)

    async def send(self, who: str, type_: str, **fields):
        self.count += 1
        command = self.parser.parse(json.dumps({"type": type_, "id": f"c{self.count}", **fields}))
        if who == "server":
            return await self.kernel.execute_for_server(self.world.session_id, command)
        return await self.kernel.execute(await self.actor(who), command)


async def floor_in_database(db, world) -> dict:
    async with db() as s:
        session = await s.get(models.Session, world.session_id)
        return floor_view(await load_floor(s, session), NOW)


async def board_in_database(db, world) -> Board:
    async with db() as s:
        session = await s.get(models.Session, world.session_id)
        board = await load_board(s, session)
        await load_votes(s, board, list(board.questions))
        return board


def board_facts(board: Board, with_votes_of: Board | None = None) -> dict:
    """What anyone would notice of each question; voters only where the held board loaded them."""
    facts = {}
    for question_id, question in board.questions.items():
        voters = question.voters if with_votes_of is None else with_votes_of.questions[question_id].voters
        facts[question_id] = (
            question.state,
            question.text,
            question.merged_into,
            question.topic_id,
            None if voters is None else frozenset(board.voters(question)),
        )
    return {"questions": facts, "queue": board.queue, "moderated": board.is_moderated}


async def assert_held_is_stored(meeting: Meeting, context: str) -> None:
    held = meeting.kernel._held.get(meeting.world.session_id)
    if held is None:
        return  # nothing held: the next command reads it all
    stored_session = await _session_row(meeting)
    assert held.session.last_seq == stored_session.last_seq, context
    if Floor in held.kept:
        assert floor_view(held.kept[Floor].state, NOW) == await floor_in_database(meeting.db, meeting.world), context
    if Board in held.kept:
        kept = held.kept[Board].state
        stored = await board_in_database(meeting.db, meeting.world)
        assert board_facts(kept) == board_facts(stored, with_votes_of=kept), context


async def _session_row(meeting: Meeting) -> models.Session:
    async with meeting.db() as s:
        session = await s.get(models.Session, meeting.world.session_id)
        assert session is not None
        return session


async def set_the_scene(meeting: Meeting) -> dict[str, int]:
    """Requests waiting, a speech on the floor, questions in several states, an interpreter on air."""
    for who in ("usa", "france", "peru", "icrc"):
        await meeting.send(who, "request_floor")
    await meeting.send("chair", "give_floor")
    for who, text in (("france", "What of the stockpiles?"), ("peru", "And of clearance?"), ("usa", "Funding?")):
        await meeting.send(who, "submit_question", text=text, language="en")
    questions = sorted((await board_in_database(meeting.db, meeting.world)).questions)
    for question_id in questions:
        await meeting.send("chair", "approve_question", question_id=question_id)
    await meeting.send("icrc", "vote_question", question_id=questions[0])
    await meeting.send("chair", "queue_question", question_id=questions[1])
    await meeting.send("fr1", "take_mic")
    waiting = (await floor_in_database(meeting.db, meeting.world))["waiting"]
    return {
        "request_id": waiting[0]["id"],
        "question_id": questions[0],
        "into_id": questions[2],
        "delegation_id": meeting.world.delegations["fr"],
        "participant_id": meeting.world.participants["fr1"],
    }


def example_of(name: str, ids: dict[str, int]) -> dict:
    block = re.findall(r"```json\n(.*?)```", sections()[name], flags=re.S)[0]
    fields = {key: value for key, value in json.loads(block).items() if key not in ("type", "id")}
    for key in fields:
        if key in ids:
            fields[key] = ids[key]
    return fields


COMMANDS = sorted(command_registry().specs)


# What is held is the same on both engines; SQLite keeps the 86 cases quick.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("when", ["first event", "end"])
@pytest.mark.parametrize("name", COMMANDS)
async def test_a_command_refused_after_changing_its_domain_leaves_nothing_held(db, world, name, when, kernels):
    await add_booth_staff(db, world)
    armed: dict[str, str] = {}
    meeting = Meeting(db, world, kernels, refusing(command_registry(), armed))
    ids = await set_the_scene(meeting)  # the kernel holds the session, as a process running the meeting would

    spec = command_registry()[name]
    fields = example_of(name, ids)
    if "request_ids" in fields:
        fields["request_ids"] = [r["id"] for r in (await floor_in_database(db, world))["waiting"]]
    if "question_ids" in fields:
        fields["question_ids"] = (await board_in_database(db, world)).queue
    roles = {role.value for role in spec.roles}
    who = next((person for role, person in SENDERS if role in roles), "server")
    seq_before = (await _session_row(meeting)).last_seq
    armed[name] = when
    with pytest.raises(Refused):
        await meeting.send(who, name, **fields)
    armed.clear()
    assert (await _session_row(meeting)).last_seq == seq_before, "a refused command recorded an event"
    await assert_held_is_stored(meeting, name)
    # The next commands work from what the database holds, not from a copy the refusal changed.
    waiting_before = len((await floor_in_database(db, world))["waiting"])
    await meeting.send("icbl", "request_floor")
    await meeting.send("chair", "move_request", request_id=ids["request_id"], position=1)
    await meeting.send("peru", "vote_question", question_id=ids["into_id"])
    await assert_held_is_stored(meeting, f"the commands after {name}")
    assert len((await floor_in_database(db, world))["waiting"]) == waiting_before + 1


async def test_a_domain_that_changes_a_question_before_refusing_cannot_overfill_the_queue(
    db, world, monkeypatch, kernels
):
    """The fault that gave 21 questions "next up" where 20 is the most: the
    domain moved the question, then refused; the kernel kept the moved copy,
    and the chair's next edit of it saved it as queued."""

    def enqueue_carelessly(self, question_id, position, now):
        question = self.get(question_id)
        was_public = self.public_ids()
        question.move(State.QUEUED, now)  # changed first ...
        if len(self.queue) >= MAX_QUEUE:
            raise Refused("queue_full", "Full.")  # ... then refused
        self.queue.insert(len(self.queue) if position is None else position - 1, question.id)
        self.queue_changed = True
        return self._change("queued", question, was_public=was_public)

    monkeypatch.setattr(Board, "enqueue", enqueue_carelessly)
    meeting = Meeting(db, world, kernels, command_registry())
    authors = ("france", "france2", "peru", "usa", "icrc", "icbl", "presenter")  # each within their own limit
    for n in range(MAX_QUEUE + 1):
        author = authors[n % len(authors)]
        await meeting.send(author, "submit_question", text=f"Question number {n} on stockpiles?", language="en")
    ids = sorted((await board_in_database(db, world)).questions)
    for question_id in ids:
        await meeting.send("chair", "approve_question", question_id=question_id)
    for question_id in ids[:MAX_QUEUE]:
        await meeting.send("chair", "queue_question", question_id=question_id)
    last = ids[MAX_QUEUE]
    with pytest.raises(Refused) as refused:
        await meeting.send("chair", "queue_question", question_id=last)
    assert refused.value.code == "queue_full"
    await meeting.send("chair", "edit_question", question_id=last, text="Question on stockpiles, edited?")
    async with db() as s:
        queued = await s.scalar(
            select(func.count())
            .select_from(models.Question)
            .where(models.Question.session_id == world.session_id, models.Question.state == State.QUEUED.value)
        )
    assert queued == MAX_QUEUE
    await assert_held_is_stored(meeting, "after the refused enqueue and an edit")
