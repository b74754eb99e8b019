"""The command kernel through a real server: roles read now, recipients, consistency, replay limits."""

import asyncio
import json
from typing import Annotated, Literal

import pytest
import websockets
from sqlalchemy import delete, select, update

from rooms.commands import PRINTABLE, Command, CommandSet, Context, Registry
from rooms.errors import Refused
from rooms.floor import Kind
from rooms.floor_commands import RequestFloor
from rooms.floor_commands import commands as floor_commands
from rooms.recipients import moderators_and
from rooms.roles import ALL_ROLES
from server import models
from server.settings import Settings
from tests.conftest import SECRET, Client, LiveServer, eventually, free_port
from tests.replica import comparable

# A domain under test: a note only the moderators and its sender may read,
# as a pending question will be.
notes = CommandSet()


class NoteToChair(Command):
    type: Literal["note_to_chair"]
    text: Annotated[str, PRINTABLE]


@notes.command(NoteToChair, roles=ALL_ROLES)
async def note_to_chair(ctx: Context, command: NoteToChair) -> None:
    await ctx.emit("note_sent", lambda: {"text": command.text}, moderators_and(ctx.actor.participant_id))


class AskTwice(Command):
    """A statement and a point of order in one go, as a question turned into
    a speaking request will call the floor's command from its own."""

    type: Literal["ask_twice"]
    then_fail: bool = False


@notes.command(AskTwice, roles=ALL_ROLES)
async def ask_twice(ctx: Context, command: AskTwice) -> None:
    await ctx.execute(RequestFloor(id="inner-1", type="request_floor"))
    await ctx.execute(RequestFloor(id="inner-2", type="request_floor", kind=Kind.POINT_OF_ORDER))
    if command.then_fail:
        raise Refused("invalid", "Changed my mind.")


@pytest.fixture
async def restricted_server(database_url, world):
    live = LiveServer(
        Settings(database_url=database_url, secret=SECRET, port=free_port()),
        registry=Registry(floor_commands, notes),
    )
    await live.start()
    yield live
    await live.stop()


async def open_client(server, world, who, last_seq=None) -> Client:
    url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
    if last_seq is not None:
        url += f"&last_seq={last_seq}"
    client = Client(await websockets.connect(url))
    client.first = await client.recv()
    return client


async def test_a_restricted_event_reaches_only_its_recipients_live_and_replayed(restricted_server, world):
    server = restricted_server
    france, peru, chair = [await open_client(server, world, who) for who in ("france", "peru", "chair")]
    assert (await france.command("note_to_chair", text="The French booth has no sound"))["seq"] == 1
    assert (await peru.command("request_floor"))["seq"] == 2
    assert (await chair.next_event("note_sent"))["data"]["text"] == "The French booth has no sound"
    assert (await france.next_event())["type"] == "note_sent"
    # Peru's socket never gets the note: the next thing it sees is its own request.
    assert (await peru.next_event())["seq"] == 2
    await peru.close()
    for who in ("peru", "usa"):
        replayed = await open_client(server, world, who, last_seq=0)
        seen = [replayed.first]
        while seen[-1]["type"] != "resumed":
            seen.append(await replayed.recv())
        assert [m["type"] for m in seen] == ["floor_requested", "resumed"], who
        await replayed.close()
    again = await open_client(server, world, "chair", last_seq=0)
    assert again.first["type"] == "note_sent"
    for client in (france, chair, again):
        await client.close()


async def test_a_participant_whose_access_is_taken_away_is_refused_and_closed(server, world, db):
    france = await open_client(server, world, "france")
    async with db() as s, s.begin():
        await s.execute(
            delete(models.ParticipantRole).where(models.ParticipantRole.participant_id == world.participants["france"])
        )
    reply = await france.command("request_floor")
    assert reply["code"] == "forbidden"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await france.recv()
    assert closed.value.rcvd.code == 4403
    check = await open_client(server, world, "chair")
    assert check.first["floor"]["waiting"] == []


async def test_a_chair_whose_role_is_changed_is_refused_and_asked_to_reconnect(server, world, db):
    chair = await open_client(server, world, "chair")
    peru = await open_client(server, world, "peru")
    await peru.command("request_floor")
    async with db() as s, s.begin():
        role = await s.scalar(
            select(models.ParticipantRole).where(models.ParticipantRole.participant_id == world.participants["chair"])
        )
        role.role = "participant"
    assert (await chair.command("give_floor"))["code"] == "forbidden"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await chair.recv()
    assert closed.value.rcvd.code == 4409
    again = await open_client(server, world, "chair")
    assert "give_floor" not in again.first["me"]["may"]


async def test_a_client_hanging_up_mid_command_does_not_cut_it(server, world):
    observer = await open_client(server, world, "chair")
    for n in range(6):
        france = await open_client(server, world, "france")
        kind = "request_floor" if n % 2 == 0 else "withdraw"
        fields = {} if kind == "request_floor" else {"request_id": observer.replica.order[0]}
        await france.socket.send(json.dumps({"type": kind, "id": n, **fields}))
        await france.socket.close()  # gone before the answer
        event = await observer.next_event()
        assert event["seq"] == n + 1
    fresh = await open_client(server, world, "usa")
    assert fresh.first["seq"] == 6 and comparable(fresh.first["floor"]) == comparable(observer.replica.view())


async def test_the_snapshot_agrees_with_the_events_that_follow_it(server, world):
    chair = await open_client(server, world, "chair")
    delegates = [await open_client(server, world, who) for who in ("france", "peru", "usa", "icrc", "icbl")]

    async def busy():
        for client in delegates:
            await client.command("request_floor")
        await chair.command("give_floor")
        await chair.command("pause_speech")
        await chair.command("move_request", request_id=chair.replica.order[-1], position=1)
        await chair.command("close_list")
        await delegates[1].command("declare_language", language="es", request_id=chair.replica.order[0])

    # A late joiner connects while the commands are flowing.
    watcher = await open_client(server, world, "presenter")
    work = asyncio.create_task(busy())
    while watcher.replica.seq < 2:  # the list is filling
        await watcher.recv()
    late = await open_client(server, world, "secretariat")
    await work
    while late.replica.seq < chair.replica.seq:
        await late.recv()
    final = await open_client(server, world, "observer")
    assert comparable(late.replica.view()) == comparable(final.first["floor"])
    assert comparable(chair.replica.view()) == comparable(final.first["floor"])


async def test_resuming_exactly_at_the_replay_limit_replays_and_one_more_gets_a_snapshot(database_url, world):
    live = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port(), replay_limit=3))
    await live.start()
    try:
        chair = await open_client(live, world, "chair")
        for who in ("france", "peru", "usa", "icrc"):
            client = await open_client(live, world, who)
            await client.command("request_floor")
            await client.close()
        at_limit = await open_client(live, world, "france", last_seq=1)
        assert at_limit.first["seq"] == 2 and at_limit.first["type"] == "floor_requested"
        beyond = await open_client(live, world, "france", last_seq=0)
        assert beyond.first["type"] == "snapshot"
        await chair.close()
    finally:
        await live.stop()


async def test_the_replay_limit_counts_bytes_too(database_url, world):
    live = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port(), replay_limit_bytes=1024))
    await live.start()
    try:
        france = await open_client(live, world, "france")
        await france.command("request_floor", note="x" * 280)
        one = await open_client(live, world, "peru", last_seq=0)
        assert one.first["type"] == "floor_requested"
        await france.command("request_floor", kind="point_of_order", note="y" * 280)
        two = await open_client(live, world, "peru", last_seq=0)
        assert two.first["type"] == "snapshot"  # two events of ~700 bytes exceed 1 KiB
    finally:
        await live.stop()


async def test_the_chair_may_add_a_speaker_to_a_closed_list_delegates_may_not(server, world):
    chair = await open_client(server, world, "chair")
    france = await open_client(server, world, "france")
    await chair.command("close_list")
    assert (await france.command("request_floor"))["code"] == "list_closed"
    added = await chair.command("add_speaker", delegation_id=world.delegations["pe"], speaker_name="Peru (in room)")
    assert added["type"] == "ack"
    assert [r["speaker_name"] for r in (await france.next_event("floor_requested"))["replica"]["waiting"]] == [
        "Peru (in room)"
    ]


async def test_declaring_the_language_of_a_waiting_request(server, world):
    france, peru, chair = [await open_client(server, world, who) for who in ("france", "peru", "chair")]
    await france.command("request_floor")
    request_id = (await france.next_event("floor_requested"))["data"]["request"]["id"]
    assert (await peru.command("declare_language", language="es", request_id=request_id))["code"] == "forbidden"
    assert (await france.command("declare_language", language="fr", request_id=request_id))["type"] == "ack"
    event = await peru.next_event("language_declared")
    assert event["data"] == {"request_id": request_id, "speech_id": None, "language": "fr"}
    assert event["replica"]["waiting"][0]["language"] == "fr"
    assert (await chair.command("declare_language", language="ar", request_id=request_id))["type"] == "ack"
    assert (await peru.next_event("language_declared"))["replica"]["waiting"][0]["language"] == "ar"


async def test_a_client_that_stops_reading_is_closed_with_4408_and_others_are_not_held_up(database_url, world):
    import socket

    live = LiveServer(
        Settings(
            database_url=database_url,
            secret=SECRET,
            port=free_port(),
            send_queue_size=8,
            socket_send_buffer=4096,
            send_buffer_bytes=4096,
            commands_per_second=10_000,
            command_burst=10_000,
        )
    )
    await live.start()
    try:
        # A reader that never reads, with a small receive buffer so the
        # server's socket fills soon rather than after megabytes.
        stalled_socket = socket.socket()
        stalled_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled_socket.connect(("127.0.0.1", live.settings.port))
        url = f"{live.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['observer']}"
        stalled = await websockets.connect(url, sock=stalled_socket, max_queue=1)
        france = await open_client(live, world, "france")
        hub = live.app.state.tribune.hub
        # The stalled socket's snapshot is read beside France's: both join.
        await eventually(lambda: hub.count(world.session_id) == 2)
        commands = 0
        while hub.count(world.session_id) == 2:
            commands += 1
            assert commands < 3000, "the stalled reader was never cut off"
            kind = "request_floor" if commands % 2 else "withdraw"
            fields = {"note": "x" * 280} if kind == "request_floor" else {"request_id": france.replica.order[0]}
            assert (await france.command(kind, **fields))["type"] == "ack"
            while france.replica.seq < commands:
                await france.recv()
        # Reading again, it gets what was sent before, then the reason.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await stalled.recv()
        assert closed.value.rcvd.code == 4408
    finally:
        await live.stop()


async def test_an_idle_socket_is_ended_when_its_access_or_roles_change(database_url, world, db):
    live = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port(), heartbeat_seconds=0.2))
    await live.start()
    try:
        france, chair, peru = [await open_client(live, world, who) for who in ("france", "chair", "peru")]
        async with db() as s, s.begin():
            await s.execute(
                delete(models.ParticipantRole).where(
                    models.ParticipantRole.participant_id == world.participants["france"]
                )
            )
            role = await s.scalar(
                select(models.ParticipantRole).where(
                    models.ParticipantRole.participant_id == world.participants["chair"]
                )
            )
            role.role = "participant"
            # As `tribune load` does when it changes people: running servers judge their sockets again.
            await s.execute(update(models.Event).values(revision=models.Event.revision + 1))
        # Neither sends anything: the next heartbeat reads their roles again.
        for client, code in ((france, 4403), (chair, 4409)):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await client.recv()
            assert closed.value.rcvd.code == code
        assert (await peru.command("ping"))["type"] == "pong"  # unchanged, still here
    finally:
        await live.stop()


async def test_a_command_may_run_another_in_the_same_transaction(restricted_server, world):
    server = restricted_server
    france, chair = await open_client(server, world, "france"), await open_client(server, world, "chair")
    refused = await france.command("ask_twice", then_fail=True)
    assert refused["code"] == "invalid"
    # All or nothing: the first inner request was undone with the rest.
    assert (await open_client(server, world, "usa")).first["floor"]["waiting"] == []
    assert (await france.command("ask_twice"))["seq"] == 2
    kinds = [(await chair.next_event())["data"]["request"]["kind"] for _ in range(2)]
    assert kinds == ["statement", "point_of_order"]
    assert [r["kind"] for r in chair.replica.view()["waiting"]] == ["point_of_order", "statement"]
    # The inner command is checked against the sender's roles too.
    observer = await open_client(server, world, "observer")
    assert (await observer.command("ask_twice"))["code"] == "forbidden"
