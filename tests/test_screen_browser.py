"""The projector view on a room's display (issue 17, item 1): at 1920x1080,
1280x720 and 360x740, in Arabic and English, with a long name speaking, a
long question on air and speakers waiting: the countdown stays on one line,
nothing scrolls sideways, and the question on air is on the screen without
scrolling (a room display cannot scroll)."""

from __future__ import annotations

import pytest

from tests.conftest import require_service
from tests.test_browser import ARGS, CHROMIUM, shot

SIZES = ((1920, 1080), (1280, 720), (360, 740))


async def _scene(connect, world) -> None:
    chair = await connect("chair")
    for who in ("peru", "france", "usa", "icrc", "icbl"):
        client = await connect(who)
        reply = await client.command("request_floor", language="es")
        assert reply["type"] == "ack", reply
    assert (await chair.command("give_floor"))["type"] == "ack"
    asker = await connect("france2")
    text = (
        "How will the States Parties make victim assistance funding last beyond the current "
        "five-year action plan, and who will account for it to the survivors themselves?"
    )
    reply = await asker.command("submit_question", text=text, language="en")
    assert reply["type"] == "ack", reply
    question_id = (await chair.next_event("question_updated"))["data"]["question"]["id"]
    for command in ("approve_question", "put_question_on_air"):
        assert (await chair.command(command, question_id=question_id))["type"] == "ack"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_projector_fits_the_room_s_display(server, world, connect):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    await _scene(connect, world)
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(base_url=server.url)
            page = await context.new_page()
            await page.goto(f"/join/{world.tokens['observer']}?to=screen")
            for language in ("en", "ar"):
                for width, height in SIZES:
                    label = f"{language} {width}x{height}"
                    await page.set_viewport_size({"width": width, "height": height})
                    await page.goto(f"/sessions/{world.session_id}/screen?lang={language}")
                    await expect(page.locator("#screen-question")).to_be_visible()
                    await expect(page.locator("#timer")).to_be_visible()
                    await expect(page.locator("#screen-next li")).not_to_have_count(0)
                    facts = await page.evaluate(
                        """() => {
                          const timer = document.getElementById('timer');
                          const line = parseFloat(getComputedStyle(timer).lineHeight) || timer.getBoundingClientRect().height;
                          const question = document.getElementById('screen-question').getBoundingClientRect();
                          const first = document.querySelector('#screen-next li').getBoundingClientRect();
                          return {
                            wide: document.documentElement.scrollWidth, tall: document.documentElement.scrollHeight,
                            timerLines: Math.round(timer.getBoundingClientRect().height / line),
                            questionBottom: question.bottom, firstNext: [first.left, first.right, first.bottom],
                          };
                        }"""
                    )
                    if facts["timerLines"] > 1:
                        problems.append(f"{label}: the countdown wraps on {facts['timerLines']} lines")
                    if facts["wide"] > width:
                        problems.append(f"{label}: {facts['wide']} px wide")
                    if facts["questionBottom"] > height:
                        problems.append(f"{label}: the question on air ends at {facts['questionBottom']:.0f} px")
                    left, right, bottom = facts["firstNext"]
                    if left < 0 or right > width or bottom > height:
                        problems.append(f"{label}: the next speaker is cut off ({left:.0f}-{right:.0f}, {bottom:.0f})")
                    await shot(page, f"screen-{language}-{width}")
        finally:
            await browser.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_delegation_reads_in_the_page_language(server, world, db, connect):
    """Issue 17, item 7: delegation names accept translations like the rest of the event."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect
    from sqlalchemy import update

    from server import models

    async with db() as s, s.begin():
        await s.execute(
            update(models.Delegation)
            .where(models.Delegation.id == world.delegations["pe"])
            .values(names={"en": "Peru", "fr": "Pérou", "es": "Perú", "ar": "بيرو"})
        )
    peru = await connect("peru")
    assert (await peru.command("request_floor", language="es"))["type"] == "ack"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await (await browser.new_context(base_url=server.url)).new_page()
            await page.goto(f"/join/{world.tokens['france']}")
            for language, name in (("fr", "Pérou"), ("ar", "بيرو"), ("en", "Peru")):
                await page.goto(f"/sessions/{world.session_id}?lang={language}")
                await expect(page.locator("#speakers tbody tr td.delegation")).to_contain_text(name)
        finally:
            await browser.close()
