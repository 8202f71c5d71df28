"""The help centre in a real headless Chromium, on a phone: type, read, vote, under strict CSP."""

import os
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.channels.chat.conftest import add_widget
from tests.conftest import TenantMaker
from tests.knowledge.helpers import write
from tests.web.test_browser import (  # noqa: F401 - server_url is a fixture used below
    CHROMIUM,
    CHROMIUM_ARGS,
    CSP_PROBE,
    Watched,
    server_url,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CENTRALITA_REQUIRE_BROWSER") != "1",
        reason="Chromium is not installed at /usr/bin/chromium",
    ),
]


async def test_a_visitor_finds_an_article_with_a_typo_and_votes_on_a_phone(
    server_url: str,  # noqa: F811 - the fixture imported above
    make_tenant: TenantMaker,
    backend: str,
    artifacts_dir: Path,
) -> None:
    bank = await make_tenant(name="Banco Meridiano", time_zone="Europe/Madrid")
    http = await bank.client()
    await write(
        http,
        bank,
        title="Facturación: descargar tus facturas",
        summary="Dónde encontrar cada factura mensual.",
        body_markdown="Entra en **Mi cuenta** y abre *Facturas*. Puedes descargar cada factura.",
    )
    await write(http, bank, title="Bloquear una tarjeta robada", body_markdown="Desde la app.")
    await add_widget(bank, queue=None)
    shots = artifacts_dir / "help-portal"
    shots.mkdir(exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        phone = await browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="es-ES",
        )
        await phone.add_init_script(CSP_PROBE)
        watched = Watched(await phone.new_page())
        page = watched.page

        await page.goto(f"{server_url}/help/{bank.slug}")
        assert await page.get_by_role("heading", name="¿En qué podemos ayudarte?").is_visible()
        await page.get_by_role("searchbox").press_sequentially("factuacion", delay=30)
        results = page.locator("#help-results")
        result = results.get_by_role("link", name="Facturación: descargar tus facturas")
        await result.wait_for()
        assert "Bloquear" not in await results.inner_text()
        assert await results.locator("mark").count() >= 1
        await page.screenshot(path=shots / f"{backend}-search-phone.png", full_page=True)
        await page.get_by_role("button", name="Chatea con nosotros").click()
        await page.get_by_role("button", name="Empezar el chat").wait_for()
        await page.screenshot(path=shots / f"{backend}-chat-phone.png", full_page=True)
        await page.get_by_role("button", name="Cerrar el chat").click()

        await result.click()
        await page.get_by_role("heading", name="¿Te ha resultado útil?").wait_for()
        assert await page.locator(".article-body strong").inner_text() == "Mi cuenta"
        await page.screenshot(path=shots / f"{backend}-article-phone.png", full_page=True)
        await page.get_by_role("button", name="Sí").click()
        await page.get_by_text("Gracias por tu opinión.").wait_for()

        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        await page.goto(f"{server_url}/help/{bank.slug}/contact?lang=en")
        assert await page.get_by_role("heading", name="Contact us").is_visible()
        await page.screenshot(path=shots / f"{backend}-contact-phone-en.png", full_page=True)
        await watched.assert_clean()
        await browser.close()
