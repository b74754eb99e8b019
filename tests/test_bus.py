"""The bus contract, run against every backend: memory and a real Redis."""

import asyncio

import pytest

from server.bus import Bus, BusUnavailable, create_bus
from tests.conftest import eventually, private_redis


class Inbox:
    def __init__(self, bus: Bus):
        self.items: list[tuple[str, bytes]] = []
        bus.set_receiver(lambda topic, data: self.items.append((topic, data)))


async def test_a_process_hears_only_the_topics_it_subscribed_to(bus_url):
    sender, listener = create_bus(bus_url), create_bus(bus_url)
    inbox = Inbox(listener)
    await sender.start()
    await listener.start()
    try:
        await listener.subscribe("session.42")
        payload = '{"note":"Señora Présidente, \\n مرحبا"}'.encode() + b"\x00\xff binary is fine"
        await sender.publish("session.7", b"not for us")
        await sender.publish("session.42", payload)
        if bus_url == "memory://":
            # Two in-process buses are two islands: only the same one delivers.
            assert inbox.items == []
            return
        await eventually(lambda: inbox.items == [("session.42", payload)])
        await listener.unsubscribe("session.42")
        await listener.subscribe("session.43")
        await sender.publish("session.42", b"after leaving")
        # One publisher's messages arrive in order: once the marker is here,
        # anything for the topic left would have arrived before it.
        await sender.publish("session.43", b"marker")
        await eventually(lambda: inbox.items[-1] == ("session.43", b"marker"))
        assert inbox.items == [("session.42", payload), ("session.43", b"marker")]
    finally:
        await sender.stop()
        await listener.stop()


async def test_a_bus_delivers_its_own_messages_once(bus_url):
    bus, other = create_bus(bus_url), create_bus(bus_url)
    inbox = Inbox(bus)
    await bus.start()
    await other.start()
    try:
        await bus.subscribe("session.1")
        await bus.publish("session.1", b"x")
        assert inbox.items == [("session.1", b"x")]  # at once, without a round trip
        if bus_url == "memory://":
            return
        # Published after ours reached Redis, so it arrives after our copy would.
        await other.publish("session.1", b"y")
        await eventually(lambda: inbox.items[-1] == ("session.1", b"y"))
        assert inbox.items == [("session.1", b"x"), ("session.1", b"y")]  # ours not again
    finally:
        await bus.stop()
        await other.stop()


async def test_redis_down_then_back_resubscribes_and_says_so():
    async with private_redis() as redis:
        sender, listener = create_bus(redis.url), create_bus(redis.url)
        inbox = Inbox(listener)
        reconnected = asyncio.Event()
        listener.on_reconnect = reconnected.set
        await sender.start()
        await listener.start()
        try:
            await listener.subscribe("session.1")
            await sender.publish("session.1", b"before")
            await eventually(lambda: inbox.items == [("session.1", b"before")])
            await redis.stop()
            with pytest.raises(BusUnavailable):
                await sender.publish("session.1", b"lost")
            await redis.start()
            await asyncio.wait_for(reconnected.wait(), 10)
            await sender.publish("session.1", b"after")
            await eventually(lambda: inbox.items[-1] == ("session.1", b"after"))
        finally:
            await sender.stop()
            await listener.stop()


def test_unknown_bus_url_is_refused():
    with pytest.raises(ValueError, match="memory://"):
        create_bus("kafka://nope")
