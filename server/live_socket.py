"""The live socket, one per participant per session at /ws/sessions/{id}.

It is served on uvicorn's own connection, without ASGI: uvicorn parses the
HTTP request and hands the upgrade to ``TribuneHttpProtocol``, which gives
this path to ``LiveSocket`` and every other WebSocket path to uvicorn's
usual ASGI protocol. Why: ASGI's per-connection ``send`` costs a task
switch, a re-encoding and a write per socket and per event; here an event is
framed once and the same bytes are written to every socket that keeps up,
in one synchronous pass, and an idle socket costs only this object,
websockets' sans-I/O protocol and the transport (no task, no queue).

What a socket may do and see is the same as before: the kernel decides
commands, the hub delivers events (``server/hub.py: Connection``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.protocol import State

from rooms.actor import Actor
from rooms.commands import Command
from rooms.errors import Refused
from rooms.floor_views import iso
from server import event_log, protocol
from server.auth import actor_in
from server.close_codes import CLOSE_REASONS, FLOODING, FORBIDDEN, NOT_FOUND, ROLES_CHANGED, SLOW_CLIENT, UNAUTHORIZED
from server.event_log import dump, text_frame
from server.hub import Connection, Room
from server.kernel import AccessLost, LinkRevoked, RolesChanged
from server.media_wire import MEDIA_PATH, MediaWire
from server.presence import is_tracked
from server.served_socket import Query, ServedSocket
from server.snapshot import read_for_connect, resumed, snapshot

if TYPE_CHECKING:
    from server.app import Tribune

log = logging.getLogger(__name__)

LIVE_PATH = re.compile(r"/ws/sessions/(\d{1,12})")
# After this many frames in a row refused for flooding, the socket is closed.
FLOOD_STRIKES = 50
# Frames that may wait while the socket opens (its snapshot is being read).
EARLY_FRAMES = 32


def error_message(code: str, message: str, command_id: str | int | None = None) -> str:
    return dump({"type": "error", "id": command_id, "code": code, "message": message})


class TribuneHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol; the live socket's upgrade goes to ``LiveSocket``."""

    def handle_websocket_upgrade(self) -> None:
        tribune: Tribune | None = self.app_state.get("tribune")
        path = self.url.partition(b"?")[0].decode("latin-1")
        match = LIVE_PATH.fullmatch(path)
        media = self.app_state.get("media")
        media_match = MEDIA_PATH.fullmatch(path)
        if tribune is not None and media is not None and media_match is not None:
            # The media socket is served the same way (server/media_wire.py).
            self._hand_over(MediaWire(tribune, media, self.server_state.connections, int(media_match[1])))
            return
        if tribune is None or match is None:
            super().handle_websocket_upgrade()
            return
        self._hand_over(LiveSocket(tribune, self.server_state.connections, int(match[1]), self.config.ws_max_size))

    def _hand_over(self, socket: asyncio.Protocol) -> None:
        """Give the connection, its upgrade request replayed, to ``socket``."""
        self.connections.discard(self)
        request = [self.scope["method"].encode(), b" ", self.url, b" HTTP/1.1\r\n"]
        for name, value in self.scope["headers"]:
            request += [name, b": ", value, b"\r\n"]
        request.append(b"\r\n")
        socket.connection_made(self.transport)
        # The transport is the socket's before it reads the request, so that
        # whatever the request does, the socket is the one told of the end.
        self.transport.set_protocol(socket)
        socket.data_received(b"".join(request))


class LiveSocket(ServedSocket):
    """One participant's live socket: commands in, the hub's events out."""

    def __init__(self, tribune: Tribune, server_connections: set[Any], session_id: int, max_size: int):
        super().__init__(tribune, server_connections, session_id, max_size)
        self.connection: Connection | None = None
        # The session's room in the hub, once joined.
        self.room: Room | None = None
        # Whose socket it is, once opened; commands received before a hang-up
        # still run after the connection has left the hub.
        self.actor: Actor | None = None
        # Frames (or replies to them) waiting for the socket to open or for
        # the command before them: replies go out in the order frames came.
        self.waiting: deque[str | Command] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.presence_key: str | None = None
        # This socket's stay in the attendance (server/attendance.py).
        self.stay_key: str | None = None
        # The hash of the join link it opened with (server.revocation).
        self.token_key: str | None = None
        # Frames that came before the socket knew whose it is: charged to
        # that person, in order, as soon as it does.
        self.early: list[tuple[bytes, bool]] = []
        # Read at every write: kept here, not looked up through the settings.
        self.send_buffer_bytes = tribune.settings.send_buffer_bytes

    # --- the transport ---------------------------------------------------------

    def connection_lost(self, exc: Exception | None) -> None:
        # A socket still opening finishes its reads, sees it is closed and leaves.
        super().connection_lost(exc)
        self._gone()

    # uvicorn is stopping (ServedSocket.shutdown): the client resumes elsewhere.
    restart_reason = "server restarting: reconnect with last_seq"

    def write(self, frame: bytes) -> bool:
        """The hub's wire: write at once; False once the client's unread bytes pass the bound."""
        transport = self.transport
        if self.is_closed or transport is None or self.ws.state is not State.OPEN:
            return True
        transport.write(frame)
        return transport.get_write_buffer_size() <= self.send_buffer_bytes

    def ponged(self, data: bytes) -> None:
        """The client read up to a room's ping (server/read_mark.py)."""
        if self.room is not None and self.connection is not None:
            self.room.read_mark.heard(self.connection, data)

    def _gone(self) -> None:
        stay, self.stay_key = self.stay_key, None
        if stay is not None and self.tribune.stays is not None:
            self.tribune.stays.left(stay)
        key, self.presence_key = self.presence_key, None
        if key is not None:
            asyncio.get_running_loop().create_task(self.tribune.presence.leave(key))

    def leave(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.is_too_slow = True  # nothing more is written to it
            asyncio.get_running_loop().create_task(self.tribune.hub.leave(connection))

    # --- opening ---------------------------------------------------------------

    def opened(self, query: Query, token: str | None) -> None:
        last_seq = _int_or_none(_first(query, "last_seq"))
        self.worker = asyncio.get_running_loop().create_task(self._open(token, last_seq))

    async def _open(self, token: str | None, last_seq: int | None) -> None:
        tribune = self.tribune
        settings = tribune.settings
        try:
            async with tribune.reader() as db, db.begin():
                found = await read_for_connect(db, self.session_id, token)
                if found is None:
                    return self._refuse(NOT_FOUND, "not_found", f"No session {self.session_id}.")
                session, event, participant = found
                if participant is None:
                    return self._refuse(UNAUTHORIZED, "unauthorized", "Open your join link first.")
                actor = actor_in(participant, session)
                if actor is None:
                    return self._refuse(FORBIDDEN, "forbidden", "You are not invited to this session.")
                self.token_key = participant.token_hash
                connection = Connection(actor, self, settings.send_queue_size, self._missed, self.token_key)
                connection.on_overflow = self._too_slow
                connection.on_revoke = self._revoked
                # Join before reading, so nothing published meanwhile is missed;
                # the connection drops what the snapshot or replay already covers.
                room = await tribune.hub.join(connection)
                self.actor = actor  # what it sent before hanging up still runs
                early, self.early = self.early, []
                for data, is_text in early:
                    self._take(data, is_text)
                if self.is_closed:
                    await tribune.hub.leave(connection)
                    return
                self.connection = connection
                self.room = room
                seq = session.last_seq
                now = tribune.kernel.clock()
                initial = None
                if last_seq is not None:
                    initial = await event_log.replay(
                        db, session, actor, last_seq, settings.replay_limit, settings.replay_limit_bytes
                    )
                if initial is None:
                    initial = [
                        await snapshot(db, session, actor, tribune.registry, now, event=event, cache=tribune.snapshots)
                    ]
                else:
                    initial.append(resumed(seq, now, len(initial)))
            room.started_at(seq, event.revision)
            if tribune.stays is not None:
                self.stay_key = tribune.stays.arrived(actor)
            if is_tracked(actor):
                self.presence_key = await tribune.presence.arrive(actor)
            if self.is_closed:
                self._gone()
            if self.transport is not None and not self.is_closed:
                # Written whatever the bound: a big snapshot is not a slow client.
                self.transport.write(b"".join(text_frame(text) for text in initial))
            connection.live_from(seq, room.seq)
        except Exception:
            log.exception("could not open a live socket")
            self.close(1011, "server error")
        finally:
            self.worker = None
            self._work()

    def _refuse(self, close_code: int, code: str, message: str) -> None:
        self.refuse(close_code, error_message(code, message), message)

    async def _missed(self, after: int, before: int) -> list[str]:
        assert self.connection is not None
        actor = self.connection.actor
        async with self.tribune.reader() as db:
            events = await event_log.read(db, self.session_id, after, before - 1)
        return [event.payload for event in events if event.recipients.includes(actor)]

    def _too_slow(self) -> None:
        self.close(SLOW_CLIENT, "too slow: reconnect with last_seq")

    def _revoked(self, code: int) -> None:
        self.close(code, CLOSE_REASONS[code])

    # --- frames in ---------------------------------------------------------------

    def received(self, data: bytes, is_text: bool) -> None:
        """One whole message: checked at once, so a flood is refused without any work.

        The socket may be closing already (websockets reads the close frame
        that followed in the same packet first): what came before still runs."""
        if self.actor is None:
            # Whose socket this is is still being read: the frame waits, raw,
            # and counts against that person's allowance like any other.
            if len(self.early) >= EARLY_FRAMES:
                return self.close(FLOODING, "too many messages before the socket opened")
            self.early.append((data, is_text))
            return
        self._take(data, is_text)

    def _take(self, data: bytes, is_text: bool) -> None:
        """Charge a frame to its sender, then answer or queue it."""
        assert self.actor is not None
        settings = self.tribune.settings
        bucket = self.tribune.floods.bucket(self.actor.participant_id)
        if not bucket.take():
            if bucket.strikes >= FLOOD_STRIKES:
                return self.close(FLOODING, "too many messages")
            return self._answer(error_message("rate_limited", "Too many messages; slow down."))
        if not is_text:
            return self._answer(error_message("unsupported", "Binary frames are not accepted on this socket."))
        if len(data) > settings.max_message_bytes:
            return self._answer(
                error_message("too_large", f"A message may be at most {settings.max_message_bytes} bytes.")
            )
        try:
            text = data.decode()
        except UnicodeDecodeError:
            return self._answer(error_message("invalid_json", "Messages must be UTF-8 JSON text."))
        try:
            command = self.tribune.parser.parse(text)
        except protocol.BadCommand as bad:
            return self._answer(error_message(bad.code, bad.message, bad.command_id))
        if isinstance(command, protocol.Ping):
            return self._answer(dump({"type": "pong", "id": command.id, "server_time": self._now()}))
        self.waiting.append(command)
        self._work()

    def _answer(self, text: str) -> None:
        if self.connection is not None and self.worker is None and not self.waiting:
            self.connection.reply(text)
        else:
            self.waiting.append(text)
            self._work()

    def _work(self) -> None:
        """Run waiting commands one after another, in a task that lives only while there are some."""
        if self.worker is None and self.waiting and self.actor is not None:
            self.worker = asyncio.get_running_loop().create_task(self._run_commands())

    async def _run_commands(self) -> None:
        try:
            while self.waiting and self.actor is not None:
                item = self.waiting.popleft()
                if isinstance(item, str):
                    self._reply(item)
                    continue
                connection = self.connection
                if connection is not None:
                    connection.hold_for_reply()
                try:
                    reply = await self._execute(self.actor, item)
                    if reply is not None:
                        room = self.room
                        if room is not None and connection is not None:
                            await room.keep_up()
                            room.bring(connection)
                        self._reply(reply)
                finally:
                    if connection is not None:
                        connection.release_reply_hold()
        finally:
            self.worker = None

    def _reply(self, text: str) -> None:
        if self.connection is not None:  # else the client hung up: the reply has nowhere to go
            self.connection.reply(text)

    async def _execute(self, actor: Actor, command: Command) -> str | None:
        tribune = self.tribune
        shared = tribune.shared_floods
        settings = tribune.settings
        if shared is not None and not await shared.take(
            f"frames:{actor.participant_id}", settings.commands_per_second, settings.command_burst
        ):
            # The same person's sockets on other processes used the allowance.
            return error_message("rate_limited", "Too many messages; slow down.", command.id)
        try:
            # Shielded: a client that hangs up mid-command must not cut the
            # command between its commit and its publication.
            executed = await asyncio.shield(tribune.kernel.execute(actor, command, self.token_key))
        except LinkRevoked as revoked:
            self._reply(error_message(revoked.code, revoked.message, command.id))
            self.close(UNAUTHORIZED, CLOSE_REASONS[UNAUTHORIZED])
            return None
        except AccessLost as lost:
            self._reply(error_message(lost.code, lost.message, command.id))
            self.close(FORBIDDEN, "no longer invited to this session")
            return None
        except RolesChanged as changed:
            self._reply(error_message(changed.code, changed.message, command.id))
            self.close(ROLES_CHANGED, "your roles changed: reconnect")
            return None
        except Refused as refused:
            return error_message(refused.code, refused.message, command.id)
        except Exception:
            log.exception("command %s failed", command.type)
            return error_message("server_error", "The command could not be applied; nothing changed.", command.id)
        ack = dump({"type": "ack", "id": command.id, "seq": executed.seq})
        if executed.actor != actor:
            # Roles changed since the socket opened: what this person may see
            # and do is read again with a fresh snapshot.
            self._reply(ack)
            self.close(ROLES_CHANGED, "your roles changed: reconnect")
            return None
        return ack

    def _now(self) -> str:
        return iso(self.tribune.kernel.clock()) or ""


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int_or_none(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 12:
        return None
    return int(value)
