"""Bus backends, one fixture over memory and Redis."""

import asyncio

import pytest

from server.bus import BusMessage, create_bus


async def test_every_process_receives_what_one_publishes(bus_url):
    sender, listener = create_bus(bus_url), create_bus(bus_url)
    received: list[BusMessage] = []
    listener.add_receiver(received.append)
    await sender.start()
    await listener.start()
    try:
        payload = '{"type":"floor_given","seq":7,"note":"Señora Présidente, \\n مرحبا"}'
        await sender.publish(42, 7, "all", payload)
        await sender.publish(42, 8, "moderators", "{}")
        for _ in range(200):
            if len(received) == 2:
                break
            await asyncio.sleep(0.01)
        if bus_url == "memory://":
            # Two in-process buses are two islands: only the same one delivers.
            assert received == []
            return
        assert received == [BusMessage(42, 7, "all", payload), BusMessage(42, 8, "moderators", "{}")]
    finally:
        await sender.stop()
        await listener.stop()


async def test_a_bus_delivers_to_its_own_receivers(bus_url):
    bus = create_bus(bus_url)
    received: list[BusMessage] = []
    bus.add_receiver(received.append)
    await bus.start()
    try:
        await bus.publish(1, 1, "participant:3", "x")
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.01)
        assert received == [BusMessage(1, 1, "participant:3", "x")]
    finally:
        await bus.stop()


def test_unknown_bus_url_is_refused():
    with pytest.raises(ValueError, match="memory://"):
        create_bus("kafka://nope")
