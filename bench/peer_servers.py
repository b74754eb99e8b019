"""The peers bench/fanout.py puts beside Tribune, each run in its own process.

    python bench/peer_servers.py websockets PORT   # the ceiling: websockets' broadcast()
    python bench/peer_servers.py socketio PORT     # a python-socketio room under uvicorn

Both do what Tribune's fan-out does minus the meeting: a sender's message
goes to every listener, and the sender gets an ack once it has been handed
to every connection. Listeners connect at any path (Socket.IO: its own
``/socket.io/``); the sender connects at ``/send`` (Socket.IO: with
``role=sender`` in the query), so it is not a listener.

The ceiling runs as `tribune serve` does: compression off (browsers offer
it) and uvloop when installed. The Socket.IO room runs as people deploy it:
an ASGI app under uvicorn with its defaults (which accept the browser's
per-message deflate offer).
"""

from __future__ import annotations

import asyncio
import sys

HELLO = '{"type":"hello"}'
ACK = '{"type":"ack"}'
ROOM = "session"


def run_ceiling(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    listeners: set = set()

    async def handler(ws) -> None:
        if ws.request.path == "/send":
            async for message in ws:
                broadcast(listeners, message)
                await ws.send(ACK)
            return
        listeners.add(ws)
        try:
            await ws.send(HELLO)
            await ws.wait_closed()
        finally:
            listeners.discard(ws)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, max_size=2**22, compression=None, backlog=2048):
            await asyncio.Future()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def run_socketio(port: int) -> None:
    import socketio
    import uvicorn

    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")

    @sio.event
    async def connect(sid, environ, auth=None):
        if "role=sender" not in environ.get("QUERY_STRING", ""):
            await sio.enter_room(sid, ROOM)

    @sio.on("floor")
    async def floor(sid, data):
        await sio.emit("floor", data, room=ROOM)
        return "ok"

    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning", backlog=2048)


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    {"websockets": run_ceiling, "socketio": run_socketio}[kind](port)
