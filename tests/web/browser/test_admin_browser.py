"""Administration in a real headless Chromium: the API's field errors appear beside the fields,
nothing is saved until the form is right, and every section is photographed."""

from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world
from tests.web.browser.live_server import live_server, open_page, sign_in
from tests.web.helpers import make_user
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

SECTIONS = ("company", "members", "skills", "queues", "agents", "calendars", "policies")


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def test_an_administrator_fixes_a_refused_queue_and_sets_skills(
    world: World, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    tenant = world.tenant
    agent = await world.agent(name="Pedro Pérez")
    email = await make_user(tenant.app, tenant.db, [(tenant, Role.ADMIN)], name="Alba Admin")
    api = await tenant.client()
    shots = artifacts_dir / "admin"
    shots.mkdir(exist_ok=True)

    with live_server(settings) as server:
        base = server.url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await open_page(browser)
            page = watched.page
            watched.allow(422)
            await sign_in(page, base, email, f"/admin?tenant={tenant.slug}&section=queues")

            form = page.locator("#queue-form")
            await form.get_by_label("Name").fill("ventas")
            await form.get_by_label("Service level target (%)").fill("150")
            await form.get_by_role("button", name="Create queue").click()
            target = form.get_by_label("Service level target (%)")
            await expect(target).to_have_attribute("aria-invalid", "true")
            await expect(form.locator(".form-summary")).to_be_visible()
            await expect(form.locator("fieldset .field-error")).to_be_visible()
            await page.screenshot(path=shots / f"{backend}-queue-errors.png", full_page=True)
            names = [q["name"] for q in (await api.get(tenant.url("/queues"))).json()]
            assert names == ["soporte"]

            await form.get_by_label("chat").check()
            await target.fill("90")
            await form.get_by_role("button", name="Create queue").click()
            await expect(page.locator("#saved-notice")).to_have_text("Saved.")
            await expect(page.get_by_role("row", name="ventas")).to_contain_text("90% in 20 s")

            await page.goto(f"{base}/admin?tenant={tenant.slug}&section=agents")
            agent_form = page.locator(f"#agent-{agent.id}")
            await agent_form.get_by_label("soporte").select_option("5")
            await agent_form.get_by_label("Chats").fill("4")
            await agent_form.get_by_role("button", name="Save").click()
            await expect(page.locator("#saved-notice")).to_be_visible()

            for section in SECTIONS:
                await page.goto(f"{base}/admin?tenant={tenant.slug}&section={section}")
                await page.screenshot(path=shots / f"{backend}-{section}.png", full_page=True)
            await watched.assert_clean()
            await browser.close()

    profile = (await api.get(tenant.url(f"/agents/{agent.id}"))).json()
    assert profile["capacity"]["chat"] == 4
    assert [(s["name"], s["level"]) for s in profile["skills"]] == [("soporte", 5)]
