"""One real browser: a delegate asks for the floor, the chair gives it, the
delegate declares the language they speak in and the console follows."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import require_service

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Set TRIBUNE_SCREENSHOTS=/tmp to keep pictures of the pages while developing.
SHOTS = os.environ.get("TRIBUNE_SCREENSHOTS")


async def shot(page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/tribune-{name}.png", full_page=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_request_and_give_the_floor_in_a_browser(server, world):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            delegate = await (await browser.new_context(base_url=server.url)).new_page()
            chair = await (await browser.new_context(base_url=server.url)).new_page()
            errors: list[str] = []
            for page in (delegate, chair):
                page.on("pageerror", lambda exc: errors.append(str(exc)))

            # The delegate's join link sets the cookie and lands on the session.
            await delegate.goto(f"/join/{world.tokens['france']}")
            assert delegate.url.endswith(f"/sessions/{world.session_id}")
            await expect(delegate.locator("#connection")).to_have_attribute("data-state", "connected")
            await delegate.select_option("#ask-language", "fr")
            await delegate.get_by_role("button", name="Request the floor").click()
            await expect(delegate.locator("#mine")).to_have_text("You are next")
            await expect(delegate.locator("#speakers tbody tr")).to_have_count(1)

            # The chair sees the request in the console and gives the floor.
            await chair.goto(f"/join/{world.tokens['chair']}")
            await chair.goto(f"/sessions/{world.session_id}/moderate")
            await expect(chair.locator("#connection")).to_have_attribute("data-state", "connected")
            row = chair.locator("#speakers tbody tr").first
            await expect(row).to_contain_text("Delegate of France")
            await shot(chair, "moderate-waiting")
            await row.get_by_role("button", name="Give the floor").click()
            await expect(chair.locator("#current")).to_contain_text("Delegate of France")
            await expect(chair.locator("#speakers tbody tr")).to_have_count(0)

            # The delegate's page follows: they have the floor, the clock runs.
            await expect(delegate.locator("#mine")).to_have_text("You have the floor")
            await expect(delegate.locator("#current")).to_contain_text("Delegate of France")
            await expect(delegate.locator("#timer")).to_have_text(
                # 3 minutes for a State Party, counting down from 3:00.
                re.compile(r"^[23]:\d\d$")
            )
            await shot(delegate, "participant-floor")
            await shot(chair, "moderate-floor")

            # The speaker declares another language; both pages follow.
            speaking_in = delegate.get_by_label("I am speaking in")
            await expect(speaking_in).to_be_visible()
            await expect(speaking_in).to_have_value("fr")
            floor_language = chair.get_by_label("Floor language")
            await expect(floor_language).to_be_visible()
            await expect(floor_language).to_have_value("fr")
            await speaking_in.select_option("en")
            await expect(chair.locator("#current")).to_contain_text("English")
            await expect(floor_language).to_have_value("en")
            await expect(delegate.locator("#current")).to_contain_text("English")
            await shot(delegate, "participant-language")
            await shot(chair, "moderate-language")

            # The chair can set it too; it is hidden once nobody speaks.
            await floor_language.select_option("es")
            await expect(delegate.locator("#current")).to_contain_text("Español")
            await expect(speaking_in).to_have_value("es")
            await chair.get_by_role("button", name="End speech").click()
            await expect(floor_language).to_be_hidden()
            await expect(speaking_in).to_be_hidden()
            assert errors == []
        finally:
            await browser.close()


async def speakers(page) -> list[str]:
    """The speaker column of the list, in order, as the page shows it."""
    cells = page.locator("#speakers tbody tr td:nth-child(2)")
    # The first text is the name; tags (language, in the room) follow it.
    return await cells.evaluate_all("cells => cells.map((cell) => cell.firstChild.textContent.trim())")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_whole_list_of_speakers_in_browsers_that_stay_in_step(server, world):
    """Five delegates and the chair run a list with every console action; the
    pages apply each event's change and always show what the console shows,
    after a reload too."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            errors: list[str] = []
            pages = {}
            for who in ("chair", "france", "peru", "usa", "icrc", "icbl"):
                page = await (await browser.new_context(base_url=server.url)).new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("dialog", lambda dialog: dialog.accept("Out of order"))
                await page.goto(f"/join/{world.tokens[who]}")
                path = f"/sessions/{world.session_id}" + ("/moderate" if who == "chair" else "")
                await page.goto(path)
                await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
                pages[who] = page
            chair, france, icbl = pages["chair"], pages["france"], pages["icbl"]

            for who in ("icbl", "icrc", "usa", "peru", "france"):
                await pages[who].get_by_label("I will speak in").select_option("en")
                await pages[who].get_by_role("button", name="Request the floor").click()
                await expect(pages[who].locator("#mine")).not_to_have_text("")
            # Precedence: States Parties by time, then the observer, the IO, civil society.
            expected = [
                "Delegate of Peru",
                "Delegate of France",
                "Delegate of the United States",
                "Delegate of the ICRC",
                "Delegate of the ICBL",
            ]
            await expect(chair.locator("#speakers tbody tr")).to_have_count(5)
            assert await speakers(chair) == expected
            await expect(france.locator("#mine")).to_have_text("Speakers before you: 1")

            await icbl.get_by_label("Point of order: what is it about?").fill("No Spanish interpretation")
            await icbl.get_by_role("button", name="Raise a point of order").click()
            await expect(chair.locator("#speakers tbody tr")).to_have_count(6)
            assert (await speakers(chair))[0] == "Delegate of the ICBL"

            # Give the floor, move, withdraw, remove, close: every page follows.
            await chair.get_by_role("button", name="Give the floor to the next speaker").click()
            await expect(icbl.locator("#mine")).to_have_text("You have the floor")
            # The ICBL's statement stays on the list behind its point of order.
            await expect(chair.locator("#speakers tbody tr")).to_have_count(5)
            await chair.get_by_role("button", name="Move down: Delegate of Peru").click()
            await expect(chair.locator("#speakers tbody tr").first).to_contain_text("Delegate of France")
            await expect(france.locator("#mine")).to_have_text("You are next")
            await pages["usa"].get_by_role("button", name="Withdraw").click()
            await expect(chair.locator("#speakers tbody tr")).to_have_count(4)
            await chair.locator("#speakers tbody tr", has_text="ICRC").get_by_role("button", name="Remove").click()
            await expect(chair.locator("#speakers tbody tr")).to_have_count(3)
            await chair.get_by_role("button", name="Close the list").click()
            await expect(france.locator("#closed-banner")).to_be_visible()

            # A reload starts from a snapshot; the other pages kept applying changes.
            await pages["peru"].reload()
            await expect(pages["peru"].locator("#connection")).to_have_attribute("data-state", "connected")
            shown = await speakers(chair)
            assert shown == ["Delegate of France", "Delegate of Peru", "Delegate of the ICBL"]
            for who, page in pages.items():
                await expect(page.locator("#speakers tbody tr")).to_have_count(3)
                assert await speakers(page) == shown, who

            await chair.get_by_role("button", name="Give the floor to the next speaker").click()
            await expect(france.locator("#mine")).to_have_text("You have the floor")
            await chair.get_by_role("button", name="Give the floor to the next speaker").click()
            await expect(pages["peru"].locator("#mine")).to_have_text("You have the floor")
            await chair.get_by_role("button", name="End speech").click()
            await icbl.get_by_role("button", name="Withdraw").click()
            for page in pages.values():
                await expect(page.locator("#speakers tbody tr")).to_have_count(0)
                await expect(page.locator("#current")).to_contain_text("Nobody has the floor")
            assert errors == []
        finally:
            await browser.close()
