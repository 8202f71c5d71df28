import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from centralita.api.deps import AppSettings, TenantContext, require
from centralita.channels import service
from centralita.channels.schemas import AddressCreate, AddressOut, AddressUpdate
from centralita.channels.voice.webhook import number_owners
from centralita.customers.service import IdentityRules
from centralita.identity.permissions import Permission

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/channel-addresses", tags=["channels"])

ChannelsRead = Annotated[TenantContext, Depends(require(Permission.TENANT_READ))]
ChannelsManage = Annotated[TenantContext, Depends(require(Permission.CHANNELS_MANAGE))]


@router.get("", response_model=list[AddressOut])
async def list_addresses(ctx: ChannelsRead) -> list[AddressOut]:
    return [AddressOut.model_validate(a) for a in await service.list_addresses(ctx.session)]


@router.post("", status_code=201, response_model=AddressOut)
async def create_address(
    data: AddressCreate, ctx: ChannelsManage, settings: AppSettings
) -> AddressOut:
    rules = IdentityRules.for_tenant(ctx.tenant, settings.secret_key)
    row = await service.create_address(ctx.session, ctx.actor, ctx.tenant, data, rules)
    return AddressOut.model_validate(row)


@router.get("/{address_id}", response_model=AddressOut)
async def get_address(address_id: uuid.UUID, ctx: ChannelsRead) -> AddressOut:
    return AddressOut.model_validate(await service.get_address(ctx.session, address_id))


@router.patch("/{address_id}", response_model=AddressOut)
async def update_address(
    address_id: uuid.UUID, data: AddressUpdate, ctx: ChannelsManage, request: Request
) -> AddressOut:
    row = await service.update_address(ctx.session, ctx.actor, ctx.tenant, address_id, data)
    number_owners(request.app.state).forget()
    return AddressOut.model_validate(row)


@router.delete("/{address_id}", status_code=204)
async def delete_address(address_id: uuid.UUID, ctx: ChannelsManage, request: Request) -> Response:
    await service.delete_address(ctx.session, ctx.actor, ctx.tenant, address_id)
    number_owners(request.app.state).forget()
    return Response(status_code=204)
