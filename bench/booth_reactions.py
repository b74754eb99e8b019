"""What following the floor costs the floor: give_floor and end_speech with and
without the booths' reactions (relay advice, pass-through) in the same transaction.

In process, through ``Kernel.execute`` as the socket handler calls it, on
SQLite (a fresh temp file) with the MemoryBus; the test world (six
delegations) with five booths and five interpreters. Rounds alternate the
two registries so a noisy moment weighs on both alike. Each round: a
delegate asks for the floor in Arabic or Spanish (alternately), the chair
gives it, then ends the speech.

    PYTHONPATH=. .venv/bin/python bench/booth_reactions.py --rounds 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from interpretation import booth_commands, caption_commands
from rooms import floor_commands
from rooms.commands import Registry
from server import models
from server.app import state_stores
from server.auth import current_actor
from server.bus import MemoryBus
from server.db import create_engine, migrate, sessionmaker
from server.kernel import Kernel
from server.protocol import Parser
from tests.booth_world import add_booth_staff
from tests.conftest import build_world


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await migrate(engine)
        maker = sessionmaker(engine)
        world = await add_booth_staff(maker, await build_world(maker))
        registries = {
            "floor only": Registry(floor_commands.commands),
            "with booths": Registry(floor_commands.commands, booth_commands.commands, caption_commands.commands),
        }
        bus = MemoryBus()
        await bus.start()
        async with maker() as db:
            session = await db.get(models.Session, world.session_id)
            delegate = await current_actor(db, world.participants["france"], session)
            chair = await current_actor(db, world.participants["chair"], session)
        timings: dict[tuple[str, str], list[float]] = {}
        events: dict[str, list[int]] = {name: [] for name in registries}
        for n in range(rounds):
            for name, registry in registries.items():
                kernel, parser = Kernel(maker, bus, registry, state_stores()), Parser(registry)
                language = "ar" if n % 2 else "es"
                steps = [
                    (delegate, f'{{"type":"request_floor","id":1,"language":"{language}"}}'),
                    (chair, '{"type":"give_floor","id":2}'),
                    (chair, '{"type":"end_speech","id":3}'),
                ]
                for actor, text in steps:
                    command = parser.parse(text)
                    async with maker() as db:
                        before = await db.scalar(select(func.max(models.SessionEvent.seq)))
                    started = time.perf_counter()
                    await kernel.execute(actor, command)
                    timings.setdefault((name, command.type), []).append((time.perf_counter() - started) * 1000)
                    if command.type == "give_floor":
                        async with maker() as db:
                            after = await db.scalar(select(func.max(models.SessionEvent.seq)))
                        events[name].append(after - (before or 0))
                await kernel.close()
        await bus.stop()
        await engine.dispose()
    print(f"SQLite, {rounds} rounds each, ms per command (median / p95)")
    for (name, kind), values in sorted(timings.items(), key=lambda item: (item[0][1], item[0][0])):
        values.sort()
        print(f"  {kind:14} {name:12} {statistics.median(values):6.2f} / {values[int(len(values) * 0.95)]:6.2f}")
    for name, counts in events.items():
        print(f"  events per give_floor, {name}: {statistics.median(counts):.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
