"""Rules, surveys and webhooks administration in a real headless Chromium: refused input is shown
on the field (the rule's JSON, a survey's sampling, an internal webhook URL), a rule is tried on
the last day's events before it is saved, a new webhook's secret is shown once, and a failed
delivery is replayed. No inline code runs (the probe records CSP violations)."""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.automation.world import abandon_after, call, customer
from tests.conftest import TenantFixture
from tests.web.browser.live_server import live_server, open_page, sign_in
from tests.web.helpers import make_user
from tests.web.test_admin_automation import _webhook
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

BROKEN_RULE = """{
  "name": "VIP abandons",
  "trigger": "interaction.abandoned",
  "conditions": [{"field": "customer.value_tier", "op": "equals", "value": "gold"}],
  "actions": [{"type": "set_priority", "priority": 8}]
}"""
FIXED_RULE = BROKEN_RULE.replace('"equals"', '"eq"')


async def _focused_name(page: Page) -> str | None:
    name: str | None = await page.evaluate("document.activeElement?.getAttribute('name')")
    return name


async def _rules(page: Page, base: str, slug: str, shots: Path, backend: str) -> None:
    await page.goto(f"{base}/admin/rules?tenant={slug}")
    form = page.locator("#rule-form")
    editor = form.get_by_label("Rule as JSON (name, trigger, conditions, actions, position)")

    await editor.fill("{ not json")
    await form.get_by_role("button", name="Create rule").click()
    await expect(form.locator(".field-error")).to_have_text("This is not valid JSON.")

    await editor.fill(BROKEN_RULE)
    await editor.press("Tab")
    await page.keyboard.press("Enter")  # the focused "Create rule" button, from the keyboard
    await expect(editor).to_have_attribute("aria-invalid", "true")
    await expect(form.locator(".form-summary")).to_contain_text("conditions.0.op")
    assert await _focused_name(page) == "definition"
    await page.screenshot(path=shots / f"{backend}-rule-error.png", full_page=True)
    assert await page.get_by_role("link", name="VIP abandons").count() == 0

    await editor.fill(FIXED_RULE)
    await form.get_by_role("button", name="Dry-run without saving").click()
    result = page.locator("#new-dry-run-result")
    await expect(result).to_contain_text("Events of the last day examined: 1.")
    await expect(result).to_contain_text("The rule would have fired on: 1.")
    await expect(result).to_contain_text('set_priority · {"priority":8}')
    assert await page.get_by_role("link", name="VIP abandons").count() == 0

    await form.get_by_role("button", name="Create rule").click()
    await expect(page.locator("#saved-notice")).to_have_text("Saved.")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="VIP abandons"))
    await expect(row).to_contain_text("Enabled")
    await row.get_by_role("button", name="Disable VIP abandons").click()
    await expect(row).to_contain_text("Disabled")

    await row.get_by_role("link", name="VIP abandons").click()
    await expect(page.locator("#rule-runs")).to_contain_text("This rule has not fired yet.")
    edit = page.locator("#rule-edit-form")
    saved = await edit.locator("textarea").input_value()
    await edit.locator("textarea").fill(saved.replace('"priority": 8', '"priority": 42'))
    await edit.get_by_role("button", name="Save rule").click()
    await expect(edit.locator(".form-summary")).to_contain_text("priority")
    await edit.locator("textarea").fill(saved.replace('"position": 100', '"position": 5'))
    await edit.get_by_role("button", name="Save rule").click()
    await expect(page.locator("#saved-notice")).to_have_text("Saved.")
    await expect(edit.locator("textarea")).to_contain_text('"position": 5')
    await page.get_by_role("button", name="Dry-run on the last day").click()
    # The saved rule, tried again, finds the same abandoned call of the gold customer.
    await expect(page.locator("#dry-run-result")).to_contain_text("would have fired on: 1.")
    await page.screenshot(path=shots / f"{backend}-rule-opened.png", full_page=True)


async def _surveys(page: Page, base: str, slug: str, shots: Path, backend: str) -> None:
    await page.goto(f"{base}/admin/surveys?tenant={slug}")
    form = page.locator("#survey-form")
    await form.get_by_label("Name").fill("Tras la llamada")
    await form.get_by_label("NPS (0-10)").check()
    await form.get_by_label("Title in Spanish").fill("¿Qué tal le atendimos?")
    sampling = form.get_by_label("Sampling (% of contacts asked)")
    await sampling.fill("150")
    await form.get_by_role("button", name="Create survey").click()
    await expect(sampling).to_have_attribute("aria-invalid", "true")
    await expect(form.locator(".field-error")).to_be_visible()
    await page.screenshot(path=shots / f"{backend}-survey-error.png", full_page=True)

    await sampling.fill("25")
    await form.get_by_label("NPS at or below").fill("5")
    await form.get_by_label("Phone", exact=True).check()
    await form.get_by_role("button", name="Create survey").click()
    await expect(page.locator("#saved-notice")).to_have_text("Saved.")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Tras la llamada"))
    await expect(row).to_contain_text("25%")
    await expect(row).to_contain_text("CSAT 2 · NPS 5")
    await expect(row).to_contain_text("voice")

    await row.get_by_role("link", name="Tras la llamada").click()
    form = page.locator("#survey-form")
    await expect(form.get_by_label("Sampling (% of contacts asked)")).to_have_value("25")
    await form.get_by_label("CSAT at or below").fill("1")
    await form.get_by_role("button", name="Save survey").click()
    await expect(page.locator("#saved-notice")).to_have_text("Saved.")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Tras la llamada"))
    await expect(row).to_contain_text("CSAT 1 · NPS 5")


async def _webhooks(page: Page, base: str, slug: str, shots: Path, backend: str) -> None:
    await page.goto(f"{base}/admin/webhooks?tenant={slug}")
    form = page.locator("#webhook-form")
    url = form.get_by_label("URL")
    await url.fill("http://169.254.169.254/latest/meta-data")
    await form.get_by_label("callback.created").check()
    await form.get_by_role("button", name="Subscribe").click()
    await expect(url).to_have_attribute("aria-invalid", "true")
    await expect(form.locator(".field-error")).to_contain_text("may not reach")
    await page.screenshot(path=shots / f"{backend}-webhook-refused.png", full_page=True)

    await url.fill("https://93.184.215.14/centralita")
    await form.get_by_role("button", name="Subscribe").click()
    shown = page.locator("#webhook-secret")
    await expect(shown).to_be_visible()
    secret = await shown.locator("[data-secret]").text_content()
    assert secret is not None
    assert secret.startswith("whsec_")
    await page.screenshot(path=shots / f"{backend}-webhook-secret.png", full_page=True)
    await shown.get_by_role("link", name="Done").click()
    await expect(page.get_by_role("link", name="https://93.184.215.14/centralita")).to_be_visible()
    assert secret not in await page.content()


async def test_an_administrator_writes_rules_surveys_and_webhooks(
    tenant_a: TenantFixture, settings: Settings, backend: str, artifacts_dir: Path
) -> None:
    tenant = tenant_a
    email = await make_user(tenant.app, tenant.db, [(tenant, Role.ADMIN)], name="Alba Admin")
    failed = await _webhook(tenant, settings)
    # Within the last day a gold customer hung up waiting: what the new rule is about.
    valued = await customer(tenant, tier="gold")
    await abandon_after(tenant, await call(tenant, valued["id"]), timedelta(seconds=40))
    shots = artifacts_dir / "admin-automation"
    shots.mkdir(exist_ok=True)

    with live_server(settings) as server:
        base = server.url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            watched = await open_page(browser, height=900)
            page = watched.page
            watched.allow(422)
            await sign_in(page, base, email, f"/admin/rules?tenant={tenant.slug}")

            await _rules(page, base, tenant.slug, shots, backend)
            await _surveys(page, base, tenant.slug, shots, backend)
            await _webhooks(page, base, tenant.slug, shots, backend)

            await page.goto(f"{base}/admin/webhooks?tenant={tenant.slug}&webhook={failed.id}")
            log = page.locator("#delivery-log")
            await expect(log).to_contain_text("HTTP 410")
            await log.get_by_role("button", name="Replay").click()
            await expect(page.locator("#saved-notice")).to_have_text("Saved.")
            await expect(log.get_by_role("button", name="Replay")).to_have_count(0)
            await expect(log).to_contain_text("Being sent")

            await page.goto(f"{base}/admin/rules?tenant={tenant.slug}&lang=es")
            await expect(page.get_by_role("heading", name="Nueva regla")).to_be_visible()
            await page.screenshot(path=shots / f"{backend}-rules-es.png", full_page=True)
            await watched.assert_clean()
            await browser.close()
