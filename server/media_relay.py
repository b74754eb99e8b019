"""The media relay: frames from a channel's publisher to its listeners, in every process.

Frames are never decoded: the relay reads the header (interpretation.frames)
and forwards the bytes as they came, the same ``bytes`` object into every
listener's queue. Each channel is one bus topic (``media.{session}.{channel}``)
so a frame published through one process is heard through every other; a
session's control topic (``media.{session}``) carries what processes tell
each other: "who has this channel's state?", "I took this channel over",
listener counts. The relay has a bus of its own: media never waits behind
events, and never enters the event log.

The relay keeps each stream's last codec configuration and last key frame,
so a listener who arrives or switches starts decoding at once; a process
that subscribes to a channel late asks for them on the control topic and
the publisher's process sends them again (asked again after a bus outage,
and every few seconds while a channel heard here has no configuration).

Overflow policy, by queue:
- a listener's media queue: ``drop_old_media``. When full (in frames or in
  bytes), the oldest frame goes; after a video frame was dropped that
  listener skips that stream's frames until the next key frame (a delta
  frame without its reference only paints garbage). Nobody else waits.
- a socket's control messages: ``disconnect`` (4408) beyond
  ``MAX_PENDING_CONTROLS``: a client that reads no JSON at all is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.frames import Frame, Opcode

from interpretation.channels import FLOOR, ChannelKind, channel_of_voice, parse_channel, voice_of
from interpretation.frames import VERSION, BadFrame, Stream, decode
from interpretation.publishing import check_publish
from rooms.actor import Actor
from rooms.errors import Refused
from rooms.roles import Role
from server.auth import close_code
from server.bus import Bus
from server.event_log import LoggedEvent, dump
from server.hub import CurrentActors, Hub
from server.media_store import MediaState

log = logging.getLogger(__name__)

DROP_OLD_MEDIA = "drop_old_media"
MAX_PENDING_CONTROLS = 256
# Events after which publishers and fallbacks are decided again.
MOVERS = frozenset({"floor_given", "speech_ended", "mic_changed", "language_declared"})
# How often a process repeats its listener counts, and when others forget them.
COUNTS_EVERY_S = 5.0
COUNTS_FORGOTTEN_AFTER_S = 15.0

# Bus messages other than a live frame (whose first byte is the frame VERSION).
_STATE = b"S"  # a stream's configuration or key frame sent again: fill caches
_ENDED = b"E"  # a voice's publisher stopped: forget its streams
_WANT = b"W"  # control topic: a process needs a channel's state
_TAKEN = b"T"  # control topic: a publisher took a voice over
_COUNTS = b"N"  # control topic: one process's listener counts

LoadState = Callable[[int], Awaitable[MediaState | None]]


def channel_topic(session_id: int, channel: str) -> str:
    return f"media.{session_id}.{channel}"


def control_topic(session_id: int) -> str:
    return f"media.{session_id}"


# A frame as queued: (channel, stream, is_key, bytes, the WebSocket frame
# carrying them); built once per frame and shared by every queue it goes into.
Relayed = tuple[str, int, bool, bytes, bytes]


def relayed(channel: str, stream: int, is_key: bool, data: bytes) -> Relayed:
    return (channel, stream, is_key, data, Frame(Opcode.BINARY, data).serialize(mask=False))


class Wire(Protocol):
    """The connection (server.media_wire): it writes what the socket holds
    as soon as the transport takes it."""

    def pump(self) -> None: ...


class MediaSocket:
    """One participant's media socket, as the relay sees it."""

    def __init__(self, actor: Actor, queue_size: int, queue_bytes: int, token_key: str | None = None):
        self.actor = actor
        # The hash of the join link it opened with: revoking the link ends it.
        self.token_key = token_key
        self.media: deque[Relayed] = deque()
        # Bounded in frames and in bytes, whichever comes first (video frames are big).
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.queued_bytes = 0
        self.controls: deque[str | None] = deque()
        self.chosen: str | None = None  # the channel picked by the listener
        self.with_original = True  # the floor mixed underneath
        self.hearing: str | None = None  # chosen, or the floor as a fallback
        self.fallback: str | None = None  # why the floor, if so
        self.receiving: set[str] = set()
        self.publishing: str | None = None
        # The name its frames carry: the channel, or on the floor its own voice.
        self.voice: str | None = None
        self.told_not_publishing = False
        self.is_too_slow = False
        # Set when the person's access or roles changed: the close code to end with.
        self.revoked: int | None = None
        self.dropped = 0
        self._broken_video: set[str] = set()
        # The connection it is written to (None once it is gone).
        self.wire: Wire | None = None

    @property
    def wants_counts(self) -> bool:
        return self.actor.runs_floor or Role.INTERPRETER in self.actor.roles

    def push(self, item: Relayed) -> None:
        size = len(item[3])
        while self.media and (len(self.media) >= self.queue_size or self.queued_bytes + size > self.queue_bytes):
            channel, stream, _, data, _ = self.media.popleft()
            self.queued_bytes -= len(data)
            self.dropped += 1
            if stream == Stream.VIDEO:
                self._broken_video.add(channel)
        self.media.append(item)
        self.queued_bytes += size
        self._wake()

    def _wake(self) -> None:
        if self.wire is not None:
            self.wire.pump()

    def next_media(self) -> Relayed | None:
        """The next frame to send; a video stream that lost a frame waits for its next key frame."""
        while self.media:
            item = self.media.popleft()
            channel, stream, is_key, data, _ = item
            self.queued_bytes -= len(data)
            if stream == Stream.VIDEO and channel in self._broken_video:
                if not is_key:
                    continue
                self._broken_video.discard(channel)
            return item
        return None

    def control(self, message: dict[str, Any]) -> None:
        self._control(dump(message))

    def _control(self, text: str | None) -> None:
        if len(self.controls) >= MAX_PENDING_CONTROLS:
            self.is_too_slow = True
            self.controls.clear()
            text = None
        self.controls.append(text)
        self._wake()

    def end(self) -> None:
        self._control(None)


@dataclass
class StreamState:
    config: bytes | None = None
    key: bytes | None = None


class SessionMedia:
    """One session's channels in this process: listeners, publishers, stream state."""

    def __init__(self, relay: MediaRelay, session_id: int, state: MediaState):
        self.relay = relay
        self.session_id = session_id
        self.state = state
        self.sockets: set[MediaSocket] = set()
        self.listeners: dict[str, set[MediaSocket]] = {}
        # By voice: one per booth channel, one per person speaking on the floor.
        self.publishers: dict[str, MediaSocket] = {}
        # By (voice, stream).
        self.streams: dict[tuple[str, int], StreamState] = {}
        self.subscribed: set[str] = set()
        self.remote_counts: dict[str, tuple[float, dict[str, int]]] = {}
        self._refreshing: asyncio.Task[None] | None = None
        self._again = False
        self._counts_sent: dict[str, int] | None = None
        self._counts_due: asyncio.TimerHandle | None = None
        self._checking: asyncio.Task[None] | None = None

    # -- what the hub tells (server.hub.Observer) ------------------------------

    def event(self, event: LoggedEvent) -> None:
        # One of MOVERS: who may publish, and what each listener hears, may have changed.
        self.refresh_soon()

    def roster_changed(self) -> None:
        # Read the media sockets' roles again, as the hub did for the command sockets.
        self.check_access_soon()

    # -- state from the database -------------------------------------------

    def refresh_soon(self) -> None:
        if self._refreshing is not None:
            self._again = True
            return
        self._refreshing = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        try:
            while True:
                self._again = False
                state = await self.relay.load_state(self.session_id)
                if state is not None:
                    await self.apply_state(state)
                if not self._again:
                    return
        except Exception:
            log.exception("media: could not read session %s", self.session_id)
        finally:
            self._refreshing = None

    async def settled(self) -> None:
        while self._refreshing is not None:
            await asyncio.shield(self._refreshing)

    async def apply_state(self, state: MediaState) -> None:
        """Cut publishers who may no longer publish; move listeners whose channel fell silent or came back."""
        self.state = state
        for socket in list(self.publishers.values()):
            if socket.publishing is None:
                continue
            try:
                self.check(socket.actor, socket.publishing)
            except Refused as refused:
                await self.cut(socket, refused.code, refused.message)
        for socket in list(self.sockets):
            if socket.chosen is not None:
                await self.route(socket)

    def check(self, actor: Actor, channel_name: str) -> None:
        channel = parse_channel(channel_name, self.state.languages)
        if channel is None:
            raise Refused("unknown_channel", f"This session has no channel {channel_name!r}.")
        check_publish(actor, channel, self.state.holder, self.state.live)

    def fallback(self, channel: str) -> str | None:
        """Why a listener of ``channel`` hears the floor instead, if they do:
        nobody is on air in that booth, or the speaker speaks its language
        (pass-through: the original is the interpretation)."""
        if channel == FLOOR:
            return None
        if channel == self.state.floor_language:
            return "floor_language"
        if self.state.live.get(channel) is None:
            return "no_interpreter"
        return None

    # -- listening ----------------------------------------------------------

    async def listen(self, socket: MediaSocket, channel_name: str, with_original: bool) -> None:
        channel = parse_channel(channel_name, self.state.languages)
        if channel is None or channel.kind is ChannelKind.CAPTIONS:
            raise Refused("unknown_channel", f"This session has no audio or video channel {channel_name!r}.")
        socket.chosen = channel.name
        socket.with_original = with_original
        socket.hearing = None  # tell the listener again, even if nothing moved
        await self.route(socket)
        self.counts_changed()

    async def stop_listening(self, socket: MediaSocket) -> None:
        socket.chosen = socket.hearing = None
        for channel in list(socket.receiving):
            await self._stop_receiving(socket, channel)
        socket.control({"type": "stopped"})
        self.counts_changed()

    async def route(self, socket: MediaSocket) -> None:
        """What the socket receives now: its channel (or the floor if nobody
        is on air there), and the floor underneath if it asked for it."""
        chosen = socket.chosen
        if chosen is None:
            return
        fallback = self.fallback(chosen)
        hearing = FLOOR if fallback else chosen
        wanted = {hearing}
        if socket.with_original:
            wanted.add(FLOOR)
        for channel in socket.receiving - wanted:
            await self._stop_receiving(socket, channel)
        for channel in sorted(wanted - socket.receiving, key=lambda name: name != FLOOR):
            await self._start_receiving(socket, channel)
        if (hearing, fallback) != (socket.hearing, socket.fallback):
            socket.hearing, socket.fallback = hearing, fallback
            socket.control(
                {
                    "type": "listening",
                    "channel": chosen,
                    "hearing": hearing,
                    "fallback": fallback,
                    "original": socket.with_original,
                }
            )

    async def _start_receiving(self, socket: MediaSocket, channel: str) -> None:
        socket.receiving.add(channel)
        self.listeners.setdefault(channel, set()).add(socket)
        # Decodable at once: the streams' configuration and last key frame first.
        for (name, stream), state in sorted(self.streams.items()):
            if channel_of_voice(name) != channel or state.config is None:
                continue
            socket.push(relayed(name, stream, True, state.config))
            if state.key is not None:
                socket.push(relayed(name, stream, True, state.key))
        await self._subscribe(channel)

    async def _stop_receiving(self, socket: MediaSocket, channel: str) -> None:
        socket.receiving.discard(channel)
        listeners = self.listeners.get(channel)
        if listeners is not None:
            listeners.discard(socket)
            if not listeners:
                del self.listeners[channel]
        await self._unsubscribe_if_unused(channel)

    async def _subscribe(self, channel: str) -> None:
        if channel in self.subscribed:
            return
        self.subscribed.add(channel)
        await self.relay.bus.subscribe(channel_topic(self.session_id, channel))
        # The publisher may be in another process: ask for the streams' state.
        await self.relay.publish(control_topic(self.session_id), _WANT + channel.encode())

    async def _unsubscribe_if_unused(self, channel: str) -> None:
        if channel in self.listeners or self.publishes_here(channel) or channel not in self.subscribed:
            return
        self.subscribed.discard(channel)
        await self.relay.bus.unsubscribe(channel_topic(self.session_id, channel))
        for key in [key for key in self.streams if channel_of_voice(key[0]) == channel]:
            del self.streams[key]

    def publishes_here(self, channel: str) -> bool:
        """Whether someone publishes into ``channel`` through this process."""
        return any(socket.publishing == channel for socket in self.publishers.values())

    # -- publishing -----------------------------------------------------------

    async def publish(self, socket: MediaSocket, channel_name: str) -> None:
        # Decided against the database as it is now, not the last event seen.
        state = await self.relay.load_state(self.session_id)
        if state is not None:
            await self.apply_state(state)
        self.check(socket.actor, channel_name)
        if socket.publishing is not None and socket.publishing != channel_name:
            await self.unpublish(socket)
        voice = voice_of(channel_name, socket.actor.participant_id)
        # A booth's channel has one voice: a new interpreter replaces the last.
        # On the floor only the same person's other socket is replaced.
        previous = self.publishers.get(voice)
        if previous is not None and previous is not socket:
            await self.cut(previous, "replaced", "Someone else now publishes into this channel.")
        self.publishers[voice] = socket
        socket.publishing = channel_name
        socket.voice = voice
        socket.told_not_publishing = False
        await self._subscribe(channel_name)
        taken = {"channel": channel_name, "voice": voice, "process": self.relay.process_id}
        await self.relay.publish(control_topic(self.session_id), _TAKEN + json.dumps(taken).encode())
        socket.control({"type": "publishing", "channel": channel_name, "voice": voice})

    async def unpublish(self, socket: MediaSocket, message: dict[str, Any] | None = None) -> None:
        channel, voice = socket.publishing, socket.voice
        if channel is None or voice is None:
            return
        socket.publishing = socket.voice = None
        if self.publishers.get(voice) is socket:
            del self.publishers[voice]
            await self.relay.publish(channel_topic(self.session_id, channel), _ENDED + voice.encode())
        socket.control(message or {"type": "unpublished", "channel": channel})
        await self._unsubscribe_if_unused(channel)

    async def cut(self, socket: MediaSocket, code: str, message: str) -> None:
        channel = socket.publishing
        await self.unpublish(socket, {"type": "cut", "channel": channel, "code": code, "message": message})

    async def frame(self, socket: MediaSocket, data: bytes) -> None:
        """A frame from a publisher: checked, then sent to every process."""
        channel = socket.publishing
        if channel is None:
            if not socket.told_not_publishing:
                socket.told_not_publishing = True
                raise Refused("not_publishing", "Frames were dropped: ask to publish first (or you were cut).")
            return
        try:
            header = decode(data)
        except BadFrame as bad:
            raise Refused(bad.code, bad.message) from None
        if header.channel != socket.voice:
            raise Refused(
                "wrong_channel", f"Your frames in {channel!r} are named {socket.voice!r}, not {header.channel!r}."
            )
        if header.stream == Stream.VIDEO:
            found = parse_channel(channel, self.state.languages)
            if found is not None and found.kind is ChannelKind.AUDIO:
                raise Refused("bad_stream", "A language channel carries audio only.")
        await self.relay.publish(channel_topic(self.session_id, channel), data)

    # -- frames from the bus ------------------------------------------------------

    def receive(self, channel: str, data: bytes) -> None:
        first = data[:1]
        if first == _ENDED:
            voice = data[1:].decode("ascii", "replace")
            for key in [key for key in self.streams if key[0] == voice]:
                del self.streams[key]
            return
        is_state = first == _STATE
        frame = data[1:] if is_state else data
        try:
            header = decode(frame)
        except BadFrame:
            log.warning("media: a bad frame on the bus for %s", channel)
            return
        voice = header.channel
        if channel_of_voice(voice) != channel:
            return
        stream = self.streams.setdefault((voice, header.stream), StreamState())
        if is_state:
            # Only what this process lacks: its listeners are waiting for it.
            if header.is_config and stream.config is None:
                stream.config = frame
            elif header.is_key and not header.is_config and stream.config is not None and stream.key is None:
                stream.key = frame
            else:
                return
        elif header.is_config:
            stream.config = frame
            stream.key = None  # a key frame of the old configuration decodes nothing now
        elif header.is_key:
            stream.key = frame
        item = relayed(voice, header.stream, header.is_key or header.is_config, frame)
        for socket in self.listeners.get(channel, ()):
            socket.push(item)

    def control_message(self, data: bytes) -> None:
        kind, body = data[:1], data[1:]
        if kind == _WANT:
            channel = body.decode("ascii", "replace")
            if self.publishes_here(channel):
                asyncio.get_running_loop().create_task(self._send_state(channel))
        elif kind == _TAKEN:
            taken = json.loads(body)
            socket = self.publishers.get(taken["voice"])
            if socket is not None and taken["process"] != self.relay.process_id:
                asyncio.get_running_loop().create_task(
                    self.cut(socket, "replaced", "Someone else now publishes into this channel.")
                )
        elif kind == _COUNTS:
            counts = json.loads(body)
            if counts["process"] != self.relay.process_id:
                self.remote_counts[counts["process"]] = (time.monotonic(), counts["counts"])
                self.tell_counts()

    async def _send_state(self, channel: str) -> None:
        topic = channel_topic(self.session_id, channel)
        for (name, _), state in sorted(self.streams.items()):
            if channel_of_voice(name) != channel:
                continue
            for frame in (state.config, state.key):
                if frame is not None:
                    await self.relay.publish(topic, _STATE + frame)

    # -- access ------------------------------------------------------------------------

    def check_access_soon(self) -> None:
        if self._checking is None:
            self._checking = asyncio.get_running_loop().create_task(self._check_access())

    async def _check_access(self) -> None:
        """Roles are what the database says now: a socket whose person lost
        access, or whose roles changed (what they may publish depends on
        them), is ended like their command socket."""
        try:
            # Only the sockets asked about are judged: one joining meanwhile
            # was checked when it opened.
            asked = list(self.sockets)
            ids = sorted({socket.actor.participant_id for socket in asked})
            if not ids or self.relay.current_actors is None:
                return
            current = await self.relay.current_actors(self.session_id, ids)
            for socket in asked:
                if socket not in self.sockets:
                    continue
                code = close_code(current.get(socket.actor.participant_id), socket.actor, socket.token_key)
                if code is not None:
                    await self.revoke(socket, code)
        except Exception:
            log.exception("media: could not check access in session %s", self.session_id)
        finally:
            self._checking = None

    async def revoke(self, socket: MediaSocket, close_code: int) -> None:
        if socket.revoked is not None:
            return
        socket.revoked = close_code
        await self.unpublish(
            socket,
            {
                "type": "cut",
                "channel": socket.publishing,
                "code": "forbidden",
                "message": "Your access to this session changed.",
            },
        )
        for channel in list(socket.receiving):
            await self._stop_receiving(socket, channel)
        socket.chosen = None
        socket.end()

    # -- listener counts ------------------------------------------------------------

    def local_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for socket in self.sockets:
            if socket.chosen is not None:
                counts[socket.chosen] = counts.get(socket.chosen, 0) + 1
        return counts

    def counts(self) -> dict[str, int]:
        total = self.local_counts()
        now = time.monotonic()
        for process, (at, counts) in list(self.remote_counts.items()):
            if now - at > COUNTS_FORGOTTEN_AFTER_S:
                del self.remote_counts[process]
                continue
            for channel, count in counts.items():
                total[channel] = total.get(channel, 0) + count
        return total

    def counts_changed(self) -> None:
        """Tell the others soon, once for a burst of changes."""
        if self._counts_due is None:
            self._counts_due = asyncio.get_running_loop().call_later(0.2, self._counts_now)

    def _counts_now(self) -> None:
        self._counts_due = None
        asyncio.get_running_loop().create_task(self.send_counts())

    async def send_counts(self) -> None:
        counts = self.local_counts()
        body = {"process": self.relay.process_id, "counts": counts}
        await self.relay.publish(control_topic(self.session_id), _COUNTS + json.dumps(body).encode())
        self.tell_counts()

    def tell_counts(self) -> None:
        counts = self.counts()
        if counts == self._counts_sent:
            return
        self._counts_sent = counts
        message = dump({"type": "listeners", "counts": counts})
        for socket in self.sockets:
            if socket.wants_counts:
                socket._control(message)


@dataclass
class MediaRelay:
    """Every session's media in this process."""

    bus: Bus
    hub: Hub
    load_state: LoadState
    current_actors: CurrentActors | None = None
    process_id: str = field(default_factory=lambda: os.urandom(6).hex())
    sessions: dict[int, SessionMedia] = field(default_factory=dict)
    _entering: dict[int, asyncio.Lock] = field(default_factory=dict)
    _ticker: asyncio.Task[None] | None = None
    _bus_down: bool = False

    async def start(self) -> None:
        self.bus.set_receiver(self.receive)
        self.bus.on_reconnect = self._reconnected
        await self.bus.start()
        self._ticker = asyncio.create_task(self._repeat_counts(), name="media-counts")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        await self.bus.stop()

    async def publish(self, topic: str, data: bytes) -> None:
        try:
            await self.bus.publish(topic, data)
        except Exception as error:
            # At most once: media lost is media late. This process's own
            # listeners were served before the bus failed; say so once an outage.
            if not self._bus_down:
                log.warning("media: cannot reach the other processes (%s); serving this one's listeners only", error)
            self._bus_down = True
        else:
            if self._bus_down:
                log.warning("media: the other processes are reachable again")
            self._bus_down = False

    async def enter(self, socket: MediaSocket) -> SessionMedia | None:
        session_id = socket.actor.session_id
        lock = self._entering.setdefault(session_id, asyncio.Lock())
        async with lock:
            session = self.sessions.get(session_id)
            if session is None:
                state = await self.load_state(session_id)
                if state is None:
                    return None
                session = self.sessions[session_id] = SessionMedia(self, session_id, state)
                await self.bus.subscribe(control_topic(session_id))
                room = await self.hub.observe(session_id, MOVERS, session)
                room.started_at(state.last_seq)
                # An event may have moved things between reading and joining.
                session.refresh_soon()
            session.sockets.add(socket)
        if socket.wants_counts:
            socket.control({"type": "listeners", "counts": session.counts()})
        return session

    async def leave(self, socket: MediaSocket) -> None:
        session = self.sessions.get(socket.actor.session_id)
        if session is None:
            return
        await session.unpublish(socket)
        for channel in list(socket.receiving):
            await session._stop_receiving(socket, channel)
        session.sockets.discard(socket)
        session.counts_changed()
        if not session.sockets:
            del self.sessions[session.session_id]
            await self.hub.unobserve(session.session_id, session)
            await self.bus.unsubscribe(control_topic(session.session_id))
            await session.send_counts()

    def receive(self, topic: str, data: bytes) -> None:
        _, _, rest = topic.partition(".")
        session_part, _, channel = rest.partition(".")
        if not session_part.isdigit():
            return
        session = self.sessions.get(int(session_part))
        if session is None:
            return
        if channel:
            session.receive(channel, data)
        elif data[:1] != bytes([VERSION]):
            session.control_message(data)

    def _reconnected(self) -> None:
        """The bus was down: what was asked meanwhile is asked again, and
        publishers' streams are told again (whichever process gets back
        second completes the exchange)."""
        loop = asyncio.get_running_loop()
        for session in list(self.sessions.values()):
            for channel in sorted(session.subscribed):
                if session.publishes_here(channel):
                    loop.create_task(session._send_state(channel))
                else:
                    loop.create_task(self.publish(control_topic(session.session_id), _WANT + channel.encode()))

    async def _repeat_counts(self) -> None:
        while True:
            await asyncio.sleep(COUNTS_EVERY_S)
            for session in list(self.sessions.values()):
                try:
                    await session.send_counts()
                    # The bus is at most once: a channel heard here whose
                    # configuration never came asks again.
                    for channel in sorted(session.listeners):
                        if not session.publishes_here(channel) and not any(
                            channel_of_voice(name) == channel and state.config is not None
                            for (name, _), state in session.streams.items()
                        ):
                            await self.publish(control_topic(session.session_id), _WANT + channel.encode())
                except Exception:
                    log.exception("media: could not send listener counts")
