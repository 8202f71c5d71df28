"""Training from the administration in a real headless Chromium: the page shows the queued run's
progress bar, polls it while the trainer works, and lists the new model version when done."""

import os
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import async_playwright

from centralita.db.engine import Database
from centralita.identity.permissions import Role
from centralita.nlu.trainer import NluTrainer
from tests.conftest import TenantMaker
from tests.nlu.test_routes import _csv
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


async def test_an_admin_trains_a_model_and_watches_its_progress(
    server_url: str,  # noqa: F811 - the fixture imported above
    app: FastAPI,
    db: Database,
    make_tenant: TenantMaker,
    backend: str,
    artifacts_dir: Path,
) -> None:
    bank = await make_tenant(name="Banco Meridiano", time_zone="Europe/Madrid")
    http = await bank.client(Role.ADMIN)
    uploaded = await http.post(
        bank.url("/nlu/examples"), files={"file": ("train.csv", _csv(), "text/csv")}
    )
    assert uploaded.status_code == 200, uploaded.text
    email = await make_user(app, db, [(bank, Role.ADMIN)], name="Alba Admin")
    shots = artifacts_dir / "nlu-training"
    shots.mkdir(exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        desktop = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="es-ES")
        await desktop.add_init_script(CSP_PROBE)
        watched = Watched(await desktop.new_page())
        page = watched.page

        await page.goto(f"{server_url}/admin?tenant={bank.slug}&section=intents")
        await page.get_by_label("Correo electrónico").fill(email)
        await page.get_by_label("Contraseña").fill(PASSWORD)
        await page.get_by_role("button", name="Iniciar sesión").click()
        await page.get_by_role("heading", name="Reconocimiento de intenciones").wait_for()
        await page.get_by_label("Usar embeddings de frases (mejor, más lento)").uncheck()
        await page.get_by_role("button", name="Entrenar").click()

        bar = page.locator("progress#training-bar")
        await bar.wait_for()
        await page.get_by_text("Esperando al entrenador…").wait_for()
        await page.screenshot(path=shots / f"{backend}-queued.png", full_page=True)

        # The test server runs no background workers: the trainer works here, as its own
        # process would, while the page polls.
        trainer = NluTrainer(db)
        while await trainer.step():
            pass

        await page.get_by_role("rowheader", name="Entrenado").wait_for()
        assert await bar.count() == 0
        assert await page.get_by_role("button", name="Entrenar").is_visible()
        await page.screenshot(path=shots / f"{backend}-trained.png", full_page=True)
        await watched.assert_clean()
        await browser.close()
