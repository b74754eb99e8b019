"""Redis stopped and started again under two servers: nothing accepted is lost, nobody stays stale."""

import asyncio
import json

import websockets

from server.db import create_engine, migrate, sessionmaker
from server.settings import Settings
from tests.conftest import (
    POSTGRES_URL,
    SECRET,
    LiveServer,
    build_world,
    eventually,
    free_port,
    private_redis,
    reset_postgres,
)


class Follower:
    """A client that keeps reading in the background and remembers the last seq it saw."""

    def __init__(self, socket):
        self.socket = socket
        self.seq = 0
        self.replies: dict[str, dict] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self):
        async for text in self.socket:
            message = json.loads(text)
            if message["type"] in ("ack", "error"):
                self.replies[message["id"]] = message
            elif "seq" in message and message["type"] != "pong":
                self.seq = max(self.seq, message["seq"])

    async def command(self, command_id: str, **fields) -> dict:
        await self.socket.send(json.dumps({"id": command_id, **fields}))
        await eventually(lambda: command_id in self.replies)
        return self.replies[command_id]

    async def close(self):
        await self.socket.close()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_commands_during_a_redis_outage_are_acked_and_reach_every_client():
    await reset_postgres(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    await migrate(engine)
    world = await build_world(sessionmaker(engine))
    await engine.dispose()
    async with private_redis() as redis:
        servers = [
            LiveServer(
                Settings(
                    database_url=POSTGRES_URL, bus_url=redis.url, secret=SECRET, port=free_port(), heartbeat_seconds=0.5
                )
            )
            for _ in range(2)
        ]
        for server in servers:
            await server.start()
        followers: list[Follower] = []
        try:
            people = ["chair", "france", "peru", "usa", "icrc", "icbl"]
            for n, who in enumerate(people):
                server = servers[n % 2]
                url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
                followers.append(Follower(await websockets.connect(url)))
            chair, france, peru, usa, icrc, icbl = followers
            assert (await france.command("a", type="request_floor"))["type"] == "ack"
            await eventually(lambda: all(f.seq == 1 for f in followers))

            await redis.stop()
            # Through both servers while Redis is down: committed, so acked.
            replies = [
                await peru.command("b", type="request_floor"),
                await usa.command("c", type="request_floor"),
                await chair.command("d", type="give_floor"),
            ]
            assert [r["type"] for r in replies] == ["ack", "ack", "ack"], replies
            last = replies[-1]["seq"]
            assert last == 4
            # The heartbeat reads the log: every client, on either server, is
            # at the last seq while Redis is still down.
            await eventually(lambda: all(f.seq == last for f in followers), timeout=10)

            await redis.start()
            assert (await icbl.command("e", type="request_floor"))["type"] == "ack"
            await eventually(lambda: all(f.seq == last + 1 for f in followers), timeout=10)
        finally:
            for follower in followers:
                await follower.close()
            for server in servers:
                await server.stop()
