"""The widget in headless Chromium: on the app's own page under its strict CSP, and on a
third-party site of another origin; visitor and agent text is shown as text, never run."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.async_api import Dialog, async_playwright
from sqlalchemy import select

from centralita.interactions.models import Channel, Interaction
from tests.channels.chat.conftest import add_widget
from tests.conftest import TenantFixture
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, CSP_PROBE, Watched, server_url

__all__ = ["server_url"]  # the real server fixture of the web shell tests, reused

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium")]

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def third_party_site(server_url: str) -> Iterator[str]:
    """Another origin's page that embeds the snippet, under that site's own strict CSP."""
    app_origin = server_url
    ws_origin = server_url.replace("http://", "ws://")

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            slug = self.path.strip("/")
            body = (
                '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
                '<link rel="icon" href="data:,">'
                f'</head><body><h1>Flower shop</h1><script src="{app_origin}/chat/{slug}/widget.js"'
                " defer></script></body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'none'; script-src {app_origin}; style-src {app_origin}; "
                f"connect-src {ws_origin}; img-src data:",
            )
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    site = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}"
    site.shutdown()
    site.server_close()


async def test_the_widget_chats_resumes_and_never_runs_visitor_text(
    server_url: str, third_party_site: str, tenant_a: TenantFixture, make_tenant
) -> None:
    await add_widget(tenant_a, None)
    shop = await make_tenant(name="Flower shop", default_locale="en")
    await add_widget(shop, None)
    dialogs: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(locale="es-ES")
        await context.add_init_script(CSP_PROBE)
        watched = Watched(await context.new_page())
        page = watched.page

        async def refuse(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", refuse)

        await page.goto(f"{server_url}/chat/{tenant_a.slug}")
        await page.get_by_role("button", name="Chatea con nosotros").click()
        await page.get_by_label("Tu nombre").fill("Lucía")
        await page.get_by_label("¿En qué podemos ayudarte?").fill(XSS)
        await page.get_by_role("button", name="Empezar el chat").click()
        visitor_line = page.locator(".cz-log .cz-visitor")
        await visitor_line.wait_for()
        assert await visitor_line.text_content() == XSS
        status = await page.get_by_role("status").text_content()
        assert status is not None
        assert status.startswith("Eres el número 1 en la cola.")

        async with tenant_a.db.tenant_session(tenant_a.id) as session:
            interaction = (
                await session.execute(
                    select(Interaction).where(Interaction.channel == Channel.CHAT)
                )
            ).scalar_one()
        token = await tenant_a.token()
        async with httpx.AsyncClient(
            base_url=server_url, headers={"Authorization": f"Bearer {token}"}
        ) as api:
            reply = await api.post(
                tenant_a.url(f"/interactions/{interaction.id}/messages"),
                json={"author_kind": "agent", "text": "<b>Hola</b> <script>alert(2)</script>"},
            )
            assert reply.status_code == 201, reply.text
        agent_line = page.locator(".cz-log .cz-agent")
        await agent_line.wait_for()
        assert await agent_line.text_content() == "<b>Hola</b> <script>alert(2)</script>"

        await page.get_by_label("Escribe tu mensaje").fill("Sigo aquí")
        await page.get_by_role("button", name="Enviar el mensaje").click()
        await page.locator(".cz-visitor:not(.cz-pending)", has_text="Sigo aquí").wait_for()

        # A reload resumes the same conversation from the token kept by the page.
        await page.reload()
        await page.locator(".cz-log .cz-msg").nth(2).wait_for()
        texts = await page.locator(".cz-log .cz-msg").all_text_contents()
        assert texts == [XSS, "<b>Hola</b> <script>alert(2)</script>", "Sigo aquí"]
        assert await page.locator(".cz-root img, .cz-root b, .cz-root script").count() == 0
        await watched.assert_clean()

        # On another site, under that site's own policy, in the page's language.
        shop_page = Watched(await context.new_page())
        shop_page.page.on("dialog", refuse)
        await shop_page.page.goto(f"{third_party_site}/{shop.slug}")
        await shop_page.page.get_by_role("button", name="Chat with us").click()
        await shop_page.page.get_by_label("Your name").fill("Jo")
        await shop_page.page.get_by_label("How can we help you?").fill("Do you deliver today?")
        await shop_page.page.get_by_role("button", name="Start the chat").click()
        await shop_page.page.locator(".cz-log .cz-visitor").wait_for()
        await shop_page.assert_clean()
        await browser.close()
    assert dialogs == []
