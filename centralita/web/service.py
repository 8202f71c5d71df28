"""What a signed-in user's landing page shows: the tenants they work in, with live counts."""

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer
from centralita.identity.models import Membership
from centralita.identity.permissions import Role
from centralita.identity.service import Principal
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import list_tenants

# A platform administrator without a membership manages every tenant.
MANAGERS = frozenset({None, Role.ADMIN, Role.SUPERVISOR})


@dataclass(frozen=True)
class Workspace:
    """One tenant as its member sees it on the landing page.

    ``role`` is None for a platform administrator who is not a member of the tenant.
    ``members`` counts members per role and is only filled for those who manage people.
    """

    tenant: Tenant
    role: Role | None
    member_since: datetime | None
    customers: int
    members: Counter[Role] = field(default_factory=Counter)


async def workspaces_of(session: AsyncSession, principal: Principal) -> list[Workspace]:
    """Tenants of ``principal`` (all of them for a platform administrator), by name.

    The session must be in system scope: the counts span the principal's tenants.
    """
    if principal.user_id is None:
        return []
    tenants = await list_tenants(
        session, None if principal.is_platform_admin else set(principal.roles)
    )
    ids = [tenant.id for tenant in tenants]
    if not ids:
        return []
    memberships = {
        m.tenant_id: m
        for m in (
            await session.execute(
                select(Membership).where(
                    Membership.user_id == principal.user_id, Membership.tenant_id.in_(ids)
                )
            )
        ).scalars()
    }
    customer_rows = await session.execute(
        select(Customer.tenant_id, func.count())
        .where(Customer.tenant_id.in_(ids), Customer.merged_into_id.is_(None))
        .group_by(Customer.tenant_id)
    )
    customers: dict[uuid.UUID, int] = dict(customer_rows.all())
    members: dict[uuid.UUID, Counter[Role]] = {tenant_id: Counter() for tenant_id in ids}
    rows = await session.execute(
        select(Membership.tenant_id, Membership.role, func.count())
        .where(Membership.tenant_id.in_(ids))
        .group_by(Membership.tenant_id, Membership.role)
    )
    for tenant_id, role_name, count in rows:
        members[tenant_id][Role(role_name)] = count

    workspaces = []
    for tenant in tenants:
        membership = memberships.get(tenant.id)
        role = Role(membership.role) if membership else None
        workspaces.append(
            Workspace(
                tenant=tenant,
                role=role,
                member_since=membership.created_at if membership else None,
                customers=customers.get(tenant.id, 0),
                members=members[tenant.id] if role in MANAGERS else Counter(),
            )
        )
    return workspaces
