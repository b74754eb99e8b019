"""What the benchmarks share: the browser's handshake, reading a process's
CPU and memory, starting `tribune serve` as a user would, percentiles.

Nothing here imports the server: the benchmarks drive it from outside, so
they keep working whatever happens inside it.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

ROOT = Path(__file__).resolve().parent.parent

# What Chromium sends (and Firefox and Safari alike); the server may decline it.
BROWSER_EXTENSIONS_OFFER = "permessage-deflate; client_max_window_bits"
# Above this share of one core, a clients' process is the bottleneck.
CLIENT_CPU_WARNING = 0.8


async def browser_connect(url: str, **options):
    """A WebSocket opened like a browser's: per-message deflate offered as
    Chromium does, and no keepalive pings of its own (browsers send none, and
    a client that stops reading would otherwise close itself on a missing pong).

    ``options`` go to ``websockets.connect`` (``sock``, ``max_queue``...)."""
    return await websockets.connect(
        url,
        max_size=2**22,
        compression=None,
        extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=True)],
        ping_interval=None,
        **options,
    )


def negotiated(ws) -> str:
    """The extensions offered and accepted on one socket, checked against the browser's offer."""
    offered = ws.request.headers.get("Sec-WebSocket-Extensions")
    if offered != BROWSER_EXTENSIONS_OFFER:
        raise RuntimeError(f"the client offered {offered!r}, not the browser's {BROWSER_EXTENSIONS_OFFER!r}")
    accepted = ws.response.headers.get("Sec-WebSocket-Extensions")
    return f"offered {offered!r}, server answered {accepted!r}" + ("" if accepted else " (no compression)")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


async def wipe_postgres(url: str) -> None:
    """An empty PostgreSQL database: the one given is WIPED."""
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


# -- Tribune as a user runs it ---------------------------------------------

TRIBUNE = [sys.executable, "-m", "server.cli"]


@dataclass
class TribuneServers:
    """``tribune serve`` processes on one database (and one bus when several)."""

    workdir: Path
    env: dict[str, str]
    ports: list[int]
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def tribune(self, *args: str) -> bytes:
        return subprocess.run([*TRIBUNE, *args], cwd=self.workdir, env=self.env, check=True, capture_output=True).stdout

    def links(self, event_slug: str) -> list[dict]:
        """Every participant's join link, from ``tribune links`` (never printed)."""
        return [link for link in json.loads(self.tribune("links", "--format", "json")) if link["event"] == event_slug]

    async def start(self) -> None:
        for port in self.ports:
            self.processes.append(
                subprocess.Popen(
                    [*TRIBUNE, "serve", "--port", str(port)],
                    cwd=self.workdir,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in self.ports:
            await wait_port(port)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


async def tribune_servers(
    event_yaml: str,
    processes: int = 1,
    database: str | None = None,
    bus: str | None = None,
    checkout: str | None = None,
    **settings: str,
) -> TribuneServers:
    """Fresh ``tribune serve`` processes with ``event_yaml`` loaded, not started yet.

    ``database``: default a new SQLite file; a PostgreSQL URL is WIPED first.
    ``checkout``: the root of another checkout of Tribune to run instead of this one.
    ``settings``: more TRIBUNE_* variables, by their lower-case name."""
    workdir = Path(tempfile.mkdtemp(prefix="tribune-bench-"))
    env = {**os.environ, "TRIBUNE_SECRET": "bench"}
    if checkout:
        env["PYTHONPATH"] = str(Path(checkout).resolve())
    env["TRIBUNE_DATABASE_URL"] = database or f"sqlite+aiosqlite:///{workdir}/bench.db"
    if bus:
        env["TRIBUNE_BUS_URL"] = bus
    for name, value in settings.items():
        env[f"TRIBUNE_{name.upper()}"] = value
    if database:
        await wipe_postgres(database)
    servers = TribuneServers(workdir, env, [free_port() for _ in range(processes)])
    env["TRIBUNE_PORT"] = str(servers.ports[0])
    (workdir / "bench.yaml").write_text(event_yaml)
    servers.tribune("load", "bench.yaml")
    return servers
