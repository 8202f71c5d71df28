import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from centralita.api.deps import (
    AppLookups,
    AppPasswords,
    CurrentPrincipal,
    TenantContext,
    require,
)
from centralita.identity import service
from centralita.identity.permissions import Permission
from centralita.identity.schemas import (
    ApiTokenCreate,
    ApiTokenIssued,
    ApiTokenOut,
    MemberCreate,
    MemberOut,
    MembershipOut,
    MeOut,
)

router = APIRouter(prefix="/api/v1", tags=["identity"])

MembersManage = Annotated[TenantContext, Depends(require(Permission.MEMBERS_MANAGE))]
TokensManage = Annotated[TenantContext, Depends(require(Permission.TOKENS_MANAGE))]


def _member_out(member: service.Member) -> MemberOut:
    return MemberOut(
        user_id=member.user.id,
        email=member.user.email,
        display_name=member.user.display_name,
        role=member.membership.role,
        created_at=member.membership.created_at,
    )


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        id=principal.user_id,
        label=principal.label,
        is_platform_admin=principal.is_platform_admin,
        memberships=[MembershipOut(tenant_id=t, role=r) for t, r in principal.roles.items()],
    )


@router.get("/tenants/{tenant_slug}/members", response_model=list[MemberOut])
async def list_members(ctx: MembersManage) -> list[MemberOut]:
    return [_member_out(m) for m in await service.list_members(ctx.session)]


@router.post("/tenants/{tenant_slug}/members", status_code=201, response_model=MemberOut)
async def add_member(data: MemberCreate, ctx: MembersManage, passwords: AppPasswords) -> MemberOut:
    member = await service.add_member(
        ctx.session, passwords, ctx.actor, ctx.tenant_id, **data.model_dump()
    )
    return _member_out(member)


@router.delete("/tenants/{tenant_slug}/members/{user_id}", status_code=204)
async def remove_member(user_id: uuid.UUID, ctx: MembersManage) -> Response:
    await service.remove_member(ctx.session, ctx.actor, user_id)
    return Response(status_code=204)


@router.get("/tenants/{tenant_slug}/api-tokens", response_model=list[ApiTokenOut])
async def list_api_tokens(ctx: TokensManage) -> list[ApiTokenOut]:
    return [ApiTokenOut.model_validate(t) for t in await service.list_api_tokens(ctx.session)]


@router.post("/tenants/{tenant_slug}/api-tokens", status_code=201, response_model=ApiTokenIssued)
async def issue_api_token(data: ApiTokenCreate, ctx: TokensManage) -> ApiTokenIssued:
    issued = await service.issue_api_token(
        ctx.session, ctx.actor, ctx.tenant_id, name=data.name, role=data.role
    )
    out = ApiTokenOut.model_validate(issued.token)
    return ApiTokenIssued(**out.model_dump(), token=issued.secret)


@router.delete("/tenants/{tenant_slug}/api-tokens/{token_id}", response_model=ApiTokenOut)
async def revoke_api_token(
    token_id: uuid.UUID, ctx: TokensManage, lookups: AppLookups
) -> ApiTokenOut:
    token = await service.revoke_api_token(ctx.session, ctx.actor, token_id)
    lookups.forget_tokens()
    return ApiTokenOut.model_validate(token)
