"""Breakout groups in Chromium (issue 16): the chair splits the plenary into
three regional groups from the console; a delegate goes to their group and
requests the floor there; the countdown ends; everyone is back in the
plenary, where the rapporteurs are on the list to report back."""

from __future__ import annotations

import pytest

from tests.conftest import require_service
from tests.test_browser import ARGS, CHROMIUM, shot


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_split_speak_in_a_group_and_come_back(server, world):
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            chair = await (
                await browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
            ).new_page()
            delegate = await (
                await browser.new_context(base_url=server.url, viewport={"width": 360, "height": 740})
            ).new_page()
            errors: list[str] = []
            for page in (chair, delegate):
                page.on("pageerror", lambda exc: errors.append(str(exc)))
            await chair.goto(f"/join/{world.tokens['chair']}")
            await chair.goto(f"/sessions/{world.session_id}/moderate")
            await expect(chair.locator("#connection")).to_have_attribute("data-state", "connected")
            await delegate.goto(f"/join/{world.tokens['peru']}")
            await expect(delegate.locator("#connection")).to_have_attribute("data-state", "connected")

            # The chair makes three regional groups for 6 seconds.
            await chair.locator("#breakouts-open summary").click()
            form = chair.locator("#breakouts-form")
            slots = form.locator("fieldset")
            plan = (
                ("Latin America and the Caribbean", ["Peru"]),
                ("Western Europe and others", ["France", "United States of America"]),
                (
                    "Organisations",
                    ["International Committee of the Red Cross", "International Campaign to Ban Landmines"],
                ),
            )
            for index, (name, delegations) in enumerate(plan):
                await slots.nth(index).locator("[name=name]").fill(name)
                await slots.nth(index).locator("[name=delegations]").select_option(label=delegations)
            await form.locator("[name=minutes]").fill("0.25")
            await shot(chair, "breakouts-form-1280")
            await form.get_by_role("button").click()
            await expect(chair.locator("#breakouts")).to_contain_text("Visit Organisations")
            await expect(chair.locator("#breakouts-countdown")).to_contain_text("0:1")

            # The delegate goes to their group and asks for the floor there.
            go = delegate.locator("#breakouts-go")
            await expect(go).to_be_visible()
            await shot(delegate, "breakouts-plenary-360")
            await go.click()
            await expect(delegate.locator("#breakouts")).to_contain_text("Latin America and the Caribbean")
            await expect(delegate.locator("#connection")).to_have_attribute("data-state", "connected")
            assert "/sessions/" in delegate.url and not delegate.url.endswith(f"/sessions/{world.session_id}")
            await delegate.select_option("#ask-language", "es")
            await delegate.get_by_role("button", name="Request the floor").click()
            await expect(delegate.locator("#speakers tbody tr")).to_have_count(1)
            await shot(delegate, "breakouts-group-360")

            # The countdown ends: the delegate is back in the plenary, the rapporteurs are on its list.
            await expect(delegate.locator("#breakouts")).to_contain_text("rapporteurs", timeout=30000)
            assert delegate.url.endswith(f"/sessions/{world.session_id}")
            await expect(chair.locator("#speakers tbody tr")).to_have_count(3, timeout=30000)
            await expect(chair.locator("#speakers")).to_contain_text("Report of Latin America and the Caribbean")
            await shot(chair, "breakouts-report-back-1280")
            assert errors == []
        finally:
            await browser.close()
