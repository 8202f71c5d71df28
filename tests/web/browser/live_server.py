"""A real server for browser tests, with the routing engine running, and browser helpers."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Dialog, Page

from centralita.app import create_app
from centralita.config import Settings
from centralita.events.bus import Event
from tests.web.helpers import PASSWORD
from tests.web.test_browser import CSP_PROBE, Watched


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    loop: asyncio.AbstractEventLoop

    def publish(self, event: Event) -> None:
        """Publish ``event`` on the server's bus, as another part of the product would."""
        asyncio.run_coroutine_threadsafe(self.app.state.bus.publish([event]), self.loop).result(5)

    def drop_sockets(self) -> None:
        """What the hub does when the bus may have lost events (a Redis reconnect): every socket
        is told to resync and closed, and every page must reconnect and reload its snapshot."""
        self.loop.call_soon_threadsafe(self.app.state.hub._on_gap)


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """Uvicorn on a free local port, in a thread, routing work as production does."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(settings.model_copy(update={"routing_engine": True}))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve(sockets=[listener]),), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, loop)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
        listener.close()


class Guarded(Watched):
    """A watched page that also records any JavaScript dialog (an injected alert would open one)."""

    def __init__(self, page: Page) -> None:
        super().__init__(page)
        self.dialogs: list[str] = []
        self.allowed: list[str] = []
        page.on("dialog", self._dialog)

    def allow(self, status: int) -> None:
        """The test provokes this refusal on purpose; Chromium logs every refused request."""
        self.allowed.append(f"the server responded with a status of {status}")

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    async def assert_clean(self) -> None:
        self.errors = [e for e in self.errors if not any(a in e for a in self.allowed)]
        await super().assert_clean()
        assert self.dialogs == []


async def sign_in(page: Page, base: str, email: str, next_path: str) -> None:
    await page.goto(f"{base}/login?lang=en")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/home")
    await page.goto(f"{base}{next_path}")


async def open_page(browser: Browser, height: int = 768, **options: Any) -> Guarded:
    """A laptop-sized page in a browser context of its own (its own cookies: one person), with
    the CSP probe installed before any of the page's scripts run."""
    context = await browser.new_context(viewport={"width": 1366, "height": height}, **options)
    await context.add_init_script(CSP_PROBE)
    return Guarded(await context.new_page())
