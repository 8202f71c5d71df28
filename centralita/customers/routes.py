import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.api.deps import AppSettings, Paging, TenantContext, require
from centralita.customers import service
from centralita.customers.models import Customer
from centralita.customers.schemas import (
    CustomerCreate,
    CustomerDetail,
    CustomerOut,
    CustomerSearch,
    CustomerUpdate,
    IdentityCreate,
    IdentityOut,
    MergeRequest,
)
from centralita.customers.service import IdentityRules
from centralita.identity.permissions import Permission
from centralita.schemas import Page

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/customers", tags=["customers"])

CustomersRead = Annotated[TenantContext, Depends(require(Permission.CUSTOMERS_READ))]
CustomersWrite = Annotated[TenantContext, Depends(require(Permission.CUSTOMERS_WRITE))]
CustomersMerge = Annotated[TenantContext, Depends(require(Permission.CUSTOMERS_MERGE))]


def _rules(ctx: TenantContext, settings: AppSettings) -> IdentityRules:
    return IdentityRules.for_tenant(ctx.tenant, settings.secret_key)


async def _detail(session: AsyncSession, customer: Customer) -> CustomerDetail:
    identities = await service.list_identities(session, customer.id)
    return CustomerDetail.model_validate(
        {
            **CustomerOut.model_validate(customer).model_dump(),
            "identities": [IdentityOut.model_validate(i) for i in identities],
        }
    )


@router.post("", status_code=201, response_model=CustomerDetail)
async def create_customer(
    data: CustomerCreate, ctx: CustomersWrite, settings: AppSettings
) -> CustomerDetail:
    customer = await service.create_customer(
        ctx.session, ctx.actor, ctx.tenant_id, _rules(ctx, settings), data
    )
    return await _detail(ctx.session, customer)


@router.get("", response_model=Page[CustomerOut])
async def search_customers(
    search: Annotated[CustomerSearch, Query()],
    ctx: CustomersRead,
    settings: AppSettings,
    paging: Paging,
) -> Page[CustomerOut]:
    page = await service.search_customers(
        ctx.session, _rules(ctx, settings), search.q, paging.cursor, paging.limit
    )
    return Page(
        items=[CustomerOut.model_validate(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/{customer_id}", response_model=CustomerDetail)
async def get_customer(customer_id: uuid.UUID, ctx: CustomersRead) -> CustomerDetail:
    return await _detail(ctx.session, await service.get_customer(ctx.session, customer_id))


@router.patch("/{customer_id}", response_model=CustomerDetail)
async def update_customer(
    customer_id: uuid.UUID, data: CustomerUpdate, ctx: CustomersWrite
) -> CustomerDetail:
    customer = await service.update_customer(ctx.session, ctx.actor, customer_id, data)
    return await _detail(ctx.session, customer)


@router.get("/{customer_id}/identities", response_model=list[IdentityOut])
async def list_identities(customer_id: uuid.UUID, ctx: CustomersRead) -> list[IdentityOut]:
    customer = await service.get_customer(ctx.session, customer_id)
    identities = await service.list_identities(ctx.session, customer.id)
    return [IdentityOut.model_validate(i) for i in identities]


@router.post("/{customer_id}/identities", status_code=201, response_model=IdentityOut)
async def add_identity(
    customer_id: uuid.UUID, data: IdentityCreate, ctx: CustomersWrite, settings: AppSettings
) -> IdentityOut:
    identity = await service.add_identity(
        ctx.session, ctx.actor, _rules(ctx, settings), customer_id, data
    )
    return IdentityOut.model_validate(identity)


@router.delete("/{customer_id}/identities/{identity_id}", status_code=204)
async def remove_identity(
    customer_id: uuid.UUID, identity_id: uuid.UUID, ctx: CustomersWrite
) -> Response:
    await service.remove_identity(ctx.session, ctx.actor, customer_id, identity_id)
    return Response(status_code=204)


@router.post("/{customer_id}/merge", response_model=CustomerDetail)
async def merge_customers(
    customer_id: uuid.UUID, data: MergeRequest, ctx: CustomersMerge
) -> CustomerDetail:
    survivor = await service.merge_customers(ctx.session, ctx.actor, customer_id, data.source_id)
    return await _detail(ctx.session, survivor)
