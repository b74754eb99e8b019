"""A domain the kernel has never heard of: its aggregate, one command, its store.

Nothing in server/ names it: the command set and the store are composed
like the real ones (``server.app``), and the kernel holds, saves and drops
its state like theirs. This file is the whole of what adding it took.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert, select

from rooms.commands import Command, CommandSet, Context, Registry
from rooms.errors import Refused
from rooms.floor_commands import commands as floor_commands
from rooms.roles import FLOOR_RUNNERS
from server import models
from server.app import state_stores
from server.auth import current_actor
from server.bus import MemoryBus
from server.event_log import LoggedEvent, session_topic
from server.kernel import Kernel
from server.protocol import Parser
from server.state import Access, Store, Stores

# -- the domain (what would live under rooms/): plain Python, no I/O --------------


@dataclass
class Minutes:
    """What the secretariat notes of a session, line by line."""

    lines: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)

    def note(self, text: str) -> int:
        if text in self.lines:
            raise Refused("duplicate", "This line is in the minutes already.")
        self.lines.append(text)
        self.new.append(text)
        return len(self.lines)


minutes_commands = CommandSet()


class AddMinute(Command):
    type: Literal["add_minute"]
    text: str


@minutes_commands.command(AddMinute, roles=FLOOR_RUNNERS)
async def add_minute(ctx: Context, command: AddMinute) -> None:
    minutes = await ctx.state(Minutes)
    number = minutes.note(command.text)
    await ctx.emit("minute_added", lambda: {"number": number, "text": command.text})


# -- its store (what would live under server/) --------------------------------------

metadata = MetaData()
minute_rows = Table(
    "test_minutes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey(models.Session.id), nullable=False),
    Column("text", String(200), nullable=False),
)


class MinutesStore(Store[Minutes]):
    kind = Minutes

    @classmethod
    async def load(cls, tx: Access, parts: tuple[int, ...]) -> MinutesStore:
        rows = await tx.connection.execute(
            select(minute_rows.c.text).where(minute_rows.c.session_id == tx.session.id).order_by(minute_rows.c.id)
        )
        return cls(Minutes(lines=list(rows.scalars())))

    async def save(self, tx: Access) -> None:
        if self.state.new:
            await tx.connection.execute(
                insert(minute_rows), [{"session_id": tx.session.id, "text": text} for text in self.state.new]
            )
            self.state.new.clear()

    def has_changes(self, tx: Access) -> bool:
        return bool(self.state.new)


# -- composed as the app composes the real ones ---------------------------------------

REGISTRY = Registry(floor_commands, minutes_commands)
STORES = Stores([*state_stores().by_kind.values(), MinutesStore])
NOW = datetime(2020, 12, 4, 13, 0, tzinfo=UTC)


@pytest.fixture
async def minutes_table(db):
    engine = db.kw["bind"]
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)


async def _send(kernel: Kernel, db, world, who: str, type_: str, **fields):
    async with db() as s:
        session = await s.get(models.Session, world.session_id)
        actor = await current_actor(s, world.participants[who], session)
    command = Parser(REGISTRY).parse(json.dumps({"type": type_, "id": "m", **fields}))
    return await kernel.execute(actor, command)


async def _stored(db, world) -> list[str]:
    async with db() as s:
        return list(
            await s.scalars(
                select(minute_rows.c.text)
                .where(minute_rows.c.session_id == world.session_id)
                .order_by(minute_rows.c.id)
            )
        )


async def test_a_new_domain_runs_through_the_kernel_without_the_kernel_knowing_it(db, world, minutes_table, kernels):
    published: list[bytes] = []
    bus = MemoryBus()
    one = kernels(bus, REGISTRY, STORES, clock=lambda: NOW)
    other = kernels(MemoryBus(), REGISTRY, STORES, clock=lambda: NOW)  # another process
    bus.set_receiver(lambda topic, data: published.append(data))
    await bus.subscribe(session_topic(world.session_id))

    executed = await _send(one, db, world, "chair", "add_minute", text="The meeting opened at 13:00.")
    assert executed.seq == 1
    await _send(other, db, world, "secretariat", "add_minute", text="Thailand took the chair.")
    await _send(one, db, world, "chair", "request_floor")  # its domains side by side
    assert await _stored(db, world) == ["The meeting opened at 13:00.", "Thailand took the chair."]
    # What one process held when the other wrote was read again, not kept.
    held = one._held[world.session_id].kept
    assert Minutes not in held or held[Minutes].state.lines == await _stored(db, world)

    with pytest.raises(Refused) as refused:
        await _send(one, db, world, "chair", "add_minute", text="Thailand took the chair.")
    assert refused.value.code == "duplicate"
    with pytest.raises(Refused) as refused:
        await _send(one, db, world, "france", "add_minute", text="France was here.")
    assert refused.value.code == "forbidden"
    await _send(one, db, world, "chair", "add_minute", text="France took the floor.")
    assert await _stored(db, world) == [
        "The meeting opened at 13:00.",
        "Thailand took the chair.",
        "France took the floor.",
    ]
    assert one._held[world.session_id].kept[Minutes].state.lines == await _stored(db, world)
    events = [json.loads(LoggedEvent.decode(data).payload) for data in published]
    events = [event for event in events if event["type"] == "minute_added"]
    assert [event["data"]["number"] for event in events] == [1, 3]
