"""CSV import: 200 delegations and 600 participants into a fresh database.

For each run: a fresh database (a new SQLite file; with --database-url, that
PostgreSQL database WIPED), the schema migrated and a one-session event
loaded; then timed, one after another, in this process:

- ``delegations``: importing the 200 delegations (a third with their own
  member limit, half with a focal point);
- ``participants``: importing the 600 participants (3 per delegation, a
  third without a key, made from the name);
- ``participants again``: the same file again with every key filled in
  (600 updates in place);
- ``export event``: writing the event file back (bonus).

The median of --runs runs (3) is printed for each.

    .venv/bin/python bench/csv_import.py
    .venv/bin/python bench/csv_import.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.csv_import import import_csv  # noqa: E402
from server.db import create_engine, migrate, sessionmaker  # noqa: E402
from server.event_export import export_event  # noqa: E402
from server.loader import load_event, parse_event  # noqa: E402

SECRET = "bench-secret"
SLUG = "csv-bench"
KINDS = ("state_party", "Observer State", "international_organisation", "Civil society")
EVENT = textwrap.dedent(f"""\
    event:
      slug: {SLUG}
      title: CSV import bench
      timezone: Europe/Zurich
      max_delegation_members: 3
    sessions:
      - key: plenary
        title: Plenary
        starts: "2021-06-21 10:00"
        ends: "2021-06-21 13:00"
    """)


def delegations_csv(count: int) -> bytes:
    lines = ["key;name;kind;member_limit;focal_name;focal_email;focal_language"]
    for n in range(count):
        limit = "4" if n % 3 == 0 else ""
        focal = f"Focal {n};focal{n}@example.org;{('en', 'fr', 'es', 'ar')[n % 4]}" if n % 2 == 0 else ";;"
        lines.append(f"d{n:03d};Delegation {n};{KINDS[n % 4]};{limit};{focal}")
    # European Excel: ';' and a byte-order mark.
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


def participants_csv(delegations: int, per_delegation: int, with_keys: bool) -> bytes:
    lines = ["key,name,title,delegation,roles,email,language,sponsored"]
    for n in range(delegations):
        for m in range(per_delegation):
            index = n * per_delegation + m
            name = f"Pérson {n} {m}"
            key = f"person-{n}-{m}" if with_keys or index % 3 else ""
            sponsored = "yes" if m == 0 else "no"
            lines.append(f"{key},{name},Delegate,d{n:03d},participant,p{index}@example.org,en,{sponsored}")
    return ("\n".join(lines) + "\n").encode("utf-8")


async def fresh_database(url: str | None, directory: Path, run: int) -> str:
    if url is None:
        return f"sqlite+aiosqlite:///{directory}/bench-{run}.db"
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()
    return url


async def one_run(url: str, delegations: bytes, people: bytes, people_keyed: bytes) -> dict[str, float]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        maker = sessionmaker(engine)
        await load_event(maker, parse_event(EVENT), SECRET)
        times = {}
        for name, what, data in (
            ("delegations", "delegations", delegations),
            ("participants", "participants", people),
        ):
            start = time.perf_counter()
            report = await import_csv(maker, SLUG, what, data, SECRET)  # type: ignore[arg-type]
            times[name] = time.perf_counter() - start
            assert report.counts.created == (200 if what == "delegations" else 600), report.summary()
        # The derived keys are those of the keyed file: 600 updates.
        start = time.perf_counter()
        report = await import_csv(maker, SLUG, "participants", people_keyed, SECRET)
        times["participants again"] = time.perf_counter() - start
        assert (report.counts.created, report.counts.updated) == (0, 600), report.summary()
        start = time.perf_counter()
        await export_event(maker, SLUG)
        times["export event"] = time.perf_counter() - start
        return times
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="also on this PostgreSQL database (WIPED)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    delegations = delegations_csv(200)
    people = participants_csv(200, 3, with_keys=False)
    # Keys made from "Pérson N M" are "person-n-m": the keyed file updates the same rows.
    people_keyed = participants_csv(200, 3, with_keys=True)
    print(f"files: delegations {len(delegations):,} bytes, participants {len(people):,} bytes")
    targets = [("sqlite", None)] + ([("postgresql", args.database_url)] if args.database_url else [])
    with tempfile.TemporaryDirectory() as directory:
        for label, url in targets:
            runs = []
            for run in range(args.runs):
                database = await fresh_database(url, Path(directory), run)
                runs.append(await one_run(database, delegations, people, people_keyed))
            print(f"{label} (median of {args.runs} runs):")
            for name in runs[0]:
                values = [times[name] for times in runs]
                print(
                    f"  {name:<20} {statistics.median(values) * 1000:8.1f} ms"
                    f"   (runs: {', '.join(f'{value * 1000:.1f}' for value in values)})"
                )


if __name__ == "__main__":
    asyncio.run(main())
