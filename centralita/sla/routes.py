import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from centralita.api.deps import TenantContext, require
from centralita.identity.permissions import Permission
from centralita.sla import policies
from centralita.sla.schemas import (
    CalendarCreate,
    CalendarOut,
    CalendarUpdate,
    PolicyCreate,
    PolicyOut,
    PolicyUpdate,
)

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}", tags=["sla"])

SlaRead = Annotated[TenantContext, Depends(require(Permission.TENANT_READ))]
SlaManage = Annotated[TenantContext, Depends(require(Permission.SLA_MANAGE))]

CHANGES_DEADLINES = (
    " A change that moves deadlines recomputes the running SLA targets it governs in the same "
    "request."
)


@router.get("/business-calendars", response_model=list[CalendarOut])
async def list_calendars(ctx: SlaRead) -> list[CalendarOut]:
    return [CalendarOut.model_validate(c) for c in await policies.list_calendars(ctx.session)]


@router.post("/business-calendars", status_code=201, response_model=CalendarOut)
async def create_calendar(data: CalendarCreate, ctx: SlaManage) -> CalendarOut:
    calendar = await policies.create_calendar(ctx.session, ctx.actor, ctx.tenant, data)
    return CalendarOut.model_validate(calendar)


@router.get("/business-calendars/{calendar_id}", response_model=CalendarOut)
async def get_calendar(calendar_id: uuid.UUID, ctx: SlaRead) -> CalendarOut:
    return CalendarOut.model_validate(await policies.get_calendar(ctx.session, calendar_id))


@router.patch(
    "/business-calendars/{calendar_id}",
    response_model=CalendarOut,
    description="Change a business calendar." + CHANGES_DEADLINES,
)
async def update_calendar(
    calendar_id: uuid.UUID, data: CalendarUpdate, ctx: SlaManage
) -> CalendarOut:
    calendar = await policies.update_calendar(ctx.session, ctx.actor, ctx.tenant, calendar_id, data)
    return CalendarOut.model_validate(calendar)


@router.delete("/business-calendars/{calendar_id}", status_code=204)
async def delete_calendar(calendar_id: uuid.UUID, ctx: SlaManage) -> Response:
    await policies.delete_calendar(ctx.session, ctx.actor, ctx.tenant, calendar_id)
    return Response(status_code=204)


@router.get("/sla-policies", response_model=list[PolicyOut])
async def list_policies(ctx: SlaRead) -> list[PolicyOut]:
    """In the order they are tried: the first active policy whose conditions match applies."""
    return [PolicyOut.model_validate(p) for p in await policies.list_policies(ctx.session)]


@router.post("/sla-policies", status_code=201, response_model=PolicyOut)
async def create_policy(data: PolicyCreate, ctx: SlaManage) -> PolicyOut:
    policy = await policies.create_policy(ctx.session, ctx.actor, ctx.tenant, data)
    return PolicyOut.model_validate(policy)


@router.get("/sla-policies/{policy_id}", response_model=PolicyOut)
async def get_policy(policy_id: uuid.UUID, ctx: SlaRead) -> PolicyOut:
    return PolicyOut.model_validate(await policies.get_policy(ctx.session, policy_id))


@router.patch(
    "/sla-policies/{policy_id}",
    response_model=PolicyOut,
    description="Change an SLA policy." + CHANGES_DEADLINES,
)
async def update_policy(policy_id: uuid.UUID, data: PolicyUpdate, ctx: SlaManage) -> PolicyOut:
    policy = await policies.update_policy(ctx.session, ctx.actor, ctx.tenant, policy_id, data)
    return PolicyOut.model_validate(policy)


@router.delete(
    "/sla-policies/{policy_id}",
    status_code=204,
    description="Remove a policy no ticket has had a target under; deactivate the others.",
)
async def delete_policy(policy_id: uuid.UUID, ctx: SlaManage) -> Response:
    await policies.delete_policy(ctx.session, ctx.actor, ctx.tenant, policy_id)
    return Response(status_code=204)
