import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse

from centralita.api.deps import Paging, TenantContext, require
from centralita.api.idempotency import run_once
from centralita.callbacks import service
from centralita.callbacks.models import CallbackSource, CallbackStatus
from centralita.callbacks.schemas import AttemptIn, CallbackCreate, CallbackOut
from centralita.identity.permissions import Permission
from centralita.schemas import Page

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/callbacks", tags=["callbacks"])

CallbacksRead = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_READ))]
CallbacksWrite = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_WRITE))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key and body return the first response unchanged",
    ),
]


@router.post(
    "",
    status_code=201,
    response_model=CallbackOut,
    description="Schedule a callback: at its due time it is queued as work on the callback "
    "channel and routed to an agent.",
)
async def create_callback(
    data: CallbackCreate, ctx: CallbacksWrite, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    source = CallbackSource.AGENT if ctx.actor.user_id else CallbackSource.API

    async def _create() -> tuple[int, Any]:
        callback = await service.create_callback(ctx.session, ctx.tenant_id, data, source=source)
        return 201, CallbackOut.model_validate(callback).model_dump(mode="json")

    return await run_once(
        ctx.session, ctx.tenant_id, "callbacks.create", idempotency_key, data, _create
    )


@router.get("", response_model=Page[CallbackOut])
async def list_callbacks(
    ctx: CallbacksRead,
    paging: Paging,
    status: CallbackStatus | None = None,
    customer_id: uuid.UUID | None = None,
) -> Page[CallbackOut]:
    page = await service.callbacks_page(
        ctx.session,
        status=status,
        customer_id=customer_id,
        cursor=paging.cursor,
        limit=paging.limit,
    )
    return Page(
        items=[CallbackOut.model_validate(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/{callback_id}", response_model=CallbackOut)
async def get_callback(callback_id: uuid.UUID, ctx: CallbacksRead) -> CallbackOut:
    return CallbackOut.model_validate(await service.get_callback(ctx.session, callback_id))


@router.post(
    "/{callback_id}/attempts",
    response_model=CallbackOut,
    description="Record how a call went: reached completes the callback; no answer or busy "
    "tries again after a back-off; a wrong number ends it.",
)
async def record_attempt(
    callback_id: uuid.UUID, data: AttemptIn, ctx: CallbacksWrite
) -> CallbackOut:
    callback = await service.record_attempt(ctx.session, ctx.actor, callback_id, data)
    return CallbackOut.model_validate(callback)


@router.post("/{callback_id}/cancel", response_model=CallbackOut)
async def cancel_callback(callback_id: uuid.UUID, ctx: CallbacksWrite) -> CallbackOut:
    return CallbackOut.model_validate(await service.cancel_callback(ctx.session, callback_id))
