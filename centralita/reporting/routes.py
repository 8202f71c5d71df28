from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from centralita.api.deps import TenantContext, require
from centralita.db.base import utcnow
from centralita.identity.permissions import Permission, Role
from centralita.reporting import export, outcomes, service
from centralita.reporting.mail import set_weekly
from centralita.reporting.schemas import (
    AgentReport,
    Comparison,
    CostReport,
    FcrReport,
    Granularity,
    QueueReport,
    ReasonReport,
    ReportSettingsOut,
    ReportSettingsUpdate,
    SlaReport,
    SliceReport,
)
from centralita.reporting.settings import report_settings, update_settings

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/reports", tags=["reports"])

ReportsRead = Annotated[TenantContext, Depends(require(Permission.REPORTS_READ))]
TenantManage = Annotated[TenantContext, Depends(require(Permission.TENANT_MANAGE))]
DEFAULT_DAYS = 7


def _today(ctx: TenantContext) -> date:
    return utcnow().astimezone(ZoneInfo(ctx.tenant.time_zone)).date()


async def _window(
    ctx: ReportsRead,
    date_from: Annotated[date | None, Query(description="First day, in the tenant's zone")] = None,
    date_to: Annotated[date | None, Query(description="Last day (inclusive)")] = None,
    granularity: Granularity = Granularity.DAY,
) -> service.Window:
    """The period of a report: the last seven days up to today when none is given."""
    last = date_to or _today(ctx)
    first = date_from or last - timedelta(days=DEFAULT_DAYS - 1)
    return service.window(ctx.tenant, first, last, granularity)


ReportWindow = Annotated[service.Window, Depends(_window)]
QueueFilter = Annotated[str | None, Query(max_length=100)]
ChannelFilter = Annotated[str | None, Query(max_length=10)]


def shows_agent_names(ctx: TenantContext, allowed_for_clients: bool) -> bool:
    """A client's managers see agents' names only where the tenant allows it."""
    return allowed_for_clients or ctx.principal.roles.get(ctx.tenant_id) != Role.CLIENT_VIEWER


@router.get("/intervals", response_model=QueueReport)
async def intervals(
    ctx: ReportsRead,
    win: ReportWindow,
    queue: QueueFilter = None,
    channel: ChannelFilter = None,
) -> QueueReport:
    """Service level, abandonment, ASA, AHT and volume per 15 minutes, hour or day."""
    return await service.queue_report(ctx.session, win, queue, channel)


@router.get("/queues", response_model=SliceReport)
async def queues(ctx: ReportsRead, win: ReportWindow) -> SliceReport:
    """The same measures per queue and channel over the period."""
    return await service.slice_report(ctx.session, win)


@router.get("/comparison", response_model=Comparison)
async def compare(
    ctx: ReportsRead,
    week_of: Annotated[date | None, Query(description="A day of the week to compare")] = None,
) -> Comparison:
    """A week (Monday to Sunday) against the week before."""
    return await service.comparison(
        ctx.session, service.this_week(ctx.tenant, week_of or _today(ctx))
    )


@router.get("/agents", response_model=AgentReport)
async def agents(ctx: ReportsRead, win: ReportWindow) -> AgentReport:
    settings = await report_settings(ctx.session)
    names = shows_agent_names(ctx, settings.show_agent_names_to_clients)
    return await service.agent_report(ctx.session, win, with_names=names)


@router.get("/sla", response_model=SlaReport)
async def sla(ctx: ReportsRead, win: ReportWindow) -> SlaReport:
    """Ticket SLA compliance by policy, priority and target."""
    return await outcomes.sla_report(ctx.session, win)


@router.get("/fcr", response_model=FcrReport)
async def fcr(ctx: ReportsRead, win: ReportWindow) -> FcrReport:
    """First-contact resolution and repeat contacts, measured from the contacts themselves."""
    return await outcomes.fcr_report(ctx.session, win)


@router.get("/reasons", response_model=ReasonReport)
async def reasons(ctx: ReportsRead, win: ReportWindow) -> ReasonReport:
    """The top contact reasons, each against the previous period."""
    return await outcomes.reasons_report(ctx.session, win)


@router.get("/cost", response_model=CostReport)
async def cost(ctx: ReportsRead, win: ReportWindow) -> CostReport:
    return await outcomes.cost_report(ctx.session, win)


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}, export.XLSX_TYPE: {}},
            "description": "The report as CSV or XLSX",
        }
    },
)
async def export_report(
    ctx: ReportsRead,
    win: ReportWindow,
    report: export.ReportName = export.ReportName.INTERVALS,
    file_format: Annotated[export.FileFormat, Query(alias="format")] = export.FileFormat.CSV,
    queue: QueueFilter = None,
    channel: ChannelFilter = None,
) -> Response:
    """Any report as a file; cells a spreadsheet would run as formulas are neutralised. The
    queue and channel narrow the intervals report, as they do on its page."""
    settings = await report_settings(ctx.session)
    names = shows_agent_names(ctx, settings.show_agent_names_to_clients)
    table = await export.report_table(
        ctx.session, win, report, with_names=names, queue=queue, channel=channel
    )
    filename = f"{ctx.tenant.slug}-{report.value}-{win.date_from}-{win.date_to}"
    content, media_type = export.render(table, file_format)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{file_format.value}"'},
    )


@router.get("/settings", response_model=ReportSettingsOut)
async def get_settings(ctx: ReportsRead) -> ReportSettingsOut:
    return ReportSettingsOut.model_validate(await report_settings(ctx.session))


@router.patch("/settings", response_model=ReportSettingsOut)
async def patch_settings(data: ReportSettingsUpdate, ctx: TenantManage) -> ReportSettingsOut:
    found = await update_settings(ctx.session, ctx.tenant_id, ctx.actor, data)
    if data.weekly_report is not None:
        await set_weekly(ctx.session, ctx.tenant, found.weekly_report, utcnow())
    return ReportSettingsOut.model_validate(found)
