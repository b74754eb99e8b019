"""Fan-out of floor events: command sent -> event received by every listener.

Runs, on this machine, Tribune (`tribune serve` in its own process, SQLite
or PostgreSQL) and, as the ceiling for Python, a plain `websockets` server
that relays each message with `broadcast()`. The same load goes through
both: L listeners connected, one delegate alternately requesting the floor
and withdrawing. Latency is from the moment the command is sent to the
moment each listener receives the resulting event, on one clock.

Every client opens its socket with the handshake a browser sends: it offers
per-message compression exactly as Chromium does
(``Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits``).
`tribune serve` turns per-message deflate off, so Tribune answers without
the extension; the ceiling server is run with compression off as well, so
both carry the same uncompressed frames. What each server negotiated is
printed once per round.

The clients (listeners and speaker) all run in this one process: its CPU
time is measured against the elapsed time, with a warning when it nears
one core, since then the clients, not the server, set the pace. The
servers' own CPU is read from /proc.

    .venv/bin/python bench/floor_fanout.py --listeners 200 --commands 100
    .venv/bin/python bench/floor_fanout.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/tribune_bench

A PostgreSQL database given with --database is WIPED at each round.

Tribune does more per message than the ceiling (validation, a database
transaction with the event log; each event carries the change and the order
of waiting ids), so read the ratio, not the absolute numbers: these machines
are shared and noisy. The ceiling's messages are padded to the size of the
events Tribune sent in the round before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import textwrap
import time

import websockets
from common import (
    CLIENT_CPU_WARNING,
    ROOT,
    browser_connect,
    free_port,
    negotiated,
    own_cpu_seconds,
    percentile,
    process_cpu_seconds,
    tribune_servers,
    wait_port,
)

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


async def discard(ws) -> None:
    """Read and drop what the speaker's socket gets (its acks and events), as a page would."""
    try:
        async for _ in ws:
            pass
    except websockets.ConnectionClosed:
        pass


async def next_event(ws, is_event, sent: float) -> tuple[float, str]:
    """The next event on a listener's socket, and the time since the command was sent."""
    while True:
        message = await asyncio.wait_for(ws.recv(), 30)
        if is_event(message):
            return time.perf_counter() - sent, message


async def drive(url_for_listener, url_for_speaker, commands, listeners, make_command, is_event, server_pid) -> dict:
    sockets = [await browser_connect(url_for_listener(i)) for i in range(listeners)]
    speaker = await browser_connect(url_for_speaker)
    handshake = negotiated(sockets[0])
    await asyncio.sleep(0.5)
    for s in [*sockets, speaker]:  # drain snapshots
        try:
            while True:
                await asyncio.wait_for(s.recv(), 0.05)
        except TimeoutError:
            pass
    speaker_reader = asyncio.create_task(discard(speaker))
    latencies: list[float] = []
    event_sizes: list[int] = []
    last_event = None
    started, cpu_started, server_cpu_started = time.perf_counter(), own_cpu_seconds(), process_cpu_seconds(server_pid)
    for n in range(commands):
        sent = time.perf_counter()
        await speaker.send(make_command(n, last_event))
        received = await asyncio.gather(*(next_event(s, is_event, sent) for s in sockets))
        latencies.extend(latency for latency, _ in received)
        last_event = received[0][1]
        event_sizes.append(len(last_event.encode()))
    elapsed = time.perf_counter() - started
    client_cpu = own_cpu_seconds() - cpu_started
    server_cpu = process_cpu_seconds(server_pid) - server_cpu_started
    for s in [*sockets, speaker]:
        await s.close()
    await speaker_reader
    return {
        "commands_per_s": commands / elapsed,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        # Share of one core used while the commands ran.
        "client_cpu": client_cpu / elapsed,
        "server_cpu": server_cpu / elapsed,
        "event_bytes": statistics.median(event_sizes),
        "handshake": handshake,
    }


async def bench_tribune(database: str | None, listeners: int, commands: int) -> dict:
    servers = await tribune_servers(EVENT_FILE, database=database, commands_per_second="100000", command_burst="100000")
    link = servers.links("bench")[0]
    token = link["url"].rsplit("/", 1)[1]
    session_id = link["sessions"][0]["id"]
    await servers.start()
    try:
        url = f"ws://127.0.0.1:{servers.ports[0]}/ws/sessions/{session_id}?token={token}"

        def command(n: int, last_event: str | None) -> str:
            if n % 2 == 0:
                return json.dumps({"type": "request_floor", "id": n})
            request_id = json.loads(last_event)["data"]["request"]["id"]
            return json.dumps({"type": "withdraw", "id": n, "request_id": request_id})

        # Events carry the change and the order of waiting ids; the type comes first.
        events = ('{"type":"floor_requested"', '{"type":"request_withdrawn"')
        return await drive(
            lambda i: url, url, commands, listeners, command, lambda m: m.startswith(events), servers.pids[0]
        )
    finally:
        servers.stop()


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
        # Compression off, as `tribune serve` has it, though every client offers it.
        async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=2**22, compression=None):
            await asyncio.Future()
    asyncio.run(main())
    """
)


def padded_message(n: int, size: int) -> str:
    """A ceiling message of ``size`` bytes (at least its bare form)."""
    bare = json.dumps({"type": "floor_requested", "seq": n, "pad": ""})
    return json.dumps({"type": "floor_requested", "seq": n, "pad": "x" * max(0, size - len(bare))})


async def bench_ceiling(listeners: int, commands: int, event_bytes: int) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", CEILING, str(port)])
    try:
        await wait_port(port)
        url = f"ws://127.0.0.1:{port}"
        return await drive(
            lambda i: url,
            url,
            commands,
            listeners,
            lambda n, _: padded_message(n, event_bytes),
            lambda m: m.startswith('{"type": "floor_requested"'),
            server.pid,
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
    for round_ in range(1, args.rounds + 1):
        tribune = await bench_tribune(args.database, args.listeners, args.commands)
        ceiling = await bench_ceiling(args.listeners, args.commands, round(tribune["event_bytes"]))
        rows["tribune"].append(tribune)
        rows["websockets broadcast (ceiling)"].append(ceiling)
        print(f"round {round_}: tribune {tribune['handshake']}; ceiling {ceiling['handshake']}")
    print(
        f"{args.listeners} listeners, {args.commands} commands, median of {args.rounds} rounds, "
        f"database {'SQLite' if not args.database else args.database.split('://')[0]}"
    )
    print(
        f"{'server':34} {'cmd/s':>8} {'median ms':>10} {'p95 ms':>8} {'p99 ms':>8} {'event B':>8} "
        f"{'client cpu':>10} {'server cpu':>10}"
    )
    summary = {}
    for name, results in rows.items():
        summary[name] = {k: statistics.median(r[k] for r in results) for k in results[0] if k != "handshake"}
        s = summary[name]
        print(
            f"{name:34} {s['commands_per_s']:8.1f} {s['median_ms']:10.2f} {s['p95_ms']:8.2f} {s['p99_ms']:8.2f} "
            f"{s['event_bytes']:8.0f} {s['client_cpu']:10.0%} {s['server_cpu']:10.0%}"
        )
    print("(cpu: share of one core while the commands ran, median of rounds; the clients are this process;")
    print(" the servers' is read from /proc in 10 ms ticks, so it means little on very short runs)")
    for name, results in rows.items():
        busiest = max(r["client_cpu"] for r in results)
        if busiest > CLIENT_CPU_WARNING:
            print(
                f"WARNING: with {name}, the clients' process used {busiest:.0%} of a core: "
                "the clients, not the server, may be the bottleneck; read its figures as a lower bound."
            )
    t, c = summary["tribune"], summary["websockets broadcast (ceiling)"]
    print(
        f"ratio tribune/ceiling: median latency x{t['median_ms'] / c['median_ms']:.1f}, "
        f"throughput x{t['commands_per_s'] / c['commands_per_s']:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
