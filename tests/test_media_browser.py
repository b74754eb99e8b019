"""Real browsers with a fake microphone: the speaker's page puts Opus on the
floor while they hold it, a listener of the floor hears sound, a listener of
another channel hears none of it; an interpreter's page publishes into its
booth's channel through the media API."""

from __future__ import annotations

import json
from typing import Literal

import pytest
import websockets

from interpretation.frames import decode
from rooms.commands import Command, CommandSet, Context
from rooms.roles import ALL_ROLES
from server import models
from tests.conftest import require_service
from tests.test_browser import ARGS, CHROMIUM, shot

caption_commands = CommandSet()


class CaptionOfTheTests(Command):
    type: Literal["test_caption"]
    language: str
    text: str


@caption_commands.command(CaptionOfTheTests, roles=ALL_ROLES)
async def caption_of_the_tests(ctx: Context, command: CaptionOfTheTests) -> None:
    data = {"id": 1, "language": command.language, "channel": f"captions:{command.language}", "text": command.text}
    await ctx.emit("caption", lambda: data)


MEDIA_ARGS = [
    *ARGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
LEVEL = "document.getElementById('listen-level').value"


async def put_on_air(db, session_id: int, language: str, participant_id: int) -> None:
    async with db() as s, s.begin():
        s.add(models.Booth(session_id=session_id, language=language, live_interpreter_id=participant_id))


async def raw_listener(server, world, who: str, channel: str):
    url = f"{server.ws_url}/sessions/{world.session_id}/media?token={world.tokens[who]}"
    socket = await websockets.connect(url)
    await socket.send(json.dumps({"type": "listen", "channel": channel, "original": False}))
    return socket


async def joined(browser, server, world, people, *, permissions=("microphone",), init_script=None):
    """Each person's page, joined and connected, and the errors the pages raise."""
    from playwright.async_api import expect

    errors: list[str] = []
    pages = {}
    for who in people:
        context = await browser.new_context(base_url=server.url)
        if init_script:
            await context.add_init_script(init_script)
        await context.grant_permissions(list(permissions))
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"/join/{world.tokens[who]}")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        pages[who] = page
    return pages, errors


async def next_frame(socket) -> bytes:
    while True:
        message = await socket.recv()
        if isinstance(message, bytes):
            return message


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_speaker_is_heard_on_the_floor_and_not_on_another_channel(server, world, db):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    # Spanish is on air (a silent interpreter): its listeners do not fall back to the floor.
    await put_on_air(db, world.session_id, "es", world.participants["interpreter"])
    check = await raw_listener(server, world, "observer", "floor")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            pages, errors = await joined(
                browser, server, world, ("france", "peru", "usa", "chair"), permissions=["microphone", "camera"]
            )
            speaker, floor_listener, spanish_listener = pages["france"], pages["peru"], pages["usa"]

            await floor_listener.select_option("#listen-channel", "floor")
            await floor_listener.get_by_role("button", name="Start listening").click()
            await spanish_listener.select_option("#listen-channel", "es")
            await spanish_listener.get_by_label("Original underneath").fill("0")
            await spanish_listener.get_by_role("button", name="Start listening").click()
            await expect(spanish_listener.get_by_role("button", name="Stop listening")).to_be_visible()

            # The delegate asks, the chair gives the floor: the delegate's microphone goes on.
            await speaker.select_option("#ask-language", "fr")
            await speaker.get_by_role("button", name="Request the floor").click()
            await expect(speaker.locator("#mine")).to_have_text("You are next")
            await pages["chair"].goto(f"/sessions/{world.session_id}/moderate")
            await pages["chair"].get_by_role("button", name="Give the floor to the next speaker").click()
            # The floor is theirs: they are told, and the microphone waits for them to open it.
            await expect(speaker.locator("#floor-turn")).to_be_visible()
            await expect(speaker.locator("#floor-turn")).to_have_attribute("role", "alert")
            await expect(speaker.locator("#speaker-mic")).to_be_hidden()
            await speaker.get_by_role("button", name="Open my microphone").click()
            await expect(speaker.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")
            await expect(speaker.locator("#floor-turn")).to_be_hidden()

            # The floor's listener decodes sound; the Spanish listener gets nothing.
            await floor_listener.wait_for_function(f"() => {LEVEL} > 0.01", timeout=15000)
            await shot(floor_listener, "listening-floor")
            assert await spanish_listener.evaluate(LEVEL) == 0
            await expect(spanish_listener.locator("#listen-notice")).to_be_hidden()

            # What travels is Opus from the browser's encoder, its configuration first.
            first = await next_frame(check)
            header = decode(first)
            # Named after the speaker's own voice on the floor.
            assert header.is_config and header.channel == f"floor:{world.participants['france']}"
            assert json.loads(first[header.size :])["codec"] == "opus"
            audio = decode(await next_frame(check))
            assert audio.is_key and not audio.is_config

            # Muting stops what the floor hears; unmuting puts the microphone back.
            await speaker.get_by_role("button", name="Mute my microphone").click()
            await expect(speaker.locator("#speaker-mic")).to_have_text(
                "Your microphone is muted: the meeting does not hear you."
            )
            await speaker.get_by_role("button", name="Unmute my microphone").click()
            await expect(speaker.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")

            # The chair ends the speech: the delegate's microphone goes off.
            await pages["chair"].get_by_role("button", name="End speech").click()
            await expect(speaker.locator("#speaker-mic")).to_be_hidden()
            await expect(speaker.locator("#mute-mic-field")).to_be_hidden()
            assert errors == []
        finally:
            await check.close()
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_interpreter_console_on_air_is_heard_by_its_channel_only(server, world, db):
    """The booth page (the interpretation work's console) publishes through
    static/media.js as soon as its interpreter is on air."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with db() as s, s.begin():
        s.add(
            models.LanguageAssignment(
                event_id=world.event_id,
                participant_id=world.participants["interpreter"],
                role="interpreter",
                language="fr",
                works_from=["en", "es"],
            )
        )
    await put_on_air(db, world.session_id, "fr", world.participants["interpreter"])
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            pages, errors = await joined(browser, server, world, ("peru", "usa", "interpreter"))
            french, other, booth = pages["peru"], pages["usa"], pages["interpreter"]
            for page, channel in ((french, "fr"), (other, "floor")):
                await page.select_option("#listen-channel", channel)
                await page.get_by_label("Original underneath").fill("0")
                await page.get_by_role("button", name="Start listening").click()
            await booth.reload()  # the listeners are in: the console counts them when it opens
            await expect(booth.locator("#media-state")).to_have_text("Your microphone is on the channel.")

            await french.wait_for_function(f"() => {LEVEL} > 0.01", timeout=15000)
            assert await other.evaluate(LEVEL) == 0
            await expect(booth.locator("#listeners")).to_have_text("1 listening to our channel")

            # The cough key: our channel falls silent, the booth stays on air and
            # its listeners are not sent to the floor.
            await booth.get_by_role("button", name="Mute my microphone").click()
            await expect(booth.locator("#media-state")).to_have_text(
                "Your microphone is muted: our channel is silent, and you are still on air."
            )
            await french.wait_for_function(f"() => {LEVEL} < 0.002", timeout=15000)
            await expect(french.locator("#listen-notice")).to_be_hidden()
            await booth.get_by_role("button", name="Unmute my microphone").click()
            await french.wait_for_function(f"() => {LEVEL} > 0.01", timeout=15000)

            # The booth tests its microphone and speakers like the participant page.
            await booth.get_by_text("Test my microphone and speakers").click()
            await booth.get_by_role("button", name="Start the test").click()
            await expect(booth.locator("#booth-test-status")).to_contain_text("the bar moves")
            assert errors == []
        finally:
            await browser.close()


PICTURE = """() => {
    const canvas = document.querySelector('#listen-video canvas');
    if (!canvas || canvas.width === 300) return false;  // 300: a canvas nothing was drawn on
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let lit = 0;
    for (let i = 0; i < pixels.length; i += 4 * 97) lit += pixels[i] + pixels[i + 1] + pixels[i + 2];
    return lit > 0;
}"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_sign_language_interpreter_is_seen_by_those_who_chose_sign_language(server, world, db):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    await put_on_air(db, world.session_id, "ils", world.participants["interpreter"])
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            pages, errors = await joined(
                browser, server, world, ("interpreter", "peru", "usa"), permissions=["microphone", "camera"]
            )
            signer, watcher, other = pages["interpreter"], pages["peru"], pages["usa"]
            await watcher.select_option("#listen-channel", "ils")
            await watcher.get_by_role("button", name="Start listening").click()
            await expect(watcher.get_by_label("Sign language interpretation")).to_be_visible()
            await other.select_option("#listen-channel", "fr")
            await other.get_by_role("button", name="Start listening").click()

            await signer.evaluate(
                """async (sessionId) => {
                    const { TribuneMedia } = await import("/static/media.js");
                    window.signLink = TribuneMedia.open(sessionId);
                    await window.signLink.publish("ils", { audio: false, video: true });
                }""",
                world.session_id,
            )
            await watcher.wait_for_function(PICTURE, timeout=20000)
            await shot(watcher, "listening-sign")
            await expect(other.locator("#listen-video")).to_be_hidden()
            assert await other.locator("#listen-video canvas").count() == 0
            assert errors == []
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_captions_in_the_chosen_language_appear_under_the_listening_panel(database_url, world):
    """Captions are events on the command socket (the interpretation work's
    ``caption``); here a command of the tests emits them in that shape."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    from rooms import floor_commands
    from rooms.commands import Registry
    from server.settings import Settings
    from tests.conftest import SECRET, LiveServer, free_port
    from tests.test_media_protocol import booth_moves

    server = LiveServer(
        Settings(database_url=database_url, secret=SECRET, port=free_port()),
        registry=Registry(floor_commands.commands, booth_moves, caption_commands),
    )
    await server.start()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
            try:
                page = await (await browser.new_context(base_url=server.url)).new_page()
                await page.goto(f"/join/{world.tokens['peru']}")
                await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
                await page.get_by_label("Captions").select_option("fr")
                url = f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens['chair']}"
                async with websockets.connect(url) as chair:
                    await chair.recv()
                    for language, text in (
                        ("en", "Good morning"),
                        ("fr", "Bonjour à tous"),
                        ("fr", "La séance est ouverte"),
                    ):
                        await chair.send(
                            json.dumps({"type": "test_caption", "id": text, "language": language, "text": text})
                        )
                    captions = page.locator("#listen-captions")
                    await expect(captions).to_have_text("Bonjour à tousLa séance est ouverte")
                    await expect(captions.locator("p").first).to_have_attribute("lang", "fr")
                    # The choice is remembered for the next visit.
                    await page.reload()
                    await expect(page.get_by_label("Captions")).to_have_value("fr")
            finally:
                await browser.close()
    finally:
        await server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_chair_puts_their_microphone_on_the_floor_by_hand(server, world):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            pages, errors = await joined(browser, server, world, ("chair", "peru"))
            chair, listener = pages["chair"], pages["peru"]
            # The chair's link opens the console; the participant page has the listening panel.
            await chair.goto(f"/sessions/{world.session_id}")
            await expect(chair.locator("#connection")).to_have_attribute("data-state", "connected")
            # Delegates have no such button: they speak when given the floor.
            await expect(listener.get_by_role("button", name="Put my microphone on the floor")).to_be_hidden()
            await listener.get_by_role("button", name="Start listening").click()

            await chair.get_by_role("button", name="Put my microphone on the floor").click()
            await expect(chair.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")
            await listener.wait_for_function(f"() => {LEVEL} > 0.01", timeout=15000)
            await chair.get_by_role("button", name="Take my microphone off the floor").click()
            await expect(chair.locator("#speaker-mic")).to_be_hidden()
            await expect(chair.get_by_role("button", name="Put my microphone on the floor")).to_have_attribute(
                "aria-pressed", "false"
            )
            assert errors == []
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_delegate_tests_their_microphone_and_speakers_before(server, world):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            page = (await joined(browser, server, world, ["peru"]))[0]["peru"]
            await page.get_by_text("Test my microphone and speakers").click()
            await page.get_by_role("button", name="Start the test").click()
            await expect(page.locator("#test-status")).to_contain_text("the bar moves")
            # The fake microphone plays a tone: the bar moves.
            await page.wait_for_function("() => document.getElementById('test-level').value > 0.01", timeout=5000)
            await expect(page.locator("#test-status")).to_contain_text("Test finished", timeout=10000)
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_page_says_when_the_browser_holds_the_sound_back(server, world):
    """Issue 17, item 3: before a click the browser keeps sound off; the pages
    said nothing. The media link now tells them (and the booth shows it), once."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            page = await (await browser.new_context(base_url=server.url)).new_page()
            # Headless Chromium plays sound without a gesture whatever its flags; a desktop
            # browser holds it back until one. This page's AudioContext behaves as the latter.
            await page.add_init_script(
                """window.AudioContext = class extends window.AudioContext {
                  get state() { return this.allowed ? super.state : 'suspended'; }
                  resume() { this.allowed = true; return super.resume(); }
                };"""
            )
            await page.goto(f"/join/{world.tokens['peru']}")
            states = await page.evaluate(
                """async (sessionId) => {
                  const { TribuneMedia } = await import('/static/media.js');
                  const link = TribuneMedia.open(sessionId);
                  window.heard = [];
                  link.onStatus((status) => window.heard.push(status.type));
                  link.audioContext();
                  link.audioContext();
                  return window.heard.filter((type) => type.startsWith('sound_'));
                }""",
                world.session_id,
            )
            assert states == ["sound_blocked"]
            await page.mouse.click(5, 5)
            await page.wait_for_function("() => window.heard.includes('sound_allowed')")
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_chair_hears_the_floor_on_the_console_and_speaks_into_it(server, world):
    """Issue 17, item 2: a remote chair needed a second tab to hear the floor."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            pages = {}
            for who in ("france", "chair"):
                context = await browser.new_context(base_url=server.url)
                await context.grant_permissions(["microphone"])
                pages[who] = await context.new_page()
                await pages[who].goto(f"/join/{world.tokens[who]}")
            speaker, chair = pages["france"], pages["chair"]
            assert chair.url.endswith("/moderate")
            await expect(chair.locator("#connection")).to_have_attribute("data-state", "connected")
            await chair.get_by_role("button", name="Start listening").click()
            await speaker.select_option("#ask-language", "fr")
            await speaker.get_by_role("button", name="Request the floor").click()
            await chair.get_by_role("button", name="Give the floor to the next speaker").click()
            await speaker.get_by_role("button", name="Open my microphone").click()
            # The console decodes the delegate's voice.
            await chair.wait_for_function(f"() => {LEVEL} > 0.01", timeout=15000)
            # And the chair can speak into the floor from the console.
            await chair.get_by_role("button", name="Put my microphone on the floor").click()
            await expect(chair.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")
            await shot(chair, "console-listening-1280")
        finally:
            await browser.close()


# What each voice a page hears has played: {voice: {played, fec, concealed, ...}}.
PLAYOUT = "async () => { const stats = {}; for (const link of window.TribuneMedia.links) Object.assign(stats, await link.playoutStats()); return stats; }"


async def heard_voices(page, voices: list[str], frames: int = 25) -> dict:
    """Wait until every voice has played ``frames`` frames on the page; their figures."""
    stats: dict = {}
    for _ in range(60):
        stats = await page.evaluate(PLAYOUT)
        if all(stats.get(voice, {}).get("played", 0) >= frames for voice in voices):
            return stats
        await page.wait_for_timeout(250)
    raise AssertionError(f"not every voice of {voices} was heard: {stats}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_chair_speaks_over_the_delegate_and_both_are_heard_on_the_floor_and_in_the_booth(server, world, db):
    """Issue 17: one publisher per channel meant the chair replaced the speaker.
    The floor now has a voice per person, each played by its own playout and mixed."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with db() as s, s.begin():
        s.add(
            models.LanguageAssignment(
                event_id=world.event_id,
                participant_id=world.participants["interpreter"],
                role="interpreter",
                language="fr",
                works_from=["en", "es"],
            )
        )
    speaker_voice, chair_voice = (f"floor:{world.participants[who]}" for who in ("france", "chair"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            pages, errors = await joined(browser, server, world, ("france", "chair", "peru", "interpreter"))
            speaker, chair, listener, booth = (pages[who] for who in ("france", "chair", "peru", "interpreter"))
            await listener.get_by_role("button", name="Start listening").click()
            await chair.get_by_role("button", name="Start listening").click()

            await speaker.select_option("#ask-language", "en")
            await speaker.get_by_role("button", name="Request the floor").click()
            await chair.get_by_role("button", name="Give the floor to the next speaker").click()
            await speaker.get_by_role("button", name="Open my microphone").click()
            await expect(speaker.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")
            # The chair speaks over them from the console: nobody is cut.
            await chair.get_by_role("button", name="Put my microphone on the floor").click()
            await expect(chair.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")

            # Both voices are played on the floor, in the French booth, and the
            # chair hears the delegate (never their own voice back).
            await heard_voices(listener, [speaker_voice, chair_voice])
            await heard_voices(booth, [speaker_voice, chair_voice])
            on_console = await heard_voices(chair, [speaker_voice])
            assert chair_voice not in on_console
            await expect(speaker.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")
            assert errors == []
        finally:
            await browser.close()


# Firefox ESR and Safari before WebCodecs' audio: no AudioEncoder, AudioDecoder
# or MediaStreamTrackProcessor. Playwright drives only its own Firefox build,
# not Debian's firefox-esr, so those browsers are stood in for by Chromium
# without these APIs.
WITHOUT_WEBCODECS_AUDIO = """
delete window.AudioEncoder; delete window.AudioDecoder; delete window.MediaStreamTrackProcessor;
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_browser_without_webcodecs_audio_speaks_and_hears_through_libopus(server, world):
    """Issue 17: publishing needed MediaStreamTrackProcessor and AudioEncoder (Chromium only)."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    check = await raw_listener(server, world, "observer", "floor")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=MEDIA_ARGS)
        try:
            pages, errors = await joined(browser, server, world, ("chair", "peru"), init_script=WITHOUT_WEBCODECS_AUDIO)
            chair, listener = pages["chair"], pages["peru"]
            assert await chair.evaluate("typeof AudioEncoder") == "undefined"
            await listener.get_by_role("button", name="Start listening").click()
            await chair.get_by_role("button", name="Put my microphone on the floor").click()
            await expect(chair.locator("#speaker-mic")).to_have_text("Your microphone is on: the meeting hears you.")

            # libopus's configuration, then its packets, under the chair's voice.
            first = await next_frame(check)
            header = decode(first)
            assert header.is_config and header.channel == f"floor:{world.participants['chair']}"
            assert json.loads(first[header.size :]) == {"codec": "opus", "sampleRate": 48000, "numberOfChannels": 1}
            packet = decode(await next_frame(check))
            assert packet.is_key and packet.timestamp_us == 0

            await listener.wait_for_function(f"() => {LEVEL} > 0.01", timeout=15000)
            stats = await heard_voices(listener, [header.channel])
            assert stats[header.channel]["silent"] < stats[header.channel]["played"]
            assert errors == []
        finally:
            await check.close()
            await browser.close()
