import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse

from centralita.api.deps import AppSettings, Paging, TenantContext, require
from centralita.api.idempotency import run_once
from centralita.customers.service import IdentityRules
from centralita.identity.permissions import Permission
from centralita.interactions import service
from centralita.interactions.models import Channel, InteractionState
from centralita.interactions.schemas import (
    InteractionCreate,
    InteractionDetail,
    InteractionOut,
    InteractionUpdate,
    MessageIn,
    MessageOut,
)
from centralita.schemas import Page

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/interactions", tags=["interactions"])

InteractionsRead = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_READ))]
InteractionsWrite = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_WRITE))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key and body return the first response unchanged",
    ),
]


def _detail(thread: service.InteractionThread) -> InteractionDetail:
    return InteractionDetail(
        **dict(InteractionOut.model_validate(thread.interaction)),
        messages=[MessageOut.model_validate(m) for m in thread.messages],
    )


@router.post("", status_code=201, response_model=InteractionDetail)
async def create_interaction(
    data: InteractionCreate,
    ctx: InteractionsWrite,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    rules = IdentityRules.for_tenant(ctx.tenant, settings.secret_key)

    async def _create() -> tuple[int, Any]:
        thread = await service.create_interaction(ctx.session, ctx.tenant, ctx.actor, data, rules)
        return 201, _detail(thread).model_dump(mode="json")

    return await run_once(
        ctx.session, ctx.tenant_id, "interactions.create", idempotency_key, data, _create
    )


@router.get("", response_model=Page[InteractionOut])
async def list_interactions(
    ctx: InteractionsRead,
    paging: Paging,
    customer_id: uuid.UUID | None = None,
    channel: Channel | None = None,
    state: InteractionState | None = None,
) -> Page[InteractionOut]:
    page = await service.list_interactions(
        ctx.session,
        customer_id=customer_id,
        channel=channel,
        state=state,
        cursor=paging.cursor,
        limit=paging.limit,
    )
    return Page(
        items=[InteractionOut.model_validate(i) for i in page.items], next_cursor=page.next_cursor
    )


@router.get("/{interaction_id}", response_model=InteractionDetail)
async def get_interaction(interaction_id: uuid.UUID, ctx: InteractionsRead) -> InteractionDetail:
    return _detail(await service.get_thread(ctx.session, interaction_id))


@router.post("/{interaction_id}/messages", status_code=201, response_model=MessageOut)
async def add_message(
    interaction_id: uuid.UUID, data: MessageIn, ctx: InteractionsWrite
) -> MessageOut:
    message = await service.add_message(ctx.session, ctx.actor, interaction_id, data)
    return MessageOut.model_validate(message)


@router.patch("/{interaction_id}", response_model=InteractionOut)
async def update_interaction(
    interaction_id: uuid.UUID, data: InteractionUpdate, ctx: InteractionsWrite
) -> InteractionOut:
    interaction = await service.update_interaction(ctx.session, ctx.actor, interaction_id, data)
    return InteractionOut.model_validate(interaction)
