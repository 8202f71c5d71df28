"""The web shell in a real headless Chromium against a real server: sign in, switch language."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import ConsoleMessage, Page, async_playwright

from centralita.app import create_app
from centralita.config import Settings
from centralita.customers.models import Customer
from centralita.db.engine import Database
from centralita.identity.permissions import Role
from tests.conftest import TenantMaker
from tests.web.helpers import PASSWORD, make_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Collects CSP violations inside the page; Playwright injects it outside the page's policy.
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CENTRALITA_REQUIRE_BROWSER") != "1",
        reason="Chromium is not installed at /usr/bin/chromium",
    ),
]


@pytest.fixture
def server_url(settings: Settings) -> Iterator[str]:
    """A real uvicorn server on a free local port, in a thread, on the test database."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


class Watched:
    """A page whose console errors and CSP violations are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    async def assert_clean(self) -> None:
        violations = await self.page.evaluate("window.__cspViolations")
        assert violations == []
        assert self.errors == []


async def _sign_in(watched: Watched, base: str, email: str) -> None:
    page = watched.page
    await page.goto(f"{base}/home")
    assert page.url == f"{base}/login?next=%2Fhome"
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Iniciar sesión").click()
    await page.wait_for_url(f"{base}/home")


async def test_sign_in_switch_language_and_sign_out_in_chromium(
    server_url: str,
    app: FastAPI,
    db: Database,
    make_tenant: TenantMaker,
    backend: str,
    artifacts_dir: Path,
) -> None:
    bank = await make_tenant(name="Banco Meridiano", time_zone="Europe/Madrid")
    flowers = await make_tenant(
        name="Bloom & Co. Flowers", default_locale="en", time_zone="Europe/London", country="GB"
    )
    async with db.tenant_session(bank.id) as session:
        session.add_all(Customer(display_name=f"Cliente {n}") for n in range(42))
        await session.commit()
    for _ in range(6):
        await make_user(app, db, [(bank, Role.AGENT), (flowers, Role.AGENT)])
    email = await make_user(
        app, db, [(bank, Role.SUPERVISOR), (flowers, Role.AGENT)], name="Lucía Fernández"
    )
    shots = artifacts_dir / "web-shell"
    shots.mkdir(exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        desktop = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="es-ES")
        await desktop.add_init_script(CSP_PROBE)
        watched = Watched(await desktop.new_page())
        page = watched.page

        await page.goto(f"{server_url}/login")
        await page.screenshot(path=shots / f"{backend}-login-es.png", full_page=True)
        await _sign_in(watched, server_url, email)

        assert await page.get_by_role("heading", name="Hola, Lucía Fernández").is_visible()
        assert await page.get_by_role("heading", name="Banco Meridiano").is_visible()
        assert await page.get_by_text("Panel de supervisión").is_visible()
        await page.screenshot(path=shots / f"{backend}-home-es.png", full_page=True)

        await page.get_by_role("link", name="English").click()
        await page.wait_for_url(f"{server_url}/home?lang=en")
        assert await page.get_by_role("heading", name="Hello, Lucía Fernández").is_visible()
        assert await page.get_by_text("Wallboard").is_visible()
        assert await page.get_by_text("Agent desktop").is_visible()
        assert await page.locator("html").get_attribute("lang") == "en"
        await page.screenshot(path=shots / f"{backend}-home-en.png", full_page=True)

        await page.goto(f"{server_url}/home")
        assert await page.get_by_role("button", name="Sign out").is_visible()
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url(f"{server_url}/login?signed_out=1")
        assert await page.get_by_text("You have signed out.").is_visible()
        await watched.assert_clean()

        phone = await browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="es-ES",
        )
        await phone.add_init_script(CSP_PROBE)
        on_phone = Watched(await phone.new_page())
        await on_phone.page.goto(f"{server_url}/login")
        await on_phone.page.screenshot(path=shots / f"{backend}-login-phone.png", full_page=True)
        await _sign_in(on_phone, server_url, email)
        assert await on_phone.page.get_by_role("button", name="Cerrar sesión").is_visible()
        width = await on_phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        await on_phone.page.screenshot(path=shots / f"{backend}-home-phone.png", full_page=True)
        await on_phone.assert_clean()

        await browser.close()
