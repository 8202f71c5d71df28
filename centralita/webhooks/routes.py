import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from centralita.api.deps import AppSettings, Paging, TenantContext, require
from centralita.db.base import utcnow
from centralita.errors import NotFound
from centralita.events.outbox import RECORDED_TYPES
from centralita.identity.permissions import Permission
from centralita.schemas import Page
from centralita.web.admin import DELIVERY_STATUS_NAMES, open_section, render_section
from centralita.web.pages import SignedInPage, page_router
from centralita.webhooks import service
from centralita.webhooks.models import DeliveryStatus
from centralita.webhooks.schemas import (
    DeliveryOut,
    ReplayOut,
    ReplayRequest,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
)

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}", tags=["webhooks"])
pages = page_router()

WebhooksManage = Annotated[TenantContext, Depends(require(Permission.WEBHOOKS_MANAGE))]

SIGNING = (
    " Each delivery is a POST of `{id, type, timestamp, data}` signed per Standard Webhooks: "
    "`webhook-id` (the event id, the same on every retry and replay), `webhook-timestamp` and "
    "`webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the secret."
)


@router.get("/webhook-event-types", response_model=list[str])
async def list_event_types(ctx: WebhooksManage) -> list[str]:
    """The event types a subscription may name."""
    return sorted(RECORDED_TYPES)


@router.get("/webhooks", response_model=list[SubscriptionOut])
async def list_subscriptions(ctx: WebhooksManage) -> list[SubscriptionOut]:
    subscriptions = await service.list_subscriptions(ctx.session)
    return [SubscriptionOut.model_validate(s) for s in subscriptions]


@router.post(
    "/webhooks",
    status_code=201,
    response_model=SubscriptionOut,
    description="Subscribe a URL to event types. URLs that lead (also through DNS) to loopback, "
    "private, link-local or metadata addresses are refused." + SIGNING,
)
async def create_subscription(
    data: SubscriptionCreate, ctx: WebhooksManage, settings: AppSettings
) -> SubscriptionOut:
    subscription = await service.create_subscription(
        ctx.session,
        ctx.actor,
        ctx.tenant_id,
        data,
        allow_loopback=settings.webhooks_allow_loopback,
    )
    return SubscriptionOut.model_validate(subscription)


@router.get("/webhooks/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(subscription_id: uuid.UUID, ctx: WebhooksManage) -> SubscriptionOut:
    return SubscriptionOut.model_validate(
        await service.get_subscription(ctx.session, subscription_id)
    )


@router.patch(
    "/webhooks/{subscription_id}",
    response_model=SubscriptionOut,
    description="Change a subscription. Switching it back on (after a 410) resets its breaker.",
)
async def update_subscription(
    subscription_id: uuid.UUID,
    data: SubscriptionUpdate,
    ctx: WebhooksManage,
    settings: AppSettings,
) -> SubscriptionOut:
    subscription = await service.update_subscription(
        ctx.session,
        ctx.actor,
        subscription_id,
        data,
        allow_loopback=settings.webhooks_allow_loopback,
    )
    return SubscriptionOut.model_validate(subscription)


@router.delete("/webhooks/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: uuid.UUID, ctx: WebhooksManage) -> Response:
    await service.delete_subscription(ctx.session, ctx.actor, subscription_id)
    return Response(status_code=204)


@router.get("/webhooks/{subscription_id}/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    subscription_id: uuid.UUID,
    ctx: WebhooksManage,
    paging: Paging,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> Page[DeliveryOut]:
    """The subscription's delivery log, newest first."""
    page = await service.deliveries_page(
        ctx.session, subscription_id, status=status, cursor=paging.cursor, limit=paging.limit
    )
    return Page(
        items=[DeliveryOut.model_validate(d) for d in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/webhooks/{subscription_id}/deliveries/{delivery_id}/replay",
    response_model=DeliveryOut,
    description="Send a delivered or failed event again, with the same webhook-id.",
)
async def replay_delivery(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, ctx: WebhooksManage
) -> DeliveryOut:
    delivery = await service.replay_delivery(ctx.session, ctx.actor, subscription_id, delivery_id)
    return DeliveryOut.model_validate(delivery)


@router.post("/webhooks/{subscription_id}/replay", response_model=ReplayOut)
async def replay_failed(
    subscription_id: uuid.UUID, data: ReplayRequest, ctx: WebhooksManage
) -> ReplayOut:
    """Queue again every failed delivery created since a time (after an outage, say)."""
    count = await service.replay_failed(ctx.session, ctx.actor, subscription_id, data.since)
    return ReplayOut(replayed=count)


# --- the administration section --------------------------------------------------------------

DELIVERIES_SHOWN = 50


@pages.get("/admin/webhooks")
async def webhooks_section(
    page: SignedInPage,
    tenant: Annotated[str, Query(max_length=100)],
    webhook: uuid.UUID | None = None,
) -> Response:
    """The tenant's subscriptions (their secrets are shown once, when created), and the delivery
    log of the one opened, with replay."""
    found, tenants = await open_section(page, tenant)
    subscriptions = await service.list_subscriptions(page.session)
    chosen = next((s for s in subscriptions if s.id == webhook), None)
    if webhook is not None and chosen is None:
        raise NotFound("Webhook not found")
    deliveries = (
        (
            await service.deliveries_page(
                page.session, chosen.id, status=None, cursor=None, limit=DELIVERIES_SHOWN
            )
        ).items
        if chosen
        else []
    )
    return await render_section(
        page,
        found,
        tenants,
        "webhooks",
        "admin_webhooks.html",
        {
            "subscriptions": subscriptions,
            "chosen": chosen,
            "deliveries": deliveries,
            "event_types": sorted(RECORDED_TYPES),
            "replayable": (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED),
            "delivery_statuses": DELIVERY_STATUS_NAMES,
            "now": utcnow(),
        },
    )
