"""axe-core on every page, in every language, for every role: zero violations;
at 360 px (a phone) no page scrolls sideways; in Arabic, French and Spanish
no page string is left in English, the scripts' texts included.

The pages are checked live: a speech is running and requests wait, so the
rows, their buttons, the timer and the banners drawn by the scripts are
checked too, not only the server's HTML.
"""

from __future__ import annotations

import pytest

from server.i18n import PAGE_LANGUAGES, translations
from tests.conftest import require_service
from tests.test_browser import ARGS, CHROMIUM
from tests.test_i18n import page_strings

PHONE = {"width": 360, "height": 740}


def english_left(text: str, language: str) -> list[str]:
    """Page strings still in English in a page shown in another language
    (those of two words or more whose translation is not the English)."""
    catalog = translations(language)
    return [
        msgid
        for msgid in page_strings()
        if " " in msgid and "{" not in msgid and "%(" not in msgid and msgid in text and catalog.gettext(msgid) != msgid
    ]


DESKTOP = {"width": 1280, "height": 900}


async def _set_the_scene(connect, world) -> None:
    """A speech running, a point of order, a delegation's request, statements."""
    peru = await connect("peru")
    france = await connect("france")
    icbl = await connect("icbl")
    chair = await connect("chair")
    for client, fields in (
        (peru, {"kind": "statement", "language": "es"}),
        (france, {"kind": "statement", "language": "fr", "on_behalf": "delegation"}),
        (icbl, {"kind": "point_of_order", "note": "ثمة مشكلة في الترجمة الشفوية إلى العربية"}),
    ):
        reply = await client.command("request_floor", **fields)
        assert reply["type"] == "ack", reply
    assert (await chair.command("give_floor"))["type"] == "ack"
    # A long name without a space must wrap, not push a phone's page sideways.
    reply = await chair.command(
        "add_speaker", delegation_id=world.delegations["icrc"], speaker_name="Representative" * 8, kind="statement"
    )
    assert reply["type"] == "ack", reply


def _pages(world) -> list[tuple[str, str | None, str, bool]]:
    """(name, who or None for nobody, path, whether the page goes live)."""
    session = f"/sessions/{world.session_id}"
    return [
        ("programme, nobody", None, "/", False),
        ("programme, delegate", "france", "/", False),
        ("programme, chair", "chair", "/", False),
        ("session, nobody", None, session, False),
        ("session, delegate", "peru", session, True),
        ("session, speaker on the floor", "icbl", session, True),
        ("session, chair", "chair", session, True),
        ("session, interpreter", "interpreter", session, True),
        ("console, chair", "chair", f"{session}/moderate", True),
        ("console, delegate", "france", f"{session}/moderate", False),
        ("console, nobody", None, f"{session}/moderate", False),
        ("booth, interpreter", "interpreter", f"{session}/booth", True),
        ("booth, delegate", "france", f"{session}/booth", False),
        ("unknown session", None, "/sessions/999999", False),
        ("invalid join link", None, "/join/not-a-valid-token", False),
        ("organizer console, organizer", "secretariat", "/organize", False),
        ("organizer console, delegate", "france", "/organize", False),
        ("nomination page, focal point", "focal", "/nominate", False),
        ("registration form, member", "member", "/register", False),
        ("committee page, nobody", None, "/committees/cooperation", False),
        ("committee page, delegate", "france", "/committees/cooperation", False),
    ]


# The private links of a focal point and of a nominated member (issue 15).
PRIVATE = {
    "focal": ("tribune_focal", "focal-point-link-for-a11y"),
    "member": ("tribune_member", "member-link-for-a11y"),
}


async def _registration_scene(db, world) -> None:
    """Peru invited with a note and two nominees, one of whom completed the form."""
    from datetime import UTC, date, datetime

    from sqlalchemy import update

    from server import models
    from server.secretariat import desk_of
    from server.tokens import token_hash

    now = datetime.now(UTC)
    async with db() as s, s.begin():
        await desk_of(s, world.event_id)
        await s.execute(
            update(models.Delegation)
            .where(models.Delegation.id == world.delegations["pe"])
            .values(
                invitation="accepted",
                focal_name="Focal",
                focal_email="focal@example.org",
                focal_token_hash=token_hash(PRIVATE["focal"][1]),
                focal_token_version=1,
            )
        )
        s.add(
            models.NoteVerbale(
                delegation_id=world.delegations["pe"], reference="NV/7", dated=date(2023, 8, 2), received_at=now
            )
        )
        for key, state, link in (("peru", "pending", PRIVATE["member"][1]), ("presenter", "nominated", "other-link")):
            s.add(
                models.Registration(
                    participant_id=world.participants[key],
                    event_id=world.event_id,
                    state=state,
                    sponsorship="requested" if key == "peru" else None,
                    token_hash=token_hash(link),
                    token_version=1,
                    gender="woman",
                    accessibility=["captions"],
                    accessibility_note="",
                    languages=["es"],
                    question_session_id=world.session_id,
                    question_text="¿Cómo se financia la asistencia?",
                    question_language="es",
                    nominated_at=now,
                )
            )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_page_in_every_language_for_every_role(server, world, connect, db):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from axe_playwright_python.async_playwright import Axe
    from playwright.async_api import async_playwright, expect

    await _set_the_scene(connect, world)
    await _registration_scene(db, world)
    axe = Axe()
    violations: list[str] = []
    sideways: list[str] = []
    english: list[str] = []
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            contexts = {}
            for who in {who for _, who, _, _ in _pages(world)}:
                context = await browser.new_context(base_url=server.url, viewport=DESKTOP)
                if who in PRIVATE:
                    name, value = PRIVATE[who]
                    await context.add_cookies([{"name": name, "value": value, "url": server.url}])
                elif who is not None:
                    await context.add_cookies(
                        [{"name": "tribune_token", "value": world.tokens[who], "url": server.url}]
                    )
                contexts[who] = await context.new_page()
                contexts[who].on("pageerror", lambda exc: errors.append(str(exc)))
            for language in PAGE_LANGUAGES:
                for name, who, path, live in _pages(world):
                    page = contexts[who]
                    label = f"{name} [{language}]"
                    for viewport in (DESKTOP, PHONE):
                        await page.set_viewport_size(viewport)
                        await page.goto(f"{path}?lang={language}")
                        await expect(page.locator("html")).to_have_attribute("lang", language)
                        if live:
                            await expect(page.locator("#connection"), label).to_have_attribute(
                                "data-state", "connected"
                            )
                            await expect(page.locator("#timer")).to_be_visible()
                        if viewport is DESKTOP:
                            results = await axe.run(page)
                            if results.violations_count:
                                violations.append(f"{label}:\n{results.generate_report()}")
                            if language != "en":
                                left = english_left(await page.locator("body").inner_text(), language)
                                english += [f"{label}: {text!r}" for text in left]
                        else:
                            width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                            if width[0] > width[1]:
                                sideways.append(f"{label}: {width[0]} px wide at {width[1]} px")
        finally:
            await browser.close()
    assert violations == [], "\n".join(violations)
    assert sideways == []
    assert english == []
    assert errors == []
