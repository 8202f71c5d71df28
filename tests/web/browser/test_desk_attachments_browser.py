"""Files in the desk's email reply editor, in a real headless Chromium: the agent picks and drops
files, sees each with its size, removes one, is told in words when a file cannot go, sends the
reply, and the thread lists the sent files for download. File names from customers and agents
stay text and never run."""

from pathlib import Path

import pytest
from playwright.async_api import FilePayload, async_playwright, expect

from centralita.app import job_handlers
from centralita.config import Settings
from centralita.jobs.worker import JobWorker
from tests.channels.email.conftest import Sink, add_mailbox, sink, unique_address  # noqa: F401
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world
from tests.web.browser.live_server import live_server, open_page, sign_in
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
DROP = """() => {
  const files = new DataTransfer();
  files.items.add(new File(["hola"], "nota.txt", { type: "text/plain" }));
  return files;
}"""


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def test_an_agent_sends_files_with_an_email_reply(
    world: World,
    settings: Settings,
    sink: Sink,  # noqa: F811 - the fixture
    backend: str,
    artifacts_dir: Path,
) -> None:
    tenant = world.tenant
    agent = await world.agent(name="Ana Agente", presence="offline")  # type: ignore[arg-type]
    admin = await tenant.client()
    await add_mailbox(tenant, unique_address())
    shots = artifacts_dir / "agent-desktop"
    shots.mkdir(exist_ok=True)

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

            # The customer's email came with a file whose name is markup.
            created = await admin.post(
                tenant.url("/interactions"),
                json={
                    "channel": "email",
                    "identity": {"kind": "email", "value": "marta@example.com"},
                    "customer_name": "Marta Gil",
                    "queue": world.queue.name,
                    "language": "es",
                    "subject": "Factura de marzo",
                    "message": {
                        "text": "Adjunto la factura",
                        "attachments": [
                            {
                                "name": f"{XSS}.pdf",
                                "content_type": "application/pdf",
                                "size": 2048,
                                "url": "https://files.example/factura.pdf",
                            }
                        ],
                    },
                },
            )
            assert created.status_code == 201, created.text
            await expect(page.locator(".offer-customer")).to_have_text("Marta Gil", timeout=15_000)
            await page.keyboard.press("Alt+a")
            panel = page.get_by_role("tabpanel")
            inbound = panel.locator(".message-customer .attachment")
            await expect(inbound).to_have_text(f"{XSS}.pdf (2 kB)")

            files = panel.get_by_label("Attach files")
            await files.set_input_files(
                [
                    FilePayload(
                        name="factura-año.pdf", mimeType="application/pdf", buffer=b"%PDF" * 500
                    ),
                    FilePayload(name=f"{XSS}.txt", mimeType="text/plain", buffer=b"abc"),
                    FilePayload(name="borrador.txt", mimeType="text/plain", buffer=b"borrador"),
                ]
            )
            listed = panel.locator(".reply-file-list li")
            await expect(listed).to_have_count(3)
            await expect(listed.nth(0)).to_contain_text("factura-año.pdf (2 kB)")
            await expect(listed.nth(1)).to_contain_text(f"{XSS}.txt")
            await panel.get_by_role("button", name="Remove borrador.txt").click()
            await expect(listed).to_have_count(2)

            # Files that cannot go are refused at once, in words, and the list stays as it was.
            await files.set_input_files(
                {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"}
            )
            error = panel.locator(".reply-files-error")
            await expect(error).to_have_text(
                "setup.exe is a program or script, which cannot be sent by email."
            )
            await files.set_input_files(
                {"name": "enorme.zip", "mimeType": "application/zip", "buffer": b"z" * 10_000_001}
            )
            await expect(error).to_have_text("enorme.zip is larger than 10 MB.")
            await expect(listed).to_have_count(2)

            # Dropped on the editor, a file joins the list.
            dropped = await page.evaluate_handle(DROP)
            await panel.locator(".reply-form").dispatch_event("drop", {"dataTransfer": dropped})
            await expect(listed).to_have_count(3)
            await expect(listed.nth(2)).to_contain_text("nota.txt")
            await expect(error).to_be_hidden()
            await panel.get_by_label("Reply by email").fill("Le envío la factura corregida.")
            await page.screenshot(path=shots / f"{backend}-email-files.png")

            await panel.get_by_role("button", name="Send").click()
            sent = panel.locator(".message-agent")
            await expect(sent.locator(".message-text")).to_have_text(
                "Le envío la factura corregida."
            )
            await expect(sent.locator(".attachment")).to_have_text(
                ["factura-año.pdf (2 kB)", f"{XSS}.txt (0.1 kB)", "nota.txt (0.1 kB)"]
            )
            await expect(listed).to_have_count(0)
            await page.screenshot(path=shots / f"{backend}-email-files-sent.png")

            # The agent's own download, with the session that signed in.
            href = await sent.locator(".attachment").first.get_attribute("href")
            assert href is not None
            download = await page.request.get(f"{server.url}{href}")
            assert download.status == 200
            assert await download.body() == b"%PDF" * 500
            await watched.assert_clean()
            await browser.close()

    # The delivery job sends the reply with its files through a real SMTP relay.
    relayed = settings.model_copy(
        update={"smtp_relay_host": "127.0.0.1", "smtp_relay_port": sink.port}
    )
    await JobWorker(tenant.db, job_handlers(relayed)).step()
    [mail] = sink.messages()
    names = [part.get_filename() for part in mail.iter_attachments()]
    assert names == ["factura-año.pdf", f"{XSS}.txt", "nota.txt"]
