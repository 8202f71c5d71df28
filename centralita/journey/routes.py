import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from centralita.api.deps import Paging, TenantContext, require
from centralita.customers.schemas import CustomerOut, IdentityOut
from centralita.identity.permissions import Permission
from centralita.journey import service
from centralita.journey.schemas import Customer360Out
from centralita.schemas import Page

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/customers", tags=["customers"])

CustomersRead = Annotated[TenantContext, Depends(require(Permission.CUSTOMERS_READ))]


@router.get("/{customer_id}/360", response_model=Customer360Out)
async def customer_360(
    customer_id: uuid.UUID, ctx: CustomersRead, paging: Paging
) -> Customer360Out:
    view = await service.customer_360(
        ctx.session, customer_id, cursor=paging.cursor, limit=paging.limit
    )
    return Customer360Out(
        customer=CustomerOut.model_validate(view.customer),
        identities=[IdentityOut.model_validate(i) for i in view.identities],
        timeline=Page(
            items=view.timeline.items,
            next_cursor=view.timeline.next_cursor,
        ),
    )
