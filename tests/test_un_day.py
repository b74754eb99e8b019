"""A UN-style day through the documented protocol (issue 16): two sessions
on one agenda item, rights of reply held to the end of the day and limited
to two per delegation (the third refused), budgets counting down across
both sessions, and a breakout into three regional groups with report back."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from server import models
from tests.test_agenda import afternoon_of


async def test_a_day_on_one_item(server, world, db, connect):
    d = world.delegations
    async with db() as s, s.begin():
        item = models.AgendaItem(
            event_id=world.event_id,
            key="item-5",
            title="General debate",
            titles={},
            position=0,
            reply_limits=[600, 300],
            hold_replies_to_day_end=True,
            budgets={"per_delegation": 300, "groups": {"WEOG": {"delegations": ["fr", "us"], "seconds": 900}}},
        )
        s.add(item)
        await s.flush()
        morning = await s.get(models.Session, world.session_id)
        await s.execute(
            update(models.Session)
            .where(models.Session.id == morning.id)
            .values(item_ids=[item.id], current_item_id=item.id)
        )
        afternoon = afternoon_of(morning, item.id)
        s.add(afternoon)
        await s.flush()
        afternoon_id = afternoon.id

    # Morning: statements; a right of reply is held to the afternoon.
    chair = await connect("chair")
    france = await connect("france")
    assert (await france.command("request_floor"))["type"] == "ack"
    assert (await chair.command("give_floor"))["type"] == "ack"
    await asyncio.sleep(0.5)
    assert (await chair.command("end_speech"))["type"] == "ack"
    ended = await chair.next_event("speech_ended")
    budgets = {g["key"]: g["remaining_s"] for g in ended["data"]["budgets"]["groups"]}
    assert budgets["delegation:fr"] < 300 and budgets["group:WEOG"] < 900 and budgets["delegation:pe"] == 300
    peru = await connect("peru")
    held = await peru.command("request_floor", kind="right_of_reply")
    assert held["code"] == "reply_held"

    # A breakout into three regional groups, then the report back.
    reply = await chair.command(
        "open_breakouts",
        seconds=600,
        groups=[
            {"name": "GRULAC", "delegation_ids": [d["pe"]]},
            {"name": "WEOG", "delegation_ids": [d["fr"], d["us"]]},
            {"name": "Organisations", "delegation_ids": [d["icrc"], d["icbl"]]},
        ],
    )
    assert reply["type"] == "ack", reply
    opened = await peru.next_event("breakouts_opened")
    grulac = next(g for g in opened["data"]["groups"] if g["name"] == "GRULAC")
    in_group = await connect("peru", session_id=grulac["id"])
    assert (await in_group.command("request_floor"))["type"] == "ack"
    assert (await chair.command("end_breakouts"))["type"] == "ack"
    await chair.next_event("breakouts_ended")
    notes = [r["note"] for r in chair.replica.view()["waiting"]]
    assert sorted(notes) == ["Report of GRULAC", "Report of Organisations", "Report of WEOG"]

    # Afternoon, the day's last session on the item: two replies each, the third refused.
    chair_pm = await connect("chair", session_id=afternoon_id)
    peru_pm = await connect("peru", session_id=afternoon_id)
    france_pm = await connect("france", session_id=afternoon_id)
    for expected in (600, 300):
        assert (await peru_pm.command("request_floor", kind="right_of_reply"))["type"] == "ack"
        assert (await chair_pm.command("give_floor"))["type"] == "ack"
        assert (await peru_pm.next_event("floor_given"))["data"]["speech"]["limit_s"] == expected
        assert (await chair_pm.command("end_speech"))["type"] == "ack"
    third = await peru_pm.command("request_floor", kind="right_of_reply")
    assert third["code"] == "reply_limit"
    # The budgets carried over from the morning.
    assert (await france_pm.command("request_floor"))["type"] == "ack"
    assert (await chair_pm.command("give_floor"))["type"] == "ack"
    given = await chair_pm.next_event("floor_given")
    while given["data"]["speech"]["speaker_name"] != "Delegate of France":  # the replies' came first
        given = await chair_pm.next_event("floor_given")
    groups = {g["key"]: g for g in given["data"]["budgets"]["groups"]}
    assert groups["delegation:fr"]["running"] and groups["delegation:fr"]["remaining_s"] == budgets["delegation:fr"]
    assert groups["delegation:pe"]["remaining_s"] < 300  # the replies were spoken on the item too
