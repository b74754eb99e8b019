"""Attendance (server/attendance.py): every socket is a stay, written in
batches; overlapping stays count once; a dead process's stays end where it
was last seen. Real sockets on a real server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from server import models
from server.attendance import LEASE, Stay, attended, connected_now, stays_of

T0 = datetime(2023, 11, 20, 9, 0, tzinfo=UTC)


def test_overlapping_stays_count_once():
    stays = [
        Stay(1, T0, T0 + timedelta(minutes=30)),
        Stay(1, T0 + timedelta(minutes=10), T0 + timedelta(minutes=40)),  # a second tab
        Stay(1, T0 + timedelta(minutes=60), T0 + timedelta(minutes=70)),  # back after a break
        Stay(2, T0, T0 + timedelta(minutes=5)),
    ]
    by_person = {a.participant_id: a for a in attended(stays)}
    assert by_person[1].seconds == 50 * 60
    assert (by_person[1].first_join, by_person[1].last_leave) == (T0, T0 + timedelta(minutes=70))
    assert by_person[2].seconds == 5 * 60


async def test_a_stay_whose_process_died_ends_where_it_was_last_seen(db, world):
    now = T0 + timedelta(hours=2)
    async with db() as s, s.begin():
        s.add_all(
            [
                models.Attendance(
                    session_id=world.session_id,
                    participant_id=world.participants["peru"],
                    joined_at=T0,
                    connection="dead",
                    seen_at=T0 + timedelta(minutes=20),
                ),
                models.Attendance(
                    session_id=world.session_id,
                    participant_id=world.participants["france"],
                    joined_at=now - timedelta(minutes=3),
                    connection="alive",
                    seen_at=now - LEASE / 2,
                ),
            ]
        )
    async with db() as s:
        stays = (await stays_of(s, [world.session_id], now))[world.session_id]
        online = await connected_now(s, [world.session_id], now)
    ends = {stay.participant_id: stay.left_at for stay in stays}
    assert ends[world.participants["peru"]] == T0 + timedelta(minutes=20)
    assert ends[world.participants["france"]] == now
    assert online == {world.session_id: {world.participants["france"]}}


async def test_real_sockets_make_one_stay_each_and_close_it(server, world, db, connect):
    first = await connect("peru")
    second = await connect("peru")
    chair = await connect("chair")

    async def rows():
        async with db() as s:
            return (await s.scalars(select(models.Attendance).order_by(models.Attendance.id))).all()

    await until(lambda: _count(rows, 3))
    async with db() as s:
        online = await connected_now(s, [world.session_id], datetime.now(UTC))
    assert online[world.session_id] == {world.participants["peru"], world.participants["chair"]}
    await first.close()
    await second.close()

    async def closed() -> bool:
        return sum(1 for row in await rows() if row.left_at is not None) == 2

    await until(closed)
    async with db() as s:
        stays = (await stays_of(s, [world.session_id], datetime.now(UTC)))[world.session_id]
    peru = [a for a in attended(stays) if a.participant_id == world.participants["peru"]]
    assert len(peru) == 1 and 0 <= peru[0].seconds < 60
    await chair.close()


async def _count(rows, n: int) -> bool:
    return len(await rows()) == n


async def until(condition, timeout: float = 10.0) -> None:
    """Wait for an async condition to hold (the stays are written once a second)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.05)
