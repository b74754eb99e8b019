"""The bus between server processes: topics of bytes, in process or over Redis.

A process subscribes to a topic (one per session, later one per media
channel) when its first local listener arrives and unsubscribes when the
last leaves, so it hears only what its clients need. Delivery is
at-most-once: the database is the truth, and whoever reads the bus fills
gaps from the event log (see server.hub).

The interface is small on purpose (encode/broadcaster): start, stop,
subscribe, unsubscribe, publish, and one receiver. A backend can be picked
from a URL or injected.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# Seconds a subscription waits for Redis to confirm it before going on regardless.
SUBSCRIBE_WAIT = 2.0

Receiver = Callable[[str, bytes], None]


class BusUnavailable(Exception):
    """A publish that did not reach the other processes."""


class Bus:
    # Whether other processes may be on it (what only they need is not sent otherwise).
    shared = False

    def __init__(self) -> None:
        self._receiver: Receiver = lambda topic, data: None
        self.topics: set[str] = set()
        # Called after the backend lost its link and got it back: messages
        # may have been lost meanwhile, so listeners should check the log.
        self.on_reconnect: Callable[[], None] = lambda: None

    def set_receiver(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def _dispatch(self, topic: str, data: bytes) -> None:
        if topic not in self.topics:
            return
        try:
            self._receiver(topic, data)
        except Exception:  # a faulty receiver must not stop the bus
            log.exception("bus receiver failed on %s", topic)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def subscribe(self, topic: str) -> None:
        self.topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self.topics.discard(topic)

    async def publish(self, topic: str, data: bytes) -> None:
        """Deliver to this process's subscribers, then to the others."""
        raise NotImplementedError


class MemoryBus(Bus):
    """One process: publishing is delivering."""

    async def publish(self, topic: str, data: bytes) -> None:
        self._dispatch(topic, data)


class RedisBus(Bus):
    """Many processes: Redis pub/sub, one channel per topic.

    This process's own messages are delivered to it directly when published
    (they do not wait for a Redis round trip, and still arrive when Redis is
    down); copies coming back from Redis are recognised by an origin tag and
    skipped."""

    PREFIX = b"tribune:"
    shared = True

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._client = redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._listener_client = redis.from_url(url, socket_connect_timeout=2)
        self._pubsub: Any = None
        self._origin = os.urandom(8)
        self._listener: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._needs_sync = False
        # Channel -> resolved when Redis confirms the subscription (see subscribe).
        self._confirmations: dict[bytes, asyncio.Future[None]] = {}

    async def start(self) -> None:
        self._pubsub = self._listener_client.pubsub()
        self._listener = asyncio.create_task(self._listen(), name="redis-bus-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._client.aclose()
        await self._listener_client.aclose()

    def _channel(self, topic: str) -> bytes:
        return self.PREFIX + topic.encode()

    async def subscribe(self, topic: str) -> None:
        """Returns once Redis confirms (or after a moment, if it does not): what
        is published on the topic after that reaches this process. Before, a
        socket's first events could pass while the subscription was on its way,
        and wait for the next heartbeat."""
        self.topics.add(topic)
        channel = self._channel(topic)
        confirmed = self._confirmations.setdefault(channel, asyncio.get_running_loop().create_future())
        try:
            await self._pubsub.subscribe(channel)
        except Exception as error:  # Redis down: the listener subscribes when it is back
            log.warning("redis bus: cannot subscribe to %s now (%s)", topic, error)
            self._needs_sync = True
            self._confirmations.pop(channel, None)
            self._wake.set()
            return
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_WAIT)
        except TimeoutError:
            log.warning("redis bus: no confirmation of %s yet", topic)
        finally:
            if self._confirmations.get(channel) is confirmed:
                del self._confirmations[channel]

    async def unsubscribe(self, topic: str) -> None:
        self.topics.discard(topic)
        try:
            await self._pubsub.unsubscribe(self._channel(topic))
        except Exception:
            self._needs_sync = True

    async def publish(self, topic: str, data: bytes) -> None:
        self._dispatch(topic, data)
        try:
            await self._client.publish(self._channel(topic), self._origin + data)
        except Exception as error:
            raise BusUnavailable(str(error)) from error

    async def _sync_subscriptions(self) -> None:
        wanted = {self._channel(topic) for topic in self.topics}
        held = {bytes(channel) for channel in self._pubsub.channels}
        if wanted - held:
            await self._pubsub.subscribe(*(wanted - held))
        if held - wanted:
            await self._pubsub.unsubscribe(*(held - wanted))
        self._needs_sync = False

    async def _listen(self) -> None:
        delay = 0.1
        broken = False
        while True:
            try:
                if not self.topics:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if self._needs_sync or broken or not self._pubsub.subscribed:
                    await self._sync_subscriptions()
                message = await self._pubsub.get_message(timeout=1.0)
                if broken:
                    broken, delay = False, 0.1
                    log.warning("redis bus: reconnected")
                    self.on_reconnect()
                if message is None:
                    continue
                if message.get("type") == "message":
                    self._receive(bytes(message["channel"]), bytes(message["data"]))
                elif message.get("type") == "subscribe":
                    confirmed = self._confirmations.get(bytes(message["channel"]))
                    if confirmed is not None and not confirmed.done():
                        confirmed.set_result(None)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # Messages in flight are lost; the hub fills gaps from the event
                # log at the next event, heartbeat or reconnection.
                if not broken:
                    log.warning("redis bus: link lost (%s); retrying", error)
                broken = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _receive(self, channel: bytes, data: bytes) -> None:
        if data[:8] == self._origin:
            return  # our own, already delivered when published
        self._dispatch(channel[len(self.PREFIX) :].decode(), data[8:])


def create_bus(url: str) -> Bus:
    if url.startswith("memory://"):
        return MemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url)
    raise ValueError(f"Unknown bus URL {url!r}: use memory:// or redis://host:port/db")
