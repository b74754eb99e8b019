"""Real server processes on one meeting: PostgreSQL holds the truth, Redis carries the fan-out.

Each server here is its own `tribune serve` process, started as an operator
would, so killing one is a real crash, not a clean shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
import websockets

from server.db import create_engine, migrate, sessionmaker
from tests.conftest import POSTGRES_URL, SECRET, build_world, eventually, free_port, private_redis, reset_postgres
from tests.replica import FloorReplica, comparable

TRIBUNE = [sys.executable, "-m", "server.cli"]


class ServerProcess:
    def __init__(self, redis_url: str, *args: str):
        self.port = free_port()
        self.redis_url = redis_url
        self.args = args
        self.process: asyncio.subprocess.Process | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {
            **os.environ,
            "TRIBUNE_DATABASE_URL": POSTGRES_URL,
            "TRIBUNE_BUS_URL": self.redis_url,
            "TRIBUNE_SECRET": SECRET,
            "TRIBUNE_HEARTBEAT_SECONDS": "0.5",
        }
        self.process = await asyncio.create_subprocess_exec(
            *TRIBUNE,
            "serve",
            "--port",
            str(self.port),
            *self.args,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with httpx.AsyncClient(timeout=1) as http:
            for _ in range(300):
                if self.process.returncode is not None:
                    raise AssertionError(f"tribune serve exited with {self.process.returncode}")
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("tribune serve did not answer")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class Delegate:
    """A page's socket: applies every event to its replica and resumes from its last seq."""

    def __init__(self, world, who: str):
        self.world, self.who = world, who
        self.replica: FloorReplica | None = None
        self.seqs: list[int] = []
        self.socket = None
        self.task: asyncio.Task | None = None

    async def connect(self, server: ServerProcess) -> None:
        url = f"{server.ws_url}/ws/sessions/{self.world.session_id}?token={self.world.tokens[self.who]}"
        if self.replica is not None:
            url += f"&last_seq={self.replica.seq}"
        self.socket = await websockets.connect(url)
        if self.replica is None:
            first = json.loads(await self.socket.recv())
            assert first["type"] == "snapshot", first
            self.replica = FloorReplica(first)
        # On resuming, the missed events come first, then `resumed`.
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.socket:
                message = json.loads(text)
                if "seq" in message and message["type"] not in ("heartbeat", "ack", "error", "pong", "resumed"):
                    self.seqs.append(message["seq"])
                    self.replica.apply(message)
        except websockets.ConnectionClosed:
            pass

    async def send(self, **command) -> None:
        await self.socket.send(json.dumps({"id": "c", **command}))

    async def close(self) -> None:
        await self.socket.close()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def world():
    await reset_postgres(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    await migrate(engine)
    world = await build_world(sessionmaker(engine))
    await engine.dispose()
    return world


async def _fresh_view(server: ServerProcess, world, who: str) -> dict:
    url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
    async with websockets.connect(url) as socket:
        return comparable(FloorReplica(json.loads(await socket.recv())).view())


async def test_a_crashed_process_clients_resume_on_the_other_and_miss_nothing(world):
    async with private_redis() as redis:
        first, second = ServerProcess(redis.url), ServerProcess(redis.url)
        await asyncio.gather(first.start(), second.start())
        people = {who: Delegate(world, who) for who in ("france", "peru", "usa", "chair")}
        try:
            for who, delegate in people.items():
                await delegate.connect(first if who in ("france", "peru") else second)
            await people["usa"].send(type="request_floor")
            await people["france"].send(type="request_floor")
            await eventually(lambda: all(len(d.seqs) == 2 for d in people.values()))

            first.kill()  # France and Peru lose their server mid-meeting
            await first.process.wait()
            with contextlib.suppress(websockets.ConnectionClosed):
                await people["peru"].send(type="request_floor")  # lost with the socket: never acked
            await people["chair"].send(type="give_floor")  # committed while France and Peru are away
            await eventually(lambda: len(people["chair"].seqs) == 3)

            for who in ("france", "peru"):
                await people[who].close()
                await people[who].connect(second)
            await people["peru"].send(type="request_floor")
            await eventually(lambda: all(len(d.seqs) == 4 for d in people.values()))

            expected = await _fresh_view(second, world, "chair")
            for delegate in people.values():
                assert delegate.seqs == [1, 2, 3, 4], delegate.who  # nothing lost, nothing twice
            for delegate in people.values():
                assert comparable(delegate.replica.view()) == expected, delegate.who
            assert expected["current"]["delegation"]["name"] == "France"
            assert [w["delegation"]["name"] for w in expected["waiting"]] == ["Peru", "United States of America"]
        finally:
            for delegate in people.values():
                if delegate.socket is not None:
                    await delegate.close()
            await asyncio.gather(first.stop(), second.stop())


async def test_workers_share_one_address_and_one_meeting(world):
    async with private_redis() as redis:
        server = ServerProcess(redis.url, "--workers", "2")
        await server.start()
        people = [Delegate(world, who) for who in ("france", "peru", "usa", "chair") * 3]
        try:
            await eventually(lambda: len(_children(server.process.pid)) == 2)
            for delegate in people:
                await delegate.connect(server)
            await people[0].send(type="request_floor")
            await eventually(lambda: all(d.seqs == [1] for d in people))
            await people[1].send(type="request_floor")
            await eventually(lambda: all(d.seqs == [1, 2] for d in people))
            # A worker that dies is replaced and the meeting goes on.
            os.kill(_children(server.process.pid)[0], signal.SIGKILL)
            await eventually(lambda: len(_children(server.process.pid)) == 2, timeout=20)
            fresh = Delegate(world, "usa")
            for _ in range(50):
                try:
                    await fresh.connect(server)
                    break
                except (OSError, websockets.InvalidStatus):
                    await asyncio.sleep(0.1)
            await fresh.send(type="request_floor")
            await eventually(lambda: fresh.seqs == [3])
            assert [w["delegation"]["name"] for w in fresh.replica.view()["waiting"]] == [
                "France",
                "Peru",
                "United States of America",
            ]
            await fresh.close()
        finally:
            for delegate in people:
                if delegate.socket is not None:
                    await delegate.close()
            await server.stop()


def _children(pid: int) -> list[int]:
    """Live worker processes under the supervisor (multiprocessing's own helper excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


async def test_workers_without_a_bus_between_them_are_refused_with_the_reason(tmp_path):
    process = await asyncio.create_subprocess_exec(
        *TRIBUNE,
        "serve",
        "--workers",
        "2",
        "--port",
        str(free_port()),
        env={**os.environ, "TRIBUNE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db", "TRIBUNE_SECRET": SECRET},
        cwd=Path(__file__).resolve().parent.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "TRIBUNE_BUS_URL=redis://" in err.decode()


async def _answered_without_limit(server: ServerProcess, world, who: str, frames: int) -> int:
    """Send ``frames`` commands at once; how many were run (not refused as a flood)."""
    url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
    async with websockets.connect(url) as socket:
        assert json.loads(await socket.recv())["type"] == "snapshot"
        # A withdrawal of no request: refused by the floor, but only after the kernel ran it.
        await asyncio.gather(
            *(socket.send(json.dumps({"type": "withdraw", "id": n, "request_id": 999})) for n in range(frames))
        )
        run = replies = 0
        while replies < frames:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if message["type"] in ("error", "ack"):
                replies += 1
                run += message.get("code") != "rate_limited"
        return run


async def test_one_person_on_two_processes_is_held_to_one_flood_limit(world):
    async with private_redis() as redis:
        first, second = ServerProcess(redis.url), ServerProcess(redis.url)
        await asyncio.gather(first.start(), second.start())
        try:
            started = asyncio.get_running_loop().time()
            run = await asyncio.gather(
                _answered_without_limit(first, world, "france", 40),
                _answered_without_limit(second, world, "france", 40),
            )
            elapsed = asyncio.get_running_loop().time() - started
        finally:
            await asyncio.gather(first.stop(), second.stop())
    # The default allowance: a burst of 30, then 10 a second. Each process
    # alone would let 30 through, 60 together.
    assert sum(run) <= 30 + 10 * elapsed + 1, (run, elapsed)


async def _submitted(server: ServerProcess, world, who: str, count: int) -> list[str]:
    url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
    async with websockets.connect(url) as socket:
        assert json.loads(await socket.recv())["type"] == "snapshot"
        outcomes = []
        for n in range(count):
            await socket.send(
                json.dumps(
                    {
                        "type": "submit_question",
                        "id": n,
                        "text": f"Question {n} on port {server.port}?",
                        "language": "en",
                    }
                )
            )
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if message.get("id") == n:
                    outcomes.append(message.get("code", message["type"]))
                    break
        return outcomes


async def test_a_per_action_limit_holds_across_processes(world):
    """Five questions at once, then one every ten seconds: a second process is no second allowance."""
    async with private_redis() as redis:
        first, second = ServerProcess(redis.url), ServerProcess(redis.url)
        await asyncio.gather(first.start(), second.start())
        try:
            on_first = await _submitted(first, world, "france", 5)
            on_second = await _submitted(second, world, "france", 5)
        finally:
            await asyncio.gather(first.stop(), second.stop())
    assert on_first == ["ack"] * 5
    assert on_second.count("ack") <= 1 and on_second.count("rate_limited") >= 4, on_second
