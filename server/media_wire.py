"""The media socket served on uvicorn's own connection, without ASGI.

Like the live socket (server/live_socket.py), and for the same reason: a
frame relayed to hundreds of listeners should cost one write per listener,
not a task switch, Starlette's send wrappers and a re-framing each. The relay
frames each media frame once (``media_relay.relayed``); this socket writes
those bytes at once while the client keeps up, and otherwise leaves them in
the socket's bounded queue, where old media is dropped
(``drop_old_media``), until the transport drains.

Its control messages are read by server/media.py; the transport plumbing
it shares with the live socket is in server/served_socket.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from websockets.protocol import State

from rooms.errors import Refused
from server.auth import actor_in, participant_by_token
from server.close_codes import CLOSE_REASONS, FLOODING, FORBIDDEN, NOT_FOUND, SLOW_CLIENT, UNAUTHORIZED
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
from server.served_socket import Query, ServedSocket

if TYPE_CHECKING:
    from server.app import Tribune

log = logging.getLogger(__name__)

MEDIA_PATH = re.compile(r"/sessions/(\d{1,12})/media")
# What the transport may hold for a listener before frames wait (and age) in
# the socket's queue instead: a fraction of a second of the channels.
WRITE_BUFFER = 64 * 1024
# Messages that may wait while the socket opens or while a control is handled.
INBOX = 256


class MediaWire(ServedSocket):
    """One participant's media socket: controls and frames in, relayed media out."""

    def __init__(self, tribune: Tribune, relay: MediaRelay, server_connections: set[Any], session_id: int):
        super().__init__(tribune, server_connections, session_id, max_size=1024 * 1024)
        self.relay = relay
        self.socket: MediaSocket | None = None
        self.session: SessionMedia | None = None
        self.inbox: deque[bytes | str] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.bucket = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST)
        self.paused = False

    # --- the transport -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.pump()

    def leave(self) -> None:
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
            self.close(socket.revoked, CLOSE_REASONS[socket.revoked])
        else:
            self.close(SLOW_CLIENT, "too slow")

    # --- opening -------------------------------------------------------------------

    def opened(self, query: Query, token: str | None) -> None:
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
            socket = MediaSocket(actor, MEDIA_QUEUE, MEDIA_QUEUE_BYTES, participant.token_hash)
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
        self.refuse(close_code, dump(error(code, message)), message)

    # --- frames in -------------------------------------------------------------------

    def received(self, data: bytes, is_text: bool) -> None:
        if not self.bucket.take():
            if self.bucket.strikes >= FLOOD_STRIKES:
                return self.close(FLOODING, "too many messages")
            if self.bucket.strikes == 1 and self.socket is not None:
                self.socket.control(error("rate_limited", "Too many frames; the extra ones are dropped."))
            return
        if len(self.inbox) >= INBOX:
            # Frames waiting behind a slow control (or a slow bus): the oldest
            # media is the one to lose; controls are kept.
            oldest = next((item for item in self.inbox if isinstance(item, bytes)), None)
            if oldest is None:
                return
            self.inbox.remove(oldest)
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
