"""The knowledge editor in a real headless Chromium: a supervisor writes an article in Spanish and
its English translation, sees a field error and a preview, publishes both, and a visitor finds
each on the help centre with a typo and without accents."""

import os
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright

from centralita.db.engine import Database
from centralita.identity.permissions import Role
from tests.conftest import TenantMaker
from tests.web.browser.live_server import Guarded
from tests.web.helpers import PASSWORD, make_user
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


async def _publish(page: Page) -> None:
    await page.get_by_role("button", name="Publicar").click()
    await page.get_by_text("Publicado", exact=True).first.wait_for()


async def test_an_editor_publishes_in_spanish_and_english_and_the_portal_finds_both(
    server_url: str,  # noqa: F811 - the fixture imported above
    app: FastAPI,
    db: Database,
    make_tenant: TenantMaker,
    backend: str,
    artifacts_dir: Path,
) -> None:
    bank = await make_tenant(name="Banco Meridiano", time_zone="Europe/Madrid")
    email = await make_user(app, db, [(bank, Role.SUPERVISOR)], name="Elena Editora")
    shots = artifacts_dir / "knowledge-editor"
    shots.mkdir(exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        desktop = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="es-ES")
        await desktop.add_init_script(CSP_PROBE)
        watched = Guarded(await desktop.new_page())
        watched.allow(422)
        page = watched.page

        await page.goto(f"{server_url}/knowledge/{bank.slug}")
        await page.get_by_label("Correo electrónico").fill(email)
        await page.get_by_label("Contraseña").fill(PASSWORD)
        await page.get_by_role("button", name="Iniciar sesión").click()
        await page.get_by_role("heading", name="Base de conocimiento · Banco Meridiano").wait_for()
        await page.get_by_role("link", name="Nuevo artículo").click()
        await page.get_by_role("heading", name="Nuevo artículo").wait_for()

        # Saved without a title: the API's field error shows beside the field.
        await page.get_by_role("button", name="Crear borrador").click()
        title = page.get_by_label("Título")
        await page.locator(".field-error").first.wait_for()
        assert await title.get_attribute("aria-invalid") == "true"

        await title.fill("Facturación electrónica: cómo activarla")
        await page.get_by_label("Resumen").fill("Recibe tus facturas por correo.")
        await page.get_by_label("Cuerpo (Markdown)").fill(
            "Entra en **Mi cuenta** y activa la *facturación electrónica*.\n\n"
            "<script>alert('x')</script>"
        )
        await page.locator("select[name=visibility]").select_option("public")
        await page.get_by_role("button", name="Vista previa").click()
        preview = page.locator("#preview")
        await preview.locator("strong").wait_for()
        assert await preview.locator("strong").inner_text() == "Mi cuenta"
        assert await preview.locator("script").count() == 0
        await page.screenshot(path=shots / f"{backend}-new-es.png", full_page=True)

        await page.get_by_role("button", name="Crear borrador").click()
        await page.get_by_role("heading", name="Facturación electrónica: cómo activarla").wait_for()
        assert await page.get_by_text("Borrador", exact=True).first.is_visible()
        await page.get_by_role("button", name="Enviar a revisión").click()
        await page.get_by_text("En revisión", exact=True).first.wait_for()
        await _publish(page)

        await page.get_by_role("link", name="Traducir al Inglés").click()
        await page.get_by_text("Traducción de «Facturación electrónica").wait_for()
        await page.get_by_label("Título").fill("Electronic invoices: how to turn them on")
        await page.get_by_label("Cuerpo (Markdown)").fill(
            "Open **My account** and turn on *electronic invoices*."
        )
        await page.get_by_role("button", name="Crear borrador").click()
        english = page.get_by_role("heading", name="Electronic invoices: how to turn them on")
        await english.wait_for()
        await _publish(page)
        translations = page.get_by_role("region", name="Traducciones")
        assert await translations.get_by_role(
            "link", name="Facturación electrónica: cómo activarla"
        ).is_visible()
        await page.screenshot(path=shots / f"{backend}-published-en.png", full_page=True)

        await page.goto(f"{server_url}/knowledge/{bank.slug}?state=published")
        listed = page.locator("table tbody")
        assert "Facturación electrónica" in await listed.inner_text()
        assert "Electronic invoices" in await listed.inner_text()

        visitor = Watched(await desktop.new_page())
        await visitor.page.goto(f"{server_url}/help/{bank.slug}")
        await visitor.page.get_by_role("searchbox").press_sequentially(
            "factuacion electronica", delay=20
        )
        await (
            visitor.page.locator("#help-results")
            .get_by_role("link", name="Facturación electrónica: cómo activarla")
            .wait_for()
        )
        await visitor.page.goto(f"{server_url}/help/{bank.slug}?lang=en")
        await visitor.page.get_by_role("searchbox").press_sequentially(
            "electronik invoices", delay=20
        )
        await (
            visitor.page.locator("#help-results")
            .get_by_role("link", name="Electronic invoices: how to turn them on")
            .wait_for()
        )
        await visitor.page.screenshot(path=shots / f"{backend}-portal-en.png", full_page=True)

        await watched.assert_clean()
        await visitor.assert_clean()
        await browser.close()
