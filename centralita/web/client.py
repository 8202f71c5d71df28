"""The client portal (``/client``): a client company's managers see their own service.

Everything shown comes from the same reports as the API (``centralita.reporting``), in the session
switched to the one tenant the page is about; a tenant the viewer may not read reports of is
answered 404, exactly like one that does not exist. Agents are named only where the tenant allows.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from fastapi import Query
from fastapi.responses import Response

from centralita.db.base import utcnow
from centralita.db.scoping import use_tenant_scope
from centralita.errors import InvalidInput, NotFound
from centralita.i18n import gettext_noop
from centralita.identity.permissions import Permission, Role, role_allows
from centralita.reporting import outcomes, service
from centralita.reporting.schemas import QueueRow
from centralita.reporting.settings import report_settings
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import get_tenant_by_slug, list_tenants
from centralita.web.pages import CHANNEL_LABELS, SignedIn, SignedInPage, page_router
from centralita.web.report_charts import bar_chart

router = page_router()

DEFAULT_DAYS = 28


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    definition: str
    trend: str | None = None  # against the previous period, as shown


async def _readable_tenants(page: SignedIn) -> list[Tenant]:
    principal = page.principal
    ids = None
    if not principal.is_platform_admin:
        ids = {
            t for t, role in principal.roles.items() if role_allows(role, Permission.REPORTS_READ)
        }
    return await list_tenants(page.session, ids)


async def _tenant(page: SignedIn, slug: str | None) -> Tenant:
    if slug is None:
        readable = await _readable_tenants(page)
        if not readable:
            raise NotFound("No reports for you here")
        return readable[0]
    tenant = await get_tenant_by_slug(page.session, slug)
    if tenant is None or not page.principal.can(tenant.id, Permission.REPORTS_READ):
        raise NotFound("Tenant not found")
    return tenant


def _period(tenant: Tenant, date_from: str | None, date_to: str | None) -> service.Window:
    today = utcnow().astimezone(ZoneInfo(tenant.time_zone)).date()
    try:
        last = date.fromisoformat(date_to) if date_to else today
        first = (
            date.fromisoformat(date_from) if date_from else last - timedelta(days=DEFAULT_DAYS - 1)
        )
    except ValueError:
        raise InvalidInput.on_field("query.date_from", "not a date") from None
    return service.window(tenant, first, last)


class Formats:
    def __init__(self, page: SignedIn) -> None:
        self.page = page
        self.locale = page.locale

    def percent(self, value: float | None) -> str:
        return "—" if value is None else format_percent(value, "#,##0.0 %", locale=self.locale)

    def seconds(self, value: float | None) -> str:
        if value is None:
            return "—"
        return self.page.gettext("%(seconds)s s") % {
            "seconds": format_decimal(round(value), locale=self.locale)
        }

    def day(self, value: date) -> str:
        return format_date(value, "long", locale=self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def trend(self, now: float | None, before: float | None, as_points: bool) -> str | None:
        if now is None or before is None:
            return None
        change = (now - before) * 100 if as_points else now - before
        shown = format_decimal(round(change, 1), format="+#,##0.#;-#,##0.#", locale=self.locale)
        if as_points:
            return self.page.gettext("%(change)s points vs the previous period") % {"change": shown}
        return self.page.gettext("%(change)s vs the previous period") % {"change": shown}


def _kpis(
    fmt: Formats, now: QueueRow, before: QueueRow, sla: float | None, fcr: float | None
) -> list[Kpi]:
    gettext = fmt.page.gettext
    return [
        Kpi(
            gettext("Service level"),
            fmt.percent(now.service_level),
            gettext(
                "Answered within the target time, of answered and abandoned contacts "
                "(abandons in the first seconds not counted)."
            ),
            fmt.trend(now.service_level, before.service_level, True),
        ),
        Kpi(
            gettext("Contacts"),
            fmt.number(now.offered),
            gettext("Contacts that entered a queue."),
            fmt.trend(now.offered, before.offered, False),
        ),
        Kpi(
            gettext("Abandonment"),
            fmt.percent(now.abandonment_rate),
            gettext("Customers who left while waiting, of all contacts."),
            fmt.trend(now.abandonment_rate, before.abandonment_rate, True),
        ),
        Kpi(
            gettext("Average speed of answer"),
            fmt.seconds(now.asa_seconds),
            gettext("Mean wait of answered contacts."),
        ),
        Kpi(
            gettext("Average handle time"),
            fmt.seconds(now.aht_seconds),
            gettext("Mean time from answer to the end of after-contact work."),
        ),
        Kpi(
            gettext("Ticket SLA compliance"),
            fmt.percent(sla),
            gettext("Ticket targets met, of the targets decided in the period."),
        ),
        Kpi(
            gettext("First-contact resolution"),
            fmt.percent(fcr),
            gettext(
                "Contacts after which the same customer did not come back about the same "
                "topic within the reporting window (7 days unless the company chose otherwise)."
            ),
        ),
    ]


def _export_links(tenant: Tenant, win: service.Window) -> list[tuple[str, str]]:
    base = f"/api/v1/tenants/{tenant.slug}/reports/export"
    period = {"date_from": win.date_from.isoformat(), "date_to": win.date_to.isoformat()}
    names = {
        "intervals": gettext_noop("Service level by day"),
        "queues": gettext_noop("Volume by queue and channel"),
        "sla": gettext_noop("Ticket SLA compliance"),
    }
    return [
        (label, f"{base}?{urlencode({'report': name, **period})}") for name, label in names.items()
    ]


async def _context(page: SignedIn, tenant: Tenant, win: service.Window) -> dict[str, Any]:
    session, fmt = page.session, Formats(page)
    daily = await service.queue_report(session, win)
    previous = await service.queue_report(session, win.previous())
    slices = await service.slice_report(session, win)
    sla = await outcomes.sla_report(session, win)
    fcr = await outcomes.fcr_report(session, win)
    reasons = await outcomes.reasons_report(session, win)
    settings = await report_settings(session)
    zone = win.zone
    day_label = [
        format_date(row.start.astimezone(zone).date(), "d MMM", locale=page.locale)
        for row in daily.rows
    ]
    sl_chart = bar_chart(
        [
            (label, row.service_level, fmt.percent(row.service_level))
            for label, row in zip(day_label, daily.rows, strict=True)
        ],
        top=1.0,
    )
    by_channel: dict[str, int] = {}
    for row in slices.rows:
        by_channel[row.channel] = by_channel.get(row.channel, 0) + row.offered
    channel_chart = bar_chart(
        [
            (page.gettext(CHANNEL_LABELS.get(channel, channel)), float(count), fmt.number(count))
            for channel, count in sorted(by_channel.items())
        ]
    )
    agents = None
    if (
        settings.show_agent_names_to_clients
        or page.principal.roles.get(tenant.id) != Role.CLIENT_VIEWER
    ):
        agents = (await service.agent_report(session, win, with_names=True)).rows
    return {
        "tenant": tenant,
        "period": win,
        "kpis": _kpis(fmt, daily.total, previous.total, sla.compliance, fcr.fcr_rate),
        "empty": daily.note is not None,
        "sl_chart": sl_chart,
        "channel_chart": channel_chart,
        "days": list(zip(day_label, daily.rows, strict=True)),
        "sla_rows": sla.rows,
        "reasons": reasons.rows[:10],
        "agents": agents,
        "exports": _export_links(tenant, win),
        "fmt": fmt,
    }


@router.get("/client")
async def client_portal(
    page: SignedInPage,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    date_from: Annotated[str | None, Query(max_length=10)] = None,
    date_to: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    found = await _tenant(page, tenant)
    others = [t for t in await _readable_tenants(page) if t.id != found.id]
    await use_tenant_scope(page.session, found.id)
    problem: str | None = None
    try:
        win = _period(found, date_from, date_to)
    except InvalidInput as error:
        # The form stays usable: the default period, and what was wrong with the one asked for.
        win = _period(found, None, None)
        problem = _period_problem(page, error)
    context = await _context(page, found, win)
    return page.render(
        "client.html",
        {**context, "problem": problem, "others": others},
        status_code=422 if problem else 200,
    )


def _period_problem(page: SignedIn, error: InvalidInput) -> str:
    fields = {e.field for e in error.errors}
    if "query.date_to" in fields and "query.date_from" in fields:
        return page.gettext("The period ends before it starts. Showing the last 28 days instead.")
    if "query.date_to" in fields:
        return page.gettext("A report covers at most 400 days. Showing the last 28 days instead.")
    return page.gettext("Enter dates as year-month-day. Showing the last 28 days instead.")
