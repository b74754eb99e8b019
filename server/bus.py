"""The bus between server processes: in-process memory or Redis, picked by URL.

A message is one session event already encoded for clients, with a short
header so receivers route it without decoding the JSON again. Delivery is
at-most-once; a receiver that notices a gap in ``seq`` reads the event log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "tribune.session."


@dataclass(frozen=True, slots=True)
class BusMessage:
    session_id: int
    seq: int
    audience: str
    payload: str

    def encode(self) -> str:
        return f"{self.seq} {self.audience}\n{self.payload}"

    @classmethod
    def decode(cls, session_id: int, raw: str) -> "BusMessage":
        header, payload = raw.split("\n", 1)
        seq, audience = header.split(" ", 1)
        return cls(session_id, int(seq), audience, payload)


Receiver = Callable[[BusMessage], None]


class Bus:
    """Publish session events; every receiver in every process gets them."""

    def __init__(self) -> None:
        self._receivers: list[Receiver] = []

    def add_receiver(self, receiver: Receiver) -> None:
        self._receivers.append(receiver)

    def _dispatch(self, message: BusMessage) -> None:
        for receiver in self._receivers:
            try:
                receiver(message)
            except Exception:  # one faulty receiver must not starve the others
                log.exception("bus receiver failed")

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, session_id: int, seq: int, audience: str, payload: str) -> None:
        raise NotImplementedError


class MemoryBus(Bus):
    """One process: publishing is delivering."""

    async def publish(self, session_id: int, seq: int, audience: str, payload: str) -> None:
        self._dispatch(BusMessage(session_id, seq, audience, payload))


class RedisBus(Bus):
    """Many processes: Redis pub/sub on one channel per session."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True)
        self._pubsub = None
        self._listener: asyncio.Task | None = None

    async def start(self) -> None:
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(CHANNEL_PREFIX + "*")
        self._listener = asyncio.create_task(self._listen(), name="redis-bus-listener")

    async def _listen(self) -> None:
        while True:
            try:
                async for item in self._pubsub.listen():
                    if item.get("type") != "pmessage":
                        continue
                    session_id = int(item["channel"][len(CHANNEL_PREFIX):])
                    self._dispatch(BusMessage.decode(session_id, item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                # A lost Redis connection loses messages in flight; clients
                # fill the gap from the event log when the next seq arrives.
                log.exception("redis bus listener failed; reconnecting")
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            try:
                await self._listener
            except asyncio.CancelledError:
                pass
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()

    async def publish(self, session_id: int, seq: int, audience: str, payload: str) -> None:
        message = BusMessage(session_id, seq, audience, payload)
        await self._redis.publish(f"{CHANNEL_PREFIX}{session_id}", message.encode())


def create_bus(url: str) -> Bus:
    if url.startswith("memory://"):
        return MemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url)
    raise ValueError(f"Unknown bus URL {url!r}: use memory:// or redis://host:port/db")
