"""The live WebSocket: one per participant per session at /ws/sessions/{id}."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from rooms.errors import Refused
from rooms.floor_views import iso
from server import event_log, protocol
from server.auth import COOKIE, actor_in, participant_by_token
from server.close_codes import FLOODING, FORBIDDEN, NOT_FOUND, ROLES_CHANGED, SLOW_CLIENT, UNAUTHORIZED
from server.event_log import dump
from server.hub import Connection
from server.kernel import AccessLost, RolesChanged
from server.security import origin_allowed
from server.snapshot import lock_session_for_read, resumed, snapshot

if TYPE_CHECKING:
    from server.app import Tribune

log = logging.getLogger(__name__)

# After this many frames in a row refused for flooding, the socket is closed.
FLOOD_STRIKES = 50


def error_message(code: str, message: str, command_id: str | int | None = None) -> str:
    return dump({"type": "error", "id": command_id, "code": code, "message": message})


async def session_socket(websocket: WebSocket) -> None:
    tribune: Tribune = websocket.app.state.tribune
    settings = tribune.settings
    origin, host = websocket.headers.get("origin"), websocket.headers.get("host")
    if not origin_allowed(origin, host, websocket.url.scheme, settings.allowed_origins, settings.base_url):
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    session_id = websocket.path_params["session_id"]
    token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE)
    last_seq = _int_or_none(websocket.query_params.get("last_seq"))

    await websocket.accept()
    connection: Connection | None = None
    presence_key: str | None = None
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
            room = await tribune.hub.join(connection)
            now = tribune.kernel.clock()
            seq = session.last_seq
            initial = None
            if last_seq is not None:
                initial = await event_log.replay(
                    db, session, actor, last_seq, settings.replay_limit, settings.replay_limit_bytes
                )
            if initial is None:
                initial = [await snapshot(db, session, actor, tribune.registry, now)]
            else:
                initial.append(resumed(seq, now, len(initial)))
        room.started_at(seq)
        presence_key = await tribune.presence.arrive(actor)
        for text in initial:
            await websocket.send_text(text)
        connection.last_seq = seq
        await _run(websocket, tribune, connection)
    except WebSocketDisconnect:
        pass
    finally:
        if connection is not None:
            await tribune.hub.leave(connection)
        if presence_key is not None:
            await tribune.presence.leave(presence_key)


async def _run(websocket: WebSocket, tribune: Tribune, connection: Connection) -> None:
    async def missed(after: int, before: int) -> list[str]:
        async with tribune.sessionmaker() as db:
            events = await event_log.read(db, connection.actor.session_id, after, before - 1)
        return [event.payload for event in events if event.recipients.includes(connection.actor)]

    writer = asyncio.create_task(connection.write_loop(websocket.send_text, missed))
    reader = asyncio.create_task(_read_loop(websocket, tribune, connection))
    connection.on_overflow = lambda: None if writer.cancel() else None
    done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    if reader in done and writer in pending and not reader.cancelled() and isinstance(reader.exception(), Closing):
        # Send the last replies (the reason for closing) before the close frame.
        connection.end()
        await asyncio.wait({writer}, timeout=2)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if connection.revoked is not None:
        await tribune.hub.leave(connection)
        reason = "your roles changed: reconnect" if connection.revoked == ROLES_CHANGED else "no longer invited"
        await _close(websocket, connection.revoked, reason)
        return
    if connection.is_too_slow:
        # Out of the fan-out at once: the close frame itself may wait until
        # the client reads again (or the keepalive gives up on it).
        await tribune.hub.leave(connection)
        await _close(websocket, SLOW_CLIENT, "too slow: reconnect with last_seq")
        return
    for task in done:
        if task.cancelled():
            continue
        error = task.exception()
        if isinstance(error, Closing):
            await _close(websocket, error.code, error.reason)
        elif error is not None and not _is_hang_up(error):
            log.error("connection failed", exc_info=error)
            await _close(websocket, 1011, "server error")


class Closing(Exception):
    """End this socket with an application close code (not a failure)."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _is_hang_up(error: BaseException) -> bool:
    # The other side went away while we were sending: nothing to report.
    return isinstance(error, (WebSocketDisconnect, ConnectionError, RuntimeError)) or type(error).__name__ in (
        "ClientDisconnected",
        "ConnectionClosed",
    )


async def _read_loop(websocket: WebSocket, tribune: Tribune, connection: Connection) -> None:
    settings = tribune.settings
    # Every frame counts, whatever it holds, and the bucket outlives the socket.
    bucket = tribune.floods.bucket(connection.actor.participant_id)
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if not bucket.take():
            if bucket.strikes >= FLOOD_STRIKES:
                raise Closing(FLOODING, "too many messages")
            connection.reply(error_message("rate_limited", "Too many messages; slow down."))
            continue
        text = message.get("text")
        if text is None:
            connection.reply(error_message("unsupported", "Binary frames are not accepted on this socket."))
            continue
        if len(text) > settings.max_message_bytes or len(text.encode("utf-8", "replace")) > settings.max_message_bytes:
            connection.reply(
                error_message("too_large", f"A message may be at most {settings.max_message_bytes} bytes.")
            )
            continue
        connection.reply(await _handle(text, tribune, connection))


async def _handle(text: str, tribune: Tribune, connection: Connection) -> str:
    try:
        command = tribune.parser.parse(text)
    except protocol.BadCommand as bad:
        return error_message(bad.code, bad.message, bad.command_id)
    if isinstance(command, protocol.Ping):
        return dump({"type": "pong", "id": command.id, "server_time": _now_iso(tribune)})
    try:
        # Shielded: a client that hangs up mid-command must not cut the
        # command between its commit and its publication.
        executed = await asyncio.shield(tribune.kernel.execute(connection.actor, command))
    except AccessLost as lost:
        connection.reply(error_message(lost.code, lost.message, command.id))
        raise Closing(FORBIDDEN, "no longer invited to this session") from None
    except RolesChanged as changed:
        connection.reply(error_message(changed.code, changed.message, command.id))
        raise Closing(ROLES_CHANGED, "your roles changed: reconnect") from None
    except Refused as refused:
        return error_message(refused.code, refused.message, command.id)
    except Exception:
        log.exception("command %s failed", command.type)
        return error_message("server_error", "The command could not be applied; nothing changed.", command.id)
    if executed.actor != connection.actor:
        # Roles changed since the socket opened: what this person may see and
        # do is read again with a fresh snapshot.
        connection.reply(dump({"type": "ack", "id": command.id, "seq": executed.seq}))
        raise Closing(ROLES_CHANGED, "your roles changed: reconnect")
    return dump({"type": "ack", "id": command.id, "seq": executed.seq})


def _now_iso(tribune: Tribune) -> str:
    return iso(tribune.kernel.clock()) or ""


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
