"""The organizer's half in Chromium, as a secretariat runs it (issue 15):
the organizer sets the deadlines and a session and invites three
delegations; a focal point records a note verbale and nominates three
members with one sponsorship request (a fourth member and a second
sponsorship are refused, in the page's language); a member completes their
registration with a question and a request to speak; the organizer
approves; the member's join link comes through the outbox and opens the
session, where the question is on the board and the request on the list.
Walked in English and in Arabic, at 1280 and 360 px, with a DOM watcher:
what people typed (names, the question) never becomes markup."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server import models
from tests.conftest import require_service
from tests.test_browser import ARGS, CHROMIUM, shot
from tests.test_escaping_browser import EVIL, WATCHER

# A minimal PDF: what the nomination page checks is its type.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _outbox_link(page, kind: str) -> str:
    """The newest link of a kind (join, register, nominate) in the console's outbox."""
    await page.goto(page.url.split("#")[0].split("?")[0])
    bodies = await page.locator("#outbox pre").all_text_contents()
    for body in bodies:  # newest first
        found = re.search(rf"https?://[^\s]+/{kind}/[A-Za-z0-9_-]+", body)
        if found:
            return found.group(0)
    raise AssertionError(f"no {kind} link in the outbox")


async def _watched(page) -> None:
    assert await page.evaluate("window.__inserted") == [], "typed text became markup"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", ["en", "ar"])
async def test_from_invitation_to_the_session(server, world, db, lang, tmp_path):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    zone = ZoneInfo("Europe/Brussels")
    soon = datetime.now(zone) + timedelta(days=10)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        contexts = []

        async def person(width: int):
            context = await browser.new_context(viewport={"width": width, "height": 900}, locale=lang)
            await context.add_init_script(WATCHER)
            contexts.append(context)
            return await context.new_page()

        # --- the organizer: deadlines, a session, three invitations -----------------
        organizer = await person(1280)
        await organizer.goto(f"{server.url}/join/{world.tokens['secretariat']}?to=organize&lang={lang}")
        assert organizer.url.endswith("/organize")
        assert await organizer.get_attribute("html", "lang") == lang
        event_form = organizer.locator("form[action='/organize/event']")
        await event_form.locator("[name=sponsored_close]").fill(soon.strftime("%Y-%m-%dT%H:%M"))
        await event_form.locator("[name=nominations_close]").fill(
            (soon + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M")
        )
        await event_form.locator("button").click()
        session_form = organizer.locator("form[action='/organize/sessions']")
        await session_form.locator("[name=key]").fill("plenary")
        await session_form.locator("[name=title]").fill("Plenary " + EVIL)
        await session_form.locator("[name=date]").fill((soon + timedelta(days=30)).strftime("%Y-%m-%d"))
        await session_form.locator("[name=starts]").fill("10:00")
        await session_form.locator("[name=ends]").fill("13:00")
        await session_form.locator("button").click()
        await expect(organizer.locator("#programme")).to_contain_text("Plenary")
        for key in ("th", "fr", "pe"):
            invite = organizer.locator("#invite")
            await invite.locator("[name=delegation_id]").select_option(str(world.delegations[key]))
            await invite.locator("[name=focal_name]").fill(f"Focal point {key}")
            await invite.locator("[name=focal_email]").fill(f"focal-{key}@example.org")
            await invite.locator("[name=focal_language]").select_option(lang)
            await invite.locator("button").click()
        await shot(organizer, f"organize-{lang}-1280")
        await _watched(organizer)
        nomination_link = await _outbox_link(organizer, "nominate")  # Peru's, the newest

        # --- the focal point of Peru: note verbale, three members, refusals --------------
        focal = await person(360)
        await focal.goto(nomination_link + f"?lang={lang}")
        assert focal.url.endswith("/nominate"), "the link's token leaves the address bar"
        note = focal.locator("form[action='/nominations/note']")
        await note.locator("[name=reference]").fill("NV/2023/041")
        await note.locator("[name=dated]").fill("2023-08-02")
        await note.locator("[name=file]").set_input_files(
            {"name": "note.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        await note.locator("button").click()
        await expect(focal.locator("#notes")).to_contain_text("NV/2023/041")

        async def nominate(name: str, email: str, sponsored: bool) -> None:
            form = focal.locator("form[action='/nominations/members']")
            await form.locator("[name=name]").fill(name)
            await form.locator("[name=email]").fill(email)
            await form.locator("[name=language]").select_option(lang)
            if sponsored:
                await form.locator("[name=sponsorship]").check()
            await form.locator("button").click()

        await nominate("María López " + EVIL, "maria@example.org", sponsored=True)
        await nominate("Second member", "second@example.org", sponsored=False)
        await nominate("Sponsored again", "again@example.org", sponsored=True)
        await expect(focal.locator("#refusal")).to_be_visible()
        refusal = await focal.locator("#refusal").inner_text()
        await nominate("Third member", "third@example.org", sponsored=False)
        await nominate("Fourth member", "fourth@example.org", sponsored=False)
        await expect(focal.locator("#refusal")).to_be_visible()
        limit_refusal = await focal.locator("#refusal").inner_text()
        if lang == "ar":
            assert re.search("[\u0600-\u06ff]", refusal) and re.search("[\u0600-\u06ff]", limit_refusal)
        else:
            assert "one" in refusal.lower() and "place" in limit_refusal.lower()
        await focal.goto(f"{server.url}/nominate")
        await expect(focal.locator("#members tbody tr")).to_have_count(3)
        await shot(focal, f"nominate-{lang}-360")
        await _watched(focal)

        # --- the member completes their registration --------------------------------
        registration_link = await _outbox_link(organizer, "register")  # the third member's
        async with db() as s:
            maria = await s.scalar(select(models.Participant).where(models.Participant.email == "maria@example.org"))
            plenary = await s.scalar(select(models.Session).where(models.Session.key == "plenary"))
        bodies = await organizer.locator("#outbox pre").all_text_contents()
        maria_body = next(b for b in bodies if "María" in b and "/register/" in b)
        registration_link = re.search(r"https?://[^\s]+/register/[A-Za-z0-9_-]+", maria_body).group(0)
        # A second organizer keeps the console open: they see the member's registration arrive, live.
        colleague = await person(1280)
        await colleague.goto(f"{server.url}/join/{world.tokens['secretariat']}?to=organize&lang={lang}")
        await expect(colleague.locator(f"tr[data-registration='{maria.id}']")).to_have_count(1)
        member = await person(360)
        await member.goto(registration_link + f"?lang={lang}")
        assert member.url.endswith("/register")
        form = member.locator("form[action='/registration/complete']")
        await form.locator("[name=gender][value=woman]").check()
        await form.locator("[name=needs][value=captions]").check()
        await form.locator("[name=question_session]").select_option(str(plenary.id))
        await form.locator("[name=question_text]").fill("How do we fund victim assistance? " + EVIL)
        await form.locator("[name=question_language]").select_option("en")
        await form.locator("[name=speak]").check()
        await form.locator("[name=speak_session]").select_option(str(plenary.id))
        await form.locator("[name=speak_language]").select_option("es")
        await form.locator("button").click()
        await expect(member.locator("#state")).to_have_text(re.compile(r"\S"))
        await expect(
            colleague.locator(f"tr[data-registration='{maria.id}'] button[formaction$='/approve']")
        ).to_have_count(1)
        await expect(colleague.locator("#live-note")).not_to_be_empty()
        await shot(member, f"register-{lang}-360")
        await _watched(member)

        # --- the organizer approves; the join link comes by e-mail ------------------------
        await organizer.goto(f"{server.url}/organize")
        row = organizer.locator(f"tr[data-registration='{maria.id}']")
        await row.locator("button[formaction$='/approve']").click()
        await expect(
            organizer.locator(f"tr[data-registration='{maria.id}'] button[formaction$='/approve']")
        ).to_have_count(0)
        # The row may change live (the desk's socket) before the page comes back
        # from the approval: wait for the message itself.
        approval = organizer.locator("#outbox pre").filter(has_text="María").filter(has_text="/join/")
        await expect(approval).to_have_count(1)
        await shot(organizer, f"organize-approved-{lang}-1280")
        await _watched(organizer)
        approved = await approval.text_content() or ""
        join_link = re.search(r"https?://[^\s]+/join/[A-Za-z0-9_-]+", approved).group(0)

        # --- the member joins: the question on the board, the request on the list --------
        await member.goto(join_link + f"?lang={lang}")
        async with db() as s:
            question = await s.scalar(select(models.Question).where(models.Question.author_id == maria.id))
            request = await s.scalar(
                select(models.SpeakingRequest).where(models.SpeakingRequest.requester_id == maria.id)
            )
        assert question is not None and question.session_id == plenary.id and question.is_presubmitted
        assert request is not None and request.session_id == plenary.id and request.language == "es"
        moderator = await person(1280)
        await moderator.goto(f"{server.url}/join/{world.tokens['secretariat']}")
        await moderator.goto(f"{server.url}/sessions/{plenary.id}/moderate?lang={lang}")
        await expect(moderator.locator("body")).to_contain_text("How do we fund victim assistance?")
        await expect(moderator.locator("body")).to_contain_text("María López")
        await shot(moderator, f"moderate-registered-{lang}-1280")
        await _watched(moderator)

        # --- finally, the list of participants and the attendance --------------------------
        await organizer.goto(f"{server.url}/organize?lang={lang}")
        async with organizer.expect_download() as listed:
            await organizer.locator("a[href='/organize/participants.csv']").click()
        text = (await (await listed.value).path()).read_text(encoding="utf-8")
        assert "María López" in text and "Peru" in text
        async with organizer.expect_download() as attendance:
            await organizer.locator(f"a[href='/organize/attendance/{plenary.id}.xlsx']").click()
        assert (await (await attendance.value).path()).read_bytes()[:2] == b"PK"
        for context in contexts:
            await context.close()
        await browser.close()
    assert datetime.now(UTC) < soon.astimezone(UTC)
