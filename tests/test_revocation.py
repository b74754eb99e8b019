"""Revoking a join link: the old link opens nothing, its open sockets close at
once, the person gets a new link, and `tribune load` and `tribune links` go on
working. An interpreter on air who is removed or revoked frees the mic."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from sqlalchemy import delete, select, update

from server import models
from server.revocation import NoSuchParticipant, revoke_link
from server.settings import Settings
from server.tokens import token_hash
from tests.booth_world import add_booth_staff
from tests.conftest import SECRET, Client, LiveServer, free_port
from tests.test_cli import DEMO, run
from tests.test_media_protocol import Media


@pytest.fixture
async def world(db, world):
    return await add_booth_staff(db, world)


def _settings(database_url: str, **overrides) -> Settings:
    # No heartbeat within the test: what happens comes from the access watch
    # (or the command's own check), not from a heartbeat.
    return Settings(database_url=database_url, secret=SECRET, port=free_port(), heartbeat_seconds=60, **overrides)


async def _open(server: LiveServer, world, token: str) -> Client:
    client = Client(await websockets.connect(f"{server.ws_url}/ws/sessions/{world.session_id}?token={token}"))
    client.first = await client.recv()
    return client


async def _closed_with(client, timeout: float = 3) -> int:
    """The close code the server ends the socket with, reading what comes before."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(client.socket.recv(), timeout)
    return closed.value.rcvd.code


async def test_revoking_closes_the_open_sockets_and_their_media_within_a_second(database_url, world, db):
    server = LiveServer(_settings(database_url))
    await server.start()
    try:
        france = await _open(server, world, world.tokens["france"])
        media_url = f"{server.ws_url}/sessions/{world.session_id}/media?token={world.tokens['france']}"
        media = Media(await websockets.connect(media_url))
        await media.send("listen", channel="floor")
        await media.control("listening")
        peru = await _open(server, world, world.tokens["peru"])

        started = asyncio.get_running_loop().time()
        revoked = await revoke_link(db, SECRET, "france")
        assert await _closed_with(france) == 4401
        await asyncio.wait_for(media.reader, 3)
        assert media.socket.close_code == 4401
        # The watch reads every 0.5 s: well within the second the issue asks for.
        assert asyncio.get_running_loop().time() - started < 2

        # The old link opens nothing; the new one does, with the same roles.
        stale = Client(
            await websockets.connect(f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['france']}")
        )
        assert (await stale.recv())["code"] == "unauthorized"
        assert await _closed_with(stale) == 4401
        fresh = await _open(server, world, revoked.token)
        assert fresh.first["type"] == "snapshot" and fresh.first["me"]["name"] == "Delegate of France"
        # Others were not touched.
        assert (await peru.command("ping"))["type"] == "pong"
        await fresh.close(), await peru.close()
    finally:
        await server.stop()


async def test_a_command_on_a_revoked_link_runs_nothing_even_before_the_socket_is_closed(database_url, world, db):
    server = LiveServer(_settings(database_url, access_check_seconds=60))
    await server.start()
    try:
        france = await _open(server, world, world.tokens["france"])
        chair = await _open(server, world, world.tokens["chair"])
        await revoke_link(db, SECRET, "france")
        reply = await france.command("request_floor")
        assert reply["type"] == "error" and reply["code"] == "unauthorized", reply
        assert await _closed_with(france) == 4401
        fresh = await _open(server, world, world.tokens["peru"])
        assert fresh.first["replica"]["waiting"] == []  # the request was never made
        await chair.close(), await fresh.close()
    finally:
        await server.stop()


async def test_revoke_needs_a_known_participant_and_the_servers_secret(world, db):
    with pytest.raises(NoSuchParticipant):
        await revoke_link(db, SECRET, "nobody")
    from server.links import WrongSecret

    with pytest.raises(WrongSecret):
        await revoke_link(db, "another-secret", "france")
    async with db() as s:
        france = await s.get(models.Participant, world.participants["france"])
        assert france.token_version == 1 and france.token_hash == token_hash(world.tokens["france"])


def test_tribune_revoke_then_load_and_links_keep_working(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIBUNE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("TRIBUNE_SECRET", "cli-secret")
    monkeypatch.setenv("TRIBUNE_PUBLIC_URL", "https://tribune.example.org")
    assert run("load", str(DEMO)).exit_code == 0
    before = {entry["key"]: entry["url"] for entry in json.loads(run("links", "--format", "json").output)}
    key = next(iter(before))

    result = run("revoke", key)
    assert result.exit_code == 0, result.output
    new_url = result.output.split("Their new link: ")[1].strip()
    assert new_url.startswith("https://tribune.example.org/join/") and new_url != before[key]

    again = run("load", str(DEMO))
    assert again.exit_code == 0, again.output + again.stderr
    after = {entry["key"]: entry["url"] for entry in json.loads(run("links", "--format", "json").output)}
    assert after[key] == new_url
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}

    unknown = run("revoke", "nobody-at-all")
    assert unknown.exit_code == 1 and "No participant with the key 'nobody-at-all'" in unknown.stderr


async def _mic_taken(server: LiveServer, world, who: str = "fr1") -> tuple[Client, Client]:
    interpreter = await _open(server, world, world.tokens[who])
    listener = await _open(server, world, world.tokens["usa"])
    assert (await interpreter.command("take_mic"))["type"] == "ack"
    taken = await listener.next_event("mic_changed")
    assert taken["data"]["live"] == world.participants[who]
    return interpreter, listener


@pytest.mark.parametrize("how", ["role removed", "link revoked"])
async def test_an_interpreter_removed_while_on_air_frees_the_mic(database_url, world, db, how):
    # A grace period long enough that only the removal can free the mic here.
    server = LiveServer(_settings(database_url, mic_release_grace_seconds=60))
    await server.start()
    try:
        interpreter, listener = await _mic_taken(server, world)
        if how == "link revoked":
            await revoke_link(db, SECRET, "fr1")
        else:
            async with db() as s, s.begin():
                # As `tribune load` does with `roles: []`: the roles go, the revision moves.
                await s.execute(
                    delete(models.ParticipantRole).where(
                        models.ParticipantRole.participant_id == world.participants["fr1"]
                    )
                )
                await s.execute(update(models.Event).values(revision=models.Event.revision + 1))
        assert await _closed_with(interpreter) == (4401 if how == "link revoked" else 4403)
        released = await listener.next_event("mic_changed", timeout=3)
        assert released["data"]["live"] is None and released["data"]["reason"] == "removed"
        assert released["data"]["previous"] == world.participants["fr1"]
        async with db() as s:
            booth = await s.scalar(select(models.Booth).where(models.Booth.language == "fr"))
            assert booth.live_interpreter_id is None
        # The partner takes the mic without asking anyone.
        partner = await _open(server, world, world.tokens["fr2"])
        assert (await partner.command("take_mic"))["type"] == "ack"
        await listener.close(), await partner.close()
    finally:
        await server.stop()


async def test_an_interpreter_whose_other_roles_change_keeps_the_mic(database_url, world, db):
    server = LiveServer(_settings(database_url, mic_release_grace_seconds=60))
    await server.start()
    try:
        interpreter, listener = await _mic_taken(server, world)
        async with db() as s, s.begin():
            s.add(models.ParticipantRole(participant_id=world.participants["fr1"], role="observer"))
            await s.execute(update(models.Event).values(revision=models.Event.revision + 1))
        assert await _closed_with(interpreter) == 4409  # reconnect for the new roles
        back = await _open(server, world, world.tokens["fr1"])
        assert (await back.command("ping"))["type"] == "pong"
        async with db() as s:
            booth = await s.scalar(select(models.Booth).where(models.Booth.language == "fr"))
            assert booth.live_interpreter_id == world.participants["fr1"]
        await back.close(), await listener.close()
    finally:
        await server.stop()


async def test_no_client_may_send_the_servers_release(database_url, world, db):
    server = LiveServer(_settings(database_url))
    await server.start()
    try:
        interpreter, listener = await _mic_taken(server, world)
        partner = await _open(server, world, world.tokens["fr2"])
        reply = await partner.command("release_departed", participant_id=world.participants["fr1"], reason="removed")
        assert reply["type"] == "error" and reply["code"] == "forbidden"
        await interpreter.close(), await listener.close(), await partner.close()
    finally:
        await server.stop()
