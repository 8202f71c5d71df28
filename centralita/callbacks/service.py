"""Callbacks as routable work.

A callback waits (a ``callbacks.due`` job) until its due time, then becomes an interaction on the
``callback`` channel queued like any other work, so the routing engine offers it to an agent
with the right skills. The agent records each attempt's outcome: reached completes it; no answer
or busy schedules another try after a back-off, up to ``max_attempts``; a wrong number ends it.
A ``callbacks.expiry`` job lapses whatever is still open at ``expires_at``.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.callbacks.models import (
    OPEN,
    Callback,
    CallbackSource,
    CallbackStatus,
    Outcome,
)
from centralita.callbacks.schemas import AttemptIn, CallbackCreate
from centralita.customers.models import Customer, CustomerIdentity, IdentityKind
from centralita.customers.service import IdentityRules
from centralita.db.base import new_id, utcnow
from centralita.db.paging import Slice, paginate
from centralita.db.scoping import use_tenant_scope
from centralita.errors import Conflict, InvalidInput, NotFound
from centralita.events.bus import Event, emit, supervisors_topic
from centralita.events.service import SYSTEM, Actor
from centralita.interactions.models import Channel, Direction, Interaction, InteractionState
from centralita.interactions.schemas import InteractionCreate
from centralita.interactions.service import announce_change, change_state, create_interaction
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.jobs.worker import JobHandler
from centralita.tenancy.models import Tenant

FIRST_RETRY = timedelta(minutes=10)


def retry_after(failed_attempts: int) -> timedelta:
    """10, 20, 40 minutes ... between unanswered tries."""
    delay: timedelta = FIRST_RETRY * 2 ** (failed_attempts - 1)
    return delay


def callback_event(kind: str, callback: Callback) -> Event:
    return Event(
        type=kind,
        tenant=callback.tenant_id,
        data={
            "callback_id": callback.id,
            "customer_id": callback.customer_id,
            "queue": callback.queue,
            "priority": callback.priority,
            "reason": callback.reason,
            "source": callback.source,
            "rule_id": callback.rule_id,
            "status": callback.status,
            "due_at": callback.due_at,
            "interaction_id": callback.interaction_id,
            "attempts": len(callback.attempts),
        },
        recipients=(supervisors_topic(callback.tenant_id),),
    )


async def create_callback(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: CallbackCreate,
    *,
    source: CallbackSource,
    rule_id: uuid.UUID | None = None,
    origin_interaction_id: uuid.UUID | None = None,
    context: dict[str, Any] | None = None,
) -> Callback:
    customer = (
        await session.execute(select(Customer).where(Customer.id == data.customer_id))
    ).scalar_one_or_none()
    if customer is None:
        raise InvalidInput.on_field("body.customer_id", "No such customer")
    now = utcnow()
    due_at = data.due_at or now
    if due_at.tzinfo is None:
        raise InvalidInput.on_field("body.due_at", "give a time zone (or Z for UTC)")
    expires_at = max(due_at, now) + timedelta(hours=data.expires_in_hours)
    customer_id = customer.merged_into_id or customer.id
    callback = Callback(
        tenant_id=tenant_id,
        id=new_id(),
        customer_id=customer_id,
        # The agent calls the number given, else the customer's own (a rule names none).
        phone=data.phone or await _phone_of(session, customer_id),
        queue=data.queue,
        priority=data.priority,
        reason=data.reason,
        source=source,
        rule_id=rule_id,
        origin_interaction_id=origin_interaction_id,
        context=context or {},
        status=CallbackStatus.SCHEDULED,
        due_at=due_at,
        expires_at=expires_at,
        max_attempts=data.max_attempts,
        attempts=[],
    )
    session.add(callback)
    schedule(session, JobKind.CALLBACK_DUE, ref_id=callback.id, due_at=due_at)
    schedule(session, JobKind.CALLBACK_EXPIRY, ref_id=callback.id, due_at=expires_at)
    await session.flush()
    emit(session, callback_event("callback.created", callback))
    return callback


async def get_callback(
    session: AsyncSession, callback_id: uuid.UUID, *, for_update: bool = False
) -> Callback:
    query = select(Callback).where(Callback.id == callback_id)
    if for_update:
        query = query.with_for_update()
    callback = (await session.execute(query)).scalar_one_or_none()
    if callback is None:
        raise NotFound("Callback not found")
    return callback


async def callbacks_page(
    session: AsyncSession,
    *,
    status: CallbackStatus | None,
    customer_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Slice[Callback]:
    query = select(Callback)
    if status is not None:
        query = query.where(Callback.status == status)
    if customer_id is not None:
        query = query.where(Callback.customer_id == customer_id)
    return await paginate(
        session, query, (Callback.created_at, Callback.id), cursor=cursor, limit=limit
    )


async def record_attempt(
    session: AsyncSession, actor: Actor, callback_id: uuid.UUID, data: AttemptIn
) -> Callback:
    """What happened when the agent called; decides whether and when to try again."""
    callback = await get_callback(session, callback_id, for_update=True)
    if callback.status != CallbackStatus.QUEUED:
        raise Conflict(f"A {callback.status} callback is not being called", "callback-not-queued")
    now = utcnow()
    attempt = {
        "at": now.isoformat(),
        "outcome": data.outcome,
        "agent_id": str(actor.user_id) if actor.user_id else None,
        "note": data.note,
    }
    callback.attempts = [*callback.attempts, attempt]
    if data.outcome == Outcome.REACHED:
        callback.status = CallbackStatus.COMPLETED
    elif data.outcome == Outcome.WRONG_NUMBER or len(callback.attempts) >= callback.max_attempts:
        callback.status = CallbackStatus.FAILED
    else:
        retry_at = now + retry_after(len(callback.attempts))
        if retry_at >= callback.expires_at:
            callback.status = CallbackStatus.EXPIRED
        else:
            callback.status = CallbackStatus.SCHEDULED
            callback.due_at = retry_at
            callback.interaction_id = None
            schedule(session, JobKind.CALLBACK_DUE, ref_id=callback.id, due_at=retry_at)
    await session.flush()
    emit(session, callback_event("callback.attempted", callback))
    if callback.status == CallbackStatus.COMPLETED:
        emit(session, callback_event("callback.completed", callback))
    return callback


async def _phone_of(session: AsyncSession, customer_id: uuid.UUID) -> str | None:
    query = (
        select(CustomerIdentity.value)
        .where(
            CustomerIdentity.customer_id == customer_id,
            CustomerIdentity.kind == IdentityKind.PHONE,
        )
        .order_by(CustomerIdentity.created_at)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def cancel_callback(session: AsyncSession, callback_id: uuid.UUID) -> Callback:
    callback = await get_callback(session, callback_id, for_update=True)
    if callback.status not in OPEN:
        raise Conflict(f"A {callback.status} callback cannot be cancelled", "callback-closed")
    await _close(session, callback, CallbackStatus.CANCELLED)
    return callback


async def _close(session: AsyncSession, callback: Callback, status: CallbackStatus) -> None:
    """Close an open callback; its work leaves the queue if no agent has it yet."""
    callback.status = status
    if callback.interaction_id is not None:
        work = await session.get(Interaction, (callback.tenant_id, callback.interaction_id))
        if work is not None and work.state == InteractionState.QUEUED:
            change_state(work, InteractionState.ENDED, SYSTEM)
            announce_change(session, work)
    await session.flush()


async def _scoped_callback(session: AsyncSession, job: Job) -> Callback | None:
    query = select(Callback).where(Callback.id == job.ref_id).with_for_update()
    callback = (await session.execute(query)).scalar_one_or_none()
    if callback is not None:
        await use_tenant_scope(session, callback.tenant_id)
    return callback


async def callback_due(session: AsyncSession, job: Job, now: datetime) -> None:
    """Job handler: a due callback becomes queued work on the ``callback`` channel."""
    callback = await _scoped_callback(session, job)
    # A job left over from before a retry was rescheduled, or the callback was closed.
    if callback is None or callback.status != CallbackStatus.SCHEDULED or callback.due_at > now:
        return
    if now >= callback.expires_at:
        return
    tenant = await session.get(Tenant, callback.tenant_id)
    assert tenant is not None
    work = InteractionCreate(
        channel=Channel.CALLBACK,
        direction=Direction.OUTBOUND,
        customer_id=callback.customer_id,
        queue=callback.queue,
        priority=callback.priority,
        subject=callback.reason,
        self_service_context={"callback_id": str(callback.id), **callback.context},
    )
    # The customer is named by id: no identity to normalise, so no PIN key is needed.
    thread = await create_interaction(
        session, tenant, SYSTEM, work, IdentityRules(tenant.country, "")
    )
    callback.status = CallbackStatus.QUEUED
    callback.interaction_id = thread.interaction.id
    await session.flush()
    emit(session, callback_event("callback.queued", callback))


async def callback_expiry(session: AsyncSession, job: Job, now: datetime) -> None:
    """Job handler: what is still open at its expiry lapses."""
    callback = await _scoped_callback(session, job)
    if callback is None or callback.status not in OPEN or callback.expires_at > now:
        return
    await _close(session, callback, CallbackStatus.EXPIRED)
    emit(session, callback_event("callback.expired", callback))


JOB_HANDLERS: dict[str, JobHandler] = {
    JobKind.CALLBACK_DUE: callback_due,
    JobKind.CALLBACK_EXPIRY: callback_expiry,
}
