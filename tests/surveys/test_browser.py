"""A customer answers a survey in a real headless Chromium, under the form's strict policy."""

import uuid
from pathlib import Path

from playwright.async_api import async_playwright

from centralita.db.engine import Database
from tests.automation.world import customer, run_jobs
from tests.conftest import TenantFixture
from tests.surveys.test_surveys import finished_contact, invitation_link, make_survey
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CSP_PROBE,
    Watched,
    pytestmark,
    server_url,
)

__all__ = ["pytestmark", "server_url"]  # the same browser marks and real server fixture


async def test_a_customer_answers_in_spanish_on_a_phone(
    server_url: str, db: Database, tenant_a: TenantFixture, backend: str, artifacts_dir: Path
) -> None:
    await make_survey(tenant_a)
    person = await customer(
        tenant_a,
        "gold",
        language="es",
        consent_email=True,
        identities=[{"kind": "email", "value": f"{uuid.uuid4().hex[:8]}@example.com"}],
    )
    await finished_contact(db, tenant_a, person)
    await run_jobs(db)
    _, path = await invitation_link(db, tenant_a)
    shots = artifacts_dir / "surveys"
    shots.mkdir(exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        phone = await browser.new_context(viewport={"width": 390, "height": 844}, locale="es-ES")
        await phone.add_init_script(CSP_PROBE)
        watched = Watched(await phone.new_page())
        page = watched.page

        await page.goto(f"{server_url}{path}")
        assert await page.get_by_role("heading", name="¿Qué tal le atendimos?").is_visible()
        await page.get_by_role("button", name="Enviar mis respuestas").click()
        await page.wait_for_load_state()
        assert await page.get_by_role("alert").is_visible()
        # Chromium logs the form's 422 answer as a failed load; that one is expected.
        assert [e for e in watched.errors if "422" not in e] == []
        watched.errors.clear()
        await page.screenshot(path=shots / f"{backend}-survey-errors.png", full_page=True)

        satisfaction = page.get_by_role("group", name="¿Cuál es su grado de satisfacción")
        await satisfaction.get_by_label("2", exact=True).check()
        recommend = page.get_by_role("group", name="¿Qué probabilidad hay")
        await recommend.get_by_label("4", exact=True).check()
        await page.get_by_role("group", name="Motivo").get_by_label("Espera").check()
        await page.get_by_label("¿Quiere contarnos algo más? (opcional)").fill("Tardaron mucho")
        await page.get_by_role("button", name="Enviar mis respuestas").click()
        await page.wait_for_load_state()

        assert await page.get_by_role("heading", name="¡Gracias!").is_visible()
        await page.screenshot(path=shots / f"{backend}-survey-thanks.png", full_page=True)
        await watched.assert_clean()
        await page.goto(f"{server_url}{path}")
        assert await page.get_by_role("heading", name="Esta encuesta está cerrada").is_visible()
        await browser.close()

    http = await tenant_a.client()
    [answer] = (await http.get(tenant_a.url("/survey-responses"))).json()["items"]
    assert (answer["csat"], answer["nps"], answer["answers"]) == (2, 4, {"reason": "wait"})
    assert answer["comment"] == "Tardaron mucho"
