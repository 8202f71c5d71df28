"""Server time of the browser product's pages with the demo data.

Seeds the demo (``centralita demo``: three companies, 60 days of history) into a throw-away SQLite
database, or into the database ``--database-url`` names (an empty one), signs in as the demo's
agent and supervisor, and requests each page ``--requests`` times in-process (httpx over ASGI,
so the figure is the server's time: routing, queries, templates, no network). Pages: the agent
desktop and the customer panel beside a conversation, the wallboard and its live fragment, and the
client portal when this build serves ``/client``. Target: p95 under 150 ms.

The chat round trip (a customer's message to its appearance in the agent's page) needs the chat
widget and is not measured here.

Prints one JSON object.

    .venv/bin/python bench/web.py [--requests 100] [--database-url URL]
"""

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select
from starlette.routing import Match

from centralita import demo
from centralita.app import create_app
from centralita.config import Settings
from centralita.db import migrate
from centralita.interactions.models import Interaction
from centralita.tenancy.models import Tenant

TARGET_P95_MS = 150.0
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
        "chat_round_trip": "needs the chat widget; not measured here",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="an empty database to seed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.sqlite3'}"
        migrate.upgrade(url)
        result = asyncio.run(run(url, args.requests))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
