"""The FastAPI application: settings, database, routers, problem+json and security headers."""

import asyncio
import gc
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
from centralita.api.lookups import Lookups
from centralita.automation import service as automation
from centralita.automation.routes import pages as automation_pages
from centralita.automation.routes import router as automation_router
from centralita.automation.schedule import fire_scheduled_rule
from centralita.callbacks import service as callbacks
from centralita.callbacks.routes import router as callbacks_router
from centralita.campaigns.routes import pages as campaign_pages
from centralita.campaigns.routes import router as campaigns_router
from centralita.channels.campaigns import run_campaign_dispatcher
from centralita.channels.chat.routes import router as chat_router
from centralita.channels.chat.transcript import transcript_handlers
from centralita.channels.email.imap import ImapPoller
from centralita.channels.email.jobs import email_handlers, email_sender
from centralita.channels.email.outbound import Relay
from centralita.channels.email.routes import router as email_router
from centralita.channels.email.smtp import start_listener
from centralita.channels.outbound import Sender, delivery_handlers
from centralita.channels.proactive import proactive_handlers
from centralita.channels.reports import reports_base
from centralita.channels.routes import router as channels_router
from centralita.channels.sms.routes import router as sms_router
from centralita.channels.sms.sender import sms_sender
from centralita.channels.voice.provider import Provider
from centralita.channels.voice.routes import calls_router
from centralita.channels.voice.routes import router as voice_router
from centralita.config import Settings, get_settings
from centralita.customers.routes import router as customers_router
from centralita.db.engine import open_database
from centralita.demo_routing import DemoTraffic
from centralita.events.bus import attach, open_bus, wait_for_published
from centralita.events.hub import Hub
from centralita.identity.routes import router as identity_router
from centralita.identity.service import Passwords
from centralita.interactions.models import Channel
from centralita.interactions.routes import router as interactions_router
from centralita.jobs.models import JobKind
from centralita.jobs.worker import JobHandler, JobWorker
from centralita.journey.routes import router as journey_router
from centralita.knowledge import signals as knowledge_signals
from centralita.knowledge.routes import router as knowledge_router
from centralita.lifecycle import export as lifecycle_export
from centralita.lifecycle import service as lifecycle
from centralita.lifecycle.routes import router as lifecycle_router
from centralita.nlu.routes import router as nlu_router
from centralita.nlu.trainer import NluTrainer
from centralita.quality.routes import router as quality_router
from centralita.reporting import mail as reporting_mail
from centralita.reporting.mail import SmtpSender
from centralita.reporting.routes import router as reporting_router
from centralita.routing.routes import agents_router, realtime_router
from centralita.routing.routes import router as routing_router
from centralita.routing.runner import RoutingRunner
from centralita.sla.routes import router as sla_router
from centralita.surveys.routes import pages as survey_pages
from centralita.surveys.routes import router as surveys_router
from centralita.tenancy.routes import router as tenancy_router
from centralita.tickets import escalations
from centralita.tickets.routes import router as tickets_router
from centralita.web.admin import SECTION_DATA as ADMIN_SECTION_DATA
from centralita.web.admin import router as admin_router
from centralita.web.client import router as client_router
from centralita.web.desk import router as desk_router
from centralita.web.help import router as help_router
from centralita.web.knowledge_editor import router as knowledge_editor_router
from centralita.web.pages import error_page
from centralita.web.report_mail import compose_weekly
from centralita.web.routes import router as web_router
from centralita.web.wallboard import router as wallboard_router
from centralita.webhooks import service as webhooks
from centralita.webhooks.dispatcher import WebhookDispatcher
from centralita.webhooks.routes import pages as webhooks_pages
from centralita.webhooks.routes import router as webhooks_router
from centralita.wfm.routes import pages_router as wfm_pages_router
from centralita.wfm.routes import router as wfm_router

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


def _keep_startup_objects_out_of_collections() -> None:
    """Move what the process holds once started (modules, routes, mappers, calendars: some
    400 000 objects) out of the garbage collector's reach, once per process.

    Each full collection walks every tracked object: with them, one took 230 to 350 ms (two
    shared cores), every few hundred webhooks, and every request in flight at that moment
    stalled for it: the p99 of a quick webhook became several times its median."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def job_handlers(settings: Settings) -> dict[str, JobHandler]:
    """Every durable job this process can run, with the channel senders the settings configure."""
    handlers: dict[str, JobHandler] = {
        **escalations.JOB_HANDLERS,
        JobKind.WEBHOOK_FANOUT: webhooks.fan_out,
        JobKind.AUTOMATION_EVENT: automation.evaluator(settings),
        JobKind.AUTOMATION_SCHEDULE: fire_scheduled_rule,
        **callbacks.JOB_HANDLERS,
        **knowledge_signals.JOB_HANDLERS,
        **lifecycle.JOB_HANDLERS,
        **lifecycle_export.export_handlers(settings.export_dir),
    }
    provider = Provider(settings.telephony_api_base_url)
    senders: dict[Channel, Sender] = {Channel.SMS: sms_sender(provider)}
    relay = Relay.from_settings(settings)
    if relay is not None:
        senders[Channel.EMAIL] = email_sender(relay)
        handlers.update(email_handlers(relay))
        handlers.update(transcript_handlers(relay))
        handlers.update(reporting_mail.job_handlers(SmtpSender(settings), compose_weekly))
    handlers.update(delivery_handlers(senders))
    handlers.update(proactive_handlers(provider, relay, reports_base(settings)))
    return handlers


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
            worker = JobWorker(db, job_handlers(settings))
            background.append(asyncio.create_task(worker.run()))
            background.append(asyncio.create_task(WebhookDispatcher(db, settings).run()))
            background.append(asyncio.create_task(NluTrainer(db).run()))
            background.append(asyncio.create_task(run_campaign_dispatcher(db, settings)))
        if settings.demo_traffic:
            background.append(asyncio.create_task(DemoTraffic(db, settings).run()))
        if settings.imap_host is not None and settings.imap_address is not None:
            background.append(asyncio.create_task(ImapPoller(db, settings).run()))
        smtp = None
        if settings.smtp_listen_port is not None:
            smtp = await start_listener(db, settings)
        _keep_startup_objects_out_of_collections()
        try:
            yield
        finally:
            if smtp is not None:
                smtp.close()
                await smtp.wait_closed()
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
    app.state.lookups = Lookups()
    problems.install(app, html_error_page=error_page)

    app.add_middleware(SecurityHeaders)

    # Routes are matched in order: the telephony provider's webhooks, the busiest requests with
    # the tightest deadline, are looked at first (after every other router, the match alone cost
    # a third of a millisecond).
    app.include_router(voice_router)
    app.include_router(sms_router)
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
    app.include_router(email_router)
    app.include_router(wfm_router)
    app.include_router(wfm_pages_router)
    app.include_router(chat_router)
    app.include_router(calls_router)
    app.include_router(nlu_router)
    app.include_router(web_router)
    app.include_router(webhooks_router)
    app.include_router(automation_router)
    app.include_router(callbacks_router)
    app.include_router(surveys_router)
    app.include_router(survey_pages)
    app.include_router(automation_pages)
    app.include_router(webhooks_pages)
    app.include_router(campaigns_router)
    app.include_router(campaign_pages)
    app.include_router(desk_router)
    app.include_router(wallboard_router)
    app.include_router(admin_router)
    app.include_router(reporting_router)
    app.include_router(quality_router)
    app.include_router(client_router)
    app.include_router(knowledge_router)
    app.include_router(help_router)
    app.include_router(lifecycle_router)
    ADMIN_SECTION_DATA["data"] = lifecycle.admin_section
    app.include_router(knowledge_editor_router)

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
