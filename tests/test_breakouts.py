"""Breakout groups (rooms/breakouts.py): rules, then the protocol on real sockets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import websockets
from sqlalchemy import select

from rooms.breakouts import Breakouts
from rooms.errors import Refused
from server import models

NOW = datetime(2019, 11, 26, 10, 0, tzinfo=UTC)


def test_groups_are_named_once_and_nobody_is_in_two():
    breakouts = Breakouts(1, [], None)
    with pytest.raises(Refused):
        breakouts.open([("Africa", {1}, None), ("Africa", {2}, None)], 600, NOW)
    with pytest.raises(Refused):
        breakouts.open([("Africa", {1, 2}, None), ("Americas", {2}, None)], 600, NOW)
    with pytest.raises(Refused):
        breakouts.open([("Africa", {1}, None)], 2, NOW)  # too short to be a meeting
    with pytest.raises(Refused):
        breakouts.open([("Africa", {1}, 2)], 600, NOW)  # the rapporteur is not a member
    groups = breakouts.open([("Africa", {1, 2}, 2), ("Americas", {3}, None)], 600, NOW)
    assert [g.name for g in groups] == ["Africa", "Americas"] and breakouts.ends_at == NOW + timedelta(minutes=10)
    with pytest.raises(Refused):
        breakouts.open([("Asia", {4}, None)], 600, NOW)  # they are meeting already
    assert not breakouts.is_due(NOW + timedelta(minutes=9)) and breakouts.is_due(NOW + timedelta(minutes=10))
    ended = breakouts.end(NOW)
    assert len(ended) == 2 and not breakouts.meeting
    with pytest.raises(Refused):
        breakouts.end(NOW)


def test_members_choose_only_when_the_chair_lets_them():
    breakouts = Breakouts(1, [], None)
    breakouts.open([("Africa", set(), None), ("Americas", set(), None)], 600, NOW)
    for number, group in enumerate(breakouts.groups, start=10):
        group.id = number
    with pytest.raises(Refused):
        breakouts.join(10, 5)
    breakouts.is_open_choice = True
    breakouts.join(10, 5)
    breakouts.join(11, 5)  # changes their mind: in one group only
    assert [g.members for g in breakouts.groups] == [set(), {5}]


async def _refused_at_once(server, session_id: int, token: str) -> int:
    socket = await websockets.connect(f"{server.ws_url}/ws/sessions/{session_id}?token={token}")
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await socket.recv()
    return closed.value.rcvd.code


async def test_split_speak_in_a_group_end_all_and_report_back(server, world, db, connect):
    chair = await connect("chair")
    peru = await connect("peru")
    d = world.delegations
    reply = await chair.command(
        "open_breakouts",
        seconds=600,
        groups=[
            {"name": "Latin America and the Caribbean", "delegation_ids": [d["pe"]]},
            {
                "name": "Western Europe and others",
                "delegation_ids": [d["fr"], d["us"]],
                "rapporteur_id": world.participants["france2"],
            },
            {"name": "Organisations", "delegation_ids": [d["icrc"], d["icbl"]]},
        ],
    )
    assert reply["type"] == "ack", reply
    opened = await peru.next_event("breakouts_opened")
    groups = {group["name"]: group for group in opened["data"]["groups"]}
    latin = groups["Latin America and the Caribbean"]
    assert world.participants["peru"] in latin["members"] and world.participants["presenter"] in latin["members"]

    # Peru speaks in its group; France may not enter it; the chair visits it.
    in_group = await connect("peru", session_id=latin["id"])
    assert in_group.first["type"] == "snapshot"
    assert (await in_group.command("request_floor", language="es"))["type"] == "ack"
    assert await _refused_at_once(server, latin["id"], world.tokens["france"]) == 4403
    visiting = await connect("chair", session_id=latin["id"])
    assert (await visiting.command("give_floor"))["type"] == "ack"

    # All groups end: everyone is told, the groups' pages go back, the rapporteurs report.
    assert (await chair.command("end_breakouts"))["type"] == "ack"
    ended = await peru.next_event("breakouts_ended")
    reports = {group["name"]: group["rapporteur_id"] for group in ended["data"]["groups"]}
    assert reports["Western Europe and others"] == world.participants["france2"]
    assert reports["Latin America and the Caribbean"] in (world.participants["peru"], world.participants["presenter"])
    closed = await in_group.next_event("breakout_closed")
    assert closed["data"]["plenary_id"] == world.session_id
    waiting = peru.replica.view()["waiting"]
    notes = sorted(request["note"] for request in waiting)
    assert notes == [
        "Report of Latin America and the Caribbean",
        "Report of Organisations",
        "Report of Western Europe and others",
    ]
    # Each group's record is kept.
    async with db() as s:
        speeches = (await s.scalars(select(models.Speech).where(models.Speech.session_id == latin["id"]))).all()
        assert len(speeches) == 1
        rows = (await s.scalars(select(models.Session).where(models.Session.parent_id == world.session_id))).all()
        assert all(row.closed_at is not None for row in rows) and len(rows) == 3


async def test_the_groups_end_when_their_time_is_up(server, world, connect):
    chair = await connect("chair")
    reply = await chair.command(
        "open_breakouts", seconds=5, groups=[{"name": "Everyone", "delegation_ids": [world.delegations["pe"]]}]
    )
    assert reply["type"] == "ack", reply
    ended = await chair.next_event("breakouts_ended", timeout=15)
    assert ended["actor"] is None  # the server ended them, on time
    assert [r["note"] for r in chair.replica.view()["waiting"]] == ["Report of Everyone"]


async def test_refusals_change_nothing(server, world, connect):
    chair = await connect("chair")
    peru = await connect("peru")
    assert (await peru.command("open_breakouts", seconds=60, groups=[{"name": "A"}]))["code"] == "forbidden"
    assert (await chair.command("end_breakouts"))["code"] == "no_breakouts"
    bad = await chair.command("open_breakouts", seconds=60, groups=[{"name": "A", "delegation_ids": [999999]}])
    assert bad["code"] == "not_found"
    both = await chair.command(
        "open_breakouts",
        seconds=60,
        groups=[
            {"name": "A", "delegation_ids": [world.delegations["pe"]]},
            {"name": "B", "participant_ids": [world.participants["peru"]]},
        ],
    )
    assert both["code"] == "invalid_groups"
    assert (await peru.command("join_breakout", group_id=1))["code"] == "forbidden"  # the chair assigns
    await asyncio.sleep(0)
