"""Creating, finding and changing tenants."""

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import Conflict
from centralita.events.service import Actor, record_audit
from centralita.tenancy.models import Tenant
from centralita.tenancy.schemas import TenantCreate, TenantUpdate

AUDITED_FIELDS = ("name", "default_locale", "time_zone")


async def get_tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    result = await session.execute(select(Tenant).where(Tenant.slug == slug, Tenant.is_active))
    return result.scalar_one_or_none()


async def list_tenants(session: AsyncSession, ids: set[uuid.UUID] | None = None) -> list[Tenant]:
    """All active tenants, or those among ``ids`` (the ones a principal belongs to)."""
    query = select(Tenant).where(Tenant.is_active).order_by(Tenant.name)
    if ids is not None:
        query = query.where(Tenant.id.in_(ids))
    return list((await session.execute(query)).scalars())


async def create_tenant(session: AsyncSession, actor: Actor, data: TenantCreate) -> Tenant:
    tenant = Tenant(**data.model_dump())
    try:
        async with session.begin_nested():
            session.add(tenant)
    except IntegrityError:
        raise Conflict(
            f"A tenant with slug {data.slug!r} already exists", "tenant-exists"
        ) from None
    record_audit(
        session, tenant.id, actor, "tenant.created", ("tenant", tenant.id), None, data.model_dump()
    )
    await session.flush()
    return tenant


async def update_tenant(
    session: AsyncSession, actor: Actor, tenant: Tenant, data: TenantUpdate
) -> Tenant:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    before = {name: getattr(tenant, name) for name in changes}
    for name, value in changes.items():
        setattr(tenant, name, value)
    if changes:
        record_audit(
            session, tenant.id, actor, "tenant.updated", ("tenant", tenant.id), before, changes
        )
    await session.flush()
    return tenant
