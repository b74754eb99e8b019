"""The media socket end to end: real server, real websockets, real databases (and Redis across processes)."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import pytest
import websockets
from sqlalchemy import update

from interpretation import booth_commands, caption_commands
from interpretation.channels import channel_of_voice
from interpretation.frames import FrameHeader, Stream, decode, encode
from rooms import floor_commands
from rooms.commands import Command, CommandSet, Context, Registry
from rooms.roles import ALL_ROLES
from server import models
from server.db import create_engine, migrate, sessionmaker
from server.settings import Settings
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    SECRET,
    Client,
    LiveServer,
    build_world,
    eventually,
    free_port,
    reset_postgres,
)

# For channels whose booth has no interpreters assigned here: the booth's row
# is moved in the database and the move announced as the booth commands do.
booth_moves = CommandSet()


class AnnounceMic(Command):
    type: Literal["announce_mic"]
    language: str


@booth_moves.command(AnnounceMic, roles=ALL_ROLES)
async def announce_mic(ctx: Context, command: AnnounceMic) -> None:
    await ctx.emit("mic_changed", lambda: {"language": command.language, "live": None, "live_name": "", "since": None})


class Media:
    """A participant's media socket: controls as JSON, frames as bytes."""

    def __init__(self, socket):
        self.socket = socket
        self.controls: list[dict] = []
        self.frames: list[bytes] = []
        # The name our frames carry in each channel we were let publish into.
        self.voices: dict[str, str] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for message in self.socket:
                if isinstance(message, bytes):
                    self.frames.append(message)
                else:
                    control = json.loads(message)
                    if control["type"] == "publishing":
                        self.voices[control["channel"]] = control["voice"]
                    self.controls.append(control)
        except websockets.ConnectionClosed:
            pass  # the close code stays on the socket

    async def send(self, type_: str, **fields) -> None:
        await self.socket.send(json.dumps({"type": type_, **fields}))

    async def control(self, type_: str, timeout: float = 5) -> dict:
        """The next control message of this type (earlier ones are consumed)."""
        found: list[dict] = []

        def arrived():
            for index, message in enumerate(self.controls):
                if message["type"] == type_:
                    found.append(message)
                    del self.controls[: index + 1]
                    return True
            return False

        await eventually(arrived, timeout)
        return found[0]

    async def frame(self, channel: str, sequence: int, *, stream=Stream.AUDIO, key=True, config=False, payload=None):
        voice = self.voices.get(channel, channel)
        header = FrameHeader(voice, stream, sequence, 1000 * sequence, is_key=key, is_config=config)
        await self.socket.send(encode(header, payload or f"{channel}-{sequence}".encode()))

    def received(self) -> list[tuple[str, int, bytes]]:
        """(channel heard, sequence, payload) of each frame received."""
        return [(channel_of_voice(voice), sequence, payload) for voice, sequence, payload in self.received_voices()]

    def received_voices(self) -> list[tuple[str, int, bytes]]:
        out = []
        for data in self.frames:
            header = decode(data)
            out.append((header.channel, header.sequence, data[header.size :]))
        return out

    async def close(self):
        await self.socket.close()
        self.reader.cancel()


async def set_live(maker, session_id: int, language: str, participant_id: int | None) -> None:
    async with maker() as db, db.begin():
        changed = await db.execute(
            update(models.Booth)
            .where(models.Booth.session_id == session_id, models.Booth.language == language)
            .values(live_interpreter_id=participant_id)
        )
        if changed.rowcount == 0:
            db.add(models.Booth(session_id=session_id, language=language, live_interpreter_id=participant_id))


@pytest.fixture
async def media_server(database_url, world):
    live = LiveServer(
        Settings(database_url=database_url, secret=SECRET, port=free_port()),
        registry=Registry(floor_commands.commands, booth_commands.commands, caption_commands.commands, booth_moves),
    )
    await live.start()
    yield live
    await live.stop()


@pytest.fixture
async def media(media_server, world):
    opened: list[Media] = []

    async def _open(who: str, server=None) -> Media:
        server = server or media_server
        url = f"{server.ws_url}/sessions/{world.session_id}/media?token={world.tokens[who]}"
        client = Media(await websockets.connect(url))
        opened.append(client)
        return client

    yield _open
    for client in opened:
        await client.close()


@pytest.fixture
async def command(media_server, world):
    opened: list[Client] = []

    async def _command(who: str, type_: str, **fields) -> dict:
        url = f"{media_server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
        client = Client(await websockets.connect(url))
        opened.append(client)
        await client.recv()
        return await client.command(type_, **fields)

    yield _command
    for client in opened:
        await client.close()


async def test_two_listeners_on_different_channels_each_receive_only_their_own(media, world, db):
    await set_live(db, world.session_id, "fr", world.participants["interpreter"])
    french, original = await media("france"), await media("peru")
    await french.send("listen", channel="fr", original=False)
    await original.send("listen", channel="floor", original=False)
    assert (await french.control("listening"))["hearing"] == "fr"
    assert (await original.control("listening"))["hearing"] == "floor"

    booth, chair = await media("interpreter"), await media("chair")
    await booth.send("publish", channel="fr")
    await chair.send("publish", channel="floor")
    await booth.control("publishing")
    await chair.control("publishing")
    for sequence in range(5):
        await booth.frame("fr", sequence)
        await chair.frame("floor", sequence)

    await eventually(lambda: len(french.frames) == 5 and len(original.frames) == 5)
    assert french.received() == [("fr", n, f"fr-{n}".encode()) for n in range(5)]
    assert original.received() == [("floor", n, f"floor-{n}".encode()) for n in range(5)]
    # Forwarded untouched: the bytes the publisher sent.
    assert french.frames[0] == encode(FrameHeader("fr", Stream.AUDIO, 0, 0, is_key=True), b"fr-0")


async def test_the_floor_comes_underneath_an_interpretation_when_asked(media, world, db):
    await set_live(db, world.session_id, "fr", world.participants["interpreter"])
    listener = await media("france")
    await listener.send("listen", channel="fr")
    assert (await listener.control("listening"))["original"] is True
    booth, chair = await media("interpreter"), await media("chair")
    await booth.send("publish", channel="fr")
    await chair.send("publish", channel="floor")
    await booth.control("publishing")
    await chair.control("publishing")
    await booth.frame("fr", 0)
    await chair.frame("floor", 0)
    await eventually(lambda: len(listener.frames) == 2)
    assert sorted(channel for channel, _, _ in listener.received()) == ["floor", "fr"]


async def test_a_listener_who_switches_mid_stream_gets_the_configuration_and_a_key_frame_first(media, world, db):
    await set_live(db, world.session_id, "ils", world.participants["interpreter"])
    signer, listener = await media("interpreter"), await media("france")
    await listener.send("listen", channel="floor", original=False)
    await listener.control("listening")
    await signer.send("publish", channel="ils")
    await signer.control("publishing")
    config = json.dumps({"codec": "vp8", "codedWidth": 320, "codedHeight": 240}).encode()
    await signer.frame("ils", 0, stream=Stream.VIDEO, config=True, key=False, payload=config)
    await signer.frame("ils", 1, stream=Stream.VIDEO, key=True, payload=b"key one")
    for sequence in range(2, 5):
        await signer.frame("ils", sequence, stream=Stream.VIDEO, key=False)
    await signer.frame("ils", 5, stream=Stream.VIDEO, key=True, payload=b"key two")
    await signer.frame("ils", 6, stream=Stream.VIDEO, key=False)
    # A listener on the channel already gets all of it; the switcher none so far.
    watcher = await media("peru")
    await watcher.send("listen", channel="ils", original=False)
    await watcher.control("listening")
    await signer.frame("ils", 7, stream=Stream.VIDEO, key=False)
    await eventually(lambda: [seq for _, seq, _ in watcher.received()][-1:] == [7])
    assert listener.frames == []

    await listener.send("listen", channel="ils", original=False)
    assert (await listener.control("listening"))["hearing"] == "ils"
    await signer.frame("ils", 8, stream=Stream.VIDEO, key=False)
    await eventually(lambda: len(listener.frames) == 3)
    first, second, third = listener.received()
    assert decode(listener.frames[0]).is_config and first[2] == config
    assert second == ("ils", 5, b"key two")
    assert third[1] == 8


async def test_a_channel_with_nobody_on_air_falls_back_to_the_floor_until_someone_is(media, command, world, db):
    listener = await media("france")
    await listener.send("listen", channel="es", original=False)
    told = await listener.control("listening")
    assert told == {
        "type": "listening",
        "channel": "es",
        "hearing": "floor",
        "fallback": "no_interpreter",
        "original": False,
    }
    chair = await media("chair")
    await chair.send("publish", channel="floor")
    await chair.control("publishing")
    await chair.frame("floor", 0)
    await eventually(lambda: len(listener.frames) == 1)

    # The Spanish booth goes on air: the listener hears it, not the floor.
    await set_live(db, world.session_id, "es", world.participants["interpreter"])
    assert (await command("chair", "announce_mic", language="es"))["type"] == "ack"
    told = await listener.control("listening")
    assert (told["hearing"], told["fallback"]) == ("es", None)
    booth = await media("interpreter")
    await booth.send("publish", channel="es")
    await booth.control("publishing")
    await chair.frame("floor", 1)
    await booth.frame("es", 0)
    await eventually(lambda: len(listener.frames) == 2)
    assert [channel for channel, _, _ in listener.received()] == ["floor", "es"]


async def test_unauthorised_publishers_are_refused_and_their_frames_dropped(media, world, db):
    await set_live(db, world.session_id, "fr", world.participants["interpreter"])
    listener = await media("peru")
    await listener.send("listen", channel="fr", original=True)
    await listener.control("listening")
    delegate, observer, booth = await media("france"), await media("observer"), await media("interpreter")

    await delegate.send("publish", channel="floor")
    refused = await delegate.control("refused")
    assert (refused["channel"], refused["code"]) == ("floor", "not_your_floor")
    await observer.send("publish", channel="fr")
    assert (await observer.control("refused"))["code"] == "not_live"
    await booth.send("publish", channel="captions:fr")
    assert (await booth.control("refused"))["code"] == "not_media"
    await booth.send("publish", channel="km")
    assert (await booth.control("refused"))["code"] == "unknown_channel"

    await delegate.frame("floor", 0)
    await observer.frame("fr", 0)
    assert (await delegate.control("error"))["code"] == "not_publishing"
    assert (await observer.control("error"))["code"] == "not_publishing"

    # The live interpreter may, but only into their channel, with frames that are frames.
    await booth.send("publish", channel="fr")
    await booth.control("publishing")
    await booth.frame("floor", 0)
    assert (await booth.control("error"))["code"] == "wrong_channel"
    await booth.socket.send(b"\x07garbage")
    assert (await booth.control("error"))["code"] == "bad_version"
    await booth.send("dance")
    assert (await booth.control("error"))["code"] == "unknown_type"
    await booth.socket.send("{not json")
    assert (await booth.control("error"))["code"] == "invalid"
    await booth.frame("fr", 1)
    await eventually(lambda: len(listener.frames) == 1)
    assert listener.received() == [("fr", 1, b"fr-1")]


async def test_giving_the_floor_to_another_delegation_cuts_the_previous_speaker(media, command, world):
    listener = await media("usa")
    await listener.send("listen", channel="floor", original=False)
    await listener.control("listening")
    assert (await command("france", "request_floor"))["type"] == "ack"
    assert (await command("peru", "request_floor"))["type"] == "ack"
    assert (await command("chair", "give_floor"))["type"] == "ack"

    speaker = await media("france")
    await speaker.send("publish", channel="floor")
    await speaker.control("publishing")
    await speaker.frame("floor", 0)
    await eventually(lambda: len(listener.frames) == 1)

    assert (await command("chair", "give_floor"))["type"] == "ack"
    cut = await speaker.control("cut")
    assert (cut["channel"], cut["code"]) == ("floor", "not_your_floor")
    await speaker.frame("floor", 1)
    assert (await speaker.control("error"))["code"] == "not_publishing"

    # Peru now holds the floor and is heard; France's late frame never was.
    peru = await media("peru")
    await peru.send("publish", channel="floor")
    await peru.control("publishing")
    await peru.frame("floor", 0, payload=b"peru")
    await eventually(lambda: len(listener.frames) == 2)
    assert [payload for _, _, payload in listener.received()] == [b"floor-0", b"peru"]


async def test_the_chair_speaks_over_the_speaker_and_both_are_heard_as_two_voices(media, command, world, db):
    await set_live(db, world.session_id, "fr", world.participants["interpreter"])
    listener, interpreter = await media("usa"), await media("interpreter")
    await listener.send("listen", channel="floor", original=False)
    await interpreter.send("listen", channel="floor", original=False)
    await listener.control("listening")
    await interpreter.control("listening")
    assert (await command("france", "request_floor"))["type"] == "ack"
    assert (await command("chair", "give_floor"))["type"] == "ack"

    speaker, chair, room = await media("france"), await media("chair"), await media("chair")
    await speaker.send("publish", channel="floor")
    await chair.send("publish", channel="floor")
    speaking = await speaker.control("publishing")
    chairing = await chair.control("publishing")
    assert speaking["voice"] == f"floor:{world.participants['france']}"
    assert chairing["voice"] == f"floor:{world.participants['chair']}"
    # Nobody was replaced: the floor has as many voices as people speaking.
    config = b'{"codec":"opus","sampleRate":48000,"numberOfChannels":1}'
    await speaker.frame("floor", 0, config=True, key=False, payload=config)
    await chair.frame("floor", 0, config=True, key=False, payload=config)
    for sequence in range(1, 4):
        await speaker.frame("floor", sequence, payload=b"speaker")
        await chair.frame("floor", sequence, payload=b"chair")
    for heard in (listener, interpreter):
        await eventually(lambda heard=heard: len(heard.frames) == 8)
        voices = heard.received_voices()
        assert [seq for voice, seq, _ in voices if voice == speaking["voice"]] == [0, 1, 2, 3]
        assert [seq for voice, seq, _ in voices if voice == chairing["voice"]] == [0, 1, 2, 3]
    assert not [m for m in speaker.controls + chair.controls if m["type"] in ("cut", "error")]

    # A late listener gets each voice's configuration and last packet first.
    late = await media("peru")
    await late.send("listen", channel="floor", original=False)
    await late.control("listening")
    await eventually(lambda: len(late.frames) == 4)
    assert sorted((voice, seq) for voice, seq, _ in late.received_voices()) == sorted(
        [(speaking["voice"], 0), (speaking["voice"], 3), (chairing["voice"], 0), (chairing["voice"], 3)]
    )

    # The same person in a second tab replaces their own first one, nobody else.
    await room.send("publish", channel="floor")
    assert (await room.control("publishing"))["voice"] == chairing["voice"]
    assert (await chair.control("cut"))["code"] == "replaced"
    # A frame named after another voice is refused.
    await speaker.socket.send(encode(FrameHeader(chairing["voice"], Stream.AUDIO, 9, 0, is_key=True), b"forged"))
    assert (await speaker.control("error"))["code"] == "wrong_channel"
    await speaker.socket.send(encode(FrameHeader("floor", Stream.AUDIO, 9, 0, is_key=True), b"unnamed"))
    assert (await speaker.control("error"))["code"] == "wrong_channel"

    # The floor moves on: the speaker is cut, the chair still speaks.
    assert (await command("chair", "end_speech"))["type"] == "ack"
    assert (await speaker.control("cut"))["code"] == "not_your_floor"
    await room.frame("floor", 4, payload=b"chair again")
    await eventually(lambda: listener.received_voices()[-1] == (chairing["voice"], 4, b"chair again"))


async def test_a_booth_channel_keeps_one_voice_the_new_live_interpreter_replaces_the_last(media, world, db):
    await set_live(db, world.session_id, "fr", world.participants["interpreter"])
    first, second = await media("interpreter"), await media("interpreter")
    await first.send("publish", channel="fr")
    assert (await first.control("publishing"))["voice"] == "fr"
    await second.send("publish", channel="fr")
    assert (await second.control("publishing"))["voice"] == "fr"
    assert (await first.control("cut"))["code"] == "replaced"


async def test_interpreters_and_the_chair_see_listener_counts(media, world, db):
    booth, chair = await media("interpreter"), await media("chair")
    assert (await booth.control("listeners"))["counts"] == {}
    for who, channel in (("france", "fr"), ("peru", "fr"), ("usa", "floor")):
        listener = await media(who)
        await listener.send("listen", channel=channel)
        await listener.control("listening")

    async def latest(client):
        await eventually(
            lambda: any(m["type"] == "listeners" and m["counts"] == {"fr": 2, "floor": 1} for m in client.controls)
        )

    await latest(booth)
    await latest(chair)
    delegate = await media("icrc")
    await delegate.send("listen", channel="fr")
    await delegate.control("listening")
    assert all(message["type"] != "listeners" for message in delegate.controls)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_media_socket_is_closed_to_strangers(media_server, world):
    url = f"{media_server.ws_url}/sessions/{world.session_id}/media?token=nope"
    async with websockets.connect(url) as socket:
        assert json.loads(await socket.recv())["code"] == "unauthorized"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd.code == 4401


@pytest.mark.parametrize("bus_url", ["redis"], indirect=True)
async def test_a_frame_published_through_one_process_is_heard_through_another(bus_url):
    await reset_postgres(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    await migrate(engine)
    maker = sessionmaker(engine)
    world = await build_world(maker)
    await set_live(maker, world.session_id, "fr", world.participants["interpreter"])
    await engine.dispose()
    servers = [
        LiveServer(Settings(database_url=POSTGRES_URL, bus_url=REDIS_URL, secret=SECRET, port=free_port()))
        for _ in range(2)
    ]
    for server in servers:
        await server.start()
    clients: list[Media] = []

    async def open_on(server, who):
        url = f"{server.ws_url}/sessions/{world.session_id}/media?token={world.tokens[who]}"
        clients.append(Media(await websockets.connect(url)))
        return clients[-1]

    async def command_on(server, who, type_, **fields):
        url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}"
        async with websockets.connect(url) as socket:
            client = Client(socket)
            await client.recv()
            return await client.command(type_, **fields)

    try:
        booth = await open_on(servers[0], "interpreter")
        await booth.send("publish", channel="fr")
        await booth.control("publishing")
        config = b'{"codec":"opus","sampleRate":48000,"numberOfChannels":1}'
        await booth.frame("fr", 0, config=True, key=False, payload=config)
        await booth.frame("fr", 1)

        # A late joiner on the other process decodes at once: configuration, key frame.
        late = await open_on(servers[1], "france")
        await late.send("listen", channel="fr", original=False)
        await late.control("listening")
        await eventually(lambda: len(late.frames) >= 2)
        assert late.received()[:2] == [("fr", 0, config), ("fr", 1, b"fr-1")]
        await booth.frame("fr", 2)
        await eventually(lambda: len(late.frames) == 3)
        assert late.received()[2] == ("fr", 2, b"fr-2")
        # ... and the interpreter, on the first process, sees that listener.
        await eventually(lambda: any(m["type"] == "listeners" and m["counts"].get("fr") == 1 for m in booth.controls))

        # The floor moves through the second process: the speaker on the first is cut.
        for who in ("france", "peru"):
            assert (await command_on(servers[1], who, "request_floor"))["type"] == "ack"
        assert (await command_on(servers[1], "chair", "give_floor"))["type"] == "ack"
        speaker = await open_on(servers[0], "france")
        await speaker.send("publish", channel="floor")
        await speaker.control("publishing")
        # The chair speaks over them through the other process: both are heard, nobody is replaced.
        floor = await open_on(servers[1], "usa")
        await floor.send("listen", channel="floor", original=False)
        await floor.control("listening")
        chair = await open_on(servers[1], "chair")
        await chair.send("publish", channel="floor")
        await chair.control("publishing")
        await speaker.frame("floor", 0, payload=b"speaker")
        await chair.frame("floor", 0, payload=b"chair")
        await eventually(lambda: len(floor.frames) == 2)
        assert sorted(payload for _, _, payload in floor.received()) == [b"chair", b"speaker"]
        assert not [m for m in speaker.controls if m["type"] == "cut"]
        assert (await command_on(servers[1], "chair", "give_floor"))["type"] == "ack"
        assert (await speaker.control("cut"))["code"] == "not_your_floor"
    finally:
        for client in clients:
            await client.close()
        for server in servers:
            await server.stop()


async def test_a_booth_whose_language_the_speaker_speaks_carries_the_floor(media, command, world, db):
    await set_live(db, world.session_id, "fr", world.participants["interpreter"])
    listener = await media("usa")
    await listener.send("listen", channel="fr", original=False)
    assert (await listener.control("listening"))["fallback"] is None
    assert (await command("france", "request_floor", language="fr"))["type"] == "ack"
    assert (await command("chair", "give_floor"))["type"] == "ack"
    told = await listener.control("listening")
    assert (told["hearing"], told["fallback"]) == ("floor", "floor_language")
    assert (await command("chair", "end_speech"))["type"] == "ack"
    assert (await listener.control("listening"))["hearing"] == "fr"


def test_every_media_control_message_is_documented_with_an_example_the_server_accepts():
    import re
    from pathlib import Path

    from server.media import _CONTROLS, CONTROL_TYPES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    media = doc[doc.index("## Media socket") :]
    parts = re.split(r"^#### `([a-z_]+)` \(media\)\s*$", media, flags=re.M)
    examples = {
        name: re.findall(r"```json\n(.*?)```", text, flags=re.S) for name, text in zip(parts[1::2], parts[2::2])
    }
    for name in CONTROL_TYPES:
        assert examples.get(name), f"{name} has no example"
        assert _CONTROLS.validate_json(examples[name][0]).type == name
    for name in ("listening", "stopped", "publishing", "refused", "cut", "unpublished", "listeners", "error"):
        assert examples.get(name), f"{name} has no example"
        assert json.loads(examples[name][0])["type"] == name
    source = (Path(__file__).resolve().parent.parent / "server" / "media_relay.py").read_text()
    for sent in set(re.findall(r'"type": "([a-z_]+)"', source)):
        assert sent in examples, f"the relay sends {sent}, which is not documented"


async def test_a_listener_who_stops_reading_loses_old_frames_and_slows_nobody(media_server, media, world, db):
    import socket as sockets

    await set_live(db, world.session_id, "ils", world.participants["interpreter"])
    # A small receive buffer, so the stalled reader's kernel holds little.
    stalled_socket = sockets.create_connection(("127.0.0.1", media_server.settings.port))
    stalled_socket.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 16 * 1024)
    url = f"{media_server.ws_url}/sessions/{world.session_id}/media?token={world.tokens['usa']}"
    stalled_ws = await websockets.connect(url, sock=stalled_socket, max_queue=1, max_size=2**20)
    await stalled_ws.send(json.dumps({"type": "listen", "channel": "ils", "original": False}))
    reader = await media("peru")
    await reader.send("listen", channel="ils", original=False)
    await reader.control("listening")
    signer = await media("interpreter")
    await signer.send("publish", channel="ils")
    await signer.control("publishing")

    frames = 120  # 12 MB of video, every seventh frame a key frame
    for sequence in range(frames):
        await signer.frame("ils", sequence, stream=Stream.VIDEO, key=sequence % 7 == 0, payload=bytes(100_000))
        # The reader keeps up and gets every frame, while the other reads nothing.
        await eventually(lambda n=sequence + 1: len(reader.frames) == n)
    assert [sequence for _, sequence, _ in reader.received()] == list(range(frames))

    # The stalled listener, reading again, gets the newest frames: old ones were
    # dropped, and after a gap it starts again at a key frame.
    got = []
    while not got or got[-1][0] != frames - 1:
        message = await asyncio.wait_for(stalled_ws.recv(), 10)
        if isinstance(message, bytes):
            header = decode(message)
            got.append((header.sequence, header.is_key))
    await stalled_ws.close()
    sequences = [sequence for sequence, _ in got]
    assert len(sequences) < frames and sequences == sorted(sequences)
    for (before, _), (after, is_key) in zip(got, got[1:]):
        if after != before + 1:
            assert is_key, f"after a gap ({before} -> {after}) the first frame is not a key frame"


async def test_a_media_socket_is_ended_when_its_access_or_roles_change(database_url, world, db):
    from sqlalchemy import delete, select, update

    live = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port(), heartbeat_seconds=0.2))
    await live.start()
    clients = []
    try:
        for who in ("france", "chair", "peru"):
            url = f"{live.ws_url}/sessions/{world.session_id}/media?token={world.tokens[who]}"
            clients.append(Media(await websockets.connect(url)))
        france, chair, peru = clients
        await chair.send("publish", channel="floor")
        await chair.control("publishing")
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
        # The chair is no longer one: cut at once, then closed to reconnect with the new roles.
        assert (await chair.control("cut"))["code"] == "forbidden"
        for client, code in ((france, 4403), (chair, 4409)):
            await asyncio.wait_for(client.reader, 10)
            assert client.socket.close_code == code
        await peru.send("listen", channel="floor")
        assert (await peru.control("listening"))["hearing"] == "floor"  # unchanged, still here
    finally:
        for client in clients:
            await client.close()
        await live.stop()


async def test_an_interpreter_taking_and_releasing_the_mic_moves_listeners_and_publishing(
    media_server, media, world, db
):
    """The booth's own commands (mic lock) decide who may publish, and where listeners go."""
    async with db() as s, s.begin():
        s.add(
            models.LanguageAssignment(
                event_id=world.event_id,
                participant_id=world.participants["interpreter"],
                role="interpreter",
                language="fr",
                works_from=["en", "es"],
            )
        )
    listener = await media("peru")
    await listener.send("listen", channel="fr", original=False)
    assert (await listener.control("listening"))["fallback"] == "no_interpreter"
    booth = await media("interpreter")
    await booth.send("publish", channel="fr")
    assert (await booth.control("refused"))["code"] == "not_live"

    url = f"{media_server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['interpreter']}"
    console = Client(await websockets.connect(url))
    await console.recv()
    assert (await console.command("take_mic"))["type"] == "ack"
    told = await listener.control("listening")
    assert (told["hearing"], told["fallback"]) == ("fr", None)
    await booth.send("publish", channel="fr")
    await booth.control("publishing")
    await booth.frame("fr", 0)
    await eventually(lambda: listener.received() == [("fr", 0, b"fr-0")])

    assert (await console.command("release_mic"))["type"] == "ack"
    assert (await booth.control("cut"))["code"] == "not_live"
    assert (await listener.control("listening"))["fallback"] == "no_interpreter"
    await console.close()


@pytest.mark.parametrize("bus_url", ["redis"], indirect=True)
async def test_tribune_serve_relays_media_as_an_operator_runs_it(bus_url):
    """`tribune serve` (uvloop, its own process) serves the media socket too."""
    from tests.test_processes import ServerProcess

    await reset_postgres(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    await migrate(engine)
    maker = sessionmaker(engine)
    world = await build_world(maker)
    await set_live(maker, world.session_id, "fr", world.participants["interpreter"])
    await engine.dispose()
    server = ServerProcess(REDIS_URL)
    await server.start()
    clients: list[Media] = []
    try:
        for who in ("peru", "interpreter"):
            url = f"{server.ws_url}/sessions/{world.session_id}/media?token={world.tokens[who]}"
            clients.append(Media(await websockets.connect(url)))
        listener, booth = clients
        await listener.send("listen", channel="fr", original=False)
        await listener.control("listening")
        await booth.send("publish", channel="fr")
        await booth.control("publishing")
        for sequence in range(3):
            await booth.frame("fr", sequence)
        await eventually(lambda: [seq for _, seq, _ in listener.received()] == [0, 1, 2])
    finally:
        for client in clients:
            await client.close()
        await server.stop()


async def test_a_listener_who_joined_while_redis_was_down_decodes_once_it_is_back():
    from tests.conftest import private_redis

    await reset_postgres(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    await migrate(engine)
    maker = sessionmaker(engine)
    world = await build_world(maker)
    await set_live(maker, world.session_id, "fr", world.participants["interpreter"])
    await engine.dispose()
    async with private_redis() as redis:
        servers = [
            LiveServer(Settings(database_url=POSTGRES_URL, bus_url=redis.url, secret=SECRET, port=free_port()))
            for _ in range(2)
        ]
        for server in servers:
            await server.start()
        clients: list[Media] = []

        async def open_on(server, who):
            url = f"{server.ws_url}/sessions/{world.session_id}/media?token={world.tokens[who]}"
            clients.append(Media(await websockets.connect(url)))
            return clients[-1]

        try:
            booth = await open_on(servers[0], "interpreter")
            await booth.send("publish", channel="fr")
            await booth.control("publishing")
            config = b'{"codec":"opus","sampleRate":48000,"numberOfChannels":1}'
            await booth.frame("fr", 0, config=True, key=False, payload=config)
            await booth.frame("fr", 1)

            await redis.stop()
            # Joins through the other process while its question cannot travel.
            late = await open_on(servers[1], "france")
            await late.send("listen", channel="fr", original=False)
            await late.control("listening")
            await redis.start()
            # Once the bus is back, the question is asked again and answered.
            await eventually(lambda: late.received()[:2] == [("fr", 0, config), ("fr", 1, b"fr-1")], timeout=15)
        finally:
            for client in clients:
                await client.close()
            for server in servers:
                await server.stop()
