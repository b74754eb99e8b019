"""Two server processes' worth of app on one session: PostgreSQL for state, Redis between them."""

import asyncio
import json

import pytest
import websockets

from server.db import create_engine, migrate, sessionmaker
from server.settings import Settings
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    SECRET,
    LiveServer,
    build_world,
    free_port,
    reset_postgres,
)


@pytest.mark.parametrize("bus_url", ["redis"], indirect=True)
async def test_two_servers_run_one_session(bus_url):
    await reset_postgres(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    await migrate(engine)
    world = await build_world(sessionmaker(engine))
    await engine.dispose()
    servers = [
        LiveServer(Settings(database_url=POSTGRES_URL, bus_url=REDIS_URL, secret=SECRET, port=free_port()))
        for _ in range(2)
    ]
    for server in servers:
        await server.start()
    try:
        sockets = []
        for server, who in zip(servers * 2, ["france", "chair", "peru", "usa"]):
            url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
            socket = await websockets.connect(url)
            assert json.loads(await socket.recv())["type"] == "snapshot"
            sockets.append(socket)
        france, chair, peru, usa = sockets
        # Concurrent commands through both servers are serialised by the database.
        await asyncio.gather(
            *(s.send(json.dumps({"type": "request_floor", "id": "r"})) for s in (usa, peru, france))
        )
        for socket in sockets:
            seqs, last = [], None
            while len(seqs) < 3:
                message = json.loads(await asyncio.wait_for(socket.recv(), 5))
                if message["type"] == "floor_requested":
                    seqs.append(message["seq"])
                    last = message
            assert seqs == [1, 2, 3]
            assert [w["delegation"]["tier"] for w in last["replica"]["waiting"]] == [
                "state_party", "state_party", "observer_state"
            ]
        for socket in sockets:
            await socket.close()
    finally:
        for server in servers:
            await server.stop()
