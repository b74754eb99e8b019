"""Fan-out of floor events: command sent -> event received by every listener.

Runs, on this machine, Tribune (`tribune serve` in its own process, SQLite
or PostgreSQL) and, as the ceiling for Python, a plain `websockets` server
that relays each message with `broadcast()`. The same load goes through
both: L listeners connected, one delegate alternately requesting the floor
and withdrawing. Latency is from the moment the command is sent to the
moment each listener receives the resulting event, on one clock.

    .venv/bin/python bench/floor_fanout.py --listeners 200 --commands 100
    .venv/bin/python bench/floor_fanout.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/tribune_bench

A PostgreSQL database given with --database is WIPED at each round.

Tribune does more per message than the ceiling (validation, a database
transaction with the event log, the full floor in every event), so read the
ratio, not the absolute numbers: these machines are shared and noisy.
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
import textwrap
import time
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
EVENT_FILE = textwrap.dedent(
    """
    event: {slug: bench, title: Bench, timezone: UTC}
    delegations:
      - {key: fr, name: France, kind: state_party}
    sessions:
      - {key: s, title: Session, starts: "2026-01-01 10:00", ends: "2026-01-01 12:00"}
    participants:
      - {key: speaker, name: Speaker, delegation: fr}
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


async def wipe(database: str) -> None:
    """Each round starts from an empty database (the one given is wiped)."""
    import asyncpg

    connection = await asyncpg.connect(database.replace("postgresql+asyncpg://", "postgresql://"))
    await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    await connection.close()


async def drive(url_for_listener, url_for_speaker, commands, listeners, make_command, is_event) -> dict:
    sockets = [await websockets.connect(url_for_listener(i), max_size=2**22) for i in range(listeners)]
    speaker = await websockets.connect(url_for_speaker, max_size=2**22)
    await asyncio.sleep(0.5)
    for s in [*sockets, speaker]:  # drain snapshots
        try:
            while True:
                await asyncio.wait_for(s.recv(), 0.05)
        except asyncio.TimeoutError:
            pass
    latencies: list[float] = []
    last_event = None
    started = time.perf_counter()
    for n in range(commands):
        sent = time.perf_counter()
        await speaker.send(make_command(n, last_event))

        async def receive(s):
            while True:
                message = await asyncio.wait_for(s.recv(), 30)
                if is_event(message):
                    return time.perf_counter() - sent, message

        received = await asyncio.gather(*(receive(s) for s in sockets))
        latencies.extend(latency for latency, _ in received)
        last_event = received[0][1]
    elapsed = time.perf_counter() - started
    for s in [*sockets, speaker]:
        await s.close()
    return {
        "commands_per_s": commands / elapsed,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


async def bench_tribune(database: str | None, listeners: int, commands: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="tribune-bench-"))
    env = {**os.environ, "TRIBUNE_SECRET": "bench", "TRIBUNE_PORT": str(free_port())}
    env["TRIBUNE_DATABASE_URL"] = database or f"sqlite+aiosqlite:///{workdir}/bench.db"
    env["TRIBUNE_COMMANDS_PER_SECOND"] = "100000"
    env["TRIBUNE_COMMAND_BURST"] = "100000"
    if database:
        await wipe(database)
    (workdir / "bench.yaml").write_text(EVENT_FILE)
    tribune = [sys.executable, "-m", "server.cli"]
    subprocess.run([*tribune, "load", "bench.yaml"], cwd=workdir, env=env, check=True, capture_output=True)
    links = json.loads(
        subprocess.run([*tribune, "links", "--format", "json"], cwd=workdir, env=env, check=True, capture_output=True).stdout
    )
    link = next(link for link in links if link["event"] == "bench")
    token = link["url"].rsplit("/", 1)[1]
    session_id = link["sessions"][0]["id"]
    server = subprocess.Popen([*tribune, "serve"], cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = int(env["TRIBUNE_PORT"])
        await wait_port(port)
        url = f"ws://127.0.0.1:{port}/ws/sessions/{session_id}?token={token}"

        def command(n: int, last_event: str | None) -> str:
            if n % 2 == 0:
                return json.dumps({"type": "request_floor", "id": n})
            request_id = json.loads(last_event)["data"]["request"]["id"]
            return json.dumps({"type": "withdraw", "id": n, "request_id": request_id})

        return await drive(
            lambda i: url, url, commands, listeners, command,
            lambda m: m.startswith('{"type":"floor_requested"') or m.startswith('{"type":"request_withdrawn"'),
        )
    finally:
        server.terminate()
        server.wait()


CEILING = textwrap.dedent(
    """
    import asyncio, sys, websockets
    clients = set()
    async def handler(ws):
        clients.add(ws)
        try:
            async for message in ws:
                websockets.broadcast(clients, message)
        finally:
            clients.discard(ws)
    async def main():
        async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=2**22):
            await asyncio.Future()
    asyncio.run(main())
    """
)


async def bench_ceiling(listeners: int, commands: int) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", CEILING, str(port)])
    try:
        await wait_port(port)
        url = f"ws://127.0.0.1:{port}"
        # The same size of message as a Tribune event with a short list.
        padding = "x" * 900
        return await drive(
            lambda i: url, url, commands, listeners,
            lambda n, _: json.dumps({"type": "floor_requested", "seq": n, "pad": padding}),
            lambda m: m.startswith('{"type": "floor_requested"'),
        )
    finally:
        server.terminate()
        server.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--database", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    rows = {"tribune": [], "websockets broadcast (ceiling)": []}
    for _ in range(args.rounds):
        rows["tribune"].append(await bench_tribune(args.database, args.listeners, args.commands))
        rows["websockets broadcast (ceiling)"].append(await bench_ceiling(args.listeners, args.commands))
    print(f"{args.listeners} listeners, {args.commands} commands, median of {args.rounds} rounds, "
          f"database {'SQLite' if not args.database else args.database.split('://')[0]}")
    print(f"{'server':34} {'cmd/s':>8} {'median ms':>10} {'p95 ms':>8} {'p99 ms':>8}")
    summary = {}
    for name, results in rows.items():
        summary[name] = {k: statistics.median(r[k] for r in results) for k in results[0]}
        s = summary[name]
        print(f"{name:34} {s['commands_per_s']:8.1f} {s['median_ms']:10.2f} {s['p95_ms']:8.2f} {s['p99_ms']:8.2f}")
    t, c = summary["tribune"], summary["websockets broadcast (ceiling)"]
    print(f"ratio tribune/ceiling: median latency x{t['median_ms'] / c['median_ms']:.1f}, "
          f"throughput x{t['commands_per_s'] / c['commands_per_s']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
