"""Cost of one command through the kernel, and size of its event, as the list grows.

Measured in process (no socket, no Redis: the MemoryBus), through
``Kernel.execute`` exactly as the WebSocket handler calls it, with N speakers
waiting on the list (N given with --waiting), on SQLite (a fresh temp file)
or on PostgreSQL (--database; that database is WIPED at start).

Set-up, for each N, in one database: an event with N+1 delegations of
varied tiers, one participant each, and a chair. The extra delegate asks for the floor and the
chair gives it (so a speech is under way), then the N others ask for the
floor through the kernel: N are waiting.

Measured loop, R rounds (after a few unmeasured warm-up rounds): the extra
delegate asks for the floor (a statement, inserted by tier somewhere in the
list) and withdraws; the chair moves a random request to a random place;
the chair pauses and resumes the speech. The rounds of the different N are
interleaved (10, 50, 150, 50, 150, 10, ...), so a noisy minute on a shared
machine weighs on every N alike and the ratio between them holds. Each
``execute`` is timed with perf_counter (lock, handler, event log, commit,
publish), and with process_time (CPU of this process, aiosqlite's thread
included). Commands are parsed from JSON like the socket does, outside the
timing.

Printed for each backend and N: median and p95 ms per command type and
overall; the bytes of each event payload written during the loop (median,
max, per type; budget under 2 KB at 150 waiting); the bytes of event log
written to build the list of N; and the ratio of median execute time at the
largest N vs the smallest (it should stay near 1x).

    .venv/bin/python bench/kernel_execute.py --waiting 10 50 150
    .venv/bin/python bench/kernel_execute.py --waiting 10 50 150 \\
        --database postgresql+asyncpg://postgres@127.0.0.1:5432/tribune_bench
    .venv/bin/python bench/kernel_execute.py --waiting 10 150 --profile   # which function grows

The machines are shared and noisy: read medians and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import percentile, wipe_postgres  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from rooms.actor import Actor  # noqa: E402
from rooms.delegations import DEFAULT_PRECEDENCE, Tier  # noqa: E402
from rooms.floor import DEFAULT_TIME_LIMITS  # noqa: E402
from server import models  # noqa: E402
from server.app import command_registry, state_stores  # noqa: E402
from server.auth import actor_in  # noqa: E402
from server.bus import MemoryBus  # noqa: E402
from server.db import create_engine, migrate, sessionmaker  # noqa: E402
from server.event_log import LoggedEvent, session_topic  # noqa: E402
from server.kernel import Kernel  # noqa: E402
from server.protocol import Parser  # noqa: E402
from server.tokens import token_hash  # noqa: E402

# The mix of tiers of a typical conference: most delegations are States.
TIER_WEIGHTS = {
    Tier.STATE_PARTY: 5,
    Tier.OBSERVER_STATE: 2,
    Tier.INTERNATIONAL_ORGANISATION: 2,
    Tier.CIVIL_SOCIETY: 1,
}
# The extra delegate's tier: its statement lands in the middle of the list.
EXTRA_TIER = Tier.OBSERVER_STATE
WARMUP_ROUNDS = 10


# -- the database ----------------------------------------------------------


async def fresh_database(url: str | None, workdir: Path) -> str:
    """An empty database: a new SQLite file, or the PostgreSQL one wiped."""
    if url is None:
        return f"sqlite+aiosqlite:///{workdir}/kernel.db"
    await wipe_postgres(url)
    return url


# -- the meeting -----------------------------------------------------------


@dataclass
class Meeting:
    """The session and the actors who send commands in it."""

    session_id: int
    chair: Actor
    extra: Actor
    delegates: list[Actor]


async def create_meeting(maker, waiting: int, rng: random.Random) -> Meeting:
    """An event with waiting+1 delegations (varied tiers), one delegate each, and a chair."""
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    slug = f"bench-{waiting}"
    async with maker() as db, db.begin():
        event = models.Event(slug=slug, title=f"Bench, {waiting} waiting", timezone="UTC", languages=["en", "fr"])
        db.add(event)
        await db.flush()
        session = models.Session(
            event_id=event.id,
            key="s",
            title="Session",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            precedence=[tier.value for tier in DEFAULT_PRECEDENCE],
            time_limits={tier.value: limit for tier, limit in DEFAULT_TIME_LIMITS.items()},
            point_of_order_limit=60,
            right_of_reply_limit=120,
        )
        db.add(session)
        tiers = rng.choices(list(TIER_WEIGHTS), weights=list(TIER_WEIGHTS.values()), k=waiting) + [EXTRA_TIER]
        for index, tier in enumerate(tiers):
            delegation = models.Delegation(
                event_id=event.id, key=f"d{index}", name=f"Delegation {index}", kind=tier.value
            )
            db.add(delegation)
            await db.flush()
            name = f"Delegate of delegation {index}"
            db.add(_participant(event.id, slug, f"p{index}", name, delegation.id, "participant"))
        db.add(_participant(event.id, slug, "chair", "Chair of the Committee", None, "chair"))
        await db.flush()
        session_id = session.id
    actors = await load_actors(maker, session_id)
    return Meeting(session_id, actors["chair"], actors[f"p{waiting}"], [actors[f"p{i}"] for i in range(waiting)])


def _participant(
    event_id: int, slug: str, key: str, name: str, delegation_id: int | None, role: str
) -> models.Participant:
    return models.Participant(
        event_id=event_id,
        key=key,
        name=name,
        delegation_id=delegation_id,
        token_hash=token_hash(f"{slug}-{key}"),
        roles=[models.ParticipantRole(role=role)],
    )


async def load_actors(maker, session_id: int) -> dict[str, Actor]:
    """Each participant as the socket would see them (roles and delegation loaded)."""
    async with maker() as db:
        session = await db.get(models.Session, session_id)
        participants = await db.scalars(
            select(models.Participant)
            .where(models.Participant.event_id == session.event_id)
            .options(selectinload(models.Participant.roles), selectinload(models.Participant.delegation))
        )
        return {p.key: actor_in(p, session) for p in participants}


# -- driving the kernel ----------------------------------------------------


@dataclass
class Driver:
    """Sends commands through the kernel and follows the floor from the published events."""

    kernel: Kernel
    parser: Parser
    bus: MemoryBus
    published: list[bytes] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    counter: int = 0

    async def send(self, actor: Actor, type_: str, measure: bool = True, **fields) -> dict:
        """Run one command; returns the event it published (the last one)."""
        self.counter += 1
        command = self.parser.parse(json.dumps({"type": type_, "id": self.counter, **fields}))
        self.published.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        await self.kernel.execute(actor, command)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if measure:
            self.timings[type_].append(elapsed)
            self.cpu[type_].append(cpu)
        event = json.loads(LoggedEvent.decode(self.published[-1]).payload)
        if "order" in event["data"]:
            self.order = event["data"]["order"]
        return event


async def make_driver(maker, session_id: int) -> Driver:
    bus = MemoryBus()
    registry = command_registry()
    driver = Driver(Kernel(maker, bus, registry, state_stores()), Parser(registry), bus)
    bus.set_receiver(lambda topic, data: driver.published.append(data))
    await bus.subscribe(session_topic(session_id))
    return driver


async def build_list(driver: Driver, meeting: Meeting) -> tuple[int, int]:
    """A speech under way (the extra delegate's), then N requests waiting.

    Returns the seq range (first, last) of the N requests' events."""
    first = await driver.send(meeting.extra, "request_floor", measure=False)
    await driver.send(meeting.chair, "give_floor", measure=False, request_id=first["data"]["request"]["id"])
    seqs = [(await driver.send(delegate, "request_floor", measure=False))["seq"] for delegate in meeting.delegates]
    assert len(driver.order) == len(meeting.delegates), "every delegate should be waiting"
    return seqs[0], seqs[-1]


async def one_round(driver: Driver, meeting: Meeting, rng: random.Random, measure: bool) -> None:
    """What a meeting does to a list of N: ask and withdraw, a move, pause and resume."""
    requested = await driver.send(meeting.extra, "request_floor", measure)
    await driver.send(meeting.extra, "withdraw", measure, request_id=requested["data"]["request"]["id"])
    request_id = rng.choice(driver.order)
    await driver.send(
        meeting.chair, "move_request", measure, request_id=request_id, position=rng.randint(1, len(driver.order))
    )
    await driver.send(meeting.chair, "pause_speech", measure)
    await driver.send(meeting.chair, "resume_speech", measure)


# -- reading the event log -------------------------------------------------


async def payload_sizes(maker, session_id: int, after: int, upto: int | None = None) -> dict[str, list[int]]:
    """Bytes (UTF-8) of each logged payload with after < seq <= upto, by event type."""
    query = select(models.SessionEvent.type, models.SessionEvent.payload).where(
        models.SessionEvent.session_id == session_id, models.SessionEvent.seq > after
    )
    if upto is not None:
        query = query.where(models.SessionEvent.seq <= upto)
    sizes: dict[str, list[int]] = defaultdict(list)
    async with maker() as db:
        for type_, payload in (await db.execute(query)).all():
            sizes[type_].append(len(payload.encode()))
    return sizes


# -- one N -----------------------------------------------------------------


@dataclass
class Result:
    waiting: int
    timings: dict[str, list[float]]
    # CPU time of this process (all its threads, so aiosqlite's too) per command.
    cpu: dict[str, list[float]]
    sizes: dict[str, list[int]]
    setup_bytes: int
    setup_events: int
    # With --profile: own time per measured command (ms), by function.
    profile: dict[str, float] | None = None

    @property
    def all_timings(self) -> list[float]:
        return [t for values in self.timings.values() for t in values]

    @property
    def all_cpu(self) -> list[float]:
        return [t for values in self.cpu.values() for t in values]

    @property
    def all_sizes(self) -> list[int]:
        return [s for values in self.sizes.values() for s in values]


@dataclass
class SpeakersList:
    """One list of N, set up and warmed, ready for measured rounds."""

    waiting: int
    meeting: Meeting
    driver: Driver
    rng: random.Random
    setup_sizes: list[int]
    measured_after: int
    profiler: cProfile.Profile | None

    async def round(self) -> None:
        if self.profiler:
            self.profiler.enable()
        await one_round(self.driver, self.meeting, self.rng, measure=True)
        if self.profiler:
            self.profiler.disable()


async def set_up(maker, waiting: int, seed: int, profile: bool) -> SpeakersList:
    rng = random.Random(seed)
    meeting = await create_meeting(maker, waiting, rng)
    driver = await make_driver(maker, meeting.session_id)
    first, last = await build_list(driver, meeting)
    setup = await payload_sizes(maker, meeting.session_id, first - 1, last)
    for _ in range(WARMUP_ROUNDS):
        await one_round(driver, meeting, rng, measure=False)
    async with maker() as db:
        measured_after = (await db.get(models.Session, meeting.session_id)).last_seq
    setup_sizes = [s for values in setup.values() for s in values]
    return SpeakersList(
        waiting, meeting, driver, rng, setup_sizes, measured_after, cProfile.Profile() if profile else None
    )


async def result_of(maker, bench: SpeakersList) -> Result:
    sizes = await payload_sizes(maker, bench.meeting.session_id, bench.measured_after)
    driver = bench.driver
    result = Result(
        bench.waiting,
        dict(driver.timings),
        dict(driver.cpu),
        dict(sizes),
        sum(bench.setup_sizes),
        len(bench.setup_sizes),
    )
    if bench.profiler:
        result.profile = own_times(bench.profiler, len(result.all_timings))
    return result


async def run(url: str | None, waitings: list[int], rounds: int, seed: int, profile: bool) -> list[Result]:
    """Set up every N in one database, then measure their rounds interleaved."""
    with tempfile.TemporaryDirectory(prefix="tribune-kernel-") as workdir:
        engine = create_engine(await fresh_database(url, Path(workdir)))
        try:
            await migrate(engine)
            maker = sessionmaker(engine)
            lists = [await set_up(maker, waiting, seed, profile) for waiting in waitings]
            order = random.Random(seed)
            for _ in range(rounds):
                for bench in order.sample(lists, len(lists)):
                    await bench.round()
            results = [await result_of(maker, bench) for bench in lists]
            for bench in lists:
                await bench.driver.kernel.close()
            return results
        finally:
            await engine.dispose()


def own_times(profiler: cProfile.Profile, commands: int) -> dict[str, float]:
    """Own (wall) time per command in ms, by function, from a cProfile run."""
    stats = pstats.Stats(profiler, stream=io.StringIO()).strip_dirs()
    return {
        f"{Path(file).name}:{line}({name})": tottime * 1000 / commands
        for (file, line, name), (_, _, tottime, _, _) in stats.stats.items()
    }


def print_profile(results: list[Result], top: int = 15) -> None:
    """The functions whose own time per command grew most from the smallest N to the largest."""
    low, high = results[0], results[-1]
    grown = sorted(high.profile, key=lambda f: high.profile[f] - low.profile.get(f, 0.0), reverse=True)
    print(
        f"\n--- cProfile: own time per command (ms, wall, profiler overhead included), {low.waiting} -> {high.waiting} waiting ---"
    )
    print(f"  {'total':70} {sum(low.profile.values()):7.3f} -> {sum(high.profile.values()):7.3f}")
    for name in grown[:top]:
        print(f"  {name[:70]:70} {low.profile.get(name, 0.0):7.3f} -> {high.profile[name]:7.3f}")


# -- output ----------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def print_details(result: Result) -> None:
    print(f"\n{result.waiting} waiting: {len(result.all_timings)} commands measured")
    print(f"  {'command':16} {'n':>5} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7}")
    rows = [*result.timings.items(), ("all", result.all_timings)]
    cpus = {**result.cpu, "all": result.all_cpu}
    for type_, values in rows:
        print(
            f"  {type_:16} {len(values):5} {ms(statistics.median(values)):>10} "
            f"{ms(percentile(values, 0.95)):>8} {ms(statistics.median(cpus[type_])):>7}"
        )
    print(f"  {'event':18} {'n':>5} {'median B':>9} {'max B':>7}")
    for type_, values in sorted(result.sizes.items()):
        print(f"  {type_:18} {len(values):5} {statistics.median(values):9.0f} {max(values):7}")
    print(
        f"  event log to build the list of {result.waiting}: {result.setup_bytes} bytes "
        f"in {result.setup_events} events ({result.setup_bytes / max(1, result.setup_events):.0f} B/event)"
    )


def print_summary(backend: str, results: list[Result]) -> None:
    print(f"\n== {backend}: execute() per command, all types ==")
    print(
        f"{'waiting':>7} | {'median ms':>9} | {'p95 ms':>7} | {'median bytes':>12} | {'max bytes':>9} | "
        f"{'cpu ms':>6} | {'set-up log bytes':>16}"
    )
    for r in results:
        print(
            f"{r.waiting:7} | {ms(statistics.median(r.all_timings)):>9} | {ms(percentile(r.all_timings, 0.95)):>7} | "
            f"{statistics.median(r.all_sizes):12.0f} | {max(r.all_sizes):9} | {ms(statistics.median(r.all_cpu)):>6} | "
            f"{r.setup_bytes:16}"
        )
    if len(results) > 1:
        low, high = results[0], results[-1]
        print(f"ratio of medians, {high.waiting} vs {low.waiting} waiting (wall, cpu):")
        print(
            f"  {'all':16} x{_ratio(high.all_timings, low.all_timings):.2f}  x{_ratio(high.all_cpu, low.all_cpu):.2f}"
        )
        for type_ in low.timings:
            wall = _ratio(high.timings[type_], low.timings[type_])
            print(f"  {type_:16} x{wall:.2f}  x{_ratio(high.cpu[type_], low.cpu[type_]):.2f}")
    largest = results[-1]
    verdict = "within" if max(largest.all_sizes) < 2048 else "OVER"
    print(f"largest event at {largest.waiting} waiting: {max(largest.all_sizes)} bytes ({verdict} the 2 KB budget)")


def _ratio(high: list[float], low: list[float]) -> float:
    return statistics.median(high) / statistics.median(low)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, nargs="+", default=[10, 50, 150], help="list lengths N")
    parser.add_argument("--rounds", type=int, default=200, help="measured rounds of 5 commands")
    parser.add_argument("--database", default=None, help="PostgreSQL URL (WIPED); default: a temp SQLite file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the measured loop of each N")
    args = parser.parse_args()
    backend = "SQLite" if args.database is None else "PostgreSQL"
    print(f"{backend}, {args.rounds} rounds x 5 commands (+{WARMUP_ROUNDS} warm-up rounds), waiting {args.waiting}")
    results = await run(args.database, sorted(set(args.waiting)), args.rounds, args.seed, args.profile)
    for result in results:
        print_details(result)
    print_summary(backend, results)
    if args.profile:
        print_profile(results)


if __name__ == "__main__":
    asyncio.run(main())
