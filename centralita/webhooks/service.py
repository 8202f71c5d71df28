"""Webhook subscriptions, the fan-out of recorded events into deliveries, the log and replays.

Sending is :mod:`centralita.webhooks.dispatcher`'s: here every delivery is a row plus a
``webhooks.delivery`` job written in one transaction, so it cannot be lost.
"""

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import new_id, utcnow
from centralita.db.paging import Slice, paginate
from centralita.db.scoping import use_tenant_scope
from centralita.errors import Conflict, InvalidInput, NotFound
from centralita.events.models import EventRecord
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.webhooks import ssrf
from centralita.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from centralita.webhooks.schemas import SubscriptionCreate, SubscriptionUpdate
from centralita.webhooks.signing import new_secret


async def checked_url(url: str, *, allow_loopback: bool) -> str:
    try:
        await ssrf.resolve(url, allow_loopback=allow_loopback)
    except ssrf.UnsafeUrl as exc:
        raise InvalidInput.on_field("body.url", str(exc)) from None
    return url


def _audited(subscription: WebhookSubscription) -> dict[str, object]:
    return {
        "url": subscription.url,
        "event_types": subscription.event_types,
        "active": subscription.active,
    }


async def create_subscription(
    session: AsyncSession,
    actor: Actor,
    tenant_id: uuid.UUID,
    data: SubscriptionCreate,
    *,
    allow_loopback: bool,
) -> WebhookSubscription:
    subscription = WebhookSubscription(
        tenant_id=tenant_id,
        id=new_id(),
        url=await checked_url(data.url, allow_loopback=allow_loopback),
        description=data.description,
        event_types=data.event_types,
        secret=new_secret(),
        active=data.active,
    )
    session.add(subscription)
    await session.flush()
    record_audit(
        session,
        tenant_id,
        actor,
        "webhook.created",
        ("webhook", subscription.id),
        None,
        _audited(subscription),
    )
    return subscription


async def list_subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).order_by(WebhookSubscription.created_at)
    return list((await session.execute(query)).scalars())


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID
) -> WebhookSubscription:
    query = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    subscription = (await session.execute(query)).scalar_one_or_none()
    if subscription is None:
        raise NotFound("Webhook subscription not found")
    return subscription


async def update_subscription(
    session: AsyncSession,
    actor: Actor,
    subscription_id: uuid.UUID,
    data: SubscriptionUpdate,
    *,
    allow_loopback: bool,
) -> WebhookSubscription:
    subscription = await get_subscription(session, subscription_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        changes["url"] = await checked_url(changes["url"], allow_loopback=allow_loopback)
    if changes.get("active") and not subscription.active:
        # Switched back on by a person: the endpoint starts afresh.
        subscription.disabled_reason = None
        subscription.consecutive_failures = 0
        subscription.breaker_trips = 0
        subscription.breaker_open_until = None
    before, after = apply_changes(subscription, changes)
    if after:
        record_audit(
            session,
            subscription.tenant_id,
            actor,
            "webhook.updated",
            ("webhook", subscription.id),
            before,
            after,
        )
    await session.flush()
    return subscription


async def delete_subscription(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID
) -> None:
    subscription = await get_subscription(session, subscription_id)
    record_audit(
        session,
        subscription.tenant_id,
        actor,
        "webhook.deleted",
        ("webhook", subscription.id),
        _audited(subscription),
        None,
    )
    await session.delete(subscription)
    await session.flush()


def payload_of(record: EventRecord) -> dict[str, object]:
    """The delivered body, the Standard Webhooks shape: ``{type, timestamp, data}`` (and id)."""
    return {
        "id": str(record.id),
        "type": record.type,
        "timestamp": record.at.isoformat(),
        "data": record.data,
    }


def add_delivery(
    session: AsyncSession,
    subscription: WebhookSubscription,
    record: EventRecord,
    now: datetime,
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        tenant_id=subscription.tenant_id,
        id=new_id(),
        subscription_id=subscription.id,
        event_id=record.id,
        event_type=record.type,
        payload=payload_of(record),
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
    )
    session.add(delivery)
    schedule(session, JobKind.WEBHOOK_DELIVERY, ref_id=delivery.id, due_at=now)
    return delivery


async def fan_out(session: AsyncSession, job: Job, now: datetime) -> None:
    """Job handler: one delivery per active subscription to the recorded event's type."""
    record = (
        await session.execute(select(EventRecord).where(EventRecord.id == job.ref_id))
    ).scalar_one_or_none()
    if record is None:
        return
    await use_tenant_scope(session, record.tenant_id)
    subscriptions = [
        s for s in await list_subscriptions(session) if s.active and record.type in s.event_types
    ]
    if not subscriptions:
        return
    done = set(
        (
            await session.execute(
                select(WebhookDelivery.subscription_id).where(WebhookDelivery.event_id == record.id)
            )
        ).scalars()
    )
    for subscription in subscriptions:
        if subscription.id not in done:
            add_delivery(session, subscription, record, now)
    await session.flush()


async def deliveries_page(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> Slice[WebhookDelivery]:
    """A subscription's delivery log, newest first."""
    await get_subscription(session, subscription_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return await paginate(
        session,
        query,
        (WebhookDelivery.created_at, WebhookDelivery.id),
        cursor=cursor,
        limit=limit,
    )


def _requeue(session: AsyncSession, delivery: WebhookDelivery, now: datetime) -> None:
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.last_error = None
    schedule(session, JobKind.WEBHOOK_DELIVERY, ref_id=delivery.id, due_at=now)


async def replay_delivery(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Send a delivered or failed event again, with the same ``webhook-id``."""
    subscription = await get_subscription(session, subscription_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription.id
    )
    delivery = (await session.execute(query.with_for_update())).scalar_one_or_none()
    if delivery is None:
        raise NotFound("Webhook delivery not found")
    if delivery.status == DeliveryStatus.PENDING:
        raise Conflict("This delivery is still being attempted", "delivery-pending")
    _require_active(subscription)
    _requeue(session, delivery, utcnow())
    record_audit(
        session,
        subscription.tenant_id,
        actor,
        "webhook.replayed",
        ("webhook", subscription.id),
        None,
        {"delivery_id": delivery.id},
    )
    await session.flush()
    return delivery


async def replay_failed(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID, since: datetime
) -> int:
    """Queue again every failed delivery of the subscription created at or after ``since``."""
    subscription = await get_subscription(session, subscription_id)
    _require_active(subscription)
    query = select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription.id,
        WebhookDelivery.status == DeliveryStatus.FAILED,
        WebhookDelivery.created_at >= since,
    )
    failed = list((await session.execute(query.with_for_update())).scalars())
    now = utcnow()
    for delivery in failed:
        _requeue(session, delivery, now)
    record_audit(
        session,
        subscription.tenant_id,
        actor,
        "webhook.replayed",
        ("webhook", subscription.id),
        None,
        {"since": since, "count": len(failed)},
    )
    await session.flush()
    return len(failed)


def _require_active(subscription: WebhookSubscription) -> None:
    if not subscription.active:
        raise Conflict(
            "The subscription is not active; switch it on before replaying", "webhook-inactive"
        )


async def stop_subscription(session: AsyncSession, subscription_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(active=False, disabled_reason=reason)
    )
