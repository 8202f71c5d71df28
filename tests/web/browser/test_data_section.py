"""The administration's data section: retention periods and exports, in Spanish and English."""

from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.lifecycle.helpers import export_ready
from tests.web.browser.live_server import live_server, open_page, sign_in
from tests.web.helpers import make_user, post_login
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS


async def _sign_in(tenant: TenantFixture, client: httpx.AsyncClient, role: Role) -> None:
    email = await make_user(tenant.app, tenant.db, [(tenant, role)], name="Alba Admin")
    client.cookies.clear()
    assert (await post_login(client, email)).status_code == 303


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("es", ("Datos y privacidad", "Conversaciones (días)", "Lista", "Descargar")),
        ("en", ("Data and privacy", "Conversations (days)", "Ready", "Download")),
    ],
)
async def test_the_data_section_shows_the_periods_and_the_exports(
    tenant_a: TenantFixture,
    client: httpx.AsyncClient,
    settings: Settings,
    lang: str,
    words: tuple[str, ...],
) -> None:
    api = await tenant_a.client(Role.ADMIN)
    await api.put(tenant_a.url("/retention"), json={"conversations_days": 400})
    ready = await export_ready(tenant_a, settings)
    await _sign_in(tenant_a, client, Role.ADMIN)

    page = await client.get(f"/admin?tenant={tenant_a.slug}&section=data&lang={lang}")

    assert page.status_code == 200, page.text
    for word in words:
        assert word in page.text
    assert 'name="conversations_days" data-type="int" inputmode="numeric" value="400"' in page.text
    download = tenant_a.url(f"/exports/{ready['id']}/download")
    assert f'href="{download}"' in page.text


async def test_supervisors_do_not_reach_the_data_section(
    tenant_a: TenantFixture, client: httpx.AsyncClient
) -> None:
    await _sign_in(tenant_a, client, Role.SUPERVISOR)

    page = await client.get(f"/admin?tenant={tenant_a.slug}&section=data")

    assert page.status_code == 403


@pytest.mark.e2e
async def test_an_administrator_fixes_a_refused_period_and_requests_an_export(
    tenant_a: TenantFixture, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    email = await make_user(tenant_a.app, tenant_a.db, [(tenant_a, Role.ADMIN)], name="Alba")
    api = await tenant_a.client(Role.ADMIN)
    shots = artifacts_dir / "lifecycle"
    shots.mkdir(exist_ok=True)

    with live_server(settings) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await open_page(browser)
            page = watched.page
            watched.allow(422)
            await sign_in(page, server.url, email, f"/admin?tenant={tenant_a.slug}&section=data")

            form = page.locator("#retention-form")
            days = form.get_by_label("Conversations (days)")
            await days.fill("-5")
            await form.get_by_role("button", name="Save").click()
            await expect(days).to_have_attribute("aria-invalid", "true")
            await expect(form.locator(".form-summary")).to_be_visible()
            await page.screenshot(path=shots / f"{backend}-retention-error.png", full_page=True)
            assert (await api.get(tenant_a.url("/retention"))).json()["conversations_days"] is None

            await days.fill("365")
            await form.get_by_role("button", name="Save").click()
            await expect(page.locator("#saved-notice")).to_have_text("Saved.")
            await expect(days).to_have_value("365")
            await page.get_by_role("button", name="Request an export").click()
            await expect(page.locator("#exports tbody tr").first).to_contain_text("Being prepared")
            await page.screenshot(path=shots / f"{backend}-data.png", full_page=True)
            await watched.assert_clean()
            await browser.close()

    assert (await api.get(tenant_a.url("/retention"))).json()["conversations_days"] == 365
    assert [e["status"] for e in (await api.get(tenant_a.url("/exports"))).json()] == ["pending"]
