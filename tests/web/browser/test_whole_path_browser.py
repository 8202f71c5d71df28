"""The whole path in one real headless Chromium, each person in their own browser context: a
customer writes in the chat widget, the agent receives the offer, accepts and replies, the
customer reads the reply, the agent wraps up, the supervisor's wallboard counts the contact and
the client portal shows it to that company only. Every page is photographed under
test-artifacts/, and the time from the customer's message to the agent's page is written there
(it is measured, not asserted: bench/web.py reports it against its target)."""

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.channels.chat.conftest import add_widget
from tests.conftest import TenantFixture
from tests.reporting.helpers import Outcome, add_queue, contact
from tests.routing.world import World, make_world
from tests.web.browser.live_server import live_server, open_page, sign_in
from tests.web.helpers import make_user
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
RIVAL_TOPIC = "Tema de la competencia"

# In the customer's page: when the send button was pressed. In the agent's page: when a
# customer's line with the awaited text appeared. Both pages read the same machine's clock.
MARK_SENT = """() => document.addEventListener("click", (event) => {
  if (event.target.closest("button")) window.__sentAt = Date.now();
}, true)"""
AWAIT_LINE = """(text) => {
  window.__seenAt = new Promise((resolve) => {
    const look = () => [...document.querySelectorAll(".message-customer .message-text")]
      .some((node) => node.textContent === text);
    if (look()) return resolve(Date.now());
    const watcher = new MutationObserver(() => {
      if (look()) { watcher.disconnect(); resolve(Date.now()); }
    });
    watcher.observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}"""


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def test_a_chat_from_the_widget_to_the_wallboard_and_the_client_portal(
    world: World, tenant_b: TenantFixture, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    tenant = world.tenant
    await add_widget(tenant, world.queue.name)
    # Another company with its own traffic, which this company's client must never see.
    await add_queue(tenant_b)
    await contact(tenant_b, Outcome(abandoned_after=45), topic=RIVAL_TOPIC)
    agent = await world.agent(name="Ana Agente", presence="offline")  # type: ignore[arg-type]
    boss = await make_user(tenant.app, tenant.db, [(tenant, Role.SUPERVISOR)], name="Sara Jefa")
    client = await make_user(
        tenant.app, tenant.db, [(tenant, Role.CLIENT_VIEWER)], name="Clara Cliente"
    )
    shots = artifacts_dir / "whole-path"
    shots.mkdir(exist_ok=True)

    with live_server(settings) as server:
        base = server.url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )

            desk = await open_page(browser, locale="en-GB")
            await sign_in(desk.page, base, agent.email, "/agent")
            await expect(desk.page.locator("#connection")).to_have_text("Connected", timeout=20_000)
            await desk.page.get_by_label("Status", exact=True).select_option("available")
            await desk.page.get_by_role("button", name="Change status").click()
            await expect(desk.page.locator("#presence-label")).to_have_text("Available")

            wall = await open_page(browser, locale="en-GB")
            await sign_in(wall.page, base, boss, f"/supervisor?tenant={tenant.slug}")
            tile = wall.page.locator(f'[data-queue="{world.queue.id}"]')
            await expect(tile.locator('[data-field="offered"]')).to_have_text("0")
            await expect(wall.page.locator("#connection")).to_have_text("Connected", timeout=20_000)

            # The customer, on the company's chat page, in Spanish.
            visitor = await open_page(browser, locale="es-ES")
            chat = visitor.page
            await chat.goto(f"{base}/chat/{tenant.slug}")
            await chat.get_by_role("button", name="Chatea con nosotros").click()
            await chat.get_by_label("Tu nombre").fill("Lucía Pérez")
            await chat.get_by_label("¿En qué podemos ayudarte?").fill(f"Mi tarjeta no va {XSS}")
            await chat.screenshot(path=shots / f"{backend}-customer-pre-chat.png")
            await chat.get_by_role("button", name="Empezar el chat").click()
            await expect(chat.locator(".cz-log .cz-visitor")).to_have_text(
                f"Mi tarjeta no va {XSS}"
            )

            offer = desk.page.locator(".offer")
            await expect(offer.locator(".offer-customer")).to_have_text(
                "Lucía Pérez", timeout=15_000
            )
            await expect(offer.locator(".channel-badge")).to_have_text("Chat")
            await desk.page.screenshot(path=shots / f"{backend}-agent-offer.png")
            await offer.get_by_role("button", name="Accept").click()
            panel = desk.page.get_by_role("tabpanel")
            await expect(panel.locator(".message-customer .message-text")).to_have_text(
                f"Mi tarjeta no va {XSS}"
            )

            reply = panel.get_by_label("Reply", exact=True)
            await reply.fill("Hola Lucía, la reviso ahora mismo.")
            await reply.press("Control+Enter")
            await expect(chat.locator(".cz-log .cz-agent")).to_have_text(
                "Hola Lucía, la reviso ahora mismo.", timeout=10_000
            )
            await chat.screenshot(path=shots / f"{backend}-customer-reads-reply.png")

            # The customer writes again: the line reaches the agent's page at once.
            await chat.evaluate(MARK_SENT)
            await desk.page.evaluate(AWAIT_LINE, "¿Tardará mucho?")
            await chat.get_by_label("Escribe tu mensaje").fill("¿Tardará mucho?")
            await chat.get_by_role("button", name="Enviar el mensaje").click()
            await expect(panel.locator(".message-customer .message-text")).to_have_text(
                [f"Mi tarjeta no va {XSS}", "¿Tardará mucho?"]
            )
            seen_at = await desk.page.evaluate("() => window.__seenAt")
            sent_at = await chat.evaluate("() => window.__sentAt")
            (artifacts_dir / f"chat-to-agent-{backend}.json").write_text(
                json.dumps({"chat_message_to_agent_page_ms": seen_at - sent_at})
            )
            await desk.page.screenshot(path=shots / f"{backend}-agent-conversation.png")

            await panel.get_by_role("button", name="End conversation").click()
            await panel.get_by_label("Disposition").select_option("resolved")
            await desk.page.screenshot(path=shots / f"{backend}-agent-wrap-up.png")
            await panel.get_by_role("button", name="Finish wrap-up").click()
            await expect(desk.page.get_by_role("tab")).to_have_count(0)
            await expect(desk.page.locator("#empty-work")).to_be_visible()

            # The supervisor's wallboard counted it, answered within the target.
            await expect(tile.locator('[data-field="offered"]')).to_have_text("1", timeout=10_000)
            await expect(tile.locator('[data-field="sltoday"]')).to_have_text("100%")
            await expect(tile.locator('[data-field="waiting"]')).to_have_text("0")
            row = wall.page.get_by_role("table").get_by_role("row", name="Ana Agente")
            await expect(row).to_contain_text("Available")
            await wall.page.screenshot(path=shots / f"{backend}-wallboard.png", full_page=True)

            # The client's manager sees the contact in their company's portal, and only there.
            portal = await open_page(browser, locale="en-GB")
            await sign_in(portal.page, base, client, f"/client?tenant={tenant.slug}")
            await expect(portal.page.get_by_role("heading", level=1)).to_contain_text(
                tenant.tenant.name
            )
            label = portal.page.locator(".kpi-label", has_text=re.compile("^Contacts$"))
            contacts = portal.page.locator(".kpi").filter(has=label)
            await expect(contacts.locator(".kpi-value")).to_have_text("1")
            content = await portal.page.content()
            assert tenant_b.tenant.name not in content
            assert RIVAL_TOPIC not in content
            await portal.page.screenshot(
                path=shots / f"{backend}-client-portal.png", full_page=True
            )
            portal.allow(404)
            other = await portal.page.goto(f"{base}/client?tenant={tenant_b.slug}")
            assert other is not None
            assert other.status == 404
            assert RIVAL_TOPIC not in await portal.page.content()

            for watched in (desk, wall, visitor, portal):
                await watched.assert_clean()
            await browser.close()

    admin = await tenant.client()
    found = (await admin.get(tenant.url("/interactions"), params={"channel": "chat"})).json()
    (done,) = [i for i in found["items"] if i["state"] == "ended"]
    assert done["disposition"] == "resolved"
    assert done["agent_user_id"] == str(agent.id)
