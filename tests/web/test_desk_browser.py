"""The agent desktop in a real headless Chromium: an offer arrives over the WebSocket, the agent
accepts, replies, ends and wraps up; customer markup stays text and never runs."""

from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world
from tests.web.helpers import make_user
from tests.web.live_server import Guarded, live_server, sign_in
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, CSP_PROBE

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def test_an_agent_takes_a_chat_from_offer_to_wrap_up(
    world: World, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    agent = await world.agent(name="Ana Agente", presence="offline")  # type: ignore[arg-type]
    tenant = world.tenant
    boss = await make_user(tenant.app, tenant.db, [(tenant, Role.SUPERVISOR)], name="Sara Jefa")
    admin = await tenant.client()
    shots = artifacts_dir / "agent-desktop"
    shots.mkdir(exist_ok=True)

    with live_server(settings) as base:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            context = await browser.new_context(viewport={"width": 1366, "height": 768})
            await context.add_init_script(CSP_PROBE)
            watched = Guarded(await context.new_page())
            page = watched.page
            await sign_in(page, base, agent.email, "/agent")
            await expect(page.locator("#connection")).to_have_text("Connected")

            await page.get_by_label("Status", exact=True).select_option("available")
            await page.get_by_role("button", name="Change status").click()
            await expect(page.locator("#presence-label")).to_have_text("Available")
            await page.screenshot(path=shots / f"{backend}-waiting.png")

            wall_context = await browser.new_context(viewport={"width": 1366, "height": 768})
            await wall_context.add_init_script(CSP_PROBE)
            wall = Guarded(await wall_context.new_page())
            await sign_in(wall.page, base, boss, f"/supervisor?tenant={tenant.slug}")
            tile = wall.page.locator(f'[data-queue="{world.queue.id}"]')
            await expect(tile.locator('[data-field="offered"]')).to_have_text("0")
            await expect(wall.page.locator("#connection")).to_have_text("Connected")

            created = await admin.post(
                world.tenant.url("/interactions"),
                json={
                    "channel": "chat",
                    "identity": {"kind": "email", "value": "xss@example.com"},
                    "customer_name": XSS,
                    "queue": world.queue.name,
                    "language": "es",
                    "subject": XSS,
                    "topic": "tarjeta",
                    "self_service_context": {"intent": "card_limit", "said": XSS},
                    "message": {"text": XSS},
                },
            )
            assert created.status_code == 201, created.text
            work_id = created.json()["id"]

            offer = page.locator(".offer")
            await expect(offer.locator(".offer-customer")).to_have_text(XSS, timeout=10_000)
            await expect(offer.locator(".offer-subject")).to_have_text(XSS)
            await expect(offer.locator(".offer-countdown")).to_contain_text("Expires in")
            await page.screenshot(path=shots / f"{backend}-offer.png")
            await offer.get_by_role("button", name="Accept").click()

            tab = page.get_by_role("tab")
            await expect(tab).to_contain_text(XSS)
            panel = page.get_by_role("tabpanel")
            await expect(panel.locator(".message-customer .message-text")).to_have_text(XSS)
            await expect(panel.locator(".self-service")).to_contain_text("card_limit")
            side = page.locator("#customer-side")
            await expect(side.get_by_role("heading", level=2)).to_have_text(XSS)

            await panel.get_by_label("Reply").fill("Hola, ahora mismo lo miro.")
            await panel.get_by_label("Reply").press("Control+Enter")
            await expect(panel.locator(".message-agent .message-text")).to_have_text(
                "Hola, ahora mismo lo miro."
            )
            await page.screenshot(path=shots / f"{backend}-conversation.png")

            await panel.get_by_role("button", name="End conversation").click()
            await expect(panel.get_by_role("heading", name="Wrap-up")).to_be_visible()
            await panel.get_by_label("Disposition").select_option("information")
            await panel.get_by_label("Notes").fill("Límite explicado")
            await page.screenshot(path=shots / f"{backend}-wrap-up.png")
            await panel.get_by_role("button", name="Finish wrap-up").click()
            await expect(page.get_by_role("tab")).to_have_count(0)
            await expect(page.locator("#empty-work")).to_be_visible()

            await watched.assert_clean()

            # The wallboard counted the contact, answered, and shows the agent free again.
            await expect(tile.locator('[data-field="offered"]')).to_have_text("1", timeout=10_000)
            await expect(tile.locator('[data-field="sltoday"]')).to_have_text("100%")
            await expect(tile.locator('[data-field="waiting"]')).to_have_text("0")
            grid = wall.page.get_by_role("table")
            await expect(grid.get_by_role("row", name="Ana Agente")).to_contain_text("Available")
            await expect(grid.get_by_role("row", name="Ana Agente")).to_contain_text("1")
            await wall.page.screenshot(path=shots / f"{backend}-wallboard.png", full_page=True)
            await wall.page.get_by_role("button", name="TV mode").click()
            await expect(wall.page.locator("body")).to_have_class("shell shell-app tv")
            await wall.page.screenshot(path=shots / f"{backend}-wallboard-tv.png")
            await wall.assert_clean()
            await browser.close()

    done = (await admin.get(world.tenant.url(f"/interactions/{work_id}"))).json()
    assert done["state"] == "ended"
    assert done["disposition"] == "information"
    assert [m["author_kind"] for m in done["messages"]][:2] == ["customer", "agent"]
