"""Live CSAT and NPS on the wallboard in a real headless Chromium: a customer answers through
the survey link, and the wallboard open on a supervisor's screen shows the new figures for the
queue and the agent without a reload."""

from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from centralita.config import Settings
from centralita.identity.permissions import Role
from centralita.surveys.service import SurveyLinks
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world
from tests.web.browser.live_server import live_server, open_page, sign_in
from tests.web.helpers import make_user
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_survey_figures import Answers

pytestmark = pytest.mark.e2e


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def test_an_answer_reaches_the_open_wallboard(
    world: World, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    tenant = world.tenant
    ana = await world.agent(name="Ana Agente")
    answers = Answers(world)
    await answers.give(await world.arrive(), 2, 6, agent=ana)
    invitation = await answers.invite(await world.arrive(), agent=ana)
    token = SurveyLinks(settings.secret_key, settings.public_url).token(invitation)
    boss = await make_user(tenant.app, tenant.db, [(tenant, Role.SUPERVISOR)], name="Sara")
    shots = artifacts_dir / "survey-wallboard"
    shots.mkdir(exist_ok=True)

    with live_server(settings) as server:
        base = server.url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await open_page(browser, height=900)
            page = watched.page
            await sign_in(page, base, boss, f"/supervisor?tenant={tenant.slug}")
            await expect(page.locator("#connection")).to_have_text("Connected", timeout=20_000)
            tile = page.locator(f'[data-queue="{world.queue.id}"]')
            agent_row = page.get_by_role("row", name="Ana Agente")
            await expect(tile.locator('[data-field="csat"]')).to_have_text("0% (1)")
            await expect(tile.locator('[data-field="nps"]')).to_have_text("-100 (1)")

            async with httpx.AsyncClient(base_url=base) as customer:
                answered = await customer.post(
                    f"/s/{tenant.slug}/{token}", data={"csat": "5", "nps": "10"}
                )
            assert answered.status_code == 200, answered.text

            await expect(tile.locator('[data-field="csat"]')).to_have_text("50% (2)")
            await expect(tile.locator('[data-field="nps"]')).to_have_text("+0 (2)")
            await expect(agent_row).to_contain_text("50% (2)")
            await page.screenshot(path=shots / f"{backend}-wallboard.png", full_page=True)
            await watched.assert_clean()
            await browser.close()
