"""Two server processes' worth of app on one session: PostgreSQL for state, Redis between them."""

import asyncio
import json

import pytest
import websockets

from server import read_mark
from server.db import create_engine, migrate, sessionmaker
from server.settings import Settings
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    SECRET,
    Client,
    LiveServer,
    build_world,
    free_port,
    open_client,
    reset_postgres,
)
from tests.replica import FloorReplica
from tests.test_ws_protocol import LISTENERS, held_until_they_read


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
        sockets, replicas = [], []
        for server, who in zip(servers * 2, ["france", "chair", "peru", "usa"]):
            url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
            socket = await websockets.connect(url)
            snapshot = json.loads(await socket.recv())
            assert snapshot["type"] == "snapshot"
            replicas.append(FloorReplica(snapshot))
            sockets.append(socket)
        france, chair, peru, usa = sockets
        # Concurrent commands through both servers are serialised by the database.
        await asyncio.gather(*(s.send(json.dumps({"type": "request_floor", "id": "r"})) for s in (usa, peru, france)))
        for socket, replica in zip(sockets, replicas):
            seqs = []
            while len(seqs) < 3:
                message = json.loads(await asyncio.wait_for(socket.recv(), 5))
                if message["type"] == "floor_requested":
                    seqs.append(message["seq"])
                    replica.apply(message)
            assert seqs == [1, 2, 3]
            assert [w["delegation"]["tier"] for w in replica.view()["waiting"]] == [
                "state_party",
                "state_party",
                "observer_state",
            ]
        for socket in sockets:
            await socket.close()
    finally:
        for server in servers:
            await server.stop()


@pytest.mark.parametrize("bus_url", ["redis"], indirect=True)
async def test_a_sender_is_held_by_the_listeners_of_the_other_process_too(bus_url, database_url, world, monkeypatch):
    # Each process sounds its own sockets; the chair's process hears from the
    # other how far its room has read. Before, the chair's room (the chair
    # alone, who reads) let it run 200 events ahead of the listeners there.
    monkeypatch.setattr(read_mark, "HOLD_SECONDS", 30)
    # A burst of commands, not a flood (the allowance is shared across processes).
    burst = {"commands_per_second": 1000.0, "command_burst": 1000}
    servers = [
        LiveServer(Settings(database_url=database_url, bus_url=bus_url, secret=SECRET, port=free_port(), **burst))
        for _ in range(2)
    ]
    for server in servers:
        await server.start()
    opened: list[Client] = []
    try:
        opened.append(chair := await open_client(servers[0], world, "chair"))
        for who in LISTENERS:
            opened.append(await open_client(servers[1], world, who))
        await held_until_they_read(chair, opened[1:])
    finally:
        for client in opened:
            await client.close()
        for server in servers:
            await server.stop()
