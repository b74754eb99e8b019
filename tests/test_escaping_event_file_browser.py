"""What people type stays text on every page, in a real browser.

An event file whose every typed text (names, titles, delegations, sessions,
topics, questions) is hostile HTML; notes, questions, a speech, booth chat and
a caption sent through the real socket, so the live scripts draw them too. A
MutationObserver set before any page script runs records every `img`,
`script` or `b` element that enters the DOM: none may but the page's own
scripts, and each text must read back literally. This fails when a template
marks user text `|safe` or a script sets it as HTML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import websockets
import yaml

from server.db import create_engine, migrate, sessionmaker
from server.loader import load_event, parse_event
from server.settings import Settings
from server.tokens import join_token
from tests.conftest import SECRET, Client, LiveServer, free_port, require_service
from tests.test_browser import ARGS, CHROMIUM, shot

SLUG = "escaping"
# Each is harmless as text and would act, or show, as markup.
IMAGE = "<img src=x onerror=alert(1)>"
BREAKOUT = '"><script>window.__pwned=1</script>'
BOLD = "<b>bold</b>"


def hostile(label: str) -> str:
    return f"{label} {IMAGE} {BREAKOUT} {BOLD}"


# A session's kind takes 40 characters at most.
KIND = f"K{IMAGE}<b>k</b>"


def typed(label: str) -> str:
    return KIND if label == "Kind" else hostile(label)


# Set before the page's own scripts: every element the parser or a script adds.
OBSERVER = """
(() => {
  window.__inserted = [];
  const own = (node) => {
    if (node.tagName !== "SCRIPT") return false;
    const type = node.getAttribute("type");
    if (type === "module") return (node.getAttribute("src") || "").startsWith("/static/");
    if (type === "application/json") return node.id.startsWith("tribune-");
    return false;
  };
  const check = (node) => {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    for (const found of [node, ...node.querySelectorAll("img, script, b")]) {
      if (["IMG", "SCRIPT", "B"].includes(found.tagName) && !own(found)) {
        window.__inserted.push(found.outerHTML.slice(0, 200));
      }
    }
  };
  new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach(check);
  }).observe(document, { childList: true, subtree: true });
})();
"""


def event_file(now: datetime) -> str:
    starts = (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    ends = (now + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    later = (now + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    spec = {
        "event": {
            "slug": SLUG,
            "title": hostile("Event title"),
            "timezone": "UTC",
            "venue": hostile("Venue"),
            "description": hostile("Event description"),
            "languages": ["en", "fr"],
        },
        "delegations": [
            {"key": "a", "name": hostile("Delegation A"), "kind": "state_party"},
            {"key": "b", "name": hostile("Delegation B"), "kind": "state_party"},
            {"key": "c", "name": hostile("Delegation C"), "kind": "civil_society"},
        ],
        "sessions": [
            {
                "key": "main",
                "title": hostile("Session title"),
                "kind": KIND,
                "description": hostile("Session description"),
                "room": hostile("Room"),
                "starts": starts,
                "ends": ends,
                "questions": {"moderated": True, "topics": [{"key": "t", "text": hostile("Topic")}]},
            },
            {
                "key": "later",
                "title": {"en": hostile("Later title"), "fr": hostile("Titre plus tard")},
                "starts": ends,
                "ends": later,
            },
        ],
        "participants": [
            {"key": "chair", "name": hostile("Chair"), "title": hostile("Function"), "roles": ["chair"]},
            {"key": "alice", "name": hostile("Alice"), "delegation": "a"},
            {"key": "bob", "name": hostile("Bob"), "delegation": "b"},
            {"key": "carol", "name": hostile("Carol"), "delegation": "c"},
            {"key": "observer", "name": hostile("Observer"), "roles": ["observer"]},
            {"key": "ivy", "name": hostile("Ivy"), "roles": ["interpreter"], "booth": "fr", "works_from": ["en"]},
            {"key": "igor", "name": hostile("Igor"), "roles": ["interpreter"], "booth": "fr", "works_from": ["en"]},
            {"key": "cap", "name": hostile("Captioner"), "roles": ["captioner"], "captions": "en"},
        ],
        "questions": [
            {
                "key": "ahead",
                "session": "main",
                "author": "bob",
                "topic": "t",
                "language": "en",
                "text": hostile("Question sent ahead"),
            }
        ],
    }
    return yaml.safe_dump(spec, allow_unicode=True)


class Stage:
    def __init__(self, server: LiveServer, session_id: int):
        self.server = server
        self.session_id = session_id
        self.clients: list[Client] = []

    def token(self, key: str) -> str:
        return join_token(SECRET, SLUG, key, 1)

    async def socket(self, key: str) -> Client:
        url = f"{self.server.ws_url}/ws/sessions/{self.session_id}?token={self.token(key)}"
        client = Client(await websockets.connect(url))
        client.first = await client.recv()
        assert client.first["type"] == "snapshot", client.first
        self.clients.append(client)
        return client


async def command(client: Client, type_: str, **fields) -> dict:
    reply = await client.command(type_, **fields)
    assert reply["type"] == "ack", reply
    return reply


async def requested(client: Client, delegation: str) -> int:
    """The id of the request the delegation made, as the client saw it come."""
    while True:
        request = (await client.next_event("floor_requested"))["data"]["request"]
        if request["delegation"]["name"] == delegation:
            return request["id"]


async def act(stage: Stage) -> None:
    """Everything people type during the session, through the real socket."""
    chair, alice, bob, carol = [await stage.socket(key) for key in ("chair", "alice", "bob", "carol")]
    ivy, captioner = await stage.socket("ivy"), await stage.socket("cap")
    snapshot = chair.first
    delegation_c = next(d["id"] for d in snapshot["delegations"] if d["name"] == hostile("Delegation C"))
    topic = snapshot["questions"]["topics"][0]["id"]
    ahead = snapshot["questions"]["items"][0]["id"]

    await command(alice, "request_floor", kind="point_of_order", note=hostile("Note"), language="en")
    await command(bob, "request_floor", kind="statement", language="en")
    await command(
        chair,
        "add_speaker",
        delegation_id=delegation_c,
        speaker_name=hostile("In the room"),
        kind="statement",
        note=hostile("Room note"),
        language="fr",
    )
    await command(chair, "give_floor", request_id=await requested(chair, hostile("Delegation B")))
    await command(carol, "request_floor", kind="right_of_reply", language="en")

    text = hostile("Question of Alice")
    await command(alice, "submit_question", text=text, language="en", topic_id=topic, wants_to_ask=True)
    while (message := await alice.next_event("question_updated"))["data"]["question"]["text"] != text:
        pass
    question = message["data"]["question"]["id"]
    await command(chair, "edit_question", question_id=question, text=hostile("Edited by the chair"))
    await command(chair, "reject_question", question_id=question, reason=hostile("Reason"))
    await command(chair, "approve_question", question_id=ahead)
    await command(chair, "put_question_on_air", question_id=ahead)

    await command(ivy, "send_booth_message", text=hostile("Chat"))
    await command(captioner, "send_caption", text=hostile("Caption"))


# What each page shows of what people typed (labels given to hostile()).
SEEN = {
    "home": ["Event title", "Event description", "Venue", "Session title", "Session description", "Room", "Kind",
             "Later title"],
    "home_alice": ["Alice", "Delegation A", "Event title", "Session title"],
    "alice": [
        "Alice", "Delegation A", "Session title", "Event title",  # the page itself
        "Note", "In the room", "Room note", "Delegation C", "Carol",  # the list of speakers
        "Bob", "Delegation B",  # the speech
        "Edited by the chair", "Reason", "Question sent ahead", "Topic",  # questions
        "Caption",  # the listening panel, live only
    ],
    "chair": [
        "Chair", "Session title", "Event title",
        "Note", "In the room", "Room note", "Delegation C", "Carol", "Alice", "Delegation A",
        "Bob", "Delegation B",
        "Question of Alice", "Edited by the chair", "Reason", "Question sent ahead", "Topic",
    ],
    "ivy": ["Ivy", "Igor", "Chat", "Caption", "Bob", "Delegation B"],
    "captioner": ["Captioner", "Caption"],
    "screen": ["Session title", "Bob", "Delegation B", "Alice", "Delegation A", "In the room", "Delegation C",
               "Question sent ahead", "Topic"],
}  # fmt: skip
# Texts seen only as they happen (a caption is not in the listening panel's snapshot).
LIVE_ONLY = {"alice": {"Caption"}}


async def settled(page, labels) -> None:
    """Waits until every text reads back literally, somewhere on the page."""
    texts = [typed(label) for label in labels]
    try:
        await page.wait_for_function(
            "texts => texts.every((text) => document.documentElement.textContent.includes(text))", arg=texts
        )
    except Exception:
        content = await page.evaluate("document.documentElement.textContent")
        missing = [label for label in labels if typed(label) not in content]
        raise AssertionError(f"{page.url}: not shown as text: {missing}") from None


async def clean(page, dialogs: list[str]) -> None:
    inserted = await page.evaluate("window.__inserted")
    assert inserted == [], f"{page.url}: markup from user text: {inserted}"
    assert await page.evaluate("window.__pwned") is None
    assert dialogs == [], f"{page.url}: {dialogs}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_typed_text_is_never_markup_on_any_page(database_url):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    engine = create_engine(database_url)
    await migrate(engine)
    maker = sessionmaker(engine)
    report = await load_event(maker, parse_event(event_file(datetime.now(UTC))), SECRET)
    assert report.sessions.created == 2
    server = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port()))
    await server.start()
    stage = None
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                dialogs: list[str] = []
                errors: list[str] = []

                async def dismiss(dialog) -> None:
                    dialogs.append(dialog.message)
                    await dialog.dismiss()

                async def open_as(key: str | None):
                    context = await browser.new_context(base_url=server.url)
                    await context.add_init_script(OBSERVER)
                    page = await context.new_page()
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.on("dialog", dismiss)
                    if key is not None:
                        # The join landing: each person's link takes them to their page.
                        await page.goto(f"/join/{join_token(SECRET, SLUG, key, 1)}")
                    return page

                home = await open_as(None)
                await home.goto("/")
                alice = await open_as("alice")
                chair = await open_as("chair")
                ivy = await open_as("ivy")
                captioner = await open_as("cap")
                screen = await open_as("observer")
                pages = {"alice": alice, "chair": chair, "ivy": ivy, "captioner": captioner, "screen": screen}
                session_id = int(alice.url.rstrip("/").split("/")[-1])
                assert chair.url.endswith(f"/sessions/{session_id}/moderate")
                assert ivy.url.endswith(f"/sessions/{session_id}/booth")
                assert captioner.url.endswith(f"/sessions/{session_id}/booth")
                await screen.goto(f"/sessions/{session_id}/screen")
                for page in pages.values():
                    await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
                # Captions show in the listening panel once a language is chosen.
                await alice.select_option("#listen-captions-language", "en")
                # The console lists the questions of every state, not only pending ones.
                await chair.select_option("#question-filter-state", "")

                # Drawn live by the page scripts, as the events come.
                stage = Stage(server, session_id)
                await act(stage)
                for name, page in pages.items():
                    await settled(page, SEEN[name])
                    await clean(page, dialogs)
                await shot(chair, "escaping-live")

                # Drawn again from the snapshot and the server's templates.
                await settled(home, SEEN["home"])
                await clean(home, dialogs)
                await alice.goto("/")
                await settled(alice, SEEN["home_alice"])
                await clean(alice, dialogs)
                await alice.goto(f"/sessions/{session_id}")
                for name, page in pages.items():
                    if name != "alice":
                        await page.reload()
                    await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
                    if name == "chair":
                        await chair.select_option("#question-filter-state", "")
                    await settled(page, [label for label in SEEN[name] if label not in LIVE_ONLY.get(name, ())])
                    await clean(page, dialogs)
                assert errors == []
            finally:
                await browser.close()
    finally:
        for client in stage.clients if stage else []:
            await client.close()
        await server.stop()
        await engine.dispose()
