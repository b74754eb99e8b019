"""The organizer console with a conference's registrations: how long `/organize` takes.

Builds an event with D delegations (invited, each with a focal point) and
R registrations spread over them (every state, some sponsored, with the
personal data a member gives), runs `tribune serve` on it in its own
process (SQLite by default; a PostgreSQL URL given with --database-url is
WIPED), then reads the console N times as its organizer:

- server: the time from sending the request to the last byte (httpx, on
  this machine: the page is built and sent; no browser);
- browser: Chromium's navigation timing for the page (responseEnd,
  domContentLoaded, load), which adds parsing and layout of the page.

    .venv/bin/python bench/console_load.py --delegations 200 --registrations 600

Machines here are shared and noisy: read the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooms.delegations import DEFAULT_PRECEDENCE  # noqa: E402
from server import models, tokens  # noqa: E402
from server.db import create_engine, migrate, sessionmaker  # noqa: E402
from server.secretariat import desk_of  # noqa: E402

SECRET = "bench-secret-bench-secret-bench-secret"
STATES = ["nominated", "pending", "pending", "approved", "approved", "rejected"]


async def build(url: str, delegations: int, registrations: int) -> str:
    engine = create_engine(url)
    if url.startswith("postgresql"):
        from sqlalchemy import text

        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    await migrate(engine)
    maker = sessionmaker(engine)
    now = datetime.now(UTC)
    async with maker() as db, db.begin():
        event = models.Event(
            slug="bench", title="Bench conference", titles={"en": "Bench conference"}, timezone="Asia/Phnom_Penh"
        )
        db.add(event)
        await db.flush()
        organizer_token = tokens.join_token(SECRET, "bench", "organizer", 1)
        db.add(
            models.Participant(
                event_id=event.id,
                key="organizer",
                name="Organizer",
                token_hash=tokens.token_hash(organizer_token),
                roles=[models.ParticipantRole(role="organizer")],
            )
        )
        rows = []
        for n in range(delegations):
            rows.append(
                models.Delegation(
                    event_id=event.id,
                    key=f"d{n}",
                    name=f"Delegation {n:03d}",
                    kind=DEFAULT_PRECEDENCE[n % 4].value,
                    invitation="invited",
                    focal_name=f"Focal {n}",
                    focal_email=f"focal{n}@example.org",
                    focal_language="en",
                )
            )
        db.add_all(rows)
        await db.flush()
        for n in range(registrations):
            person = models.Participant(
                event_id=event.id,
                key=f"m{n}",
                name=f"Member {n}",
                title="Delegate",
                email=f"m{n}@example.org",
                delegation_id=rows[n % delegations].id,
                token_hash=tokens.token_hash(f"join-{n}"),
            )
            db.add(person)
            await db.flush()
            db.add(
                models.Registration(
                    participant_id=person.id,
                    event_id=event.id,
                    state=STATES[n % len(STATES)],
                    sponsorship="requested" if n % 3 == 0 else None,
                    token_hash=tokens.token_hash(f"register-{n}"),
                    token_version=1,
                    gender=["woman", "man", "undisclosed", None][n % 4],
                    accessibility=["captions"] if n % 7 == 0 else [],
                    accessibility_note="",
                    languages=["en"],
                    nominated_at=now,
                )
            )
        await desk_of(db, event.id)
    await engine.dispose()
    return organizer_token


async def browser_times(base: str, token: str, runs: int) -> list[dict[str, float]]:
    from playwright.async_api import async_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    times = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{base}/join/{token}?to=organize")
        for _ in range(runs):
            await page.goto(f"{base}/organize", wait_until="load")
            times.append(
                await page.evaluate(
                    """() => { const t = performance.getEntriesByType('navigation')[0];
                    return {response: t.responseEnd - t.startTime, dom: t.domContentLoadedEventEnd - t.startTime,
                            load: t.loadEventEnd - t.startTime}; }"""
                )
            )
        await browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delegations", type=int, default=200)
    parser.add_argument("--registrations", type=int, default=600)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        url = options.database_url or f"sqlite+aiosqlite:///{work}/bench.db"
        token = asyncio.run(build(url, options.delegations, options.registrations))
        env = {**os.environ, "TRIBUNE_DATABASE_URL": url, "TRIBUNE_SECRET": SECRET}
        server = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(options.port)],
            cwd=work,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{options.port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(base + "/", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as client:
                client.get(f"/join/{token}")
                server_times, size = [], 0
                for _ in range(options.runs):
                    started = time.perf_counter()
                    response = client.get("/organize")
                    server_times.append((time.perf_counter() - started) * 1000)
                    size = len(response.content)
                    assert response.status_code == 200, response.status_code
            if os.environ.get("BENCH_DUMP"):
                Path(os.environ["BENCH_DUMP"]).write_text(response.text)
            browser = asyncio.run(browser_times(base, token, options.runs))
        finally:
            server.terminate()
            server.wait()
    print(
        f"console with {options.delegations} delegations, {options.registrations} registrations ({url.split(':')[0]})"
    )
    print(f"  page: {size / 1024:.0f} KiB")
    print(
        f"  server (request to last byte): median {statistics.median(server_times):.0f} ms, "
        f"min {min(server_times):.0f}, max {max(server_times):.0f} (n={len(server_times)})"
    )
    for name in ("response", "dom", "load"):
        values = [entry[name] for entry in browser]
        print(f"  browser {name}: median {statistics.median(values):.0f} ms (n={len(values)})")


if __name__ == "__main__":
    main()
