"""Moderating questions without a prompt() (issue 17, item 5): reject with a
reason, edit and merge in a dialog while the page keeps following the
session (a vote counted meanwhile shows at once); each question shows its
number in this session, its votes in words and its language by name; the
question form's checkboxes sit beside their labels."""

from __future__ import annotations

import pytest

from tests.conftest import require_service
from tests.test_browser import ARGS, CHROMIUM, answer, shot


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_reject_edit_and_merge_in_a_dialog_while_the_list_moves(server, world, connect):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    france, peru, usa = [await connect(who) for who in ("france", "peru", "usa")]
    texts = ("Who funds rehabilitation?", "Who pays for rehabilitation?", "What about regional funds?")
    for client, text in zip((france, peru, usa), texts):
        assert (await client.command("submit_question", text=text, language="fr"))["type"] == "ack"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            chair = await (
                await browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
            ).new_page()
            errors: list[str] = []
            chair.on("pageerror", lambda exc: errors.append(str(exc)))
            await chair.goto(f"/join/{world.tokens['chair']}")
            await chair.goto(f"/sessions/{world.session_id}/moderate")
            await expect(chair.locator("#connection")).to_have_attribute("data-state", "connected")
            items = chair.locator("#question-list li.question")
            await expect(items).to_have_count(3)
            first = items.filter(has_text=texts[0])
            # Its number in this session, its votes in words, its language by name.
            await expect(first.locator(".question-number")).to_have_text("No. 1")
            await expect(first.locator(".votes")).to_have_text("0 votes")
            await expect(first.locator(".question-meta")).to_contain_text("French")

            # Merge the second into the first, chosen from a list, not by typing a number.
            await items.filter(has_text=texts[1]).get_by_role("button", name="Merge into…").click()
            await chair.locator("#ask-dialog-input").select_option(label=f"No. 1 · {texts[0]}")
            await answer(chair)

            # Reject the third with a reason; while the dialog is open, the list keeps moving.
            await chair.select_option("#question-filter-state", "")
            await items.filter(has_text=texts[2]).get_by_role("button", name="Reject").click()
            await chair.locator("#ask-dialog-input").fill("Off topic")
            assert (await usa.command("edit_question", question_id=3, text="What about regional funds, really?"))[
                "type"
            ] == "ack"
            await expect(chair.locator("#question-list")).to_contain_text("really?")  # behind the dialog
            await shot(chair, "question-dialog-1280")
            await answer(chair)
            await expect(chair.locator("#question-list li.state-rejected")).to_have_count(1)
            while (update := (await usa.next_event("question_updated"))["data"]["question"])["state"] != "rejected":
                pass
            assert update["reject_reason"] == "Off topic"
            assert errors == []

            # The delegate's form: the checkboxes beside their labels, not pushed away.
            delegate = await (
                await browser.new_context(base_url=server.url, viewport={"width": 360, "height": 740})
            ).new_page()
            await delegate.goto(f"/join/{world.tokens['peru']}")
            # The form shows once the snapshot says questions are open: measured before, it has no box.
            await expect(delegate.locator("#question-anonymous")).to_be_visible()
            box = await delegate.locator("#question-anonymous").bounding_box()
            label = await delegate.locator("label", has=delegate.locator("#question-anonymous")).bounding_box()
            assert box["width"] < 40 and box["x"] - label["x"] < 30
        finally:
            await browser.close()
