"""Agenda items and rights of reply limited per delegation and item (rooms/agenda.py),
as the UN General Assembly has them: two per delegation per item, of 10 then
5 minutes, counted across the sessions on the item; the chair may give one
more, recorded; replies may be held to the end of the day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from rooms.agenda import AgendaItem, Replies
from rooms.errors import Refused
from server import models
from server.loader import EventFileError, parse_event


def test_two_replies_then_only_the_chair():
    replies = Replies(AgendaItem(1, "item-5", "Item 5"))
    assert replies.allow(3, "Peru", override=False) == (600, False)
    replies.made(3)
    assert replies.allow(3, "Peru", override=False) == (300, False)
    replies.made(3)
    with pytest.raises(Refused) as refused:
        replies.allow(3, "Peru", override=False)
    assert refused.value.code == "reply_limit" and "Peru" in refused.value.message
    assert replies.allow(3, "Peru", override=True) == (300, True)
    assert replies.allow(4, "France", override=False) == (600, False)  # each delegation its own
    replies.taken_back(3)
    assert replies.allow(3, "Peru", override=False) == (300, False)


async def _item(db, world, *, hold: bool = False) -> tuple[int, int]:
    """Item 5, taken up by the panel and by an afternoon session the same day: (item id, afternoon id)."""
    async with db() as s, s.begin():
        item = models.AgendaItem(
            event_id=world.event_id,
            key="item-5",
            title="Item 5",
            titles={},
            reply_limits=[600, 300],
            hold_replies_to_day_end=hold,
            position=0,
        )
        s.add(item)
        await s.flush()
        panel = await s.get(models.Session, world.session_id)
        panel.item_ids, panel.current_item_id = [item.id], item.id
        afternoon = afternoon_of(panel, item.id)
        s.add(afternoon)
        await s.flush()
        return item.id, afternoon.id


def afternoon_of(morning: models.Session, item_id: int) -> models.Session:
    """The same day's session three hours later, taking up the same item."""
    return models.Session(
        event_id=morning.event_id,
        key="afternoon",
        title="Afternoon",
        titles={},
        descriptions={},
        starts_at=morning.starts_at + timedelta(hours=3),
        ends_at=morning.ends_at + timedelta(hours=3),
        precedence=morning.precedence,
        time_limits=morning.time_limits,
        point_of_order_limit=60,
        right_of_reply_limit=120,
        item_ids=[item_id],
        current_item_id=item_id,
        waiting_order=[],
    )


async def test_replies_counted_across_the_sessions_on_the_item(server, world, db, connect):
    item_id, afternoon = await _item(db, world)
    peru = await connect("peru")
    chair = await connect("chair")
    assert (await peru.command("request_floor", kind="right_of_reply"))["type"] == "ack"
    assert (await chair.command("give_floor"))["type"] == "ack"
    given = await peru.next_event("floor_given")
    assert given["data"]["speech"]["limit_s"] == 600  # the first reply: 10 minutes
    assert (await chair.command("end_speech"))["type"] == "ack"

    # The afternoon session, on the same item: the second reply is of 5 minutes, the third is refused.
    peru_later = await connect("peru", session_id=afternoon)
    chair_later = await connect("chair", session_id=afternoon)
    reply = await peru_later.command("request_floor", kind="right_of_reply")
    assert reply["type"] == "ack"
    assert (await chair_later.command("give_floor"))["type"] == "ack"
    assert (await peru_later.next_event("floor_given"))["data"]["speech"]["limit_s"] == 300
    assert (await chair_later.command("end_speech"))["type"] == "ack"
    third = await peru_later.command("request_floor", kind="right_of_reply")
    assert third["type"] == "error" and third["code"] == "reply_limit"
    # Other kinds are not limited, and other delegations have their own.
    assert (await peru_later.command("request_floor"))["type"] == "ack"
    france = await connect("france", session_id=afternoon)
    assert (await france.command("request_floor", kind="right_of_reply"))["type"] == "ack"

    # The chair may give one more: it is recorded as theirs.
    override = await chair_later.command(
        "add_speaker",
        delegation_id=world.delegations["pe"],
        speaker_name="Delegate of Peru",
        kind="right_of_reply",
        override=True,
    )
    assert override["type"] == "ack", override
    # The last request on the list is the chair's, marked as theirs.
    requested = await chair_later.next_event("floor_requested")
    while (
        requested["data"]["request"]["speaker_name"] != "Delegate of Peru"
        or requested["data"]["request"]["speaker_id"] is not None
    ):
        requested = await chair_later.next_event("floor_requested")
    assert requested["data"]["request"]["is_override"] is True
    async with db() as s:
        rows = (
            await s.scalars(select(models.SpeakingRequest).where(models.SpeakingRequest.kind == "right_of_reply"))
        ).all()
        assert sorted((r.delegation_id, r.is_override, r.agenda_item_id) for r in rows) == sorted(
            [
                (world.delegations["pe"], False, item_id),
                (world.delegations["pe"], False, item_id),
                (world.delegations["fr"], False, item_id),
                (world.delegations["pe"], True, item_id),
            ]
        )


async def test_a_withdrawn_reply_does_not_count(server, world, db, connect):
    await _item(db, world)
    peru = await connect("peru")
    for _ in range(2):
        assert (await peru.command("request_floor", kind="right_of_reply"))["type"] == "ack"
        request = (await peru.next_event("floor_requested"))["data"]["request"]
        assert (await peru.command("withdraw", request_id=request["id"]))["type"] == "ack"
    assert (await peru.command("request_floor", kind="right_of_reply"))["type"] == "ack"


async def test_replies_held_to_the_day_s_last_session_on_the_item(server, world, db, connect):
    _, afternoon = await _item(db, world, hold=True)
    peru = await connect("peru")
    held = await peru.command("request_floor", kind="right_of_reply")
    assert held["type"] == "error" and held["code"] == "reply_held"
    assert "15:30" in held["message"]  # the afternoon session's start, UTC
    later = await connect("peru", session_id=afternoon)
    assert (await later.command("request_floor", kind="right_of_reply"))["type"] == "ack"


async def test_the_chair_takes_up_another_item(server, world, db, connect):
    item_id, _ = await _item(db, world)
    async with db() as s, s.begin():
        other = models.AgendaItem(
            event_id=world.event_id, key="item-6", title="Item 6", titles={}, reply_limits=[300], position=1
        )
        s.add(other)
        await s.flush()
        await s.execute(
            update(models.Session).where(models.Session.id == world.session_id).values(item_ids=[item_id, other.id])
        )
        other_id = other.id
    chair = await connect("chair")
    peru = await connect("peru")
    assert (await chair.command("take_up_item", item_id=other_id))["type"] == "ack"
    event = await peru.next_event("item_taken_up")
    assert event["data"]["item"] == {"id": other_id, "key": "item-6", "title": "Item 6", "titles": {}}
    assert (await chair.command("take_up_item", item_id=999))["code"] == "not_found"
    # Item 6 allows one reply, of 5 minutes.
    assert (await peru.command("request_floor", kind="right_of_reply"))["type"] == "ack"
    assert (await chair.command("give_floor"))["type"] == "ack"
    assert (await peru.next_event("floor_given"))["data"]["speech"]["limit_s"] == 300
    assert (await peru.command("request_floor", kind="right_of_reply"))["code"] == "reply_limit"


EVENT = """\
event:
  slug: ga
  title: General Assembly
  timezone: America/New_York
agenda:
  - key: item-5
    title: {en: Item 5, fr: Point 5}
    reply_limits: [600, 300]
    hold_replies_to_day_end: true
{extra}
sessions:
  - key: morning
    title: Morning
    starts: 2024-09-24 10:00
    ends: 2024-09-24 13:00
    items: [item-5]
"""


def test_the_event_file_says_the_items_and_refuses_absurd_limits():
    spec = parse_event(EVENT.replace("{extra}", ""))
    assert spec.agenda[0].reply_limits == [600, 300] and spec.sessions[0].items == ["item-5"]
    for extra, where in (
        ("  - {key: item-6, title: Six, reply_limits: [-60]}", 10),
        ("  - {key: item-6, title: Six, reply_limits: [5]}", 10),
        ("  - {key: item-6, title: Six, reply_limits: [100000]}", 10),
        ("  - {key: item-6, title: Six, reply_limits: [60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60]}", 10),
    ):
        with pytest.raises(EventFileError) as refused:
            parse_event(EVENT.replace("{extra}", extra))
        assert refused.value.line == where, (extra, str(refused.value))
    with pytest.raises(EventFileError) as unknown:
        parse_event(EVENT.replace("{extra}", "").replace("items: [item-5]", "items: [item-9]"))
    assert "unknown agenda item" in str(unknown.value)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_pages_show_the_item_and_the_chair_moves_on(server, world, db):
    from playwright.async_api import async_playwright, expect

    from tests.conftest import require_service
    from tests.test_browser import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    item_id, _ = await _item(db, world)
    async with db() as s, s.begin():
        other = models.AgendaItem(
            event_id=world.event_id,
            key="item-6",
            title="Item 6",
            titles={"en": "Item 6", "fr": "Point 6"},
            reply_limits=[300],
            position=1,
        )
        s.add(other)
        await s.flush()
        await s.execute(
            update(models.Session).where(models.Session.id == world.session_id).values(item_ids=[item_id, other.id])
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            chair = await (await browser.new_context(base_url=server.url)).new_page()
            delegate = await (await browser.new_context(base_url=server.url)).new_page()
            await chair.goto(f"/join/{world.tokens['chair']}")
            await chair.goto(f"/sessions/{world.session_id}/moderate")
            await delegate.goto(f"/join/{world.tokens['peru']}")
            await delegate.goto(f"/sessions/{world.session_id}?lang=fr")
            await expect(delegate.locator("#current-item")).to_contain_text("Item 5")
            await expect(chair.locator("#connection")).to_have_attribute("data-state", "connected")
            await chair.get_by_role("button", name="Take up: Item 6").click()
            await expect(delegate.locator("#current-item-title")).to_have_text("Point 6")  # live, in French
            await delegate.reload()
            await expect(delegate.locator("#current-item-title")).to_have_text("Point 6")
        finally:
            await browser.close()


async def test_budgets_count_down_from_what_was_spoken_and_the_chair_adds_time(server, world, db, connect):
    import asyncio

    item_id, afternoon = await _item(db, world)
    async with db() as s, s.begin():
        await s.execute(
            update(models.AgendaItem)
            .where(models.AgendaItem.id == item_id)
            .values(budgets={"per_delegation": 1, "groups": {"Andean": {"delegations": ["pe", "fr"], "seconds": 600}}})
        )
    chair = await connect("chair")
    peru = await connect("peru")
    first = chair.first["floor"]["budgets"]
    by_key = {group["key"]: group for group in first["groups"]}
    assert by_key["delegation:pe"]["initial_s"] == 1 and by_key["group:Andean"]["remaining_s"] == 600
    assert (await peru.command("request_floor"))["type"] == "ack"
    assert (await chair.command("give_floor"))["type"] == "ack"
    given = await chair.next_event("floor_given")
    running = {group["key"] for group in given["data"]["budgets"]["groups"] if group["running"]}
    assert running == {"delegation:pe", "group:Andean"}
    await asyncio.sleep(1.3)  # Peru speaks longer than its one second
    assert (await chair.command("pause_speech"))["type"] == "ack"
    await asyncio.sleep(0.6)  # a pause is not spoken time
    assert (await chair.command("resume_speech"))["type"] == "ack"
    assert (await chair.command("end_speech"))["type"] == "ack"
    ended = await chair.next_event("speech_ended")
    groups = {group["key"]: group for group in ended["data"]["budgets"]["groups"]}
    assert -1.0 < groups["delegation:pe"]["remaining_s"] < -0.2  # over budget, shown negative; the pause not counted
    assert 598.0 < groups["group:Andean"]["remaining_s"] < 599.8
    assert groups["delegation:fr"]["remaining_s"] == 1

    # Another session on the item sees the same budgets; the chair adds a minute to everyone.
    chair_later = await connect("chair", session_id=afternoon)
    later = {group["key"]: group for group in chair_later.first["floor"]["budgets"]["groups"]}
    assert later["delegation:pe"]["remaining_s"] == groups["delegation:pe"]["remaining_s"]
    assert (await chair_later.command("add_time", seconds=60))["type"] == "ack"
    added = await chair_later.next_event("time_added")
    after = {group["key"]: group for group in added["data"]["budgets"]["groups"]}
    assert after["delegation:fr"]["remaining_s"] == 61
    refused = await connect("chair")  # the panel, on the same item: it has budgets too
    assert (await refused.command("add_time", seconds=0))["code"] == "invalid"


def test_budgets_in_the_event_file():
    budgets = """    budgets:
      per_delegation: 600
      per_tier: {civil_society: 900}
      groups: {GRULAC: {delegations: [co], seconds: 1800}}
"""
    text = EVENT.replace("{extra}", "").replace(
        "    hold_replies_to_day_end: true\n", "    hold_replies_to_day_end: true\n" + budgets
    )
    with pytest.raises(EventFileError) as unknown:
        parse_event(text)
    assert "unknown delegation 'co'" in str(unknown.value)
    spec = parse_event(
        text.replace("sessions:", "delegations:\n  - {key: co, name: Colombia, kind: state_party}\nsessions:")
    )
    assert spec.agenda[0].budgets is not None and spec.agenda[0].budgets.groups["GRULAC"].seconds == 1800
    for absurd in ("per_delegation: -5", "per_delegation: 999999"):
        with pytest.raises(EventFileError) as refused:
            parse_event(text.replace("per_delegation: 600", absurd))
        assert refused.value.line == 11  # the budget's own line


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_console_shows_every_budget_and_a_delegate_their_own(server, world, db):
    from playwright.async_api import async_playwright, expect

    from tests.conftest import require_service
    from tests.test_browser import ARGS, CHROMIUM, shot

    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    item_id, _ = await _item(db, world)
    async with db() as s, s.begin():
        await s.execute(
            update(models.AgendaItem)
            .where(models.AgendaItem.id == item_id)
            .values(budgets={"per_delegation": 120, "groups": {"Andean": {"delegations": ["pe"], "seconds": 600}}})
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            chair = await (await browser.new_context(base_url=server.url)).new_page()
            delegate = await (await browser.new_context(base_url=server.url)).new_page()
            await chair.goto(f"/join/{world.tokens['chair']}")
            await chair.goto(f"/sessions/{world.session_id}/moderate")
            await delegate.goto(f"/join/{world.tokens['peru']}")
            await delegate.goto(f"/sessions/{world.session_id}")
            await expect(chair.locator("#budgets li")).to_have_count(len(world.delegations) + 1)
            await expect(delegate.locator("#budgets li")).to_have_count(2)  # Peru's own, and its group
            await expect(delegate.locator("#budgets")).to_contain_text("Andean: 10:00")
            await chair.locator("#budgets-add [name=minutes]").fill("1")
            await chair.locator("#budgets-add button").click()
            await expect(delegate.locator("#budgets")).to_contain_text("Andean: 11:00")
            await expect(delegate.locator("#budgets")).to_contain_text("3:00")
            await shot(chair, "budgets-console-1280")
        finally:
            await browser.close()


async def test_a_reply_in_another_session_counts_for_a_floor_held_in_memory(server, world, db, connect):
    """The morning's floor is kept between its commands; a reply made meanwhile
    in the afternoon session on the same item still counts there."""
    _, afternoon = await _item(db, world)
    peru = await connect("peru")
    chair = await connect("chair")
    assert (await peru.command("request_floor", kind="right_of_reply"))["type"] == "ack"  # the morning holds its floor
    peru_later = await connect("peru", session_id=afternoon)
    assert (await peru_later.command("request_floor", kind="right_of_reply"))["type"] == "ack"
    third = await peru.command("request_floor", kind="right_of_reply")
    # Refused: two already (one waits in each session); a delegation has one waiting reply per list anyway.
    assert third["type"] == "error" and third["code"] in ("reply_limit", "duplicate_request")
    request = (await peru.next_event("floor_requested"))["data"]["request"]
    assert (await chair.command("give_floor"))["type"] == "ack"
    assert (await chair.command("end_speech"))["type"] == "ack"
    after = await peru.command("request_floor", kind="right_of_reply")
    assert after["code"] == "reply_limit", after  # not allowed by a stale count of one
    assert request["limit_s"] == 600
