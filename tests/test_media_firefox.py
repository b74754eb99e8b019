"""Speaking and hearing from Firefox (Debian's ESR, which has no
MediaStreamTrackProcessor): its page captures with the AudioWorklet and is
heard in Chromium, and it plays what Chromium sends through its playout
worklet. Driven over WebDriver BiDi (tests/firefox.py), with a PulseAudio
of its own for its audio clock."""

from __future__ import annotations

import json

import pytest

from interpretation.frames import decode
from tests.conftest import require_service
from tests.firefox import FIREFOX, PULSEAUDIO, Firefox
from tests.test_browser import CHROMIUM
from tests.test_media_browser import (
    LEVEL,
    MEDIA_ARGS,
    PICTURE,
    PLAYOUT,
    heard_voices,
    joined,
    next_frame,
    put_on_air,
    raw_listener,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# What each voice the page hears has played, as test_media_browser reads it.
STATS = f"({PLAYOUT})()"


@pytest.fixture
async def firefox():
    for program, package in ((FIREFOX, "firefox-esr"), (PULSEAUDIO, "pulseaudio")):
        if not program.exists():
            require_service(package, f"{program} is missing (apt-get install {package})")
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    browser = Firefox()
    await browser.start()
    yield browser
    await browser.close()


async def firefox_joined(firefox, server, world, who: str) -> None:
    """Firefox opens this person's join link and its socket connects."""
    await firefox.goto(f"{server.url}/join/{world.tokens[who]}")
    await firefox.wait_for("document.getElementById('connection').dataset.state === 'connected'")


async def test_a_chair_on_firefox_speaks_into_the_floor_and_chromium_hears_it(server, world, firefox):
    from playwright.async_api import async_playwright

    check = await raw_listener(server, world, "observer", "floor")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            listener = (await joined(chromium, server, world, ["peru"]))[0]["peru"]
            await listener.get_by_role("button", name="Start listening").click()

            await firefox_joined(firefox, server, world, "chair")
            assert "Firefox" in await firefox.evaluate("navigator.userAgent")
            assert await firefox.evaluate("typeof MediaStreamTrackProcessor") == "undefined"
            await firefox.evaluate("document.getElementById('floor-mic').click()")
            await firefox.wait_for("document.getElementById('speaker-mic').textContent.includes('microphone is on')")

            voice = f"floor:{world.participants['chair']}"
            first = await next_frame(check)
            header = decode(first)
            assert header.is_config and header.channel == voice
            assert json.loads(first[header.size :])["codec"] == "opus"
            await listener.wait_for_function(f"() => {LEVEL} > 0.01", timeout=15000)
            await heard_voices(listener, [voice])
        finally:
            await check.close()
            await chromium.close()


async def test_a_delegate_on_firefox_hears_the_floor_through_its_playout_worklet(server, world, firefox):
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            chair = (await joined(chromium, server, world, ["chair"]))[0]["chair"]

            await firefox_joined(firefox, server, world, "peru")
            await firefox.evaluate("document.getElementById('listen-toggle').click()")
            await chair.get_by_role("button", name="Put my microphone on the floor").click()
            await expect(chair.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")

            voice = f"floor:{world.participants['chair']}"
            stats = await firefox.wait_for(f"{STATS}.then((s) => (s['{voice}']?.played ?? 0) >= 25 && s)")
            assert stats[voice]["played"] >= 25
            await firefox.wait_for(f"{LEVEL} > 0.01")
        finally:
            await chromium.close()


async def test_a_sign_language_interpreter_on_firefox_is_seen_in_chromium(server, world, db, firefox):
    """Firefox has no MediaStreamTrackProcessor: its camera is read from a <video> element."""
    from playwright.async_api import async_playwright

    await put_on_air(db, world.session_id, "ils", world.participants["interpreter"])
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            watcher = (await joined(chromium, server, world, ["peru"]))[0]["peru"]
            await watcher.select_option("#listen-channel", "ils")
            await watcher.get_by_role("button", name="Start listening").click()

            await firefox_joined(firefox, server, world, "interpreter")
            await firefox.evaluate(
                f"""import("/static/media.js").then(async ({{ TribuneMedia }}) => {{
                    window.signLink = TribuneMedia.open({world.session_id});
                    await window.signLink.publish("ils", {{ audio: false, video: true }});
                    return true;
                }})"""
            )
            await watcher.wait_for_function(PICTURE, timeout=20000)
        finally:
            await chromium.close()
