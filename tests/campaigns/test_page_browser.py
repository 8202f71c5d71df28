"""The campaigns page in a real headless Chromium: create a campaign, upload its CSV with a
progress bar, read the per-row report, start it and see its results, in English and Spanish."""

from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.web.browser.live_server import Guarded, live_server, sign_in
from tests.web.helpers import make_user
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, CSP_PROBE

pytestmark = pytest.mark.e2e

CSV = (
    "phone,name,sms_consent\n"
    "+34600900001,Lucía,sí\n"
    "no es un teléfono,Pedro,sí\n"
    "+34600900003,Marta,sí\n"
).encode()


async def test_an_administrator_creates_a_campaign_uploads_its_list_and_starts_it(
    tenant_a: TenantFixture, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    email = await make_user(tenant_a.app, tenant_a.db, [(tenant_a, Role.ADMIN)], name="Alba")
    shots = artifacts_dir / "campaigns"
    shots.mkdir(exist_ok=True)

    with live_server(settings) as server:
        base = server.url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            context = await browser.new_context(viewport={"width": 1366, "height": 900})
            await context.add_init_script(CSP_PROBE)
            watched = Guarded(await context.new_page())
            page = watched.page
            watched.allow(422)
            await sign_in(page, base, email, f"/admin/campaigns?tenant={tenant_a.slug}&lang=en")

            form = page.locator("#campaign-form")
            await form.get_by_role("button", name="Create campaign").click()
            await expect(form.locator(".form-summary")).to_contain_text("name")
            await form.get_by_label("Name").fill("Tarjeta nueva")
            await form.get_by_label("SMS text in Spanish").fill(
                "Hola {name}, su tarjeta está lista."
            )
            await form.get_by_role("button", name="Create campaign").click()
            row = page.get_by_role("row", name="Tarjeta nueva")
            await expect(row).to_contain_text("Draft")

            await row.get_by_label("CSV file").set_input_files(
                {"name": "clientes.csv", "mimeType": "text/csv", "buffer": CSV}
            )
            await expect(row.locator("progress")).to_have_attribute("value", "100")
            report = page.locator("#import-report")
            await expect(report).to_contain_text("2 rows imported and 1 refused, of 3 read.")
            await expect(report.get_by_role("row", name="3")).to_contain_text("phone:")
            await page.screenshot(path=shots / f"{backend}-imported.png", full_page=True)

            await row.get_by_role("button", name="Start").click()
            await expect(row.locator(".campaign-status")).to_have_text("Running")
            await row.get_by_role("button", name="Results").click()
            await expect(page.locator("#result-totals")).to_contain_text("Queued")
            await expect(page.locator("#result-totals dd").first).to_have_text("2")

            await page.goto(f"{base}/admin/campaigns?tenant={tenant_a.slug}&lang=es")
            await expect(page.get_by_role("heading", name="Nueva campaña")).to_be_visible()
            await expect(page.get_by_role("row", name="Tarjeta nueva")).to_contain_text("En curso")
            await page.screenshot(path=shots / f"{backend}-es.png", full_page=True)
            await watched.assert_clean()
            await browser.close()
