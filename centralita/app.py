"""The FastAPI application: settings, database, routers, problem+json and security headers."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

# Every table must be known before the first flush: links by table name (an interaction's
# ticket) resolve only then.
import centralita.all_models  # noqa: F401
from centralita import __version__
from centralita.api import problems
from centralita.channels.routes import router as channels_router
from centralita.config import Settings, get_settings
from centralita.customers.routes import router as customers_router
from centralita.db.engine import open_database
from centralita.demo_routing import DemoTraffic
from centralita.events.bus import attach, open_bus, wait_for_published
from centralita.events.hub import Hub
from centralita.identity.routes import router as identity_router
from centralita.identity.service import Passwords
from centralita.interactions.routes import router as interactions_router
from centralita.jobs.worker import JobWorker
from centralita.journey.routes import router as journey_router
from centralita.nlu.routes import router as nlu_router
from centralita.routing.routes import agents_router, realtime_router
from centralita.routing.routes import router as routing_router
from centralita.routing.runner import RoutingRunner
from centralita.sla.routes import router as sla_router
from centralita.tenancy.routes import router as tenancy_router
from centralita.tickets import escalations
from centralita.tickets.routes import router as tickets_router
from centralita.web.pages import error_page
from centralita.web.routes import router as web_router

STATIC_DIR = Path(__file__).parent / "web" / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

API_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>centralita API</title>
<link rel="stylesheet" href="/api/docs-assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs-assets/swagger-ui-bundle.js"></script>
<script src="/static/js/api-docs.js"></script></body></html>"""


SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the security headers to every HTTP response a route has not set itself.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would add a task and a stream
    per request on the hot path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings.database_url, settings.database_pool_size)
        bus = open_bus(settings)
        await bus.start()
        attach(db.sessionmaker, bus)
        app.state.db, app.state.bus, app.state.hub = db, bus, Hub(bus)
        background: list[asyncio.Task[None]] = []
        if settings.routing_engine:
            app.state.router = RoutingRunner(db)
            background.append(asyncio.create_task(app.state.router.run()))
        if settings.jobs_worker:
            worker = JobWorker(db, escalations.JOB_HANDLERS)
            background.append(asyncio.create_task(worker.run()))
        if settings.demo_traffic:
            background.append(asyncio.create_task(DemoTraffic(db, settings).run()))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            app.state.hub.close()
            await wait_for_published()
            await bus.close()
            await db.dispose()

    app = FastAPI(
        title="centralita",
        version=__version__,
        summary="Multi-tenant omnichannel contact-center platform",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.passwords = Passwords(settings)
    problems.install(app, html_error_page=error_page)

    app.add_middleware(SecurityHeaders)

    app.include_router(tenancy_router)
    app.include_router(identity_router)
    app.include_router(customers_router)
    app.include_router(interactions_router)
    app.include_router(journey_router)
    app.include_router(routing_router)
    app.include_router(sla_router)
    app.include_router(agents_router)
    app.include_router(realtime_router)
    app.include_router(tickets_router)
    app.include_router(channels_router)
    app.include_router(nlu_router)
    app.include_router(web_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        try:
            async with request.app.state.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, 503)
        return JSONResponse({"status": "ready"})

    @app.get("/api/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(API_DOCS_PAGE)

    app.mount("/api/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="api-docs")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
