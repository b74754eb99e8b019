"""Questions in real browsers: a delegate asks before the session, the chair
approves, queues and puts it on air, the projector shows it, another delegate
votes, and the question goes to the floor and is heard. The question's text
is hostile HTML everywhere, and stays text."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from server import models
from server.question_export import export_questions
from tests.conftest import require_service
from tests.test_browser import ARGS, CHROMIUM, shot

SCRIPT = "<script>window.__xss = 1</script> Who pays for rehabilitation after the project ends?"
IMAGE = '<img src=x onerror="window.__xss = 2"> Are regional funds an option?'


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_question_from_submission_to_the_floor(server, world, db):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    # The session opens tomorrow: questions sent now are pre-submitted.
    async with db() as s, s.begin():
        later = datetime.now(UTC) + timedelta(days=1)
        await s.execute(
            update(models.Session)
            .where(models.Session.id == world.session_id)
            .values(starts_at=later, ends_at=later + timedelta(hours=2))
        )

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            pages = {}
            errors: list[str] = []
            for who in ("france", "peru", "chair", "observer"):
                page = await (await browser.new_context(base_url=server.url)).new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await page.goto(f"/join/{world.tokens[who]}")
                pages[who] = page
            france, peru, chair, screen = pages["france"], pages["peru"], pages["chair"], pages["observer"]
            await chair.goto(f"/sessions/{world.session_id}/moderate")
            await screen.goto(f"/sessions/{world.session_id}/screen?lang=fr")
            for page in pages.values():
                await expect(page.locator("#connection")).to_have_attribute("data-state", "connected")

            # France asks, wishing to ask it herself; Peru asks too.
            await france.get_by_label("Your question").fill(SCRIPT)
            await france.get_by_label("I wish to ask it myself").check()
            await france.get_by_role("button", name="Send the question").click()
            mine = france.locator("#my-questions li")
            await expect(mine).to_have_count(1)
            await expect(mine).to_contain_text("Pending")
            await expect(mine.locator(".question-text")).to_have_text(SCRIPT)
            await peru.get_by_label("Your question").fill(IMAGE)
            await peru.get_by_role("button", name="Send the question").click()
            await expect(peru.locator("#my-questions li")).to_have_count(1)

            # Pending: Peru does not see France's question, France not Peru's.
            await expect(peru.locator("#question-list")).not_to_contain_text("rehabilitation")
            await expect(france.locator("#question-list")).not_to_contain_text("regional funds")

            # The console lists both as pending; the chair approves France's.
            pending = chair.locator("#question-list li")
            await expect(pending).to_have_count(2)
            france_item = pending.filter(has_text="rehabilitation")
            await expect(france_item).to_contain_text("wishes to ask it")
            await shot(chair, "questions-console")
            await france_item.get_by_role("button", name="Approve").click()
            await expect(france.locator("#my-questions li")).to_contain_text("Approved")

            # Peru sees it now and votes; the count is live everywhere.
            listed = peru.locator("#question-list li").filter(has_text="rehabilitation")
            await expect(listed).to_have_count(1)
            await listed.get_by_role("button", name="Vote").click()
            await expect(listed.locator(".votes")).to_have_text("1 vote")
            await expect(france.locator("#question-list li .votes")).to_have_text("1 vote")
            await expect(listed.get_by_role("button", name="Take back my vote")).to_be_visible()

            # Next up, then on air: the projector shows it, large, as text.
            await chair.select_option("#question-filter-state", "approved")
            await chair.locator("#question-list li").first.get_by_role("button", name="Next up").click()
            queued = chair.locator("#question-queue li")
            await expect(queued).to_have_count(1)
            await queued.get_by_role("button", name="Put on air").click()
            await expect(screen.locator("#screen-question-text")).to_have_text(SCRIPT)
            await expect(screen.locator("#screen-question")).to_be_visible()
            await shot(screen, "screen-question")

            # To the floor: France's delegation goes on the list of speakers.
            await chair.select_option("#question-filter-state", "on_air")
            await chair.locator("#question-list li").first.get_by_role("button", name="To the list of speakers").click()
            await expect(france.locator("#speakers tbody tr")).to_have_count(1)
            await expect(france.locator("#speakers tbody tr")).to_contain_text("Question")
            await expect(france.locator("#my-questions li")).to_contain_text("On the list of speakers: 1")
            await expect(screen.locator("#screen-next li")).to_have_count(1)
            await chair.get_by_role("button", name="Give the floor to the next speaker").click()
            await expect(screen.locator("#current")).to_contain_text("Delegate of France")
            await expect(screen.locator("#timer")).to_have_text(re.compile(r"^[23]:\d\d$"))
            await expect(france.locator("#my-questions li")).to_contain_text("Went to the floor")
            await shot(screen, "screen-speaker")

            # Nothing hostile ran or became an element, on any page.
            for page in pages.values():
                assert await page.evaluate("window.__xss") is None
                assert await page.locator("#main img").count() == 0
                assert await page.locator("#main script:not([type])").count() == 0
            assert errors == []
        finally:
            await browser.close()

    # The record holds it all, and the text as text.
    out = io.StringIO()
    await export_questions(db, str(world.session_id), out)
    rows = {row["text"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    asked = rows[SCRIPT]
    assert asked["state"] == "on_air" and asked["votes"] == "1" and asked["is_presubmitted"] == "true"
    assert asked["author"] == "Delegate of France" and asked["speaking_request_id"]
    assert rows[IMAGE]["state"] == "pending"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_projector_needs_a_join_link(server, world):
    import httpx

    async with httpx.AsyncClient(base_url=server.url) as client:
        refused = await client.get(f"/sessions/{world.session_id}/screen")
        assert refused.status_code == 403 and "join link" in refused.text
        missing = await client.get("/sessions/9999/screen")
        assert missing.status_code == 404
