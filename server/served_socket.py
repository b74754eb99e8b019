"""A WebSocket served on uvicorn's own connection, without ASGI.

What the live socket (server/live_socket.py) and the media socket
(server/media_wire.py) share: the handshake's origin check and credentials,
whole messages out of websockets' frames, closing with an application code
(and dropping a client that never answers), and the keepalive ping. Each
subclass says what opening, a message and leaving mean for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs

from starlette.requests import cookie_parser
from websockets.datastructures import MultipleValuesError
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from server.auth import COOKIE
from server.event_log import text_frame
from server.security import origin_allowed

if TYPE_CHECKING:
    from server.app import Tribune

log = logging.getLogger(__name__)

# How long a closing handshake may take before the connection is dropped
# (a client that stops reading never reads the close frame).
CLOSE_TIMEOUT = 10.0
SERVER_RESTART = 1012

Query = dict[str, list[str]]


class ServedSocket(asyncio.Protocol):
    def __init__(self, tribune: Tribune, server_connections: set[Any], session_id: int, max_size: int):
        self.tribune = tribune
        self.session_id = session_id
        self.server_connections = server_connections
        self.ws = ServerProtocol(max_size=max_size, logger=log)
        self.transport: asyncio.Transport | None = None
        self.is_closed = False
        self.timers: list[asyncio.TimerHandle] = []
        self.awaiting_pong: bytes | None = None
        self.fragments: list[bytes] = []
        self.fragment_is_text = False

    # --- what each socket defines ----------------------------------------------

    def opened(self, query: Query, token: str | None) -> None:
        """The handshake was accepted: start reading who this is."""
        raise NotImplementedError

    def received(self, data: bytes, is_text: bool) -> None:
        """One whole message from the client."""
        raise NotImplementedError

    def leave(self) -> None:
        """Stop delivering to this socket (it is closing or gone)."""
        raise NotImplementedError

    def ponged(self, data: bytes) -> None:
        """A pong that is not the keepalive's: the answer to a ping of the subclass's."""

    # --- the transport -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.server_connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.ws.receive_data(data)
            for event in self.ws.events_received():
                if isinstance(event, Request):
                    self._handshake(event)
                elif isinstance(event, Frame):
                    self._frame(event)
            self.flush()
        except Exception as error:
            # Whatever a client sent must not leave a connection nobody
            # owns: it would hold every restart up. No traceback either, as
            # it could carry the request, join token included.
            log.warning("dropped a connection after %s", type(error).__name__)
            self.drop()

    def drop(self) -> None:
        """End the connection now, without a closing handshake."""
        self.leave()
        self.is_closed = True
        self.server_connections.discard(self)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_closed = True
        self.server_connections.discard(self)
        for timer in self.timers:
            timer.cancel()
        self.leave()

    def flush(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            else:
                # websockets asks for the end of the TCP connection (after a close).
                self.transport.close()
                return

    def shutdown(self) -> None:
        """uvicorn is stopping: an open socket is told to reconnect (to
        another process); one still in its handshake, or past its close, is
        dropped, so the process exits within its grace period."""
        if self.ws.state is State.OPEN:
            self.close(SERVER_RESTART, self.restart_reason)
        elif self.ws.state is not State.CLOSING:
            self.drop()

    restart_reason = "server restarting: reconnect"

    def close(self, code: int, reason: str) -> None:
        """Close with an application code; drop the connection if the client never answers."""
        self.leave()
        if self.is_closed or self.ws.state is not State.OPEN:
            return
        self.ws.send_close(code, reason[:120])
        self.flush()
        if self.transport is not None:
            self.timers.append(asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.abort))

    def refuse(self, close_code: int, text: str, reason: str) -> None:
        """Say why in a message, then close."""
        if self.transport is not None:
            self.transport.write(text_frame(text))
        self.close(close_code, reason[:100])

    # --- in ------------------------------------------------------------------------

    def _handshake(self, request: Request) -> None:
        settings = self.tribune.settings
        try:
            origin, host = request.headers.get("Origin"), request.headers.get("Host")
            cookies = request.headers.get("Cookie", "")
        except MultipleValuesError:
            return self._reject(400, "A request carries one Host, one Origin and one Cookie header.\n")
        scheme = "wss" if self.transport is not None and self.transport.get_extra_info("sslcontext") else "ws"
        if not origin_allowed(origin, host, scheme, settings.allowed_origins, settings.base_url):
            return self._reject(403, "This page's origin may not open the socket.\n")
        response = self.ws.accept(request)
        self.ws.send_response(response)
        if response.status_code != 101:
            return self._refused()
        self._forget_request()
        query = parse_qs(request.path.partition("?")[2])
        tokens = query.get("token")
        token = tokens[0] if tokens else cookie_parser(cookies).get(COOKIE)
        self._keep_alive()
        self.opened(query, token)

    def _forget_request(self) -> None:
        """websockets' handshake parser goes on to parse frames with the
        request still held in its generator's frame, for as long as the
        connection lasts (2.8 KiB a socket, the join token among it). While
        it waits at the start of a frame with nothing read, a fresh frame
        parser is the same parser without the request: start that instead."""
        frames = getattr(self.ws.parser, "gi_yieldfrom", None)
        waiting = getattr(frames, "gi_yieldfrom", None)
        if getattr(waiting, "gi_code", None) is StreamReader.at_eof.__code__ and not self.ws.reader.buffer:
            self.ws.parser = Protocol.parse(self.ws)
            next(self.ws.parser)

    def _reject(self, status: int, text: str) -> None:
        self.ws.send_response(self.ws.reject(status, text))
        self._refused()

    def _refused(self) -> None:
        """The handshake was answered with an error: that is the end of it."""
        self.flush()
        self.is_closed = True
        self.server_connections.discard(self)
        if self.transport is not None:
            self.transport.close()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PONG:
            if self.awaiting_pong is not None and frame.data == self.awaiting_pong:
                self.awaiting_pong = None
            else:
                self.ponged(bytes(frame.data))
            return
        if frame.opcode is Opcode.CLOSE:
            self.leave()  # websockets answers the close; the client resumes if it comes back
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
        self.received(data, self.fragment_is_text)

    # --- keepalive -----------------------------------------------------------------

    def _keep_alive(self) -> None:
        """A ping every so often; a peer that does not answer in time is gone."""
        interval = self.tribune.settings.ping_seconds
        if interval > 0:
            self.timers = [asyncio.get_running_loop().call_later(interval, self._ping)]

    def _ping(self) -> None:
        if self.is_closed or self.ws.state is not State.OPEN:
            return
        if self.awaiting_pong is not None:
            # The last ping went unanswered for a whole interval.
            self.leave()
            if self.transport is not None:
                self.transport.abort()
            return
        self.awaiting_pong = self.session_id.to_bytes(8, "big")
        try:
            self.ws.send_ping(self.awaiting_pong)
        except InvalidState:
            return
        self.flush()
        self._keep_alive()
