"""Media relay: frames from each channel's publisher to its listeners.

One session with its channels (``floor``, ``ar``, ``en``, ``fr``, ``es``,
``ils``): L listeners spread over them round-robin, each listener of an
interpretation also taking the floor underneath (as the page does by
default). Every audio channel carries Opus-sized packets every 20 or 60 ms
(80 or 240 bytes: 32 kbit/s); ``ils`` carries one 500 kbit/s video stream
(25 frames/s, a key frame of 4x the size every 2 s).

The same load goes through Tribune (`tribune serve`, its own process, the
real media socket, publishers allowed by the database: the chair on the
floor, each booth's live interpreter on its channel) and through a plain
`websockets` relay that `broadcast()`s each frame to its channel's
listeners (the ceiling for Python), in the same run.

Latency is from the publisher's send (its monotonic clock, in the frame
header's timestamp) to the listener's receive, on this machine's one clock:
the latency the server adds plus the clients' own delays. The clients run
in this process; their CPU share is printed, and a warning when it nears one
core (then the clients, not the server, set the pace). Clients offer
per-message compression as Chromium does; both servers decline it.

    .venv/bin/python bench/media_relay.py                      # 100, 500, 1000 listeners, 20 and 60 ms
    .venv/bin/python bench/media_relay.py --listeners 500 --ptime 20 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

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
    wait_port,
)

sys.path.insert(0, str(ROOT))
from interpretation.frames import FrameHeader, Stream, encode

LANGUAGES = ["ar", "en", "fr", "es", "ils"]
CHANNELS = ["floor", *LANGUAGES]
AUDIO_CHANNELS = ["floor", "ar", "en", "fr", "es"]
OPUS_BYTES_PER_MS = 4  # 32 kbit/s
VIDEO_FPS = 25
VIDEO_BYTES = 500_000 // 8 // VIDEO_FPS
KEY_EVERY = 2 * VIDEO_FPS

EVENT_FILE = textwrap.dedent(
    """
    event: {slug: bench, title: Bench, timezone: UTC, languages: [ar, en, fr, es, ils]}
    delegations:
      - {key: fr, name: France, kind: state_party}
    sessions:
      - {key: s, title: Session, starts: "2026-01-01 10:00", ends: "2026-01-01 12:00"}
    participants:
      - {key: chair, name: Chair, roles: [chair]}
      - {key: listener, name: Listener, delegation: fr}
    """
) + "".join(f"  - {{key: i-{code}, name: Interpreter {code}, roles: [interpreter]}}\n" for code in LANGUAGES)


async def connect(url: str):
    return await browser_connect(url)


def now_us() -> int:
    return time.monotonic_ns() // 1000


def frame_timestamp(data: bytes) -> int:
    (timestamp,) = struct.unpack_from(">Q", data, 8 + data[3])
    return timestamp


def memory_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Tally:
    measuring: bool = False
    frames: int = 0
    latencies_us: list[int] = field(default_factory=list)


async def receive(ws, tally: Tally) -> None:
    try:
        async for message in ws:
            if tally.measuring and isinstance(message, bytes):
                tally.frames += 1
                tally.latencies_us.append(now_us() - frame_timestamp(message))
    except websockets.ConnectionClosed:
        pass


async def publish(ws, channel: str, voice: str, ptime_ms: int, stop: asyncio.Event) -> None:
    """Frames at a steady pace (absolute schedule: a late send is not skipped),
    named ``voice`` (on Tribune's floor, the publisher's own voice)."""
    video = channel == "ils"
    interval = 1 / VIDEO_FPS if video else ptime_ms / 1000
    size = VIDEO_BYTES if video else OPUS_BYTES_PER_MS * ptime_ms
    stream = Stream.VIDEO if video else Stream.AUDIO
    config = json.dumps({"codec": "vp8" if video else "opus", "sampleRate": 48000}).encode()
    await ws.send(encode(FrameHeader(voice, stream, 0, now_us(), is_config=True), config))
    sequence = 1
    next_at = time.monotonic()
    while not stop.is_set():
        is_key = not video or sequence % KEY_EVERY == 1
        payload = os.urandom(size * 4 if video and is_key else size)
        await ws.send(encode(FrameHeader(voice, stream, sequence, now_us(), is_key=is_key), payload))
        sequence += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def run_load(listener_urls, publisher_urls, listen_message, start_publishing, ptime_ms, seconds, server_pid):
    """Connect, publish on every channel, measure for ``seconds``."""
    tally = Tally()
    # Publishers are admitted first, and start sending once every listener is in.
    publisher_sockets, voices = {}, {}
    for channel, url in publisher_urls.items():
        publisher_sockets[channel] = await connect(url)
        voices[channel] = await start_publishing(publisher_sockets[channel], channel)
    listeners = []
    for index in range(len(listener_urls)):
        ws = await connect(listener_urls[index])
        await ws.send(listen_message(CHANNELS[index % len(CHANNELS)]))
        listeners.append(ws)
    handshake = negotiated(listeners[0])
    readers = [asyncio.create_task(receive(ws, tally)) for ws in listeners]
    stop = asyncio.Event()
    publishers = [
        asyncio.create_task(publish(ws, channel, voices[channel], ptime_ms, stop))
        for channel, ws in publisher_sockets.items()
    ]
    await asyncio.sleep(1.0)  # warm up
    tally.measuring = True
    started, client_cpu0, server_cpu0 = time.perf_counter(), own_cpu_seconds(), process_cpu_seconds(server_pid)
    await asyncio.sleep(seconds)
    tally.measuring = False
    elapsed = time.perf_counter() - started
    client_cpu = own_cpu_seconds() - client_cpu0
    server_cpu = process_cpu_seconds(server_pid) - server_cpu0
    memory = memory_kib(server_pid)
    stop.set()
    await asyncio.gather(*publishers, return_exceptions=True)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in [*listeners, *publisher_sockets.values()]), return_exceptions=True)
    latencies = tally.latencies_us or [0]
    return {
        "frames_per_s": tally.frames / elapsed,
        "p50_ms": percentile(latencies, 0.5) / 1000,
        "p99_ms": percentile(latencies, 0.99) / 1000,
        "server_cpu": server_cpu / elapsed,
        "client_cpu": client_cpu / elapsed,
        "server_mib": memory / 1024,
        "handshake": handshake,
    }


def expected_per_s(listeners: int, ptime_ms: int) -> float:
    """Frames a second the listeners should get if nothing is lost."""
    audio = 1000 / ptime_ms
    total = 0.0
    for index in range(listeners):
        channel = CHANNELS[index % len(CHANNELS)]
        total += VIDEO_FPS if channel == "ils" else audio
        if channel != "floor":
            total += audio  # the floor underneath
    return total


async def bench_tribune(listeners: int, ptime_ms: int, seconds: float) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="tribune-media-bench-"))
    port = free_port()
    env = {**os.environ, "TRIBUNE_SECRET": "bench", "TRIBUNE_PORT": str(port)}
    env["TRIBUNE_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir}/bench.db"
    (workdir / "bench.yaml").write_text(EVENT_FILE)
    tribune = [sys.executable, "-m", "server.cli"]
    subprocess.run([*tribune, "load", "bench.yaml"], cwd=workdir, env=env, check=True, capture_output=True)
    links = json.loads(
        subprocess.run(
            [*tribune, "links", "--format", "json"], cwd=workdir, env=env, check=True, capture_output=True
        ).stdout
    )
    tokens = {link["key"]: link["url"].rsplit("/", 1)[1] for link in links if link["event"] == "bench"}
    session_id = links[0]["sessions"][0]["id"]
    # Each booth's interpreter is on air (what the booth commands would record).
    with sqlite3.connect(workdir / "bench.db") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(booths)")}
        # The booths table may carry more than the relay reads (who hears what).
        extra = {"sources": "{}"} if "sources" in columns else {}
        names = ", ".join(["session_id", "language", "live_interpreter_id", *extra])
        marks = ", ".join("?" * (3 + len(extra)))
        for code in LANGUAGES:
            (participant_id,) = db.execute("SELECT id FROM participants WHERE key = ?", (f"i-{code}",)).fetchone()
            db.execute(
                f"INSERT INTO booths ({names}) VALUES ({marks}) ON CONFLICT (session_id, language)"
                " DO UPDATE SET live_interpreter_id = excluded.live_interpreter_id",
                (session_id, code, participant_id, *extra.values()),
            )
    server = subprocess.Popen(
        [*tribune, "serve"], cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await wait_port(port)
        base = f"ws://127.0.0.1:{port}/sessions/{session_id}/media?token="

        async def start_publishing(ws, channel: str) -> str:
            await ws.send(json.dumps({"type": "publish", "channel": channel}))
            while True:
                message = await ws.recv()
                if isinstance(message, str) and json.loads(message)["type"] in ("publishing", "refused"):
                    told = json.loads(message)
                    if told["type"] == "refused":
                        raise RuntimeError(message)
                    break
            asyncio.create_task(drain(ws))
            return str(told["voice"])

        return await run_load(
            [base + tokens["listener"]] * listeners,
            {channel: base + tokens["chair" if channel == "floor" else f"i-{channel}"] for channel in CHANNELS},
            lambda channel: json.dumps({"type": "listen", "channel": channel, "original": True}),
            start_publishing,
            ptime_ms,
            seconds,
            server.pid,
        )
    finally:
        server.terminate()
        server.wait()


async def drain(ws) -> None:
    try:
        async for _ in ws:
            pass
    except websockets.ConnectionClosed:
        pass


CEILING = textwrap.dedent(
    """
    import asyncio, sys, websockets
    listeners = {}
    async def handler(ws):
        joined = []
        try:
            async for message in ws:
                if isinstance(message, str):
                    kind, channel, original = message.split()
                    joined = [channel] + (["floor"] if original == "1" and channel != "floor" else [])
                    for name in joined:
                        listeners.setdefault(name, set()).add(ws)
                else:
                    channel = message[4:4 + message[3]].decode()
                    websockets.broadcast(listeners.get(channel, ()), message)
        finally:
            for name in joined:
                listeners[name].discard(ws)
    async def main():
        async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=2**22, compression=None):
            await asyncio.Future()
    asyncio.run(main())
    """
)


async def bench_ceiling(listeners: int, ptime_ms: int, seconds: float) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", CEILING, str(port)])
    try:
        await wait_port(port)
        url = f"ws://127.0.0.1:{port}"

        async def start_publishing(ws, channel: str) -> str:
            return channel

        return await run_load(
            [url] * listeners,
            dict.fromkeys(CHANNELS, url),
            lambda channel: f"listen {channel} 1",
            start_publishing,
            ptime_ms,
            seconds,
            server.pid,
        )
    finally:
        server.terminate()
        server.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", default="100,500,1000")
    parser.add_argument("--ptime", default="20,60", help="Opus packet durations, ms")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(
        f"{'listeners':>9} {'ptime':>5} {'server':10} {'frames/s':>9} {'expected':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'srv cpu':>7} {'srv MiB':>7} {'cli cpu':>7}"
    )
    warnings = []
    for ptime in (int(value) for value in args.ptime.split(",")):
        for listeners in (int(value) for value in args.listeners.split(",")):
            expected = expected_per_s(listeners, ptime)
            results = {
                "tribune": await bench_tribune(listeners, ptime, args.seconds),
                "websockets": await bench_ceiling(listeners, ptime, args.seconds),
            }
            for name, r in results.items():
                print(
                    f"{listeners:9} {ptime:5} {name:10} {r['frames_per_s']:9.0f} {expected:9.0f} {r['p50_ms']:7.1f} "
                    f"{r['p99_ms']:7.1f} {r['server_cpu']:7.0%} {r['server_mib']:7.1f} {r['client_cpu']:7.0%}",
                    flush=True,
                )
                if r["client_cpu"] > CLIENT_CPU_WARNING:
                    warnings.append(f"{name}, {listeners} listeners, {ptime} ms: clients used {r['client_cpu']:.0%}")
            t, c = results["tribune"], results["websockets"]
            print(
                f"{'':9} {'':5} ratio      x{t['frames_per_s'] / max(1, c['frames_per_s']):.2f} frames/s, "
                f"p99 x{t['p99_ms'] / max(0.001, c['p99_ms']):.1f}; handshake: {t['handshake']}",
                flush=True,
            )
    print("(cpu: share of one core during the measured seconds; clients are this process)")
    print(f"load average at the end: {' '.join(f'{value:.1f}' for value in os.getloadavg())} on {os.cpu_count()} cores")
    for warning in warnings:
        print(f"WARNING: {warning} of a core: the clients may be the bottleneck; read figures as a lower bound.")


if __name__ == "__main__":
    asyncio.run(main())
