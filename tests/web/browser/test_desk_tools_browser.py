"""The desk's ticket tools, reply macros and call controls in a real headless Chromium: the agent
files a chat under a new ticket, replies with a macro, links and merges tickets (with a
confirmation), reads a refusal in plain words, and holds, resumes and hangs up a call through
the provider's REST API (a local server speaking Twilio's format)."""

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect
from sqlalchemy import update

from centralita.channels.models import AddressChannel
from centralita.config import Settings
from centralita.identity.models import User
from centralita.routing.models import Queue
from tests.channels.telephony import FakeProvider, add_number, new_number, serve_provider
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world
from tests.web.browser.live_server import Guarded, live_server, open_page, sign_in
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    yield from serve_provider()


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def _available_desk(browser: Browser, base: str, agent: User) -> Guarded:
    watched = await open_page(browser)
    page = watched.page
    await sign_in(page, base, agent.email, "/agent")
    await expect(page.locator("#connection")).to_have_text("Connected", timeout=20_000)
    await page.get_by_label("Status", exact=True).select_option("available")
    await page.get_by_role("button", name="Change status").click()
    await expect(page.locator("#presence-label")).to_have_text("Available")
    return watched


def _ticket_item(page: Page, reference: str) -> Locator:
    """One of the customer's open tickets beside the conversation, by its reference."""
    ref = page.locator(".ticket-ref", has_text=re.compile(f"^{re.escape(reference)}$"))
    return page.locator("#customer-side .tickets > li").filter(has=ref)


async def _reopen_panel(page: Page) -> None:
    """Going back to the conversation's tab reloads the customer beside it."""
    await page.get_by_role("tab").click()


async def test_tickets_and_macros_from_the_workspace(
    world: World, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    tenant = world.tenant
    agent = await world.agent(name="Ana Agente", presence="offline")  # type: ignore[arg-type]
    admin = await tenant.client()
    template = await admin.post(
        tenant.url("/ticket-templates"),
        json={
            "name": f"Tarjetas {XSS}",
            "macros": [
                {
                    "name": "Saludo",
                    "body": {
                        "es": "Hola {{customer.preferred_name}}, sobre {{ticket.number}}:",
                        "en": "Hello {{customer.preferred_name}}, about {{ticket.number}}:",
                    },
                }
            ],
        },
    )
    assert template.status_code == 201, template.text
    shots = artifacts_dir / "agent-desktop"
    shots.mkdir(exist_ok=True)
    email = f"rosa-{secrets.token_hex(3)}@example.com"

    with live_server(settings) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await _available_desk(browser, server.url, agent)
            page = watched.page
            created = await admin.post(
                tenant.url("/interactions"),
                json={
                    "channel": "chat",
                    "identity": {"kind": "email", "value": email},
                    "customer_name": "Rosa Díaz",
                    "queue": world.queue.name,
                    "language": "es",
                    "subject": "Tarjeta bloqueada",
                    "message": {"text": "No puedo pagar con la tarjeta"},
                },
            )
            assert created.status_code == 201, created.text
            customer_id = created.json()["customer_id"]
            await expect(page.locator(".offer-customer")).to_have_text("Rosa Díaz", timeout=15_000)
            await page.keyboard.press("Alt+a")
            panel = page.get_by_role("tabpanel")
            side = page.locator("#customer-side")
            await expect(panel.locator(".message-customer")).to_contain_text("tarjeta")
            await expect(panel.locator(".macro-hint")).to_be_visible()

            # A new ticket from the tab takes the conversation with it.
            await panel.locator("summary", has_text="New ticket").click()
            await panel.get_by_label("Subject").fill("Tarjeta bloqueada en comercios")
            await panel.get_by_role("button", name="Create ticket").click()
            await expect(panel.locator(".work-status")).to_contain_text("created")
            filed = side.locator(".tickets li").filter(has_text="Tarjeta bloqueada en comercios")
            await expect(filed).to_contain_text("This conversation is filed under this ticket.")
            first = filed.locator(".ticket-ref")
            reference = await first.inner_text()

            # The macro is filled in for this customer and this ticket.
            await expect(panel.locator(".macro-hint")).to_be_hidden()
            await panel.get_by_label("Macro", exact=True).select_option(
                label=f"Tarjetas {XSS} · Saludo"
            )
            await panel.get_by_role("button", name="Insert the macro").click()
            reply = panel.get_by_label("Reply", exact=True)
            await expect(reply).to_have_value(f"Hola Rosa Díaz, sobre {reference}:")
            await reply.press("End")
            await reply.press_sequentially(" ya está desbloqueada.")
            await reply.press("Control+Enter")
            await expect(panel.locator(".message-agent .message-text")).to_have_text(
                f"Hola Rosa Díaz, sobre {reference}: ya está desbloqueada."
            )

            # Another ticket of the customer: linked as related, then merged in as a duplicate.
            duplicate = await admin.post(
                tenant.url("/tickets"),
                json={"requester_id": customer_id, "subject": f"No funciona la tarjeta {XSS}"},
            )
            assert duplicate.status_code == 201, duplicate.text
            dup_ref = duplicate.json()["reference"]
            await _reopen_panel(page)
            tools = _ticket_item(page, reference)
            await expect(tools.get_by_label("Another ticket", exact=True)).to_be_visible()
            await tools.get_by_label("Another ticket", exact=True).select_option(
                label=f"{dup_ref} · No funciona la tarjeta {XSS}"
            )
            await tools.get_by_label("Link as related").check()
            await tools.get_by_role("button", name="Apply").click()
            await expect(panel.locator(".work-status")).to_have_text(
                f"{reference} and {dup_ref} are now related."
            )
            await expect(tools.locator(".ticket-related")).to_have_text(f"Related: {dup_ref}")

            await tools.get_by_label(f"Merge it into {reference} (it is a duplicate)").check()
            await tools.get_by_role("button", name="Apply").click()
            question = tools.get_by_role("alertdialog")
            await expect(question).to_contain_text(
                f"Merge {dup_ref} into {reference}? {dup_ref} will be closed"
            )
            await expect(question.get_by_role("button", name="Cancel")).to_be_focused()
            await page.screenshot(path=shots / f"{backend}-merge-confirm.png")
            await page.keyboard.press("Enter")  # Cancel: nothing is merged
            await expect(question).to_be_hidden()
            assert (await admin.get(tenant.url(f"/tickets/{duplicate.json()['id']}"))).json()[
                "status"
            ] == "new"
            await tools.get_by_role("button", name="Apply").click()
            await question.get_by_role("button", name="Yes, merge").click()
            await expect(panel.locator(".work-status")).to_have_text(
                f"{dup_ref} was merged into {reference}."
            )
            await expect(side.locator(".tickets li")).to_have_count(1)

            # Any ticket of the company, another customer's too, is linked by its number.
            neighbour = await admin.post(tenant.url("/customers"), json={"display_name": "Iván"})
            outage = await admin.post(
                tenant.url("/tickets"),
                json={"requester_id": neighbour.json()["id"], "subject": "Caída de pagos"},
            )
            outage_ref = outage.json()["reference"]
            tools = _ticket_item(page, reference)
            by_number = tools.get_by_label("Another ticket, by its number")
            await by_number.fill("ZZ-999999")
            await tools.get_by_label("Link as related").check()
            await tools.get_by_role("button", name="Apply").click()
            await expect(panel.locator(".work-status")).to_have_text(
                "There is no ticket ZZ-999999."
            )
            await by_number.fill(outage_ref.lower())
            await tools.get_by_role("button", name="Apply").click()
            await expect(panel.locator(".work-status")).to_have_text(
                f"{reference} and {outage_ref} are now related."
            )
            await expect(_ticket_item(page, reference).locator(".ticket-related")).to_have_text(
                f"Related: {dup_ref}, {outage_ref}"
            )

            # A ticket merged away by someone else meanwhile: the refusal is read in words.
            third = await admin.post(
                tenant.url("/tickets"),
                json={"requester_id": customer_id, "subject": "Otra consulta"},
            )
            third_ref = third.json()["reference"]
            await _reopen_panel(page)
            attach = side.get_by_role("button", name=f"File this conversation under {third_ref}")
            await expect(attach).to_be_visible()
            work = (await admin.get(tenant.url(f"/interactions/{created.json()['id']}"))).json()
            gone = await admin.post(
                tenant.url(f"/tickets/{work['ticket_id']}/merge"),
                json={"source_id": third.json()["id"]},
            )
            assert gone.status_code == 200, gone.text
            watched.allow(409)
            await attach.click()
            await expect(page.locator("#desk-error")).to_contain_text(
                "That did not work: That ticket was merged into another one meanwhile."
            )
            await page.screenshot(path=shots / f"{backend}-tickets.png")
            await watched.assert_clean()
            await browser.close()

    conversation = (await admin.get(tenant.url(f"/interactions/{created.json()['id']}"))).json()
    survivor = (await admin.get(tenant.url(f"/tickets/{conversation['ticket_id']}"))).json()
    assert survivor["reference"] == reference
    assert survivor["subject"] == "Tarjeta bloqueada en comercios"


async def test_call_controls_reach_the_provider(
    world: World, settings: Settings, provider: FakeProvider, backend: str, artifacts_dir: Path
) -> None:
    tenant = world.tenant
    agent = await world.agent(name="Ana Agente", presence="offline")  # type: ignore[arg-type]
    await add_number(tenant, AddressChannel.VOICE, new_number(), world.queue.name)
    admin = await tenant.client()
    sid = f"CA{secrets.token_hex(16)}"
    shots = artifacts_dir / "agent-desktop"
    shots.mkdir(exist_ok=True)
    served = settings.model_copy(update={"telephony_api_base_url": provider.url})

    with live_server(served) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await _available_desk(browser, server.url, agent)
            page = watched.page
            call = await admin.post(
                tenant.url("/interactions"),
                json={
                    "channel": "voice",
                    "identity": {"kind": "phone", "value": "+34600111222"},
                    "customer_name": "Pedro Gil",
                    "queue": world.queue.name,
                    "language": "es",
                    "subject": "Llamada entrante",
                    "external_ref": sid,
                },
            )
            assert call.status_code == 201, call.text
            await expect(page.locator(".offer-customer")).to_have_text("Pedro Gil", timeout=15_000)
            await page.get_by_role("button", name="Accept").click()
            panel = page.get_by_role("tabpanel")
            controls = panel.get_by_role("group", name="Call controls")
            await expect(controls.get_by_role("status")).to_have_text("On the call.")
            await expect(panel.get_by_role("button", name="End conversation")).to_be_hidden()
            live_call = f"/Calls/{sid}.json"

            await controls.get_by_role("button", name="Hold").click()
            await expect(controls.get_by_role("status")).to_have_text("The caller is on hold.")
            await expect(controls.get_by_role("button", name="Resume")).to_be_focused()
            assert provider.requests[-1]["path"].endswith(live_call)
            assert provider.requests[-1]["form"]["Url"] == f"{server.url}/telephony/voice/hold"
            await page.screenshot(path=shots / f"{backend}-call-on-hold.png")

            # A reload does not forget the caller waiting on hold.
            await page.reload()
            await expect(page.locator("#connection")).to_have_text("Connected", timeout=20_000)
            await expect(controls.get_by_role("status")).to_have_text("The caller is on hold.")
            await controls.get_by_role("button", name="Resume").focus()
            await page.keyboard.press("Enter")  # Resume, from the keyboard
            await expect(controls.get_by_role("status")).to_have_text("On the call.")
            assert provider.requests[-1]["form"]["Url"] == (
                f"{server.url}/telephony/voice/connect?agent={agent.id}"
            )

            # The provider refuses once: the agent reads why, and the call goes on.
            provider.fail_next = 1
            watched.allow(409)
            await controls.get_by_role("button", name="Hang up").click()
            await expect(page.locator("#desk-error")).to_contain_text(
                "That did not work: The phone provider did not take the request; try again."
            )
            await expect(controls.get_by_role("status")).to_have_text("On the call.")

            await controls.get_by_role("button", name="Hang up").click()
            await expect(panel.get_by_role("heading", name="Wrap-up")).to_be_visible()
            await expect(controls).to_be_hidden()
            assert provider.requests[-1]["form"] == {"Status": "completed"}
            await panel.get_by_label("Disposition").select_option("resolved")
            await panel.get_by_role("button", name="Finish wrap-up").click()
            await expect(page.get_by_role("tab")).to_have_count(0)
            await watched.assert_clean()
            await browser.close()

    done = (await admin.get(tenant.url(f"/interactions/{call.json()['id']}"))).json()
    assert done["state"] == "ended"
    assert done["disposition"] == "resolved"


async def test_a_callback_shows_why_and_is_placed_with_one_click(
    world: World, settings: Settings, provider: FakeProvider, backend: str, artifacts_dir: Path
) -> None:
    tenant = world.tenant
    async with tenant.db.tenant_session(tenant.id) as session:
        await session.execute(
            update(Queue).where(Queue.id == world.queue.id).values(channels=["callback", "voice"])
        )
        await session.commit()
    agent = await world.agent(name="Ana Agente", presence="offline")  # type: ignore[arg-type]
    number = new_number()
    await add_number(tenant, AddressChannel.VOICE, number, world.queue.name)
    admin = await tenant.client()
    rosa = await admin.post(
        tenant.url("/customers"),
        json={
            "display_name": "Rosa Díaz",
            "identities": [{"kind": "phone", "value": "+34600111333"}],
        },
    )
    assert rosa.status_code == 201, rosa.text
    shots = artifacts_dir / "agent-desktop"
    shots.mkdir(exist_ok=True)
    # The server's own job worker turns the due callback into work, as in production.
    served = settings.model_copy(
        update={"telephony_api_base_url": provider.url, "jobs_worker": True}
    )

    with live_server(served) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await _available_desk(browser, server.url, agent)
            page = watched.page
            made = await admin.post(
                tenant.url("/callbacks"),
                json={
                    "customer_id": rosa.json()["id"],
                    "queue": world.queue.name,
                    "reason": f"Pidió que la llamaran {XSS}",
                },
            )
            assert made.status_code == 201, made.text
            await expect(page.locator(".offer-customer")).to_have_text("Rosa Díaz", timeout=15_000)
            await page.get_by_role("button", name="Accept").click()

            panel = page.get_by_role("tabpanel").get_by_role("group", name="Call back")
            await expect(panel).to_contain_text(
                f"Why: Pidió que la llamaran {XSS} · attempt 1 of 3"
            )
            await panel.get_by_role("button", name="Call +34600111333").click()
            await expect(panel.get_by_role("status")).to_have_text(
                "Calling +34600111333: your phone rings first."
            )
            (request,) = provider.requests
            assert request["path"].endswith("/Calls.json")
            assert (request["form"]["To"], request["form"]["From"]) == ("+34600111333", number)
            await page.screenshot(path=shots / f"{backend}-callback.png")

            await panel.get_by_role("button", name="No answer").click()
            await expect(panel.get_by_role("status")).to_contain_text(
                "Not reached: it will be tried again at"
            )
            await expect(panel.get_by_role("button", name="Call +34600111333")).to_be_hidden()
            await watched.assert_clean()
            await browser.close()

    callback = (await admin.get(tenant.url(f"/callbacks/{made.json()['id']}"))).json()
    assert callback["status"] == "scheduled"
    assert [attempt["outcome"] for attempt in callback["attempts"]] == ["no_answer"]
