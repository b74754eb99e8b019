"""Handshakes an attacker sends: answered with 400, never a traceback, and
never a connection that keeps a restart waiting.

The server here is a real `tribune serve` process, stopped with SIGTERM as
an operator (or systemd) would stop it."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET, free_port

ROOT = Path(__file__).resolve().parent.parent
# The grace period given to `tribune serve` here; it must exit within it (and a little).
GRACE = 3


class Served:
    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.tmp_path = tmp_path
        self.process: asyncio.subprocess.Process | None = None
        self.log = tmp_path / "serve.log"

    async def start(self) -> None:
        env = {
            **os.environ,
            "TRIBUNE_DATABASE_URL": f"sqlite+aiosqlite:///{self.tmp_path}/t.db",
            "TRIBUNE_SECRET": SECRET,
            "TRIBUNE_SHUTDOWN_GRACE_SECONDS": str(GRACE),
        }
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--demo",
                "--port",
                str(self.port),
                env=env,
                cwd=self.tmp_path,
                stdout=log,
                stderr=log,
            )
        async with httpx.AsyncClient(timeout=1) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/")).status_code == 200:
                        return
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise AssertionError("tribune serve did not answer")

    async def raw(self, request: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(request)
        await writer.drain()
        return reader, writer

    async def stop_within(self, seconds: float) -> float:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), seconds)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"tribune serve was still running {seconds} s after SIGTERM") from None
        return time.monotonic() - started


def upgrade(path: str, *extra: str, host: str = "127.0.0.1") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


PATHS = ["/ws/sessions/1?token=secret-join-token", "/sessions/1/media?token=secret-join-token"]
DUPLICATES = {
    "two Host headers": ("Host: evil.example",),
    "two Origin headers": ("Origin: http://127.0.0.1", "Origin: http://evil.example"),
    "two Cookie headers": ("Cookie: tribune_token=a", "Cookie: tribune_token=b"),
}


@pytest.fixture
async def served(tmp_path):
    server = Served(tmp_path)
    await server.start()
    yield server
    if server.process is not None and server.process.returncode is None:
        server.process.kill()
        await server.process.wait()


async def test_duplicate_headers_get_400_and_a_restart_is_not_held_up(served):
    for path in PATHS:
        for name, headers in DUPLICATES.items():
            reader, writer = await served.raw(upgrade(path, *headers))
            status = await asyncio.wait_for(reader.readline(), 5)
            assert status.startswith(b"HTTP/1.1 400"), (path, name, status)
            writer.close()
    # Handshakes that never finish, and a socket that never answers the server's close.
    half, _ = await served.raw(upgrade(PATHS[0])[:40])
    opened_reader, opened = await served.raw(upgrade(PATHS[0]))
    assert (await asyncio.wait_for(opened_reader.readline(), 5)).startswith(b"HTTP/1.1 101")
    media_reader, media = await served.raw(upgrade(PATHS[1]))
    assert (await asyncio.wait_for(media_reader.readline(), 5)).startswith(b"HTTP/1.1 101")

    took = await served.stop_within(GRACE + 5)
    assert took < GRACE + 5
    log = served.log.read_text()
    assert "Traceback" not in log and "MultipleValuesError" not in log, log[-3000:]
    assert "secret-join-token" not in log
    del half, media
