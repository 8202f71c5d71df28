"""The client portal in a real headless Chromium: charts drawn, no script run from customer text,
no CSP violation, usable on a laptop and on a phone."""

from pathlib import Path

from fastapi import FastAPI
from playwright.async_api import Dialog, async_playwright

from centralita.db.engine import Database
from centralita.identity.permissions import Role
from tests.conftest import TenantMaker
from tests.reporting.helpers import Outcome, add_queue, contact
from tests.web.helpers import PASSWORD, make_user
from tests.web.test_browser import (  # noqa: F401 - server_url is a fixture
    CHROMIUM,
    CHROMIUM_ARGS,
    CSP_PROBE,
    Watched,
    pytestmark,
    server_url,
)

XSS = "<img src=x onerror=alert(1)>"


async def test_a_client_manager_reads_the_portal_in_chromium(
    server_url: str,  # noqa: F811
    app: FastAPI,
    db: Database,
    make_tenant: TenantMaker,
    backend: str,
    artifacts_dir: Path,
) -> None:
    bank = await make_tenant(name="Banco Meridiano")
    rival = await make_tenant(name="Seguros Rivales")
    await add_queue(bank)
    await add_queue(rival)
    for wait in (5, 12, 30, 50):
        await contact(bank, Outcome(answered_after=wait), topic=XSS)
    await contact(bank, Outcome(abandoned_after=45), topic="Tarjeta bloqueada")
    await contact(rival, Outcome(abandoned_after=45), topic="Rival topic")
    email = await make_user(app, db, [(bank, Role.CLIENT_VIEWER)], name="Clara Cliente")
    shots = artifacts_dir / "client-portal"
    shots.mkdir(exist_ok=True)
    dialogs: list[str] = []

    async def _dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        for name, viewport in (("laptop", (1366, 768)), ("phone", (390, 844))):
            context = await browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]}, locale="es-ES"
            )
            await context.add_init_script(CSP_PROBE)
            watched = Watched(await context.new_page())
            page = watched.page
            page.on("dialog", _dialog)
            await page.goto(f"{server_url}/client?tenant={bank.slug}")
            await page.get_by_label("Correo electrónico").fill(email)
            await page.get_by_label("Contraseña").fill(PASSWORD)
            await page.get_by_role("button", name="Iniciar sesión").click()
            await page.wait_for_url(f"{server_url}/client?tenant={bank.slug}")

            heading = page.get_by_role("heading", level=1)
            assert "Banco Meridiano" in await heading.inner_text()
            assert await page.get_by_role("img", name="Nivel de servicio por día").is_visible()
            assert await page.get_by_role("img", name="Contactos por canal").is_visible()
            assert await page.locator(".chart-bar rect[height]").count() > 0
            assert (
                await page.get_by_role("cell", name=XSS)
                .or_(page.get_by_role("rowheader", name=XSS))
                .is_visible()
            )
            assert "Seguros Rivales" not in await page.content()
            assert "Rival topic" not in await page.content()
            if name == "phone":
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, "the portal scrolls sideways on a phone"
            await page.screenshot(path=shots / f"{backend}-{name}.png", full_page=True)

            async with page.expect_download() as download:
                await page.get_by_role("link", name="Nivel de servicio por día (CSV)").click()
            failure = await (await download.value).failure()
            assert failure is None
            response = await page.request.get(
                f"{server_url}/api/v1/tenants/{bank.slug}/reports/export?report=intervals"
            )
            assert (await response.text()).lstrip("\ufeff").startswith("start,offered,")

            await page.get_by_role("link", name="English").click()
            await page.wait_for_url(f"{server_url}/client?tenant={bank.slug}&lang=en")
            assert await page.get_by_role("img", name="Service level by day").is_visible()
            await watched.assert_clean()
            await context.close()
        await browser.close()

    assert dialogs == []
