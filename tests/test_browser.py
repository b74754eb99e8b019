"""One real browser: a delegate asks for the floor, the chair gives it, the
delegate declares the language they speak in and the console follows."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from server import models
from server.cli import _prepare_demo
from server.db import create_engine, migrate, sessionmaker
from server.read_mark import PROBE_EVERY
from server.settings import Settings
from tests.conftest import SECRET, LiveServer, free_port, require_service

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


async def answer(page, text: str | None = None) -> None:
    """Answer the page's question (tribune.js ask: a reason, a confirmation) as a person would."""
    dialog = page.locator("dialog.ask-dialog[open]")
    await dialog.wait_for()
    if text is not None:
        await dialog.locator("#ask-dialog-input").fill(text)
    await dialog.locator("button.primary").click()


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
            await expect(delegate.locator("#current")).to_contain_text("Spanish")
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
            await answer(chair, "Out of order")
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
            await answer(chair)  # the ICBL still speaks: cut it?
            await expect(france.locator("#mine")).to_have_text("You have the floor")
            await chair.get_by_role("button", name="Give the floor to the next speaker").click()
            await answer(chair)
            await expect(pages["peru"].locator("#mine")).to_have_text("You have the floor")
            await chair.get_by_role("button", name="End speech").click()
            await icbl.get_by_role("button", name="Withdraw").click()
            for page in pages.values():
                await expect(page.locator("#speakers tbody tr")).to_have_count(0)
                await expect(page.locator("#current")).to_contain_text("Nobody has the floor")
            assert errors == []
        finally:
            await browser.close()


async def focused(page) -> str:
    """What has the keyboard focus: its data-focus key, else its id, else its text."""
    return await page.evaluate(
        "(() => { const e = document.activeElement; return e.dataset.focus || e.id || e.textContent.trim(); })()"
    )


async def tab_to(page, target: str, limit: int = 60) -> None:
    """Press Tab until the focus is on `target` (a data-focus key or an id): it
    proves the control is reachable by keyboard, in the page's order."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await focused(page) == target:
            return
    raise AssertionError(f"{target} is not reachable with Tab")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_keyboard_only_the_focus_stays_put_across_redraws(server, world, connect, db):
    """A delegate asks for the floor and the chair gives it with the keyboard
    alone; whatever the others do meanwhile, the focus stays where it was."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with db() as s, s.begin():
        session = await s.get(models.Session, world.session_id)
        # Short limits, to hear the announcements without waiting minutes.
        session.point_of_order_limit = 31
        session.right_of_reply_limit = 2
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            errors: list[str] = []
            delegate = await (await browser.new_context(base_url=server.url)).new_page()
            chair = await (await browser.new_context(base_url=server.url)).new_page()
            for page in (delegate, chair):
                page.on("pageerror", lambda exc: errors.append(str(exc)))
            await delegate.goto(f"/join/{world.tokens['france']}")
            await chair.goto(f"/join/{world.tokens['chair']}")
            for page in (delegate, chair):
                await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")

            # The delegate: choose the language, ask for the floor.
            await tab_to(delegate, "ask-language")
            await delegate.keyboard.press("ArrowDown")  # the first language of the event
            await expect(delegate.locator("#ask-language")).not_to_have_value("")
            await tab_to(delegate, "request-statement")
            await delegate.keyboard.press("Enter")
            await expect(delegate.locator("#mine")).to_have_text("You are next")
            request_id = await delegate.locator("#speakers tbody tr").first.get_attribute("data-key")

            # On their own Withdraw button while two others ask for the floor
            # after them: the list redraws, the focus stays.
            await tab_to(delegate, f"withdraw-{request_id}")
            peru, icbl = await connect("peru"), await connect("icbl")
            assert (await peru.command("request_floor", language="es"))["type"] == "ack"
            assert (await icbl.command("request_floor", language="en"))["type"] == "ack"
            await expect(delegate.locator("#speakers tbody tr")).to_have_count(3)
            assert await focused(delegate) == f"withdraw-{request_id}"

            # The chair: who is next is said before giving the floor.
            await expect(chair.locator("#next-up")).to_contain_text("Delegate of France")
            rows = chair.locator("#speakers tbody tr")
            await tab_to(chair, f"down-{request_id}")
            await chair.keyboard.press("Enter")
            await expect(rows.nth(1)).to_contain_text("Delegate of France")
            await expect(delegate.locator("#mine")).to_have_text("Speakers before you: 1")
            assert await focused(chair) == f"down-{request_id}"
            await chair.keyboard.press("Enter")
            await expect(rows.nth(2)).to_contain_text("Delegate of France")
            assert await focused(chair) == f"up-{request_id}"  # Move down is disabled on the last row
            await chair.keyboard.press("Enter")
            await expect(rows.nth(1)).to_contain_text("Delegate of France")
            assert await focused(chair) == f"up-{request_id}"
            assert await focused(delegate) == f"withdraw-{request_id}"

            # Give the floor from the row: the focus moves to the row now in its place.
            await tab_to(chair, f"give-{request_id}")
            await chair.keyboard.press("Enter")
            await expect(delegate.locator("#mine")).to_have_text("You have the floor")
            await expect(rows).to_have_count(2)
            icbl_row = await rows.nth(1).get_attribute("data-key")
            assert await focused(chair) == f"give-{icbl_row}"

            # Pause and Resume, Close and Reopen: the same button, still focused.
            await tab_to(chair, "pause-speech")
            await chair.keyboard.press("Enter")
            await expect(chair.locator("#pause-speech")).to_have_text("Resume")
            assert await focused(chair) == "pause-speech"
            await chair.keyboard.press("Enter")
            await expect(chair.locator("#pause-speech")).to_have_text("Pause")
            await tab_to(chair, "toggle-list")
            await chair.keyboard.press("Enter")
            await expect(chair.locator("#toggle-list")).to_have_text("Reopen the list")
            await expect(delegate.locator("#closed-banner")).to_be_visible()
            assert await focused(chair) == "toggle-list"

            # A point of order while France speaks: giving it the floor cuts
            # the speech, so the chair is asked first (the dialog is accepted).
            assert (await peru.command("request_floor", kind="point_of_order"))["type"] == "ack"
            await expect(chair.locator("#next-up")).to_contain_text("Delegate of Peru")
            await tab_to(chair, "give-next")
            await chair.keyboard.press("Enter")
            await expect(chair.locator("dialog.ask-dialog[open] button.primary")).to_be_focused()
            await chair.keyboard.press("Enter")  # the confirmation has the focus
            await expect(delegate.locator("#current")).to_contain_text("Delegate of Peru")

            # Time, for screen readers: once at 30 seconds left, once when over.
            announcer = delegate.locator("#time-announcer")
            await expect(announcer).to_have_text("30 seconds left.")
            await expect(delegate.locator("#timer")).not_to_have_attribute("aria-live", "polite")
            assert (await icbl.command("request_floor", kind="right_of_reply"))["type"] == "ack"
            assert (await peru.command("give_floor"))["type"] == "error"  # only the chair gives it
            await rows.filter(has_text="Right of reply").get_by_role("button", name="Give the floor").click()
            await answer(chair)
            await expect(delegate.locator("#current")).to_contain_text("Delegate of the ICBL")
            await expect(announcer).to_have_text("Speaking time is over.", timeout=10000)
            await expect(delegate.locator("#timer-state")).to_have_text("Over time")
            assert errors == []
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_refusals_in_the_page_language_and_banners_that_clear(server, world):
    """A refusal shows in French and goes with the next action; a lost
    connection shows until the page is connected again."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await (await browser.new_context(base_url=server.url)).new_page()
            await page.goto(f"/join/{world.tokens['france']}")
            await page.goto(f"/sessions/{world.session_id}?lang=fr")
            await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
            status = page.locator("#status")
            ask = page.get_by_role("button", name="Demander la parole")
            # Another script of the page (a panel) shares the connection: it gets
            # the snapshot it came too late for, then the events it asks for.
            subscribed = await page.evaluate(
                """async () => {
                  const { pageConnection } = await import("/static/tribune.js");
                  const seen = (window.seenByPanel = []);
                  const connection = pageConnection();
                  connection.on("snapshot", (snapshot) => seen.push(`snapshot ${snapshot.me.name}`));
                  connection.on("floor_requested", (message) => seen.push(message.data.request.speaker_name));
                  connection.on("*", (message) => seen.push(`* ${message.type}`));
                  return seen;
                }"""
            )
            assert subscribed == ["snapshot Delegate of France"]

            # No language chosen: the browser asks for one, nothing is sent.
            await ask.click()
            await expect(page.locator("#speakers tbody tr")).to_have_count(0)
            await page.get_by_label("Je parlerai en").select_option("fr")
            await ask.click()
            await expect(page.locator("#mine")).to_have_text("Vous êtes le prochain orateur")
            seen = await page.evaluate("window.seenByPanel")
            assert seen == ["snapshot Delegate of France", "Delegate of France", "* floor_requested"]
            await ask.click()
            await expect(status).to_have_text("Votre délégation a déjà une demande de ce type sur la liste.")
            await page.get_by_role("button", name="Retirer ma demande").click()
            await expect(page.locator("#speakers tbody tr")).to_have_count(0)
            await expect(status).not_to_contain_text("Votre délégation")

            # For the delegation: the row says so, the delegation's name once as its own.
            await page.get_by_label("Tout membre de ma délégation").check()
            await ask.click()
            row = page.locator("#speakers tbody tr")
            await expect(row.locator("td.who")).to_have_text("Tout membre de la délégation\u00a0: France Français")
            await expect(row.locator("td.delegation bdi")).to_have_text("France")
            await page.get_by_role("button", name="Retirer ma demande").click()
            await expect(row).to_have_count(0)

            await server.stop()
            await expect(page.locator("#connection")).not_to_have_attribute("data-state", "connected")
            await ask.click()
            await expect(status).to_contain_text("La connexion a été perdue")
            await server.start()
            await expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=20000)
            await expect(status).to_be_empty()
            # The language the delegate chose is kept for their next visit.
            await page.reload()
            await expect(page.get_by_label("Je parlerai en")).to_have_value("fr")
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_demo_links_meet_on_one_session_in_browsers(database_url):
    """As the README says: `tribune serve --demo` prints links; the moderator
    and the delegates who open them meet on one session, and a delegate's
    request reaches the chair's console at once, in Arabic as in English."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    engine = create_engine(database_url)
    await migrate(engine)
    settings = Settings(database_url=database_url, secret=SECRET, port=free_port())
    try:
        printed = await _prepare_demo(sessionmaker(engine), settings)
    finally:
        await engine.dispose()
    urls = [line.strip() for line in printed.splitlines() if line.strip().startswith(f"{settings.base_url}/join/")]
    moderator, *delegates = urls[:5]
    live = LiveServer(settings)
    await live.start()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            errors: list[str] = []
            pages = []
            for url in [moderator, *delegates]:
                page = await (await browser.new_context(locale="ar")).new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await page.goto(url)
                await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
                pages.append(page)
            chair, *others = pages
            assert chair.url.endswith("/moderate")
            assert {page.url for page in others} == {chair.url.removesuffix("/moderate")}
            # The browser asks for Arabic: the pages are in Arabic, the token is gone from the address.
            await expect(chair.locator("html")).to_have_attribute("dir", "rtl")
            assert all("/join/" not in page.url for page in pages)
            for index, page in enumerate(others):
                await page.get_by_label("سأتحدث باللغة").select_option("ar")
                await page.get_by_role("button", name="طلب الكلمة").click()
                await expect(chair.locator("#speakers tbody tr")).to_have_count(index + 1)
            await chair.get_by_role("button", name="إعطاء الكلمة للمتحدث التالي").click()
            await expect(others[0].locator("#mine")).to_have_text("لك الكلمة")
            assert errors == []
        finally:
            await browser.close()
            await live.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_page_answers_the_rooms_pings_as_it_reads(server, world, connect):
    """The room asks how far its sockets have read with WebSocket pings
    (server/read_mark.py): the browser answers them itself, so a chair's
    burst is paced by what the pages read, with nothing for the page to do."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await (await browser.new_context(base_url=server.url)).new_page()
            await page.goto(f"/join/{world.tokens['france']}")
            await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
            chair = await connect("chair")
            room = server.app.state.tribune.hub.rooms[world.session_id]
            started = room.read_mark.mark
            # The chair's own socket is not asked while its command runs: each
            # sounding is the page's alone, and only its answer moves the mark.
            for number in range(4 * PROBE_EVERY + 1):  # ending closed
                reply = await chair.command("reopen_list" if number % 2 else "close_list")
                assert reply["type"] == "ack"
            for _ in range(100):
                if room.read_mark.mark is not None and room.read_mark.mark > reply["seq"] - PROBE_EVERY:
                    break
                await asyncio.sleep(0.05)
            assert started is not None and room.read_mark.mark > reply["seq"] - PROBE_EVERY
            # And the page drew every event on the way.
            await expect(page.locator("#closed-banner")).to_be_visible()
        finally:
            await browser.close()
