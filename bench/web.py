"""Server time of the browser product's pages with the demo data.

Seeds the demo (``centralita demo``: three companies, 60 days of history) into a throw-away SQLite
database, or into the database ``--database-url`` names (an empty one), signs in as the demo's
agent and supervisor, and requests each page ``--requests`` times in-process (httpx over ASGI,
so the figure is the server's time: routing, queries, templates, no network). Pages: the agent
desktop and the customer panel beside a conversation, the wallboard and its live fragment, and the
client portal when this build serves ``/client``. Target: p95 under 150 ms.

The chat round trip is measured in headless Chromium (Debian's ``/usr/bin/chromium``) against a
real uvicorn server on the same demo data, with the routing engine running: the demo's agent signs
in and makes themselves available, a customer opens the company's chat widget in another browser
context and starts a chat, the agent accepts it, and then the customer sends ``--chat-samples``
messages one after another. Each sample is the time from the customer pressing send to the line
appearing in the agent's page (both pages read the same clock). Target: under 300 ms. For the
measurement the demo agent is given the widget queue's skill (the demo's skills are drawn at
random) and the visitor's per-minute message limit is lifted.

Prints one JSON object.

    .venv/bin/python bench/web.py [--requests 100] [--chat-samples 40] [--database-url URL]
"""

import argparse
import asyncio
import json
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from playwright.async_api import Page, async_playwright
from sqlalchemy import select
from starlette.routing import Match

from centralita import demo
from centralita.app import create_app
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.config import Settings
from centralita.db import migrate
from centralita.db.engine import open_database
from centralita.identity.models import User
from centralita.interactions.models import Interaction
from centralita.routing.models import AgentSkill, Queue, QueueSkill
from centralita.tenancy.models import Tenant

TARGET_P95_MS = 150.0
CHAT_TARGET_MS = 300.0
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VISITOR = "Cliente de la medición"
# In the customer's page: when a button was pressed. In the agent's page: when the awaited
# customer's line appeared.
MARK_SENT = """() => document.addEventListener("click", (event) => {
  if (event.target.closest("button")) window.__sentAt = Date.now();
}, true)"""
AWAIT_LINE = """(text) => {
  window.__seenAt = new Promise((resolve) => {
    const look = () => [...document.querySelectorAll(".message-customer .message-text")]
      .some((node) => node.textContent === text);
    if (look()) return resolve(Date.now());
    const watcher = new MutationObserver(() => {
      if (look()) { watcher.disconnect(); resolve(Date.now()); }
    });
    watcher.observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}"""
AGENT = "agente@centralita.demo"
SUPERVISOR = "supervisor@centralita.demo"
CLIENT = "cliente@bancohorizonte.demo"
TENANT = "banco-horizonte"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _signed_in(app: object, email: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://bench",
    )
    form = await http.get("/login")
    match = CSRF.search(form.text)
    assert match is not None
    data = {"email": email, "password": demo.DEMO_PASSWORD, "csrf_token": match.group(1)}
    response = await http.post("/login", data=data)
    assert response.status_code == 303, response.text
    return http


async def _measure(http: httpx.AsyncClient, path: str, requests: int) -> dict[str, float]:
    for _ in range(3):
        assert (await http.get(path)).status_code == 200, path
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = await http.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, path
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
    }


def _serves(app: object, path: str) -> bool:
    probe = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    routes = app.router.routes  # type: ignore[attr-defined]
    return any(route.matches(probe)[0] is Match.FULL for route in routes)


async def run(database_url: str, requests: int) -> dict[str, object]:
    settings = Settings(database_url=database_url, routing_engine=False, jobs_worker=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        db = app.state.db
        await demo.seed(db, settings)
        async with db.system_session() as session:
            tenant = (
                await session.execute(select(Tenant).where(Tenant.slug == TENANT))
            ).scalar_one()
            interaction = (
                await session.execute(
                    select(Interaction.id)
                    .where(Interaction.tenant_id == tenant.id)
                    .order_by(Interaction.created_at.desc())
                    .limit(1)
                )
            ).scalar_one()
            interactions = len((await session.execute(select(Interaction.id))).all())
        agent = await _signed_in(app, AGENT)
        supervisor = await _signed_in(app, SUPERVISOR)
        pages = {
            "agent_desktop": (agent, "/agent"),
            "agent_customer_panel": (
                agent,
                f"/agent/panel?tenant={TENANT}&interaction={interaction}",
            ),
            "wallboard": (supervisor, f"/supervisor?tenant={TENANT}"),
            "wallboard_live": (supervisor, f"/supervisor/live?tenant={TENANT}"),
        }
        if _serves(app, "/client"):
            pages["client_portal"] = (await _signed_in(app, CLIENT), f"/client?tenant={TENANT}")
        results = {
            name: await _measure(http, path, requests) for name, (http, path) in pages.items()
        }
        for http in {id(h): h for h, _ in pages.values()}.values():
            await http.aclose()
    worst = max(result["p95_ms"] for result in results.values())
    return {
        "benchmark": "web",
        "database": database_url.split(":", 1)[0],
        "demo_interactions": interactions,
        "requests_per_page": requests,
        "pages": results,
        "worst_p95_ms": worst,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": worst < TARGET_P95_MS,
        "client_portal": "measured" if "client_portal" in results else "not served by this build",
    }


@contextmanager
def _live_server(settings: Settings) -> Iterator[str]:
    """Uvicorn on a free local port, in its own thread and event loop, as in production."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


async def _skill_the_agent(database_url: str) -> None:
    """The demo agent gets the skill the widget's queue asks for, at a level that serves it."""
    db = open_database(database_url, pool_size=2)
    try:
        async with db.system_session() as session:
            tenant = (
                await session.execute(select(Tenant).where(Tenant.slug == TENANT))
            ).scalar_one()
            agent = (await session.execute(select(User).where(User.email == AGENT))).scalar_one()
            widget_queue = (
                await session.execute(
                    select(ChannelAddress.queue).where(
                        ChannelAddress.tenant_id == tenant.id,
                        ChannelAddress.channel == AddressChannel.CHAT,
                    )
                )
            ).scalar_one()
            needed = (
                await session.execute(
                    select(QueueSkill.skill_id)
                    .join(Queue, Queue.id == QueueSkill.queue_id)
                    .where(Queue.tenant_id == tenant.id, Queue.name == widget_queue)
                )
            ).scalars()
            for skill_id in needed:
                held = await session.get(AgentSkill, (tenant.id, agent.id, skill_id))
                if held is None:
                    session.add(
                        AgentSkill(
                            tenant_id=tenant.id, user_id=agent.id, skill_id=skill_id, level=5
                        )
                    )
                else:
                    held.level = 5
            await session.commit()
    finally:
        await db.dispose()


async def _sign_in(page: Page, base: str, email: str, next_path: str) -> None:
    await page.goto(f"{base}/login?lang=en")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/home")
    await page.goto(f"{base}{next_path}")


async def chat_round_trip(database_url: str, samples: int) -> dict[str, object]:
    """Customer's chat message to the agent's page, in Chromium, ``samples`` times."""
    await _skill_the_agent(database_url)
    settings = Settings(
        database_url=database_url,
        routing_engine=True,
        jobs_worker=False,
        chat_messages_per_minute=10_000,
    )
    times: list[float] = []
    with _live_server(settings) as base:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            desk = await (
                await browser.new_context(viewport={"width": 1366, "height": 768})
            ).new_page()
            await _sign_in(desk, base, AGENT, "/agent")
            await desk.locator("#connection").filter(has_text="Connected").wait_for(timeout=30_000)
            await desk.get_by_label("Status", exact=True).select_option("available")
            await desk.get_by_role("button", name="Change status").click()
            await desk.locator("#presence-label").filter(has_text="Available").wait_for()

            chat = await (await browser.new_context(locale="es-ES")).new_page()
            await chat.goto(f"{base}/chat/{TENANT}")
            await chat.get_by_role("button", name="Chatea con nosotros").click()
            await chat.get_by_label("Tu nombre").fill(VISITOR)
            await chat.get_by_label("¿En qué podemos ayudarte?").fill("Hola, una pregunta")
            await chat.get_by_role("button", name="Empezar el chat").click()
            offer = desk.locator(".offer").filter(has_text=VISITOR)
            await offer.get_by_role("button", name="Accept").click(timeout=30_000)
            tab = desk.get_by_role("tab").filter(has_text=VISITOR)
            await tab.wait_for()
            await tab.click()
            await chat.evaluate(MARK_SENT)
            for n in range(samples):
                line = f"Mensaje de medición {n + 1}"
                await desk.evaluate(AWAIT_LINE, line)
                await chat.get_by_label("Escribe tu mensaje").fill(line)
                await chat.get_by_role("button", name="Enviar el mensaje").click()
                seen_at = await desk.evaluate("() => window.__seenAt")
                sent_at = await chat.evaluate("() => window.__sentAt")
                times.append(float(seen_at - sent_at))
            await browser.close()
    return {
        "measured": True,
        "samples": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
        "target_ms": CHAT_TARGET_MS,
        "meets_target": _percentile(times, 0.95) < CHAT_TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--chat-samples", type=int, default=40, help="0: not measured")
    parser.add_argument("--database-url", default=None, help="an empty database to seed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.sqlite3'}"
        migrate.upgrade(url)
        result = asyncio.run(run(url, args.requests))
        if args.chat_samples > 0 and CHROMIUM.exists():
            result["chat_message_to_agent_page"] = asyncio.run(
                chat_round_trip(url, args.chat_samples)
            )
        elif args.chat_samples > 0:
            result["chat_message_to_agent_page"] = {"measured": False, "reason": "no Chromium"}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
