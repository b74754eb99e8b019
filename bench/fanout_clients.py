"""Listeners for bench/fanout.py, in a process of their own.

bench/fanout.py starts a few of these so that the clients are not the
bottleneck, and talks to each through its stdin and stdout, one JSON object
per line: ``{"op": NAME, ...arguments}`` in, the result out. Every listener
notes the key of each event it receives (Tribune: the ``seq``; the peers:
the ``seq`` the sender put in) with the time, on the machine's monotonic
clock, which the sender shares; latencies are computed at the end of a
phase, when bench/fanout.py sends the time each key was sent.

Also the wire of each server, which the sender in bench/fanout.py uses too:
the first message a listener waits for, and which frames are events.

A listener opens its socket with the websockets library, as a browser does
(per-message deflate offered), and reads its first message with it; from
then on each message is handled where the library parses it
(``Listening.process_event``), with no task woken per message. With a task
per listener, as ``recv()`` has, the clients spent 20-30 µs of CPU a
delivery on two cores they share with the server, and so decided the figures
they were meant to measure.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import json
import socket
import struct
import sys
import termios
import time
from array import array
from dataclasses import dataclass, field

from common import browser_connect, negotiated, own_cpu_seconds
from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode

# Messages of Tribune's that are not events of the session.
NOT_EVENTS = frozenset({"snapshot", "heartbeat", "resumed", "ack", "error", "pong"})
# struct tcp_info (linux/tcp.h): tcpi_state is its first byte, tcpi_bytes_received a u64 at 128.
TCP_INFO_SIZE = 256
BYTES_RECEIVED_OFFSET = 128


async def first_message(kind: str, ws) -> None:
    """Wait for what tells a listener it is in: Tribune's snapshot, the
    ceiling's hello, Socket.IO's answer to joining the namespace."""
    if kind == "socketio":
        opened = await ws.recv()
        if not opened.startswith("0"):
            raise RuntimeError(f"no Engine.IO open packet: {opened[:80]!r}")
        await ws.send("40")
        while not (await ws.recv()).startswith("40"):
            pass
    else:
        await ws.recv()


def event_key(kind: str, message: str) -> int | None:
    """The key of an event frame, None for any other frame."""
    if kind == "socketio":
        if not message.startswith("42"):
            return None
        return json.loads(message[2:])[1]["seq"]
    decoded = json.loads(message)
    if kind == "tribune" and decoded.get("type") in NOT_EVENTS:
        return None
    return decoded.get("seq")


def unread_bytes(ws) -> int:
    """Bytes in this socket's receive queue that the listener has not read yet."""
    sock = ws.transport.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0


# How often the listeners' unread bytes are sampled during a phase.
UNREAD_EVERY_S = 0.2


def bytes_received(ws) -> int:
    """Bytes this socket has received from the wire (frames, headers and all)."""
    sock = ws.transport.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
    except OSError:
        return 0
    return struct.unpack_from("Q", info, BYTES_RECEIVED_OFFSET)[0]


class Listening(ClientConnection):
    """A client connection that hands each whole message to ``on_message``
    once ``listen`` is called, and says when it is closed (``on_closed``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.on_message = None
        self.on_closed = lambda: None
        self._fragments: list[bytes] = []

    def listen(self, on_message, on_closed) -> None:
        self.on_message, self.on_closed = on_message, on_closed

    def process_event(self, event) -> None:
        if self.on_message is None or not isinstance(event, Frame):
            return super().process_event(event)
        if event.opcode is Opcode.TEXT or event.opcode is Opcode.CONT:
            self._fragments.append(bytes(event.data))
            if event.fin:
                text = b"".join(self._fragments).decode()
                self._fragments.clear()
                self.on_message(text)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.on_closed()


@dataclass(eq=False)
class Listener:
    ws: Listening
    is_slow: bool
    last_key: int = -1
    is_open: bool = True
    close_code: int | None = None
    bytes_at_start: int = 0
    bytes_at_close: int | None = None


@dataclass
class Pool:
    """This process's listeners, all on one server kind."""

    kind: str = ""
    listeners: list[Listener] = field(default_factory=list)
    # Each event received: its key and when, in arrays rather than a list of
    # tuples, which the collector walked through every second or two (20-50 ms
    # pauses that showed as latency of whichever server was measured).
    keys: array = field(default_factory=lambda: array("q"))
    times: array = field(default_factory=lambda: array("d"))
    event_sizes: list[int] = field(default_factory=list)
    is_recording: bool = False
    is_stalled: bool = False
    cpu_at_start: float = 0.0
    started_at: float = 0.0
    counted_at_start: int = 0
    closed_before: set[int] = field(default_factory=set)
    stalled: list[Listener] = field(default_factory=list)
    # The most bytes that waited unread in a listener's socket, on average
    # over the listeners, at one sample of the phase, and the sampling task.
    unread_max: float = 0.0
    sampling: asyncio.Task | None = None

    async def connect(self, kind: str, urls: list[str], slow: list[int], concurrency: int = 64) -> dict:
        """Connect one listener per URL, each waiting for its first message;
        the ``slow`` ones (indices) get a small receive buffer and queue, so
        that when they stop reading the server's bound, not ours, decides."""
        self.kind = kind
        gate = asyncio.Semaphore(concurrency)
        slow_set = set(slow)
        errors: list[str] = []
        started = time.monotonic()
        cpu_at_start = own_cpu_seconds()

        async def one(index: int, url: str) -> tuple[Listener | None, float]:
            async with gate:
                try:
                    options: dict = {"open_timeout": 60, "create_connection": Listening}
                    if index in slow_set:
                        sock = socket.socket()
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                        sock.setblocking(False)
                        port = int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
                        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
                        options.update(sock=sock, max_queue=2)
                    ws = await browser_connect(url, **options)
                    await asyncio.wait_for(first_message(kind, ws), 60)
                    return Listener(ws, index in slow_set), time.monotonic() - started
                except Exception as error:  # reported, the run goes on
                    errors.append(f"{type(error).__name__}: {error}".split(";")[0][:120])
                    return None, time.monotonic() - started

        results = await asyncio.gather(*(one(i, url) for i, url in enumerate(urls)))
        self.listeners = [listener for listener, _ in results if listener is not None]
        for listener in self.listeners:
            listener.ws.listen(functools.partial(self._received, listener), functools.partial(self._closed, listener))
        return {
            "connected": len(self.listeners),
            "failed": len(urls) - len(self.listeners),
            "failed_with": errors[:1],
            "first_message_s": max((t for _, t in results), default=0.0),
            # This process's CPU while connecting, and over how long: were the clients the bottleneck?
            "cpu_s": own_cpu_seconds() - cpu_at_start,
            "elapsed_s": time.monotonic() - started,
            "handshake": negotiated(self.listeners[0].ws) if self.listeners else "",
        }

    def _received(self, listener: Listener, message: str) -> None:
        now = time.monotonic()
        kind = self.kind
        if kind == "socketio" and message == "2":
            # Engine.IO's ping: a live client answers (unless it is closed meanwhile).
            answer = asyncio.ensure_future(listener.ws.send("3"))
            answer.add_done_callback(lambda done: done.cancelled() or done.exception())
            return
        key = event_key(kind, message)
        if key is None:
            return
        listener.last_key = key
        if self.is_recording and not (listener.is_slow and self.is_stalled):
            self.keys.append(key)
            self.times.append(now)
            if len(self.event_sizes) < 200:
                self.event_sizes.append(len(message.encode()))

    def _closed(self, listener: Listener) -> None:
        if listener.is_open:
            listener.is_open = False
            listener.close_code = listener.ws.close_code
            listener.bytes_at_close = bytes_received(listener.ws)

    def _counted(self) -> list[Listener]:
        """The listeners whose deliveries count: open, and not stopped on purpose."""
        return [
            listener for listener in self.listeners if listener.is_open and not (listener.is_slow and self.is_stalled)
        ]

    async def start(self) -> dict:
        del self.keys[:], self.times[:]
        self.event_sizes.clear()
        for listener in self.listeners:
            listener.bytes_at_start = bytes_received(listener.ws) if listener.is_open else 0
        self.cpu_at_start, self.started_at = own_cpu_seconds(), time.monotonic()
        self.counted_at_start = len(self._counted())
        self.closed_before = {id(listener) for listener in self.listeners if not listener.is_open}
        self.is_recording = True
        self.unread_max = 0.0
        self.sampling = asyncio.create_task(self._sample_unread())
        closed: dict[str, int] = {}
        for listener in self.listeners:
            if not listener.is_open:
                closed[str(listener.close_code)] = closed.get(str(listener.close_code), 0) + 1
        return {"listeners": self.counted_at_start, "closed": closed}

    async def _sample_unread(self) -> None:
        """What the server wrote and the listeners have not read yet: when
        they cannot keep up, it waits in their sockets, and latency grows
        with it whatever the server does."""
        while True:
            await asyncio.sleep(UNREAD_EVERY_S)
            counted = self._counted()
            if counted:
                mean = sum(unread_bytes(listener.ws) for listener in counted) / len(counted)
                self.unread_max = max(self.unread_max, mean)

    async def wait_for(self, key: int, timeout: float) -> dict:
        """Until every counted listener has had the event ``key`` (or the time is up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lagging = [listener for listener in self._counted() if listener.last_key < key]
            if not lagging:
                return {"lagging": 0}
            await asyncio.sleep(0.02)
        return {"lagging": len([listener for listener in self._counted() if listener.last_key < key])}

    async def collect(self, sent: list[tuple[int, float]]) -> dict:
        """The phase's latencies (ms) against the time each key was sent."""
        self.is_recording = False
        if self.sampling is not None:
            self.sampling.cancel()
            self.sampling = None
        cpu = own_cpu_seconds() - self.cpu_at_start
        elapsed = time.monotonic() - self.started_at
        sent_at = dict(sent)
        latencies = [round((now - sent_at[key]) * 1000, 3) for key, now in zip(self.keys, self.times) if key in sent_at]
        wire = 0
        for listener in self.listeners:
            if listener.is_slow and self.is_stalled:
                continue
            now = bytes_received(listener.ws) if listener.is_open else (listener.bytes_at_close or 0)
            wire += max(0, now - listener.bytes_at_start)
        closed: dict[str, int] = {}
        for listener in self.listeners:
            if not listener.is_open and not listener.is_slow and id(listener) not in self.closed_before:
                closed[str(listener.close_code)] = closed.get(str(listener.close_code), 0) + 1
        return {
            "latencies_ms": latencies,
            "expected": self.counted_at_start * len(sent_at),
            "last_received": max((now for key, now in zip(self.keys, self.times) if key in sent_at), default=0.0),
            "wire_bytes": wire,
            "event_sizes": self.event_sizes[:],
            "cpu_s": cpu,
            "elapsed_s": elapsed,
            "closed": closed,
            "unread_max": self.unread_max,
        }

    async def stall(self) -> dict:
        """The slow listeners stop reading; returns their (local, server) ports."""
        self.is_stalled = True
        self.stalled = [listener for listener in self.listeners if listener.is_slow and listener.is_open]
        transports = [listener.ws.transport for listener in self.stalled]
        for transport in transports:
            transport.pause_reading()  # unread bytes pile up in its small receive buffer, then the server's
        return {"ports": [[t.get_extra_info("sockname")[1], t.get_extra_info("peername")[1]] for t in transports]}

    async def resume(self, timeout: float) -> dict:
        """The slow listeners read again: each says how the server ended it, if it did."""
        slow = self.stalled
        for listener in slow:
            if listener.is_open:
                listener.ws.transport.resume_reading()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(listener.is_open for listener in slow):
            await asyncio.sleep(0.1)
        self.is_stalled = False
        # Those still open were never cut: from now on they are ordinary listeners.
        for listener in slow:
            listener.is_slow = not listener.is_open
        return {"codes": [None if listener.is_open else listener.close_code for listener in slow]}

    async def close(self) -> dict:
        async def one(listener: Listener) -> None:
            try:
                await asyncio.wait_for(listener.ws.close(), 5)
            except Exception:
                listener.ws.transport.abort()

        await asyncio.gather(*(one(listener) for listener in self.listeners if listener.is_open))
        self.listeners.clear()
        return {}


async def serve_requests() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**28)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pool = Pool()
    while line := await reader.readline():
        request = json.loads(line)
        operation = getattr(pool, request.pop("op"))
        try:
            result = await operation(**request)
        except Exception as error:
            result = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(serve_requests())
    except ImportError:
        asyncio.run(serve_requests())
