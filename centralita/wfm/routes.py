"""Workforce management API (staffing, forecast, schedules, publication, adherence, my shifts)
and the planner's page."""

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse, Response

from centralita.api.deps import TenantContext, require
from centralita.api.idempotency import run_once
from centralita.db.base import utcnow
from centralita.db.scoping import use_tenant_scope
from centralita.errors import NotFound
from centralita.identity.permissions import Permission
from centralita.tenancy import service as tenancy
from centralita.web.pages import SignedInPage, page_router
from centralita.wfm import demand, schemas, service
from centralita.wfm.models import ScheduleStatus

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/wfm", tags=["workforce management"])

ReportsRead = Annotated[TenantContext, Depends(require(Permission.REPORTS_READ))]
WfmManage = Annotated[TenantContext, Depends(require(Permission.WFM_MANAGE))]
TenantRead = Annotated[TenantContext, Depends(require(Permission.TENANT_READ))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key and body return the first response unchanged",
    ),
]


@router.post("/staffing", response_model=schemas.StaffingOut)
async def staffing(data: schemas.StaffingRequest, ctx: ReportsRead) -> schemas.StaffingOut:
    """Agents per interval (Erlang C, or Erlang A with a patience) and the target that binds."""
    return service.staffing(data)


@router.post("/forecast", response_model=schemas.ForecastOut)
async def forecast(data: schemas.ForecastRequest, ctx: ReportsRead) -> schemas.ForecastOut:
    """Contacts and AHT per interval from the tenant's history, with its holidays, and the
    model's error on the last week of history."""
    return await demand.forecast_contacts(ctx.session, ctx.tenant, data)


@router.post("/intraday", response_model=schemas.IntradayOut)
async def intraday(data: schemas.IntradayRequest, ctx: ReportsRead) -> schemas.IntradayOut:
    """Today as forecast, as it has run so far, and the rest of the day re-forecast."""
    return await demand.intraday(ctx.session, ctx.tenant, data, utcnow())


@router.post("/schedules", status_code=201, response_model=schemas.ScheduleOut)
async def create_schedule(
    data: schemas.ScheduleCreate, ctx: WfmManage, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    async def _create() -> tuple[int, Any]:
        row = await service.create_schedule(ctx.session, ctx.actor, ctx.tenant, data)
        return 201, (await _detail(ctx, row.id)).model_dump(mode="json")

    return await run_once(
        ctx.session, ctx.tenant_id, "wfm.schedules.create", idempotency_key, data, _create
    )


@router.get("/schedules", response_model=list[schemas.ScheduleSummaryOut])
async def list_schedules(ctx: WfmManage) -> list[schemas.ScheduleSummaryOut]:
    return [
        schemas.ScheduleSummaryOut.model_validate(s)
        for s in await service.list_schedules(ctx.session)
    ]


@router.get("/schedules/{schedule_id}", response_model=schemas.ScheduleOut)
async def get_schedule(schedule_id: uuid.UUID, ctx: WfmManage) -> schemas.ScheduleOut:
    return await _detail(ctx, schedule_id)


@router.post("/schedules/{schedule_id}/publish", response_model=schemas.ScheduleOut)
async def publish_schedule(schedule_id: uuid.UUID, ctx: WfmManage) -> schemas.ScheduleOut:
    await service.publish_schedule(ctx.session, ctx.actor, ctx.tenant, schedule_id)
    return await _detail(ctx, schedule_id)


@router.get("/schedules/{schedule_id}/adherence", response_model=schemas.AdherenceOut)
async def adherence(
    schedule_id: uuid.UUID, ctx: WfmManage, at: Annotated[datetime | None, Query()] = None
) -> schemas.AdherenceOut:
    """Each scheduled agent's live state against the schedule (now, or at ``at``)."""
    return await service.adherence(ctx.session, schedule_id, at)


@router.get("/my-shifts", response_model=list[schemas.ShiftOut])
async def my_shifts(ctx: TenantRead) -> list[schemas.ShiftOut]:
    """The signed-in agent's published shifts, from yesterday on (an API token has none)."""
    user_id = ctx.principal.user_id
    if user_id is None:
        return []
    return [
        schemas.ShiftOut.model_validate(s) for s in await service.my_shifts(ctx.session, user_id)
    ]


async def _detail(ctx: TenantContext, schedule_id: uuid.UUID) -> schemas.ScheduleOut:
    row = await service.get_schedule(ctx.session, schedule_id)
    shifts = await service.shifts_of(ctx.session, schedule_id)
    summary = schemas.ScheduleSummaryOut.model_validate(row)
    return schemas.ScheduleOut(
        **summary.model_dump(), shifts=[schemas.ShiftOut.model_validate(s) for s in shifts]
    )


pages_router = page_router()


@pages_router.get("/planning")
async def planning_page(
    page: SignedInPage, tenant: Annotated[str, Query(min_length=1, max_length=63)]
) -> Response:
    """The planner's page: the tenant's schedules and the shifts of the latest one."""
    found = await tenancy.get_tenant_by_slug(page.session, tenant)
    if found is None or not page.principal.can(found.id, Permission.WFM_MANAGE):
        raise NotFound("No such company")
    names = await service.agent_names(page.session, found.id)
    await use_tenant_scope(page.session, found.id)
    schedules = await service.list_schedules(page.session)
    latest = schedules[0] if schedules else None
    shifts = await service.shifts_of(page.session, latest.id) if latest else []
    zone = ZoneInfo(found.time_zone)
    return page.render(
        "planning.html",
        {
            "tenant": found,
            "schedules": [
                {
                    "name": s.name,
                    "week_start_at": service.local_moment(s.week_start, 0, zone),
                    "published": s.status == ScheduleStatus.PUBLISHED,
                    "agent_hours": round(s.agent_hours, 1),
                    "required_hours": round(s.required_hours, 1),
                    "short_hours": round(s.short_hours, 1),
                }
                for s in schedules
            ],
            "latest": latest,
            "shifts": [
                {
                    "agent": names.get(s.agent_user_id, str(s.agent_user_id)),
                    "starts_at": s.starts_at,
                    "ends_at": s.ends_at,
                    "break_starts_at": s.break_starts_at,
                    "break_ends_at": s.break_ends_at,
                }
                for s in shifts
            ],
        },
    )
