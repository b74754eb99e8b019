"""One snapshot, server side: what a connect costs the server, part by part.

The meeting of bench/fanout.py (one session, N listeners), optionally with
questions and votes, loaded with `tribune load` into a fresh SQLite file (or
the PostgreSQL database given, WIPED). Then, in this process, on that
database, timed one after another (no concurrency, so each figure is the
work itself):

- ``reference``: the snapshot as it was built before issue 9, every part read
  for one viewer and every vote loaded (tests/snapshot_reference.py);
- ``shared build``: the part every viewer shares, read and encoded once per
  state (server/snapshot.py: build_shared);
- ``personal``: one viewer's snapshot once the shared part is built;
- ``connect``: what a socket's open reads in its transaction: the session,
  its event and the participant by token with their roles (one statement),
  then the snapshot.

    .venv/bin/python bench/snapshot_build.py --listeners 2000 --questions 40
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import tribune_servers  # noqa: E402
from fanout import event_yaml  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from server import models  # noqa: E402
from server.app import command_registry  # noqa: E402
from server.auth import actor_in  # noqa: E402
from server.db import create_engine, sessionmaker  # noqa: E402
from server.snapshot import build_shared, personal, read_for_connect, snapshot  # noqa: E402
from server.snapshot_cache import SharedCache  # noqa: E402
from tests.snapshot_reference import reference_snapshot  # noqa: E402


async def add_questions(maker, session_id: int, count: int, listeners: list[int]) -> int:
    """``count`` approved questions by listeners, each listener voting for a few."""
    rng = random.Random(9)
    start = datetime(2026, 1, 1, 10, tzinfo=UTC)
    votes = 0
    async with maker() as db, db.begin():
        ids = []
        for n in range(count):
            ids.append(
                await db.scalar(
                    insert(models.Question)
                    .values(
                        session_id=session_id,
                        author_id=listeners[n % len(listeners)],
                        text=f"Question number {n}: how do we go on from here?",
                        language="en",
                        state="approved" if n % 5 else "pending",
                        submitted_at=start + timedelta(seconds=n),
                    )
                    .returning(models.Question.id)
                )
            )
        rows = [
            {"question_id": question_id, "participant_id": voter, "created_at": start}
            for voter in listeners
            for question_id in rng.sample(ids, min(3, len(ids)))
        ]
        if rows:
            await db.execute(insert(models.QuestionVote), rows)
        votes = len(rows)
    return votes


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.2f} ms, p90 {sorted(samples)[int(len(samples) * 0.9)] * 1000:7.2f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=0, help="questions (1 in 5 pending), 3 votes per listener")
    parser.add_argument("--viewers", type=int, default=200, help="connects timed")
    parser.add_argument("--database", default=None, help="PostgreSQL URL (WIPED); default a fresh SQLite file")
    args = parser.parse_args()
    servers = await tribune_servers(event_yaml(args.listeners), database=args.database)
    links = servers.links("bench")
    session_id = links[0]["sessions"][0]["id"]
    tokens = [link["url"].rsplit("/", 1)[1] for link in links if link["key"].startswith("l")]
    engine = create_engine(servers.env["TRIBUNE_DATABASE_URL"])
    maker, reader = sessionmaker(engine), sessionmaker(engine, read_only=True)
    async with reader() as db:
        listeners = list(await db.scalars(select(models.Participant.id).where(models.Participant.key.like("l%"))))
    votes = await add_questions(maker, session_id, args.questions, listeners)
    registry = command_registry()
    now = datetime.now(UTC)
    viewers = tokens[: args.viewers]
    print(
        f"{args.listeners} listeners, {args.questions} questions, {votes} votes; "
        f"{'PostgreSQL' if args.database else 'SQLite'}; {len(viewers)} viewers, one after another"
    )

    async def actor_of(db, token):
        found = await read_for_connect(db, session_id, token)
        assert found is not None
        session, event, participant = found
        assert participant is not None
        actor = actor_in(participant, session)
        assert actor is not None
        return session, event, actor

    timings: dict[str, list[float]] = {"reference": [], "shared build": [], "personal": [], "connect": []}
    sizes: list[int] = []
    for token in viewers[:50]:
        async with reader() as db, db.begin():
            session, event, actor = await actor_of(db, token)
            started = time.perf_counter()
            sizes.append(len(await reference_snapshot(db, session, actor, registry, now)))
            timings["reference"].append(time.perf_counter() - started)
    for _ in range(20):
        async with reader() as db, db.begin():
            session, event, actor = await actor_of(db, viewers[0])
            started = time.perf_counter()
            shared = await build_shared(db, session, event, now)
            timings["shared build"].append(time.perf_counter() - started)
    for token in viewers:
        async with reader() as db, db.begin():
            session, event, actor = await actor_of(db, token)
            started = time.perf_counter()
            await personal(db, session, shared, actor, registry, now)
            timings["personal"].append(time.perf_counter() - started)
    cache: SharedCache = SharedCache()
    for token in viewers:
        started = time.perf_counter()
        async with reader() as db, db.begin():
            session, event, actor = await actor_of(db, token)
            await snapshot(db, session, actor, registry, now, event=event, cache=cache)
        timings["connect"].append(time.perf_counter() - started)
    for name, samples in timings.items():
        print(f"{name:14} {ms(samples)}  ({len(samples)} runs)")
    print(f"snapshot size: {statistics.median(sizes):.0f} bytes; shared builds during 'connect': {cache.builds}")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
