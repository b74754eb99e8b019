"""What speaking-time budgets cost: give_floor and end_speech with budgets on and off.

In process, through ``Kernel.execute`` as the socket handler calls it, on
SQLite (a temp file) or PostgreSQL (--database, WIPED). One event, 40
delegations, two sessions taking up one agenda item each: one item with
budgets (per delegation, per tier, one named group of ten delegations), one
without. Before the measured rounds, each item already has 200 ended
speeches (what a day of debate leaves). Each round, on each session in turn
(interleaved, so a noisy moment weighs on both): a delegate asks for the
floor, the chair gives it, the chair ends the speech. Printed: the median
and p95 of give_floor and end_speech, on and off, and their ratio.

    .venv/bin/python bench/budgets.py --rounds 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooms.delegations import DEFAULT_PRECEDENCE  # noqa: E402
from rooms.floor import DEFAULT_TIME_LIMITS  # noqa: E402
from server import models  # noqa: E402
from server.app import command_registry, state_stores  # noqa: E402
from server.auth import actor_in, participant_by_token  # noqa: E402
from server.bus import MemoryBus  # noqa: E402
from server.db import create_engine, migrate, sessionmaker  # noqa: E402
from server.kernel import Kernel  # noqa: E402
from server.protocol import Parser  # noqa: E402
from server.tokens import token_hash  # noqa: E402

DELEGATIONS = 40
PAST_SPEECHES = 200


async def build(maker) -> tuple[int, dict[str, int], list[str]]:
    start = datetime(2024, 9, 24, 14, 0, tzinfo=UTC)
    async with maker() as db, db.begin():
        event = models.Event(slug="bench", title="Bench", timezone="UTC")
        db.add(event)
        await db.flush()
        delegations = []
        for n in range(DELEGATIONS):
            delegation = models.Delegation(
                event_id=event.id, key=f"d{n}", name=f"Delegation {n:02d}", kind=DEFAULT_PRECEDENCE[n % 4].value
            )
            db.add(delegation)
            delegations.append(delegation)
        await db.flush()
        budgets = {
            "per_delegation": 600,
            "per_tier": {"civil_society": 1800},
            "groups": {"Ten": {"delegations": [f"d{n}" for n in range(10)], "seconds": 3600}},
        }
        sessions = {}
        for name, config in (("on", budgets), ("off", {})):
            item = models.AgendaItem(
                event_id=event.id, key=f"item-{name}", title=name, titles={}, reply_limits=[600, 300], budgets=config
            )
            db.add(item)
            await db.flush()
            session = models.Session(
                event_id=event.id,
                key=name,
                title=name,
                titles={},
                descriptions={},
                starts_at=start,
                ends_at=start + timedelta(hours=3),
                precedence=[t.value for t in DEFAULT_PRECEDENCE],
                time_limits={t.value: v for t, v in DEFAULT_TIME_LIMITS.items()},
                point_of_order_limit=60,
                right_of_reply_limit=120,
                item_ids=[item.id],
                current_item_id=item.id,
                waiting_order=[],
            )
            db.add(session)
            await db.flush()
            sessions[name] = session.id
            for n in range(PAST_SPEECHES):
                delegation = delegations[n % DELEGATIONS]
                request = models.SpeakingRequest(
                    session_id=session.id,
                    delegation_id=delegation.id,
                    tier=delegation.kind,
                    kind="statement",
                    status="done",
                    requested_at=start,
                    speaker_name="x",
                    agenda_item_id=item.id,
                )
                db.add(request)
                await db.flush()
                db.add(
                    models.Speech(
                        session_id=session.id,
                        request_id=request.id,
                        started_at=start,
                        ended_at=start + timedelta(seconds=90),
                        paused_s=0.0,
                    )
                )
        tokens = []
        for n, delegation in enumerate(delegations):
            token = f"bench-delegate-{n}"
            db.add(
                models.Participant(
                    event_id=event.id,
                    key=f"p{n}",
                    name=f"Delegate {n}",
                    delegation_id=delegation.id,
                    token_hash=token_hash(token),
                    roles=[models.ParticipantRole(role="participant")],
                )
            )
            tokens.append(token)
        db.add(
            models.Participant(
                event_id=event.id,
                key="chair",
                name="Chair",
                token_hash=token_hash("bench-chair"),
                roles=[models.ParticipantRole(role="chair")],
            )
        )
    return event.id, sessions, tokens


async def run(url: str | None, rounds: int) -> dict[tuple[str, str], list[float]]:
    with tempfile.TemporaryDirectory() as work:
        url = url or f"sqlite+aiosqlite:///{work}/bench.db"
        engine = create_engine(url)
        if url.startswith("postgresql"):
            from sqlalchemy import text

            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        await migrate(engine)
        maker = sessionmaker(engine)
        _, sessions, tokens = await build(maker)
        registry = command_registry()
        kernel, parser = Kernel(maker, MemoryBus(), registry, state_stores()), Parser(registry)
        actors = {}
        async with maker() as db:
            chair = await participant_by_token(db, "bench-chair")
            people = [await participant_by_token(db, token) for token in tokens]
            for name, session_id in sessions.items():
                session = await db.get(models.Session, session_id)
                actors[name] = (actor_in(chair, session), [actor_in(p, session) for p in people])
        times: dict[tuple[str, str], list[float]] = {}
        counter = 0

        async def send(actor, type_: str, measure: str | None = None) -> None:
            nonlocal counter
            counter += 1
            command = parser.parse(json.dumps({"type": type_, "id": counter}))
            started = time.perf_counter()
            await kernel.execute(actor, command)
            if measure:
                times.setdefault((measure, type_), []).append((time.perf_counter() - started) * 1000)

        for round_ in range(rounds + 10):
            for name in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                chair_actor, delegates = actors[name]
                measure = name if round_ >= 10 else None
                await send(delegates[round_ % DELEGATIONS], "request_floor")
                await send(chair_actor, "give_floor", measure)
                await send(chair_actor, "end_speech", measure)
        await kernel.close()
        await engine.dispose()
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--database", default=None, help="PostgreSQL URL (WIPED); default: a temp SQLite file")
    options = parser.parse_args()
    times = asyncio.run(run(options.database, options.rounds))
    print(
        f"give_floor and end_speech, {options.rounds} rounds, {DELEGATIONS} delegations, {PAST_SPEECHES} past speeches per item"
    )
    for command in ("give_floor", "end_speech"):
        on, off = times[("on", command)], times[("off", command)]
        p95 = lambda values: sorted(values)[int(len(values) * 0.95)]  # noqa: E731
        print(
            f"  {command:12} budgets on: median {statistics.median(on):.2f} ms, p95 {p95(on):.2f}; "
            f"off: median {statistics.median(off):.2f} ms, p95 {p95(off):.2f}; "
            f"on/off x{statistics.median(on) / statistics.median(off):.2f}"
        )


if __name__ == "__main__":
    main()
