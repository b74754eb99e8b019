"""The media socket served on uvicorn's own connection, without ASGI.

Like the live socket (server/live_socket.py), and for the same reason: a
frame relayed to hundreds of listeners should cost one write per listener,
not a task switch, Starlette's send wrappers and a re-framing each. The relay
frames each media frame once (``media_relay.relayed``); this socket writes
those bytes at once while the client keeps up, and otherwise leaves them in
the socket's bounded queue, where old media is dropped
(``drop_old_media``), until the transport drains.

The protocol is the one server/media.py serves through ASGI (that path
remains for servers other than ``tribune serve``): same authentication,
control messages, refusals and close codes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs

from pydantic import ValidationError
from starlette.requests import cookie_parser
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from rooms.errors import Refused
from server.auth import COOKIE, actor_in, participant_by_token
from server.close_codes import FLOODING, FORBIDDEN, NOT_FOUND, ROLES_CHANGED, SLOW_CLIENT, UNAUTHORIZED
from server.event_log import dump, text_frame
from server.flood import TokenBucket
from server.media import (
    FLOOD_STRIKES,
    FRAME_BURST,
    FRAMES_PER_SECOND,
    MEDIA_QUEUE,
    MEDIA_QUEUE_BYTES,
    error,
    handle_control,
)
from server.media_relay import MediaRelay, MediaSocket, SessionMedia
from server.models import Session as SessionRow
from server.security import origin_allowed

if TYPE_CHECKING:
    from server.app import Tribune

log = logging.getLogger(__name__)

MEDIA_PATH = re.compile(r"/sessions/(\d{1,12})/media")
# What the transport may hold for a listener before frames wait (and age) in
# the socket's queue instead: a fraction of a second of the channels.
WRITE_BUFFER = 64 * 1024
CLOSE_TIMEOUT = 10.0
# Messages that may wait while the socket opens or while a control is handled.
INBOX = 256


class MediaWire(asyncio.Protocol):
    """One participant's media socket: the handshake, then frames in and out."""

    def __init__(self, tribune: Tribune, relay: MediaRelay, server_connections: set[Any], session_id: int):
        self.tribune = tribune
        self.relay = relay
        self.session_id = session_id
        self.server_connections = server_connections
        self.ws = ServerProtocol(max_size=1024 * 1024, logger=log)
        self.transport: asyncio.Transport | None = None
        self.socket: MediaSocket | None = None
        self.session: SessionMedia | None = None
        self.inbox: deque[bytes | str] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.bucket = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST)
        self.fragments: list[bytes] = []
        self.fragment_is_text = False
        self.is_closed = False
        self.paused = False
        self.timers: list[asyncio.TimerHandle] = []
        self.awaiting_pong: bytes | None = None

    # --- the transport -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER)
        self.server_connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, Frame):
                self._frame(event)
        self._flush()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_closed = True
        self.server_connections.discard(self)
        for timer in self.timers:
            timer.cancel()
        self._leave()

    def shutdown(self) -> None:
        self.close(1012, "server restarting: reconnect")

    def _flush(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            else:
                self.transport.close()
                return

    def close(self, code: int, reason: str) -> None:
        self._leave()
        if self.is_closed or self.ws.state is not State.OPEN:
            return
        self.ws.send_close(code, reason[:120])
        self._flush()
        if self.transport is not None:
            self.timers.append(asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.abort))

    def _leave(self) -> None:
        socket, self.socket = self.socket, None
        if socket is not None:
            socket.wire = None
            asyncio.get_running_loop().create_task(self.relay.leave(socket))

    # --- frames out ----------------------------------------------------------------

    def pump(self) -> None:
        """Write what the socket holds while the transport takes it: controls
        first, then media; what cannot be written waits (and ages out)."""
        socket, transport = self.socket, self.transport
        if socket is None or transport is None or self.is_closed or self.ws.state is not State.OPEN:
            return
        while not self.paused:
            if socket.controls:
                text = socket.controls.popleft()
                if text is None:
                    return self._end(socket)
                transport.write(text_frame(text))
                continue
            item = socket.next_media()
            if item is None:
                return
            transport.write(item[4])

    def _end(self, socket: MediaSocket) -> None:
        if socket.revoked is not None:
            reason = "your roles changed: reconnect" if socket.revoked == ROLES_CHANGED else "no longer invited"
            self.close(socket.revoked, reason)
        else:
            self.close(SLOW_CLIENT, "too slow")

    # --- opening -------------------------------------------------------------------

    def _handshake(self, request: Request) -> None:
        settings = self.tribune.settings
        origin, host = request.headers.get("Origin"), request.headers.get("Host")
        scheme = "wss" if self.transport is not None and self.transport.get_extra_info("sslcontext") else "ws"
        if not origin_allowed(origin, host, scheme, settings.allowed_origins, settings.base_url):
            response = self.ws.reject(403, "This page's origin may not open the socket.\n")
        else:
            response = self.ws.accept(request)
        self.ws.send_response(response)
        if response.status_code != 101:
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        query = parse_qs(request.path.partition("?")[2])
        tokens = query.get("token")
        token = tokens[0] if tokens else cookie_parser(request.headers.get("Cookie", "")).get(COOKIE)
        self._keep_alive()
        self.worker = asyncio.get_running_loop().create_task(self._open(token))

    async def _open(self, token: str | None) -> None:
        try:
            async with self.tribune.reader() as db:
                session_row = await db.get(SessionRow, self.session_id)
                participant = await participant_by_token(db, token)
                if session_row is None:
                    return self._refuse(NOT_FOUND, "not_found", f"No session {self.session_id}.")
                if participant is None:
                    return self._refuse(UNAUTHORIZED, "unauthorized", "Open your join link first.")
                actor = actor_in(participant, session_row)
                if actor is None:
                    return self._refuse(FORBIDDEN, "forbidden", "You are not invited to this session.")
            socket = MediaSocket(actor, MEDIA_QUEUE, MEDIA_QUEUE_BYTES)
            socket.wire = self
            session = await self.relay.enter(socket)
            if session is None:
                return self._refuse(NOT_FOUND, "not_found", f"No session {self.session_id}.")
            if self.is_closed:
                await self.relay.leave(socket)
                return
            self.socket, self.session = socket, session
            self.pump()
        except Exception:
            log.exception("could not open a media socket")
            self.close(1011, "server error")
        finally:
            self.worker = None
            self._work()

    def _refuse(self, close_code: int, code: str, message: str) -> None:
        if self.transport is not None:
            self.transport.write(text_frame(dump(error(code, message))))
        self.close(close_code, message[:100])

    # --- frames in -------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PONG:
            if self.awaiting_pong is not None and frame.data == self.awaiting_pong:
                self.awaiting_pong = None
            return
        if frame.opcode is Opcode.CLOSE:
            self._leave()
            return
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.fragments = []
            self.fragment_is_text = frame.opcode is Opcode.TEXT
        elif frame.opcode is not Opcode.CONT:
            return  # a ping: websockets has queued the pong
        self.fragments.append(bytes(frame.data))
        if not frame.fin:
            return
        data, self.fragments = b"".join(self.fragments), []
        self._received(data, self.fragment_is_text)

    def _received(self, data: bytes, is_text: bool) -> None:
        if not self.bucket.take():
            if self.bucket.strikes >= FLOOD_STRIKES:
                return self.close(FLOODING, "too many messages")
            if self.bucket.strikes == 1 and self.socket is not None:
                self.socket.control(error("rate_limited", "Too many frames; the extra ones are dropped."))
            return
        if len(self.inbox) >= INBOX:
            return  # media waiting behind a slow control: the oldest is the one to lose
        self.inbox.append(data.decode("utf-8", "replace") if is_text else data)
        self._work()

    def _work(self) -> None:
        """Handle waiting messages in order, in a task that lives only while there are some."""
        if self.worker is None and self.inbox and self.session is not None:
            self.worker = asyncio.get_running_loop().create_task(self._handle())

    async def _handle(self) -> None:
        try:
            while self.inbox and self.session is not None and self.socket is not None:
                message = self.inbox.popleft()
                try:
                    if isinstance(message, bytes):
                        await self.session.frame(self.socket, message)
                    else:
                        await handle_control(self.session, self.socket, message)
                except Refused as refused:
                    self.socket.control(error(refused.code, refused.message))
                except ValidationError:
                    self.socket.control(error("invalid", "This control message could not be read."))
        except Exception:
            log.exception("media socket failed")
            self.close(1011, "server error")
        finally:
            self.worker = None

    # --- keepalive ---------------------------------------------------------------------

    def _keep_alive(self) -> None:
        interval = self.tribune.settings.ping_seconds
        if interval > 0:
            self.timers = [asyncio.get_running_loop().call_later(interval, self._ping)]

    def _ping(self) -> None:
        if self.is_closed or self.ws.state is not State.OPEN:
            return
        if self.awaiting_pong is not None:
            self._leave()
            if self.transport is not None:
                self.transport.abort()
            return
        self.awaiting_pong = self.session_id.to_bytes(8, "big")
        try:
            self.ws.send_ping(self.awaiting_pong)
        except InvalidState:
            return
        self._flush()
        self._keep_alive()
