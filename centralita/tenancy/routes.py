from typing import Annotated

from fastapi import APIRouter, Depends

from centralita.api.deps import (
    AppLookups,
    CurrentPrincipal,
    DbSession,
    Paging,
    TenantContext,
    require,
)
from centralita.errors import Forbidden
from centralita.events import service as audit
from centralita.events.schemas import AuditEntryOut
from centralita.identity.permissions import Permission
from centralita.schemas import Page
from centralita.tenancy import service
from centralita.tenancy.schemas import TenantCreate, TenantOut, TenantUpdate

router = APIRouter(prefix="/api/v1", tags=["tenants"])

TenantRead = Annotated[TenantContext, Depends(require(Permission.TENANT_READ))]
TenantManage = Annotated[TenantContext, Depends(require(Permission.TENANT_MANAGE))]
AuditRead = Annotated[TenantContext, Depends(require(Permission.AUDIT_READ))]


@router.get("/tenants", response_model=list[TenantOut])
async def list_tenants(principal: CurrentPrincipal, session: DbSession) -> list[TenantOut]:
    ids = None if principal.is_platform_admin else set(principal.roles)
    return [TenantOut.model_validate(t) for t in await service.list_tenants(session, ids)]


@router.post("/tenants", status_code=201, response_model=TenantOut)
async def create_tenant(
    data: TenantCreate, principal: CurrentPrincipal, session: DbSession
) -> TenantOut:
    if not principal.is_platform_admin or principal.token_id is not None:
        raise Forbidden("Only the provider's administrators create tenants")
    return TenantOut.model_validate(await service.create_tenant(session, principal.actor, data))


@router.get("/tenants/{tenant_slug}", response_model=TenantOut)
async def get_tenant(ctx: TenantRead) -> TenantOut:
    return TenantOut.model_validate(ctx.tenant)


@router.patch("/tenants/{tenant_slug}", response_model=TenantOut)
async def update_tenant(data: TenantUpdate, ctx: TenantManage, lookups: AppLookups) -> TenantOut:
    tenant = await service.update_tenant(ctx.session, ctx.actor, ctx.tenant, data)
    lookups.forget_tenant(tenant.slug)
    return TenantOut.model_validate(tenant)


@router.get("/tenants/{tenant_slug}/audit", response_model=Page[AuditEntryOut])
async def list_audit(ctx: AuditRead, paging: Paging) -> Page[AuditEntryOut]:
    page = await audit.audit_page(ctx.session, paging.cursor, paging.limit)
    return Page(
        items=[AuditEntryOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )
