"""What a served socket keeps once it is open, through a real uvicorn server."""

from __future__ import annotations

import gc
import types

from websockets.http11 import Request

from server.live_socket import LiveSocket


def held_by_parser(socket: LiveSocket) -> list[object]:
    """What the socket's frame parser keeps alive: its generators' locals,
    down the chain of generators it is waiting in."""
    found: list[object] = []
    waiting: list[object] = [socket.ws.parser]
    seen: set[int] = set()
    while waiting:
        item = waiting.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, types.GeneratorType | types.FrameType):
            waiting.extend(gc.get_referents(item))
    return found


def live_sockets() -> list[LiveSocket]:
    # type(), not isinstance(): a dead weak proxy among the objects raises on isinstance.
    return [item for item in gc.get_objects() if type(item) is LiveSocket and not item.is_closed]


async def test_an_open_socket_keeps_neither_its_request_nor_its_join_token(connect, world):
    # The handshake's request (headers, path and join token) was kept for as
    # long as the socket lasted: 2.8 KiB of every idle connection.
    france = await connect("france")
    chair = await connect("chair")
    sockets = live_sockets()
    assert len(sockets) == 2
    for socket in sockets:
        held = held_by_parser(socket)
        assert not [item for item in held if isinstance(item, Request)]
        assert not [item for item in held if isinstance(item, str) and world.tokens["france"] in item]
        assert not [item for item in held if isinstance(item, str) and world.tokens["chair"] in item]

    # The parser it has now reads frames as the one before did, whole or in pieces.
    reply = await france.command("request_floor", kind="statement")
    assert reply["type"] == "ack"
    assert (await chair.next_event())["type"] == "floor_requested"
    long_note = "x" * 10_000  # a 16-bit length
    reply = await chair.command("ping", note=long_note)
    assert (reply["type"], reply["code"]) == ("error", "invalid")  # read whole: its id, its field named
