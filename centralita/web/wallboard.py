"""The supervisor's wallboard: the page, and the fragments its script refreshes.

Queue figures are pushed over ``/ws/supervisor`` and patched into the page by
``static/js/wallboard.js``; the agent grid, the waiting work and the tickets about to breach are
re-rendered here when the socket reports work moving, so every customer or agent name passes
through Jinja's escaping.
"""

import uuid
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from sqlalchemy import select

from centralita.db.base import utcnow
from centralita.db.scoping import use_system_scope
from centralita.errors import Forbidden
from centralita.i18n import gettext_noop
from centralita.identity.permissions import Permission
from centralita.routing.models import Queue
from centralita.routing.stats import queue_statistics, start_of_day
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import list_tenants
from centralita.tickets.models import TicketSettings
from centralita.tickets.settings import reference
from centralita.web import wallboard_data as data
from centralita.web.charts import day_chart
from centralita.web.desk import REASON_LABELS, SCRIPT_TEXTS, TICKET_STATUSES, tenant_for, texts
from centralita.web.pages import SignedIn, SignedInPage, page_router
from centralita.web.survey_answers import satisfaction_since

router = page_router()
TenantSlug = Annotated[str | None, Query(max_length=100)]

STATE_LABELS = {
    "available": gettext_noop("Available"),
    "busy": gettext_noop("Busy"),
    "wrap_up": gettext_noop("Wrap-up"),
    "away": gettext_noop("Away"),
    "offline": gettext_noop("Offline"),
}

WALLBOARD_TEXTS = {
    **SCRIPT_TEXTS,
    "below_target": gettext_noop(
        "%(queue)s: service level %(sl)s in the last 30 min, target %(target)s"
    ),
    "all_on_target": gettext_noop("Every queue is on target."),
    "moved": gettext_noop("Moved."),
    "state_changed": gettext_noop("State changed."),
}


async def _reporting_tenants(page: SignedIn) -> list[Tenant]:
    principal = page.principal
    ids = None if principal.is_platform_admin else set(principal.roles)
    return [
        tenant
        for tenant in await list_tenants(page.session, ids)
        if principal.can(tenant.id, Permission.REPORTS_READ)
    ]


async def _queues(page: SignedIn) -> list[Queue]:
    return list((await page.session.execute(select(Queue).order_by(Queue.name))).scalars())


async def _live_context(
    page: SignedIn, tenant: Tenant, queue_id: uuid.UUID | None
) -> dict[str, Any]:
    now = utcnow()
    today = start_of_day(tenant, now)
    queues = await _queues(page)
    chosen = next((q for q in queues if q.id == queue_id), None)
    stats = await queue_statistics(page.session, tenant)
    aht = await data.queue_handle_times(page.session, today, now)
    settings = (await page.session.execute(select(TicketSettings))).scalar_one_or_none()
    prefix = settings.prefix if settings else "T"
    tickets = await data.tickets_breaching(page.session, now)
    agents = stats[0].agents if stats else None
    agents_grid = await data.agent_rows(page.session, today, now)
    return {
        "tenant": tenant,
        "now": now,
        "stats": stats,
        "aht": aht,
        "occupancy": (agents.busy / (agents.busy + agents.available))
        if agents and agents.busy + agents.available
        else None,
        "agents": agents_grid,
        "satisfaction": await satisfaction_since(page.session, tenant.id, today),
        "signed_in": [agent for agent in agents_grid if agent.presence != "offline"],
        "waiting": await data.waiting_work(page.session),
        "tickets": [(reference(prefix, t.number), t) for t in tickets],
        "queues": queues,
        "chosen_queue": chosen,
        "chart": day_chart(await data.day_curves(page.session, today, chosen)),
        "reasons": REASON_LABELS,
        "state_labels": STATE_LABELS,
        "ticket_statuses": TICKET_STATUSES,
    }


@router.get("/supervisor")
async def wallboard(
    page: SignedInPage, tenant: TenantSlug = None, queue: uuid.UUID | None = None
) -> Response:
    tenants = await _reporting_tenants(page)
    if not tenants:
        raise Forbidden("Only supervisors and managers see the wallboard")
    if tenant is None:
        return page.redirect(f"/supervisor?tenant={tenants[0].slug}")
    found = await tenant_for(page, tenant, Permission.REPORTS_READ)
    context = await _live_context(page, found, queue)
    await use_system_scope(page.session)
    return page.render(
        "supervisor.html",
        {**context, "tenants": tenants, "script_texts": texts(page, WALLBOARD_TEXTS)},
    )


@router.get("/supervisor/live")
async def wallboard_live(
    page: SignedInPage,
    tenant: Annotated[str, Query(max_length=100)],
    queue: uuid.UUID | None = None,
) -> Response:
    """Everything below the page's title bar: re-rendered when work moves."""
    found = await tenant_for(page, tenant, Permission.REPORTS_READ)
    context = await _live_context(page, found, queue)
    await use_system_scope(page.session)
    return page.render("supervisor_live.html", context)
