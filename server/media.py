"""The media socket: one per participant per session at /sessions/{id}/media.

Authenticated exactly like the command socket (the join cookie or a token,
the same origin rule), it carries binary frames (interpretation.frames) and
a few JSON control messages: ``listen``, ``stop``, ``publish``,
``unpublish``. The relay (server.media_relay) decides and forwards.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from rooms.errors import Refused
from server.auth import COOKIE, actor_in, participant_by_token
from server.close_codes import FLOODING, FORBIDDEN, NOT_FOUND, ROLES_CHANGED, SLOW_CLIENT, UNAUTHORIZED
from server.event_log import dump
from server.flood import TokenBucket
from server.media_relay import MediaRelay, MediaSocket, SessionMedia
from server.models import Session as SessionRow
from server.security import origin_allowed

if TYPE_CHECKING:
    from server.app import Tribune

log = logging.getLogger(__name__)

# Frames per second a socket may send (audio, video and controls together):
# 50 Opus packets and 30 video frames a second fit with room for bursts.
FRAMES_PER_SECOND = 200.0
FRAME_BURST = 400
FLOOD_STRIKES = 400
MAX_CONTROL_BYTES = 1024
# Frames a listener may have waiting before the oldest are dropped: a few
# seconds of the channel, the floor underneath and video.
MEDIA_QUEUE = 256
MEDIA_QUEUE_BYTES = 1024 * 1024

ChannelName = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[a-z][a-z0-9:_-]*$")]


class _Control(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(_Control):
    type: Literal["listen"]
    channel: ChannelName
    # The floor mixed underneath an interpretation (the page sets its volume).
    original: bool = True


class Stop(_Control):
    type: Literal["stop"]


class Publish(_Control):
    type: Literal["publish"]
    channel: ChannelName


class Unpublish(_Control):
    type: Literal["unpublish"]


Control = Annotated[Listen | Stop | Publish | Unpublish, Field(discriminator="type")]
_CONTROLS: TypeAdapter[Listen | Stop | Publish | Unpublish] = TypeAdapter(Control)
CONTROL_TYPES = ("listen", "stop", "publish", "unpublish")


def error(code: str, message: str) -> dict[str, str]:
    return {"type": "error", "code": code, "message": message}


async def media_socket(websocket: WebSocket) -> None:
    tribune: Tribune = websocket.app.state.tribune
    relay: MediaRelay = websocket.app.state.media
    settings = tribune.settings
    origin, host = websocket.headers.get("origin"), websocket.headers.get("host")
    if not origin_allowed(origin, host, websocket.url.scheme, settings.allowed_origins, settings.base_url):
        await websocket.close(code=1008)
        return
    session_id = websocket.path_params["session_id"]
    token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE)
    await websocket.accept()
    async with tribune.sessionmaker() as db:
        session_row = await db.get(SessionRow, session_id)
        participant = await participant_by_token(db, token)
        if session_row is None:
            return await _refuse(websocket, NOT_FOUND, "not_found", f"No session {session_id}.")
        if participant is None:
            return await _refuse(websocket, UNAUTHORIZED, "unauthorized", "Open your join link first.")
        actor = actor_in(participant, session_row)
        if actor is None:
            return await _refuse(websocket, FORBIDDEN, "forbidden", "You are not invited to this session.")
    socket = MediaSocket(actor, MEDIA_QUEUE, MEDIA_QUEUE_BYTES)
    session = await relay.enter(socket)
    if session is None:
        return await _refuse(websocket, NOT_FOUND, "not_found", f"No session {session_id}.")
    try:
        writer = asyncio.create_task(socket.write_loop(websocket.send_text, websocket.send_bytes))
        reader = asyncio.create_task(_read_loop(websocket, session, socket))
        done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if socket.revoked is not None:
            reason = "your roles changed: reconnect" if socket.revoked == ROLES_CHANGED else "no longer invited"
            await _close(websocket, socket.revoked, reason)
        elif socket.is_too_slow:
            await _close(websocket, SLOW_CLIENT, "too slow")
        for task in done:
            failure = None if task.cancelled() else task.exception()
            if isinstance(failure, _Flooding):
                await _close(websocket, FLOODING, "too many messages")
            elif failure is not None and not isinstance(failure, (WebSocketDisconnect, ConnectionError, RuntimeError)):
                log.error("media socket failed", exc_info=failure)
                await _close(websocket, 1011, "server error")
    finally:
        await relay.leave(socket)


class _Flooding(Exception):
    pass


async def _read_loop(websocket: WebSocket, session: SessionMedia, socket: MediaSocket) -> None:
    bucket = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST)
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if not bucket.take():
            if bucket.strikes >= FLOOD_STRIKES:
                raise _Flooding()
            if bucket.strikes == 1:
                socket.control(error("rate_limited", "Too many frames; the extra ones are dropped."))
            continue
        try:
            data = message.get("bytes")
            if data is not None:
                await session.frame(socket, data)
            else:
                await _control(session, socket, message.get("text") or "")
        except Refused as refused:
            socket.control(error(refused.code, refused.message))


async def _control(session: SessionMedia, socket: MediaSocket, text: str) -> None:
    if len(text) > MAX_CONTROL_BYTES:
        raise Refused("too_large", f"A control message is at most {MAX_CONTROL_BYTES} bytes.")
    try:
        control = _CONTROLS.validate_json(text)
    except ValidationError as invalid:
        problem = invalid.errors()[0]
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raise Refused("unknown_type", f"Control messages are {', '.join(CONTROL_TYPES)}.") from None
        where = ".".join(str(part) for part in problem["loc"][1:]) or "message"
        raise Refused("invalid", f"{where}: {problem['msg']}") from None
    if isinstance(control, Listen):
        await session.listen(socket, control.channel, control.original)
    elif isinstance(control, Stop):
        await session.stop_listening(socket)
    elif isinstance(control, Publish):
        try:
            await session.publish(socket, control.channel)
        except Refused as refused:
            socket.control(
                {"type": "refused", "channel": control.channel, "code": refused.code, "message": refused.message}
            )
    else:
        await session.unpublish(socket)


async def _refuse(websocket: WebSocket, close_code: int, code: str, message: str) -> None:
    await websocket.send_text(dump(error(code, message)))
    await _close(websocket, close_code, message[:100])


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code=code, reason=reason)
    except (RuntimeError, WebSocketDisconnect):
        pass
