"""The live WebSocket: one per participant per session at /ws/sessions/{id}."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from rooms.errors import Refused
from server import protocol
from server.auth import COOKIE, actor_in, participant_by_token
from server.flood import TokenBucket
from server.hub import SLOW_CLIENT, Connection
from server.snapshot import lock_session_for_read, missed_events, resumed, snapshot
from server.views import iso

log = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's own).
UNAUTHORIZED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
FLOODING = 4429
# After this many refused commands in a row for flooding, the client is cut off.
FLOOD_STRIKES = 50


def _dump(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def error_message(code: str, message: str, command_id=None) -> str:
    return _dump({"type": "error", "id": command_id, "code": code, "message": message})


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Browsers always send Origin; it must be this server's own address (or
    one configured), so no other site can act with a participant's cookie.
    Clients that are not browsers send none and authenticate by token."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def session_socket(websocket: WebSocket) -> None:
    tribune = websocket.app.state.tribune
    settings = tribune.settings
    if not origin_allowed(websocket, settings.allowed_origins):
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    session_id = websocket.path_params["session_id"]
    token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE)
    last_seq = _int_or_none(websocket.query_params.get("last_seq"))

    await websocket.accept()
    connection: Connection | None = None
    try:
        async with tribune.sessionmaker() as db, db.begin():
            session = await lock_session_for_read(db, session_id)
            participant = await participant_by_token(db, token)
            if session is None:
                return await _refuse(websocket, NOT_FOUND, "not_found", f"No session {session_id}.")
            if participant is None:
                return await _refuse(websocket, UNAUTHORIZED, "unauthorized", "Open your join link first.")
            actor = actor_in(participant, session)
            if actor is None:
                return await _refuse(websocket, FORBIDDEN, "forbidden", "You are not invited to this session.")
            connection = Connection(actor, settings.send_queue_size)
            # Join before reading, so nothing published meanwhile is missed;
            # the writer drops what the snapshot or replay already covers.
            tribune.hub.join(connection)
            now = tribune.service.clock()
            seq = session.last_seq
            if last_seq is not None and 0 <= seq - last_seq <= settings.replay_limit:
                initial = await missed_events(db, session_id, last_seq, None, actor)
                initial.append(resumed(seq, now, len(initial)))
            else:
                initial = [await snapshot(db, session, actor, now)]
        for text in initial:
            await websocket.send_text(text)
        connection.last_seq = seq
        await _run(websocket, tribune, connection)
    except WebSocketDisconnect:
        pass
    finally:
        if connection is not None:
            tribune.hub.leave(connection)


async def _run(websocket: WebSocket, tribune, connection: Connection) -> None:
    async def missed(after: int, before: int) -> list[str]:
        async with tribune.sessionmaker() as db, db.begin():
            return await missed_events(db, connection.actor.session_id, after, before, connection.actor)

    writer = asyncio.create_task(connection.write_loop(websocket.send_text, missed))
    reader = asyncio.create_task(_read_loop(websocket, tribune, connection))
    connection.on_overflow = writer.cancel
    done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if connection.is_too_slow:
        await _close(websocket, SLOW_CLIENT, "too slow: reconnect with last_seq")
        return
    for task in done:
        if not task.cancelled() and task.exception() and not isinstance(task.exception(), WebSocketDisconnect):
            log.error("connection failed", exc_info=task.exception())
            await _close(websocket, 1011, "server error")


async def _read_loop(websocket: WebSocket, tribune, connection: Connection) -> None:
    settings = tribune.settings
    bucket = TokenBucket(settings.commands_per_second, settings.command_burst)
    strikes = 0
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            connection.reply(error_message("unsupported", "Binary frames are not accepted on this socket."))
            continue
        if len(text.encode()) > settings.max_message_bytes:
            connection.reply(
                error_message("too_large", f"A message may be at most {settings.max_message_bytes} bytes.")
            )
            continue
        if not bucket.take():
            strikes += 1
            if strikes >= FLOOD_STRIKES:
                await _close(websocket, FLOODING, "too many messages")
                return
            connection.reply(error_message("rate_limited", "Too many messages; slow down."))
            continue
        strikes = 0
        connection.reply(await _handle(text, tribune, connection))


async def _handle(text: str, tribune, connection: Connection) -> str:
    try:
        command = protocol.parse_command(text)
    except protocol.BadCommand as bad:
        return error_message(bad.code, bad.message, bad.command_id)
    if command.type == "ping":
        return _dump({"type": "pong", "id": command.id, "server_time": _now_iso(tribune)})
    try:
        # Shielded: a client that hangs up mid-command must not cut the
        # command between its commit and its publication.
        seq = await asyncio.shield(tribune.service.execute(connection.actor, command))
    except Refused as refused:
        return error_message(refused.code, refused.message, command.id)
    except Exception:
        log.exception("command %s failed", command.type)
        return error_message("server_error", "The command could not be applied; nothing changed.", command.id)
    return _dump({"type": "ack", "id": command.id, "seq": seq})


def _now_iso(tribune) -> str:
    return iso(tribune.service.clock())


async def _refuse(websocket: WebSocket, close_code: int, code: str, message: str) -> None:
    await websocket.send_text(error_message(code, message))
    await _close(websocket, close_code, message[:100])


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code=code, reason=reason)
    except (RuntimeError, WebSocketDisconnect):
        pass  # already closed by the other side


def _int_or_none(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 12:
        return None
    return int(value)
