"""The interpreter's console in a real browser: handover between two
interpreters, booth chat, and captions typed in the booth reaching listeners."""

from __future__ import annotations

import pytest

from server.settings import Settings
from tests.booth_world import add_booth_staff
from tests.conftest import SECRET, LiveServer, free_port, require_service
from tests.test_browser import ARGS, CHROMIUM, shot


@pytest.fixture
async def world(db, world):
    return await add_booth_staff(db, world)


@pytest.fixture
async def server(database_url, world):
    live = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port()))
    await live.start()
    yield live
    await live.stop()


async def _browser(playwright):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[*ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
    )


async def _open(browser, server, token: str):
    context = await browser.new_context(base_url=server.url)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"/join/{token}")
    return page, errors


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_two_interpreters_hand_over_the_mic_in_their_consoles(server, world):
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await _browser(playwright)
        try:
            helene, errors = await _open(browser, server, world.tokens["fr1"])
            antoine, more_errors = await _open(browser, server, world.tokens["fr2"])
            # The join link takes an interpreter straight to the booth.
            assert helene.url.endswith(f"/sessions/{world.session_id}/booth")
            for page in (helene, antoine):
                await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
                await expect(page.locator("#booth-title")).to_have_text("French booth")

            await helene.get_by_role("button", name="Go on air").click()
            await expect(helene.locator("#on-air")).to_have_text("You are on air")
            await expect(helene.locator("#shift-timer")).to_have_text("0:00")
            await expect(antoine.locator("#on-air")).to_have_text("Hélène Rousseau is on air")
            await expect(antoine.get_by_role("button", name="Go on air")).to_be_hidden()

            # Antoine asks (by keyboard), Hélène hands over.
            ask = antoine.get_by_role("button", name="Ask for the handover")
            await ask.focus()
            await antoine.keyboard.press("Enter")
            await expect(antoine.locator("#handover-waiting")).to_contain_text("waiting for Hélène Rousseau")
            incoming = helene.locator("#handover-incoming")
            await expect(incoming).to_contain_text("Antoine Lefèvre asks for the handover")
            await shot(helene, "booth-handover")
            await helene.get_by_role("button", name="Hand over now").click()
            await expect(antoine.locator("#on-air")).to_have_text("You are on air")
            await expect(helene.locator("#on-air")).to_have_text("Antoine Lefèvre is on air")
            await expect(incoming).to_be_hidden()

            # Booth chat, between the two of them.
            await helene.get_by_label("Message to my partners").fill("Next speaker reads fast")
            await helene.get_by_label("Message to my partners").press("Enter")
            await expect(antoine.locator("#chat-log")).to_contain_text("Hélène Rousseau: Next speaker reads fast")
            await shot(antoine, "booth-on-air")
            assert errors == [] and more_errors == []
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_captions_typed_in_the_booth_appear_for_listeners(server, world):
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await _browser(playwright)
        try:
            captioner, errors = await _open(browser, server, world.tokens["captioner"])
            interpreter, _ = await _open(browser, server, world.tokens["en1"])
            delegate, _ = await _open(browser, server, world.tokens["france"])
            await expect(captioner.locator("#captioner-title")).to_have_text("Live captions in English")
            await expect(delegate.locator("#connection")).to_have_attribute("data-state", "connected")
            picker = delegate.locator("#listen-captions-language")
            has_captions_panel = await picker.count() > 0
            if has_captions_panel:
                await picker.select_option("en")

            line = captioner.get_by_label("Caption line (Enter sends it)")
            await line.fill("The Convention was signed 22 years ago today.")
            await line.press("Enter")
            await expect(line).to_have_value("")
            await expect(interpreter.locator("#captions")).to_contain_text(
                "The Convention was signed 22 years ago today."
            )
            if not has_captions_panel:
                pytest.skip("the participant page's captions panel (listening panel of the media work) is not here")
            await expect(delegate.locator("#listen-captions")).to_contain_text(
                "The Convention was signed 22 years ago today."
            )
            assert errors == []
        finally:
            await browser.close()
