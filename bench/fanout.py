"""Fan-out: Tribune beside a plain `websockets` server and a python-socketio room.

One run, one machine, one table. Each server runs in its own OS process and
gets the same load: L listeners on one session (room), and one sender
whose messages reach every listener. For Tribune the sender is a delegate
alternately requesting the floor and withdrawing, through the public
protocol (docs/protocol.md); each command's event goes to everyone. The
peers relay the sender's messages, padded to the size of Tribune's events
(they carry a copy of one), and ack the sender once the message is handed
to every connection, as Tribune acks a command. Servers:

- ``tribune``: `tribune serve`, on a fresh SQLite file, or on the PostgreSQL
  database given with ``--database`` (WIPED at each start). With
  ``--processes 2``, two `tribune serve` behind no proxy share the database
  and Redis (``--redis``, flushed at each start) and the listeners are split
  over them; the sender talks to the first.
- ``websockets``: the ceiling for Python, `broadcast()` of the websockets
  library, compression off as in `tribune serve`.
- ``socketio``: a python-socketio room under uvicorn, as people deploy it
  (uvicorn's defaults accept the browser's per-message deflate offer). Its
  listeners speak Engine.IO v4 over a raw WebSocket and answer its pings.

Every client opens its socket as a browser does (it offers per-message
compression). Listeners run in ``--client-processes`` processes of their
own (bench/fanout_clients.py) so the clients are not the bottleneck; each
reports its CPU, and a warning is printed when one nears a core. The
servers' CPU and memory are read from /proc.

For each server and size: the time for the listeners to connect and get
their first message (Tribune: the snapshot), server memory per idle
connection, then three phases: 10 events per second (``--rate``),
heavy load (``--heavy`` deliveries per second, paced: what the machine
sustains with room to spare), and saturation (each message sent as soon as
the previous one is acked). At saturation the two cores are full, server and
listeners together, and a server that takes the events faster than the
listeners can read them leaves them queued in the listeners' sockets: the
saturated p99 measures that queue as much as the server, the heavy phase's
p99 the server under load. Tribune keeps that queue short: its sender's ack
waits while most of the room has not read its last events (server/read_mark.py).
Printed: deliveries per second, publish-to-receive latency p50 and p99 (from
the sender's clock when it sent to the listener's when it received; the
same monotonic clock, one machine), bytes per event on the wire (what the
listener's TCP socket received during the phase, frames and pings included,
over the events delivered), CPU. At ``--slow-size`` listeners, 1% of them
stop reading (socket open, never read) for ``--slow-seconds`` at 10 events
per second: the others' p99 against the 10/s phase, the server's memory
each second, and whether and when the server cut the slow ones (its side of
the socket leaves ESTABLISHED, seen in /proc/net/tcp) with which close code.
With ``--baseline``, another checkout of Tribune (an earlier commit, say)
runs as one more server in the same rounds, so a change is measured against
it under the same noise (give it more than once to set several side by side,
each named after its directory: the code before and a variant). Then
Tribune with one process against two through Redis, at ``--scale-size``
listeners. The targets of issue 9 are printed at
the end, each met or not met.

Install the peers once with ``.venv/bin/pip install -e '.[bench]'``, then:

    .venv/bin/python bench/fanout.py                       # 500, 1000, 2000 listeners (about 15 minutes)
    .venv/bin/python bench/fanout.py --quick               # smoke run: 50 listeners, 3 s phases
    .venv/bin/python bench/fanout.py --sizes 1000 --servers tribune,websockets
    .venv/bin/python bench/fanout.py --only connect --servers tribune --sizes 500,2000 --rounds 3
    git worktree add ../before HEAD~1 && .venv/bin/python bench/fanout.py --sizes 500 --rounds 3 --baseline ../before
    .venv/bin/python bench/fanout.py --servers tribune --baseline ../before --baseline ../variant --slow-size 0 --scale-size 0
    .venv/bin/python bench/fanout.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/tribune_bench

These machines are shared and noisy: read the ratios, not single figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import websockets
from common import (
    CLIENT_CPU_WARNING,
    browser_connect,
    free_port,
    own_cpu_seconds,
    process_cpu_seconds,
    process_rss_bytes,
    tribune_servers,
    wait_port,
)
from fanout_clients import NOT_EVENTS, first_message
from fanout_report import (
    Phase,
    Result,
    SlowReaders,
    by,
    pooled,
    print_connect,
    print_ratios,
    print_results,
    print_scale,
    print_slow,
    print_targets,
)

HERE = Path(__file__).resolve().parent
SERVERS = ("tribune", "websockets", "socketio")
TCP_ESTABLISHED = "01"
# Stand-ins for Tribune's events when Tribune is not in the run.
SAMPLE_EVENTS = [
    '{"type":"floor_requested","seq":1,"at":"2026-01-01T10:00:00Z","data":{"request":{"id":1,"kind":"statement",'
    '"status":"waiting","delegation":{"id":1,"name":"France","tier":"state_party"},"speaker_name":"Speaker",'
    '"speaker_id":1,"requester_id":1,"language":null,"note":"","is_in_room":false,'
    '"requested_at":"2026-01-01T10:00:00Z"},"order":[1]}}',
    '{"type":"request_withdrawn","seq":2,"at":"2026-01-01T10:00:01Z","data":{"request_id":1,"order":[]}}',
]


# -- the meeting -------------------------------------------------------------


def event_yaml(listeners: int) -> str:
    """One session, one delegate who sends, and the listeners: public observers."""
    head = textwrap.dedent(
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
    return head + "".join(f"  - {{key: l{i}, name: Listener {i}, roles: [observer]}}\n" for i in range(listeners))


# -- the senders ---------------------------------------------------------------


class TribuneSender:
    """A delegate requesting the floor and withdrawing, each command after the last one's ack."""

    def __init__(self, url: str):
        self.url = url
        self.replies: dict[int, asyncio.Future] = {}
        self.events: dict[int, str] = {}
        self.event_arrived = asyncio.Event()
        self.counter = 0
        self.request_id: int | None = None
        self.samples: dict[str, str] = {}

    async def open(self) -> None:
        self.ws = await browser_connect(self.url)
        await first_message("tribune", self.ws)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                decoded = json.loads(message)
                if decoded["type"] in ("ack", "error"):
                    future = self.replies.pop(decoded["id"], None)
                    if future is not None and not future.done():
                        future.set_result(decoded)
                elif decoded["type"] not in NOT_EVENTS:
                    self.events[decoded["seq"]] = message
                    self.samples.setdefault(decoded["type"], message)
                    self.event_arrived.set()
        except websockets.ConnectionClosed:
            pass

    async def _event(self, seq: int) -> str:
        while seq not in self.events:
            self.event_arrived.clear()
            await asyncio.wait_for(self.event_arrived.wait(), 30)
        return self.events[seq]

    async def send(self) -> tuple[int, float]:
        """One command; its event's seq and the time it was sent."""
        self.counter += 1
        if self.request_id is None:
            command = {"type": "request_floor", "id": self.counter}
        else:
            command = {"type": "withdraw", "id": self.counter, "request_id": self.request_id}
        reply = asyncio.get_running_loop().create_future()
        self.replies[self.counter] = reply
        sent = time.monotonic()
        await self.ws.send(json.dumps(command))
        answer = await asyncio.wait_for(reply, 60)
        if answer["type"] == "error":
            raise RuntimeError(f"Tribune refused {command['type']}: {answer['code']} {answer['message']}")
        if self.request_id is None:
            self.request_id = json.loads(await self._event(answer["seq"]))["data"]["request"]["id"]
        else:
            self.request_id = None
        self.events.clear()
        return answer["seq"], sent

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


class PeerSender:
    """Messages padded to Tribune's events, each after the last one's ack."""

    def __init__(self, kind: str, url: str, samples: list[str]):
        self.kind = kind
        self.url = url
        self.samples = samples
        self.counter = 0
        self.replies: asyncio.Queue[str] = asyncio.Queue()

    async def open(self) -> None:
        self.ws = await browser_connect(self.url)
        if self.kind == "socketio":
            await first_message("socketio", self.ws)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if self.kind == "socketio" and message == "2":
                    await self.ws.send("3")
                elif self.kind == "websockets" or message.startswith("43"):
                    self.replies.put_nowait(message)
        except websockets.ConnectionClosed:
            pass

    async def send(self) -> tuple[int, float]:
        self.counter += 1
        key = self.counter
        message = f'{{"seq":{key},"event":{self.samples[key % len(self.samples)]}}}'
        if self.kind == "socketio":
            message = f'42{key}["floor",{message}]'
        sent = time.monotonic()
        await self.ws.send(message)
        await asyncio.wait_for(self.replies.get(), 60)
        return key, sent

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


# -- the servers ---------------------------------------------------------------


class Tribune:
    def __init__(
        self, processes: int, database: str | None, redis: str, checkout: str | None = None, label: str = "baseline"
    ):
        self.kind = "tribune"
        self.processes = processes
        self.database = database
        self.redis = redis
        self.checkout = checkout
        self.label = "tribune" if processes == 1 else f"tribune x{processes}"
        if checkout:
            self.label = label
        self.samples: list[str] = []

    async def start(self, listeners: int) -> None:
        bus = None
        if self.processes > 1:
            import redis

            redis.Redis.from_url(self.redis).flushdb()
            bus = self.redis
        self.servers = await tribune_servers(
            event_yaml(listeners),
            self.processes,
            self.database,
            bus,
            self.checkout,
            commands_per_second="100000",
            command_burst="100000",
        )
        links = self.servers.links("bench")
        session_id = links[0]["sessions"][0]["id"]
        tokens = {link["key"]: link["url"].rsplit("/", 1)[1] for link in links}
        ports = self.servers.ports
        self.speaker_url = f"ws://127.0.0.1:{ports[0]}/ws/sessions/{session_id}?token={tokens['speaker']}"
        self.listener_urls = [
            f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/sessions/{session_id}?token={tokens[f'l{i}']}"
            for i in range(listeners)
        ]
        await self.servers.start()

    @property
    def pids(self) -> list[int]:
        return self.servers.pids

    def sender(self, samples: list[str]) -> TribuneSender:
        self.tribune_sender = TribuneSender(self.speaker_url)
        return self.tribune_sender

    def stop(self) -> None:
        sender = getattr(self, "tribune_sender", None)
        samples = sender.samples if sender is not None else {}
        self.samples = [samples[t] for t in ("floor_requested", "request_withdrawn") if t in samples]
        self.servers.stop()


class Peer:
    def __init__(self, kind: str):
        self.kind = kind
        self.label = {"websockets": "websockets", "socketio": "socketio"}[kind]

    async def start(self, listeners: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "peer_servers.py"), self.kind, str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_port(self.port)
        base = f"ws://127.0.0.1:{self.port}"
        if self.kind == "socketio":
            url = f"{base}/socket.io/?EIO=4&transport=websocket"
            self.listener_urls, self.sender_url = [url] * listeners, f"{url}&role=sender"
        else:
            self.listener_urls, self.sender_url = [f"{base}/listen"] * listeners, f"{base}/send"

    @property
    def pids(self) -> list[int]:
        return [self.process.pid]

    def sender(self, samples: list[str]) -> PeerSender:
        return PeerSender(self.kind, self.sender_url, samples)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def rss(pids: list[int]) -> int:
    return sum(process_rss_bytes(pid) for pid in pids)


def server_cpu(pids: list[int]) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids)


# -- the client processes --------------------------------------------------------


class Clients:
    """The listener processes (bench/fanout_clients.py), one request line at a time each."""

    def __init__(self, count: int):
        self.count = count
        self.processes: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        for _ in range(self.count):
            self.processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(HERE / "fanout_clients.py"),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    limit=2**28,
                )
            )

    async def _ask(self, process: asyncio.subprocess.Process, request: dict) -> dict:
        process.stdin.write((json.dumps(request) + "\n").encode())
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError("a client process died")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"client process, {request['op']}: {answer['error']}")
        return answer

    async def all(self, op: str, **arguments) -> list[dict]:
        return await asyncio.gather(*(self._ask(p, {"op": op, **arguments}) for p in self.processes))

    async def each(self, op: str, arguments: list[dict]) -> list[dict]:
        return await asyncio.gather(*(self._ask(p, {"op": op, **a}) for p, a in zip(self.processes, arguments)))

    async def stop(self) -> None:
        for process in self.processes:
            process.stdin.close()
        for process in self.processes:
            await process.wait()


# -- phases ------------------------------------------------------------------


async def run_phase(server, clients: Clients, sender, rate: float | None, seconds: float) -> Phase:
    """Send for ``seconds`` (at ``rate`` per second, or back to back), then wait for the last delivery."""
    starts = await clients.all("start")
    pids = server.pids
    cpu_at_start = server_cpu(pids)
    sent: list[tuple[int, float]] = []
    started = time.monotonic()
    for n in itertools.count():
        now = time.monotonic()
        if now - started >= seconds:
            break
        if rate:
            await asyncio.sleep(max(0.0, started + n / rate - now))
        sent.append(await sender.send())
    sending_s = time.monotonic() - started
    await clients.all("wait_for", key=sent[-1][0], timeout=30)
    cpu = server_cpu(pids) - cpu_at_start
    results = await clients.all("collect", sent=sent)
    last = max((r["last_received"] for r in results), default=0.0) or time.monotonic()
    sizes = [size for r in results for size in r["event_sizes"]]
    return Phase(
        events=len(sent),
        sending_s=sending_s,
        listeners=sum(r["listeners"] for r in starts),
        closed_before={code: sum(r["closed"].get(code, 0) for r in starts) for r in starts for code in r["closed"]},
        seconds=last - sent[0][1],
        deliveries=sum(len(r["latencies_ms"]) for r in results),
        expected=sum(r["expected"] for r in results),
        latencies_ms=[latency for r in results for latency in r["latencies_ms"]],
        wire_bytes=sum(r["wire_bytes"] for r in results),
        event_bytes=statistics.median(sizes) if sizes else float("nan"),
        server_cpu_s=cpu,
        client_cpu=max(r["cpu_s"] / r["elapsed_s"] for r in results),
        closed={code: sum(r["closed"].get(code, 0) for r in results) for r in results for code in r["closed"]},
        clients_cpu=sum(r["cpu_s"] / r["elapsed_s"] for r in results),
        unread_bytes=max(r["unread_max"] for r in results),
    )


def server_side_states(ports: list[tuple[int, int]]) -> dict[tuple[int, int], str | None]:
    """The TCP state of the server's end of each (client port, server port), None when gone."""
    wanted = {(f"{server:04X}", f"{client:04X}"): (client, server) for client, server in ports}
    states: dict[tuple[int, int], str | None] = dict.fromkeys(wanted.values())
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            key = (fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1])
            if key in wanted:
                states[wanted[key]] = fields[3]
    return states


async def slow_phase(server, clients: Clients, sender, rate: float, seconds: float) -> SlowReaders:
    ports = [tuple(p) for r in await clients.all("stall") for p in r["ports"]]
    cut_after: dict[tuple[int, int], float | None] = dict.fromkeys(ports)
    samples: list[float] = []
    started = time.monotonic()

    async def sample() -> None:
        while True:
            samples.append(rss(server.pids) / 2**20)
            for key, state in server_side_states(ports).items():
                if cut_after[key] is None and state != TCP_ESTABLISHED:
                    cut_after[key] = time.monotonic() - started
            await asyncio.sleep(1)

    sampler = asyncio.create_task(sample())
    try:
        phase = await run_phase(server, clients, sender, rate, seconds)
    finally:
        sampler.cancel()
    codes = [code for r in await clients.all("resume", timeout=5) for code in r["codes"]]
    return SlowReaders(len(ports), phase, samples, list(cut_after.values()), codes)


# -- one server, one size ------------------------------------------------------------


HEAVY_EVENTS = 100.0


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


async def measure(server, size: int, clients: Clients, args, samples: list[str], slow: bool) -> Result:
    await server.start(size)
    try:
        sender = server.sender(samples)
        await sender.open()
        await asyncio.sleep(0.5)
        memory_before = rss(server.pids)
        urls = server.listener_urls
        # 1% of the listeners, spread over the client processes: listener i
        # goes to process i % count, where it is number i // count.
        stopping = max(1, size // 100) if slow else 0
        slow_ones = {int((k + 0.5) * size / stopping) for k in range(stopping)}
        slow_local = [
            [i // clients.count for i in sorted(slow_ones) if i % clients.count == c] for c in range(clients.count)
        ]
        started = time.monotonic()
        connected = await clients.each(
            "connect",
            [{"kind": server.kind, "urls": part, "slow": s} for part, s in zip(split(urls, clients.count), slow_local)],
        )
        connect_s = time.monotonic() - started
        count = sum(r["connected"] for r in connected)
        await asyncio.sleep(2)
        idle_kib = (rss(server.pids) - memory_before) / max(1, count) / 1024
        paced = await run_phase(server, clients, sender, args.rate, args.seconds)
        heavy = None
        if args.heavy:
            # At most HEAVY_EVENTS a second: in a small room the command, not the fan-out, sets the ceiling.
            heavy = await run_phase(server, clients, sender, min(args.heavy / size, HEAVY_EVENTS), args.seconds)
        slow_result = None
        if slow:
            slow_result = await slow_phase(server, clients, sender, args.rate, args.slow_seconds)
            slow_result.baseline_p99 = paced.p99
        saturated = await run_phase(server, clients, sender, None, args.seconds)
        await clients.all("close")
        await sender.close()
        return Result(
            server.label,
            size,
            count,
            connect_s,
            idle_kib,
            connected[0]["handshake"],
            paced,
            saturated,
            slow_result,
            [e for r in connected for e in r["failed_with"]][:1],
            heavy,
        )
    finally:
        server.stop()


async def measure_connect(server, size: int, clients: Clients) -> dict:
    """Only the connect phase: every listener at once, each until its first message."""
    await server.start(size)
    try:
        pids = server.pids
        cpu_at_start = server_cpu(pids)
        started = time.monotonic()
        connected = await clients.each(
            "connect",
            [{"kind": server.kind, "urls": part, "slow": []} for part in split(server.listener_urls, clients.count)],
        )
        connect_s = time.monotonic() - started
        server_cpu_s = server_cpu(pids) - cpu_at_start
        await clients.all("close")
        return {
            "connect_s": connect_s,
            "connected": sum(r["connected"] for r in connected),
            "server_cpu": server_cpu_s / connect_s,
            "client_cpu": max(r["cpu_s"] / max(r["elapsed_s"], 1e-9) for r in connected),
            "errors": [e for r in connected for e in r["failed_with"]][:1],
        }
    finally:
        server.stop()


async def connect_only(
    args, sizes: list[int], kinds: list[str], baselines: dict[str, Tribune], clients: Clients
) -> None:
    """``--only connect``: the connect phase alone, ``--rounds`` times; medians printed."""
    runs: dict[tuple[str, int], list[dict]] = {}
    for round_ in range(args.rounds):
        for size in sizes:
            for kind in kinds:
                server = baselines.get(kind) or (
                    Tribune(args.processes, args.database, args.redis) if kind == "tribune" else Peer(kind)
                )
                run = await measure_connect(server, size, clients)
                runs.setdefault((server.label, size), []).append(run)
                print(
                    f"  ... round {round_ + 1}, {server.label} at {size}: {run['connected']} connected in "
                    f"{run['connect_s']:.2f} s, server cpu {run['server_cpu']:.0%}, busiest client {run['client_cpu']:.0%}"
                    + (f"; {run['errors'][0]}" if run["errors"] else ""),
                    file=sys.stderr,
                )
    print("\nConnecting: all listeners at once, each until its first message (Tribune: the snapshot); medians")
    print(
        f"{'size':>5} {'server':12} {'connected':>9} {'seconds':>8} {'each run (s)':>24} {'srv cpu':>7} {'cli cpu':>7}"
    )
    for (label, size), measured in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
        each = " ".join(f"{run['connect_s']:.2f}" for run in measured)
        print(
            f"{size:5} {label:12} {statistics.median(r['connected'] for r in measured):9.0f} "
            f"{statistics.median(r['connect_s'] for r in measured):8.2f} {each:>24} "
            f"{statistics.median(r['server_cpu'] for r in measured):7.0%} "
            f"{max(r['client_cpu'] for r in measured):7.0%}"
        )
    print(
        "(srv cpu: the server processes' CPU over the connect, in cores; cli cpu: the busiest client process's, at most)"
    )
    if max(r["client_cpu"] for measured in runs.values() for r in measured) > CLIENT_CPU_WARNING:
        print("WARNING: a client process neared a core: the clients may have set the pace (try --client-processes).")


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load: above the core count, others' work competes with the run."""
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", help="listeners, comma-separated (default 500,1000,2000)")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated, from " + ", ".join(SERVERS))
    parser.add_argument(
        "--database", default=None, help="Tribune's PostgreSQL URL (WIPED); default a fresh SQLite file"
    )
    parser.add_argument("--processes", type=int, default=1, help="tribune serve processes (more than one: Redis bus)")
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/9", help="Tribune's bus with several processes (FLUSHED)"
    )
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second of the paced phase")
    parser.add_argument(
        "--heavy",
        type=float,
        default=40_000,
        help=f"deliveries per second of the heavy phase, paced (at most {HEAVY_EVENTS:g} events/s; 0: skip; default 40000, "
        "well under the ceiling, so its p99 is the server's and not a queue of the machine's)",
    )
    parser.add_argument("--seconds", type=float, help="length of each phase (default 10)")
    parser.add_argument("--slow-size", type=int, help="listeners when 1%% stop reading, 0: skip (default 1000)")
    parser.add_argument("--slow-seconds", type=float, help="how long they stop reading (default 60)")
    parser.add_argument("--scale-size", type=int, help="listeners for one process against two, 0: skip (default 1000)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="interleaved rounds, figures pooled (slow readers: first)"
    )
    parser.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        action="append",
        help="the root of another checkout of Tribune (a git worktree of an earlier commit), run as one more "
        "server, 'baseline', in the same rounds: a change measured against it under the same noise; given "
        "more than once, each is one more server, named after its directory",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 listeners, 3 s phases")
    parser.add_argument(
        "--only", choices=["connect"], help="connect: only the connect phase, --rounds times (medians printed)"
    )
    args = parser.parse_args()
    defaults = (
        {"sizes": "50", "seconds": 3.0, "slow_size": 50, "slow_seconds": 3.0, "scale_size": 50}
        if args.quick
        else {"sizes": "500,1000,2000", "seconds": 10.0, "slow_size": 1000, "slow_seconds": 60.0, "scale_size": 1000}
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def baseline_servers(args) -> dict[str, Tribune]:
    """The ``--baseline`` checkouts by label: 'baseline' when there is one, else each directory's name."""
    checkouts = args.baseline or []
    labels = ["baseline"] if len(checkouts) == 1 else [Path(c).resolve().name[:12] for c in checkouts]
    if len(set(labels)) < len(labels) or set(labels) & set(SERVERS):
        sys.exit(f"--baseline: give each checkout a directory name of its own, not a server's: {labels}")
    return {
        label: Tribune(args.processes, args.database, args.redis, checkout, label)
        for label, checkout in zip(labels, checkouts, strict=True)
    }


async def main() -> None:
    args = parse_args()
    sizes = sorted({int(size) for size in args.sizes.split(",")})
    kinds = [kind for kind in SERVERS if kind in args.servers.split(",")]
    tribune = Tribune(args.processes, args.database, args.redis)
    baselines = baseline_servers(args)
    at = kinds.index("tribune") + 1 if "tribune" in kinds else 0
    kinds[at:at] = list(baselines)
    print("$ " + shlex.join(["bench/fanout.py", *sys.argv[1:]]))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {len(os.sched_getaffinity(0))} cores shared with other "
        f"work (noisy: read ratios); Tribune on {'PostgreSQL' if args.database else 'SQLite'}, "
        f"{args.processes} process{'es through Redis' if args.processes > 1 else ', in-process bus'}; "
        f"{args.client_processes} client processes; {args.seconds:g} s phases, {args.rounds} round(s) pooled; "
        f"load average {load_average()}"
    )
    clients = Clients(args.client_processes)
    await clients.start()
    cpu_at_start, started = own_cpu_seconds(), time.monotonic()
    if args.only == "connect":
        try:
            await connect_only(args, sizes, kinds, baselines, clients)
        finally:
            await clients.stop()
        print(f"(run took {time.monotonic() - started:.0f} s)")
        return
    rounds: dict[tuple[str, int], list[Result]] = {}
    handshakes: dict[str, str] = {}
    try:
        # Rounds interleave the servers, so a noisy minute on a shared machine weighs on all of them.
        for round_ in range(args.rounds):
            for size in sizes:
                for kind in kinds:
                    server = {"tribune": tribune, **baselines}.get(kind) or Peer(kind)
                    slow = size == args.slow_size and round_ == 0
                    result = await measure(server, size, clients, args, tribune.samples or SAMPLE_EVENTS, slow)
                    rounds.setdefault((result.server, size), []).append(result)
                    handshakes[result.server] = result.handshake
                    print(
                        f"  ... round {round_ + 1}, {result.server} at {size}: "
                        f"{result.saturated.deliveries_per_s:,.0f} deliveries/s saturated, "
                        f"p99 {result.paced.p99:.1f} ms at {args.rate:g}/s",
                        file=sys.stderr,
                    )
        results = [pooled(measured) for measured in rounds.values()]
        one = many = None
        if args.scale_size and "tribune" in kinds:
            one = by(results, tribune.label, args.scale_size) if args.processes == 1 else None
            if one is None:
                one = await measure(Tribune(1, args.database, args.redis), args.scale_size, clients, args, [], False)
            many = by(results, tribune.label, args.scale_size) if args.processes > 1 else None
            if many is None:
                many = await measure(
                    Tribune(max(2, args.processes), args.database, args.redis),
                    args.scale_size,
                    clients,
                    args,
                    [],
                    False,
                )
    finally:
        await clients.stop()
    for server, handshake in handshakes.items():
        print(f"handshake, {server}: {handshake}")
    print()
    print_results(results, args.rate)
    print(
        "(listen: listeners connected and reading; ev/s: events sent per second; srv cpu: the server's share of one\n"
        " core during the phase; cli cpu: the busiest client process's; cores: the server's and every client\n"
        f" process's CPU together, of the {len(os.sched_getaffinity(0))} cores; unread: events the server had written that waited unread\n"
        " in a listener's socket, at worst (mean over the listeners, sampled every 0.2 s): with the cores full,\n"
        " the listeners fall behind and latency measures that queue; undeliv: deliveries not received within 30 s\n"
        " of the last send; closed: listeners closed during the phase, by code)"
    )
    print_ratios(results, sizes, tribune.label)
    print_connect(results)
    print_slow(results, args.rate)
    print_scale(one, many)
    print_targets(results, sizes, tribune.label)
    busiest = max((max(r.paced.client_cpu, r.saturated.client_cpu) for r in results), default=0.0)
    if busiest > CLIENT_CPU_WARNING:
        print(
            f"WARNING: a client process used {busiest:.0%} of a core: where it did, the clients, not the server, "
            "may set the pace; read those figures as a lower bound (try --client-processes)."
        )
    print(
        f"(run took {time.monotonic() - started:.0f} s; the sender's process used {own_cpu_seconds() - cpu_at_start:.0f} s CPU)"
    )


if __name__ == "__main__":
    # Stopped with SIGTERM, the run still stops its servers and clients.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    asyncio.run(main())
