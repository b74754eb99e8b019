"""How long a page takes to draw the list of speakers after an event, in Chromium.

A session with W waiting requests (one per delegation, added by the chair);
the chair's console and a delegate's page are open in Chromium. A socket of
the chair's then moves a request up and down the list, R times. Each event
changes one row's place, and every page redraws its list: the figure is the
time from the event reaching the page's script to the end of its redraw
(FloorState applied, rows synced, focus kept), measured in the page with
performance.now(), one per event and page. It is the page's own work, not
the network's, and it grows with W.

    .venv/bin/python bench/page_redraw.py --waiting 10 50 150 --moves 60

Needs Chromium at /usr/bin/chromium and Playwright for Python (the test
extras). Quote the ratios between sizes: these machines are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import websockets

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

# Installed in each page: the time from an event's arrival to the redraw it causes.
PROBE = """async () => {
  const { pageConnection } = await import("/static/tribune.js");
  const connection = pageConnection();
  window.redraws = [];
  let started = null;
  connection.on("*", () => { started = performance.now(); });
  connection.on("floor", () => {
    if (started !== null) window.redraws.push(performance.now() - started);
    started = null;
  });
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def event_file(waiting: int) -> str:
    """An event on now with `waiting` delegations, a chair and one delegate."""
    now = datetime.now(UTC)
    starts = (now - timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M")
    ends = (now + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    lines = [
        "event: {slug: redraw, title: Redraw, timezone: UTC}",
        "delegations:",
        *(f"  - {{key: d{n}, name: Delegation {n}, kind: state_party}}" for n in range(waiting)),
        "sessions:",
        f'  - {{key: s, title: Session, starts: "{starts}", ends: "{ends}"}}',
        "participants:",
        "  - {key: chair, name: Chair, roles: [moderator]}",
        "  - {key: delegate, name: Delegate, delegation: d0}",
    ]
    return "\n".join(lines) + "\n"


async def wait_port(port: int) -> None:
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def command(socket_, message: dict) -> dict:
    await socket_.send(json.dumps(message))
    while True:
        reply = json.loads(await socket_.recv())
        if reply.get("id") == message["id"] and reply["type"] in ("ack", "error"):
            if reply["type"] == "error":
                raise RuntimeError(reply)
            return reply


async def bench(waiting: int, moves: int) -> dict:
    from playwright.async_api import async_playwright

    workdir = Path(tempfile.mkdtemp(prefix="tribune-redraw-"))
    port = free_port()
    env = {**os.environ, "TRIBUNE_SECRET": "bench", "TRIBUNE_PORT": str(port)}
    env["TRIBUNE_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir}/bench.db"
    env["TRIBUNE_COMMANDS_PER_SECOND"] = "100000"
    env["TRIBUNE_COMMAND_BURST"] = "100000"
    (workdir / "redraw.yaml").write_text(event_file(waiting))
    tribune = [sys.executable, "-m", "server.cli"]
    subprocess.run([*tribune, "load", "redraw.yaml"], cwd=workdir, env=env, check=True, capture_output=True)
    links = json.loads(
        subprocess.run(
            [*tribune, "links", "--format", "json"], cwd=workdir, env=env, check=True, capture_output=True
        ).stdout
    )
    url = {link["key"]: link["url"] for link in links}
    session_id = links[0]["sessions"][0]["id"]
    server = subprocess.Popen(
        [*tribune, "serve"], cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await wait_port(port)
        token = url["chair"].rsplit("/", 1)[1]
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/sessions/{session_id}?token={token}", max_size=2**22
        ) as chair:
            snapshot = json.loads(await chair.recv())
            for n, delegation in enumerate(snapshot["delegations"]):
                fields = {"delegation_id": delegation["id"], "speaker_name": f"Speaker {n}", "kind": "statement"}
                await command(chair, {"type": "add_speaker", "id": f"a{n}", **fields})
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                pages = {}
                for who, path in (("console", "/moderate"), ("participant", "")):
                    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
                    await page.goto(url["chair" if who == "console" else "delegate"])
                    await page.goto(f"http://127.0.0.1:{port}/sessions/{session_id}{path}")
                    await page.locator("#connection[data-state=connected]").wait_for()
                    await page.locator("#speakers tbody tr").nth(waiting - 1).wait_for()
                    await page.evaluate(PROBE)
                    pages[who] = page
                # The last row to the top and back: every page moves one row each time.
                last = await pages["console"].locator("#speakers tbody tr").last.get_attribute("data-key")
                for n in range(moves):
                    position = 1 if n % 2 == 0 else waiting
                    await command(
                        chair, {"type": "move_request", "id": f"m{n}", "request_id": int(last), "position": position}
                    )
                figures = {}
                for who, page in pages.items():
                    for _ in range(100):
                        if await page.evaluate("window.redraws.length") >= moves:
                            break
                        await asyncio.sleep(0.05)
                    figures[who] = await page.evaluate("window.redraws")
                await browser.close()
    finally:
        server.terminate()
        server.wait()
    return figures


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, nargs="+", default=[10, 50, 150])
    parser.add_argument("--moves", type=int, default=60)
    options = parser.parse_args()
    print(f"{'waiting':>8} {'page':>12} {'redraws':>8} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for waiting in options.waiting:
        figures = await bench(waiting, options.moves)
        for who, times in figures.items():
            print(
                f"{waiting:>8} {who:>12} {len(times):>8} {statistics.median(times):>10.2f} "
                f"{percentile(times, 0.95):>8.2f} {max(times):>8.2f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
