"""The agent desktop in a real headless Chromium: an offer arrives over the WebSocket, the agent
accepts, replies, ends and wraps up; customer markup stays text and never runs."""

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Route, async_playwright, expect

from centralita.config import Settings
from centralita.events.bus import Event, user_topic
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world
from tests.web.browser.live_server import live_server, open_page, sign_in
from tests.web.helpers import make_user
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

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

    with live_server(settings) as server:
        base = server.url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await open_page(browser)
            page = watched.page
            await sign_in(page, base, agent.email, "/agent")
            await expect(page.locator("#connection")).to_have_text("Connected", timeout=20_000)

            await page.get_by_label("Status", exact=True).select_option("available")
            await page.get_by_role("button", name="Change status").click()
            await expect(page.locator("#presence-label")).to_have_text("Available")
            await page.screenshot(path=shots / f"{backend}-waiting.png")

            wall = await open_page(browser)
            await sign_in(wall.page, base, boss, f"/supervisor?tenant={tenant.slug}")
            tile = wall.page.locator(f'[data-queue="{world.queue.id}"]')
            await expect(tile.locator('[data-field="offered"]')).to_have_text("0")
            await expect(wall.page.locator("#connection")).to_have_text("Connected", timeout=20_000)

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
                    "self_service_context": {
                        "intent": "card_limit",
                        "confidence": 0.87,
                        "said": XSS,
                        "prechat": {"email": "xss@example.com", "topic": "Límite"},
                        "callback_for": "0192f0c4-7a3e-7bb1-9a55-3a2f1c0d4e5f",
                    },
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
            # What the bot collected reads as labelled fields, not as data.
            collected = panel.locator(".self-service div")
            await expect(collected.filter(has_text="Intent")).to_have_text("Intentcard_limit")
            await expect(collected.filter(has_text="Confidence")).to_have_text("Confidence87 %")
            await expect(collected.filter(has_text="Topic")).to_have_text("TopicLímite")
            await expect(collected.filter(has_text="What the customer said")).to_contain_text(XSS)
            await expect(collected).to_have_count(5)
            side = page.locator("#customer-side")
            await expect(side.get_by_role("heading", level=2)).to_have_text(XSS)

            await panel.get_by_label("Reply").fill("Hola, ahora mismo lo miro.")
            await panel.get_by_label("Reply").press("Control+Enter")
            await expect(panel.locator(".message-agent .message-text")).to_have_text(
                "Hola, ahora mismo lo miro."
            )

            # A channel stores the customer's next message and announces it on the socket.
            said = await admin.post(
                tenant.url(f"/interactions/{work_id}/messages"),
                json={"text": f"¿Y ahora? {XSS}"},
            )
            assert said.status_code == 201, said.text
            server.publish(
                Event(
                    type="interaction.message_added",
                    tenant=tenant.id,
                    data={"interaction_id": work_id, "message_id": said.json()["id"]},
                    recipients=(user_topic(agent.id),),
                )
            )
            await expect(panel.locator(".message-customer .message-text")).to_have_text(
                [XSS, f"¿Y ahora? {XSS}"]
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


async def test_tickets_transfers_and_the_supervisors_actions(
    world: World, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    tenant = world.tenant
    agent = await world.agent(name="Ana Agente", presence="offline")  # type: ignore[arg-type]
    boss = await make_user(tenant.app, tenant.db, [(tenant, Role.SUPERVISOR)], name="Sara Jefa")
    admin = await tenant.client()
    # A skill Ana lacks: work transferred there waits for someone else (were she able to take
    # it, rule E6 would offer it straight back to her, the only agent).
    claims = await admin.post(tenant.url("/skills"), json={"name": "reclamaciones"})
    assert claims.status_code == 201, claims.text
    other = await admin.post(
        tenant.url("/queues"),
        json={
            "name": "reclamaciones",
            "channels": ["chat", "email"],
            "skills": [{"skill_id": claims.json()["id"]}],
        },
    )
    assert other.status_code == 201, other.text
    shots = artifacts_dir / "agent-desktop"
    shots.mkdir(exist_ok=True)

    with live_server(settings) as server:
        base = server.url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await open_page(browser)
            page = watched.page
            await sign_in(page, base, agent.email, "/agent")
            await page.get_by_label("Status", exact=True).select_option("available")
            await page.get_by_role("button", name="Change status").click()
            await expect(page.locator("#presence-label")).to_have_text("Available")

            first = await admin.post(
                tenant.url("/interactions"),
                json={
                    "channel": "chat",
                    "identity": {"kind": "email", "value": "rosa@example.com"},
                    "customer_name": "Rosa Díaz",
                    "queue": world.queue.name,
                    "language": "es",
                    "subject": "Recibo duplicado",
                    "message": {"text": "Me han cobrado dos veces"},
                },
            )
            assert first.status_code == 201, first.text
            await expect(page.locator(".offer-customer")).to_have_text("Rosa Díaz", timeout=15_000)
            await page.keyboard.press("Alt+a")

            panel = page.get_by_role("tabpanel")
            await expect(panel.locator(".message-customer")).to_contain_text("dos veces")
            await panel.locator("summary", has_text="New ticket").click()
            await panel.get_by_label("Subject").fill("Devolución del cobro duplicado")
            await panel.get_by_role("button", name="Create ticket").click()
            await expect(panel.locator(".work-status")).to_contain_text("created")
            side = page.locator("#customer-side")
            await expect(side).to_contain_text("Devolución del cobro duplicado")

            await panel.locator("summary", has_text="Transfer").click()
            await panel.get_by_label("To a queue").select_option(label="reclamaciones")
            await panel.get_by_label("Note for the colleague").fill("Quiere la devolución")
            await page.screenshot(path=shots / f"{backend}-transfer.png")
            await panel.locator(".transfer-form").get_by_role("button", name="Transfer").click()
            await expect(page.get_by_role("tab")).to_have_count(0)

            # The server drops every socket; the desktop reconnects, reloads its snapshot and
            # keeps receiving work.
            server.drop_sockets()
            await expect(page.locator("#connection")).to_have_text("Connected", timeout=20_000)

            wall = await open_page(browser)
            await sign_in(wall.page, base, boss, f"/supervisor?tenant={tenant.slug}")
            # Her chat waits in the queue it went to, and it is the only work for her: the
            # ticket made from it is worked in the chat, not queued beside it.
            waiting = wall.page.locator(".waiting li").filter(has_text="Recibo duplicado")
            await expect(waiting).to_contain_text("Rosa Díaz · reclamaciones", timeout=10_000)
            await expect(
                wall.page.locator(".waiting li").filter(has_text="Rosa Díaz")
            ).to_have_count(1)
            await waiting.get_by_label("Move to queue").select_option("soporte")
            await waiting.get_by_role("button", name="Move").click()
            await expect(page.locator(".offer-customer")).to_have_text("Rosa Díaz", timeout=15_000)

            row = wall.page.get_by_role("row", name="Ana Agente")
            await row.get_by_label("New state for Ana Agente").select_option("away:coaching")
            await row.get_by_role("button", name="Apply").click()
            await expect(page.locator("#presence-label")).to_have_text("Away")
            await expect(wall.page.get_by_role("row", name="Ana Agente")).to_contain_text(
                "Coaching"
            )
            await watched.assert_clean()
            await wall.assert_clean()
            await browser.close()

    tickets = (await admin.get(tenant.url("/tickets"), params={"text": "duplicado"})).json()
    assert [t["subject"] for t in tickets["items"]] == ["Devolución del cobro duplicado"]


async def test_work_that_leaves_or_comes_back_is_drawn_once_in_its_current_place(
    world: World, settings: Settings
) -> None:
    """A detail that arrives after its work has gone draws nothing, and work handed back to the
    same agent shows as a new offer without its old tab."""
    tenant = world.tenant
    agent = await world.agent(name="Ana Agente", presence="offline")  # type: ignore[arg-type]
    admin = await tenant.client()
    claims = await admin.post(tenant.url("/skills"), json={"name": "reclamaciones"})
    assert claims.status_code == 201, claims.text
    queues = {}
    for name, skill in (("reclamaciones", claims.json()["id"]), ("ventas", str(world.skill.id))):
        made = await admin.post(
            tenant.url("/queues"),
            json={"name": name, "channels": ["chat"], "skills": [{"skill_id": skill}]},
        )
        assert made.status_code == 201, made.text
        queues[name] = made.json()["id"]

    async def arrive(email: str, name: str) -> str:
        created = await admin.post(
            tenant.url("/interactions"),
            json={
                "channel": "chat",
                "identity": {"kind": "email", "value": email},
                "customer_name": name,
                "queue": world.queue.name,
                "language": "es",
                "message": {"text": "Hola"},
            },
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    with live_server(settings) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await open_page(browser)
            page = watched.page
            await sign_in(page, server.url, agent.email, "/agent")
            await expect(page.locator("#connection")).to_have_text("Connected", timeout=20_000)
            await page.get_by_label("Status", exact=True).select_option("available")
            await page.get_by_role("button", name="Change status").click()
            await expect(page.locator("#presence-label")).to_have_text("Available")
            tabs = page.get_by_role("tab")

            await arrive("lento@example.com", "Luis Lento")
            await expect(page.locator(".offer-customer")).to_have_text("Luis Lento", timeout=15_000)
            await page.keyboard.press("Alt+a")
            panel = page.get_by_role("tabpanel")
            await expect(panel.locator(".message-customer .message-text")).to_have_text("Hola")

            # After a reconnect the desk reloads the conversation; that answer is slow, and
            # meanwhile the agent transfers the work away (to a queue she does not serve).
            gate, asked = asyncio.Event(), asyncio.Event()
            detail = re.compile(r"/interactions/[0-9a-f-]{36}$")

            async def held(route: Route) -> None:
                asked.set()
                await gate.wait()
                await route.continue_()

            await page.route(detail, held)
            server.drop_sockets()
            await asyncio.wait_for(asked.wait(), 20)
            await panel.locator("summary", has_text="Transfer").click()
            await panel.get_by_label("To a queue").select_option(label="reclamaciones")
            await panel.locator(".transfer-form").get_by_role("button", name="Transfer").click()
            await expect(tabs).to_have_count(0)
            async with page.expect_response(lambda r: bool(detail.search(r.url))):
                gate.set()
            await page.unroute(detail)
            # Nothing may come back: give the late answer time to be (wrongly) drawn.
            await page.wait_for_timeout(1_000)
            await expect(tabs).to_have_count(0)

            # Accepted, then handed to a queue she serves: the work comes straight back to her.
            await arrive("vuelta@example.com", "Vera Vuelta")
            offer = page.locator(".offer").filter(has_text="Vera Vuelta")
            await expect(offer).to_be_visible(timeout=15_000)
            await offer.get_by_role("button", name="Accept").click()
            await expect(tabs).to_have_text("Chat · Vera Vuelta")
            await panel.locator("summary", has_text="Transfer").click()
            await panel.get_by_label("To a queue").select_option(label="ventas")
            await panel.locator(".transfer-form").get_by_role("button", name="Transfer").click()
            await expect(offer).to_be_visible(timeout=15_000)
            await expect(tabs).to_have_count(0)
            await offer.get_by_role("button", name="Accept").click()
            await expect(tabs).to_have_count(1)
            await expect(
                page.get_by_role("tabpanel").locator(".message-customer .message-text")
            ).to_have_text("Hola")
            await watched.assert_clean()
            await browser.close()
