"""Every text a person typed is inert on every page, rendered by the server or
by the page's scripts from the live socket.

The pages' CSP would block an injected script's alert and hide the
injection, so a DOM watcher records every element inserted: an <img>,
<b> or <script> coming from a name, a title, a note, a question, a booth
message or a caption fails the test, wherever and whenever it appears."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from sqlalchemy import update

from server import models
from tests.booth_world import add_booth_staff
from tests.conftest import Client, require_service
from tests.test_browser import ARGS, CHROMIUM

EVIL = '<img src=x onerror=alert(1)><b>MARK</b>"><script>window.__pwned=1</script>'
# What the watcher records: the elements EVIL would insert if it were markup.
WATCHER = """
window.__inserted = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      const all = node.nodeType === 1 ? [node, ...node.querySelectorAll("*")] : [];
      for (const element of all) {
        const tag = element.tagName;
        if ((tag === "IMG" && element.getAttribute("src") === "x") ||
            (tag === "B" && element.textContent === "MARK") ||
            (tag === "SCRIPT" && element.textContent.includes("__pwned"))) {
          window.__inserted.push(tag);
        }
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


@pytest.fixture
async def world(db, world):
    world = await add_booth_staff(db, world)
    async with db() as s, s.begin():
        await s.execute(update(models.Participant).values(name=models.Participant.name + " " + EVIL, title=EVIL))
        await s.execute(update(models.Delegation).values(name=models.Delegation.name + " " + EVIL))
        await s.execute(update(models.Event).values(title=EVIL, titles={"en": EVIL}, venue=EVIL))
        await s.execute(
            update(models.Session).values(title=EVIL, titles={"en": EVIL}, description=EVIL, descriptions={"en": EVIL})
        )
        s.add(models.QuestionTopic(session_id=world.session_id, key="evil", texts={"en": EVIL}))
    return world


async def _client(server, world, who: str) -> Client:
    socket = await websockets.connect(f"{server.ws_url}/ws/sessions/{world.session_id}?token={world.tokens[who]}")
    client = Client(socket)
    client.first = await client.recv()
    return client


async def _fill_the_meeting(server, world) -> None:
    """Texts typed everywhere a person can type, through the live protocol."""
    chair = await _client(server, world, "chair")
    france = await _client(server, world, "france")
    fr1 = await _client(server, world, "fr1")
    captioner = await _client(server, world, "captioner")
    try:
        await france.command("request_floor", note=EVIL)
        delegation = world.delegations["pe"]
        await chair.command("add_speaker", delegation_id=delegation, speaker_name=EVIL, note=EVIL)
        topic = chair.first["questions"]["topics"][0]["id"]
        for who, client in (("france", france), ("chair", chair)):
            reply = await client.command("submit_question", text=f"{who} asks {EVIL}", language="en", topic_id=topic)
            assert reply["type"] == "ack", reply
        questions = [item["id"] for item in (await _client(server, world, "chair")).first["questions"]["items"]]
        for question_id in questions:
            await chair.command("approve_question", question_id=question_id)
        await chair.command("put_question_on_air", question_id=questions[0])
        await chair.command("give_floor")
        assert (await fr1.command("send_booth_message", text=EVIL))["type"] == "ack"
        assert (await captioner.command("send_caption", text=EVIL))["type"] == "ack"
    finally:
        for client in (chair, france, fr1, captioner):
            await client.close()


PAGES = {
    # who: the pages they open
    "france": ["/", "/sessions/{s}", "/sessions/{s}/screen"],
    "chair": ["/sessions/{s}/moderate", "/sessions/{s}/screen"],
    "fr1": ["/sessions/{s}/booth"],
    "captioner": ["/sessions/{s}/booth"],
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_typed_texts_are_inert_on_every_page(server, world):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    await _fill_the_meeting(server, world)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for who, paths in PAGES.items():
                context = await browser.new_context(base_url=server.url)
                await context.add_init_script(WATCHER)
                page = await context.new_page()
                await page.goto(f"/join/{world.tokens[who]}")
                for path in paths:
                    await page.goto(path.format(s=world.session_id))
                    connection = page.locator("#connection")
                    if await connection.count():
                        await expect(connection).to_have_attribute("data-state", "connected")
                    # Let the live scripts draw what the snapshot and the events carry.
                    await asyncio.sleep(0.5)
                    text = await page.locator("body").inner_text()
                    assert "<b>MARK</b>" in text, f"{who} {path}: the typed text is not shown as text"
                    inserted = await page.evaluate("window.__inserted")
                    assert inserted == [], f"{who} {path}: markup from typed text became elements: {inserted}"
                    assert await page.evaluate("window.__pwned === undefined")
                await context.close()
        finally:
            await browser.close()
