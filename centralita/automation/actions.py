"""What a rule's actions do, each through the service that owns the change.

Every action returns a short record of what it did, for the rule's execution log; one that cannot
apply to this event (no customer, no interaction) says so instead of failing the rule.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.automation.schemas import (
    Action,
    CallWebhook,
    CreateCallback,
    CreateTicket,
    NotifyTeam,
    SendMessage,
    SendSurvey,
    SetPriority,
    SetQueue,
    TagCustomer,
    UpdateTicket,
)
from centralita.callbacks.models import CallbackSource
from centralita.callbacks.schemas import CallbackCreate
from centralita.callbacks.service import create_callback
from centralita.customers.models import Customer
from centralita.customers.schemas import CustomerUpdate
from centralita.customers.service import IdentityRules, update_customer
from centralita.events.bus import Event, emit, supervisors_topic, user_topic
from centralita.events.models import EventRecord
from centralita.events.service import SYSTEM
from centralita.interactions.schemas import InteractionUpdate
from centralita.interactions.service import update_interaction
from centralita.outbound.service import Texts, queue_message
from centralita.surveys.service import SurveyLinks, offer_survey
from centralita.tenancy.models import Tenant
from centralita.tickets.desk import open_desk
from centralita.tickets.lifecycle import get_ticket
from centralita.tickets.models import TeamMember
from centralita.tickets.schemas import TicketCreate, TicketUpdate
from centralita.tickets.service import create_ticket, update_ticket
from centralita.webhooks.models import WebhookDelivery
from centralita.webhooks.service import add_delivery, get_subscription


@dataclass(frozen=True)
class Firing:
    """One rule firing on one event."""

    rule_id: uuid.UUID
    record: EventRecord
    customer: Customer | None
    now: datetime
    links: SurveyLinks
    rng: random.Random

    @property
    def interaction_id(self) -> uuid.UUID | None:
        value = self.record.data.get("interaction_id")
        return uuid.UUID(value) if isinstance(value, str) else None


def _skipped(action: Action, why: str) -> dict[str, Any]:
    return {"type": action.type, "skipped": why}


async def perform(session: AsyncSession, firing: Firing, action: Action) -> dict[str, Any]:
    match action:
        case CreateCallback():
            return await _create_callback(session, firing, action)
        case SetPriority() | SetQueue():
            return await _change_interaction(session, firing, action)
        case TagCustomer():
            return await _tag_customer(session, firing, action)
        case NotifyTeam():
            return await _notify(session, firing, action)
        case SendMessage():
            return await _send_message(session, firing, action)
        case CreateTicket() | UpdateTicket():
            return await _ticket(session, firing, action)
        case SendSurvey():
            return await _send_survey(session, firing, action)
        case CallWebhook():
            return await _call_webhook(session, firing, action)


async def _create_callback(
    session: AsyncSession, firing: Firing, action: CreateCallback
) -> dict[str, Any]:
    if firing.customer is None:
        return _skipped(action, "the event names no customer")
    queue = action.queue or firing.record.data.get("queue")
    data = CallbackCreate(
        customer_id=firing.customer.id,
        queue=queue if isinstance(queue, str) and queue else None,
        priority=action.priority,
        reason=action.reason,
        due_at=firing.now + timedelta(minutes=action.due_in_minutes),
        expires_in_hours=action.expires_in_hours,
    )
    callback = await create_callback(
        session,
        firing.record.tenant_id,
        data,
        source=CallbackSource.RULE,
        rule_id=firing.rule_id,
        origin_interaction_id=firing.interaction_id,
        context={"event_type": firing.record.type, "event": firing.record.data},
    )
    return {"type": action.type, "callback_id": str(callback.id)}


async def _change_interaction(
    session: AsyncSession, firing: Firing, action: SetPriority | SetQueue
) -> dict[str, Any]:
    if firing.interaction_id is None:
        return _skipped(action, "the event names no interaction")
    change = (
        InteractionUpdate(priority=action.priority)
        if isinstance(action, SetPriority)
        else InteractionUpdate(queue=action.queue)
    )
    await update_interaction(session, SYSTEM, firing.interaction_id, change)
    return {"type": action.type, "interaction_id": str(firing.interaction_id)}


async def _tag_customer(
    session: AsyncSession, firing: Firing, action: TagCustomer
) -> dict[str, Any]:
    customer = firing.customer
    if customer is None:
        return _skipped(action, "the event names no customer")
    if action.tag not in customer.tags:
        await update_customer(
            session, SYSTEM, customer.id, CustomerUpdate(tags=[*customer.tags, action.tag])
        )
    return {"type": action.type, "customer_id": str(customer.id)}


async def _notify(session: AsyncSession, firing: Firing, action: NotifyTeam) -> dict[str, Any]:
    tenant_id = firing.record.tenant_id
    if action.team_id is None:
        recipients = [supervisors_topic(tenant_id)]
    else:
        query = select(TeamMember.user_id).where(TeamMember.team_id == action.team_id)
        recipients = [user_topic(user) for user in (await session.execute(query)).scalars()]
    emit(
        session,
        Event(
            type="team.notified",
            tenant=tenant_id,
            data={
                "rule_id": firing.rule_id,
                "team_id": action.team_id,
                "message": action.message,
                "event_id": firing.record.id,
                "event_type": firing.record.type,
                "customer_id": firing.customer.id if firing.customer else None,
            },
            recipients=tuple(recipients),
        ),
    )
    return {"type": action.type, "recipients": len(recipients)}


async def _send_message(
    session: AsyncSession, firing: Firing, action: SendMessage
) -> dict[str, Any]:
    if firing.customer is None:
        return _skipped(action, "the event names no customer")
    message = await queue_message(
        session,
        firing.customer,
        Texts(action.text, action.subject),
        channel=action.channel,
        purpose="rule",
        ref_id=firing.rule_id,
    )
    if message is None:
        return _skipped(action, "no consented channel with an address")
    return {"type": action.type, "message_id": str(message.id), "channel": message.channel}


async def _ticket(
    session: AsyncSession, firing: Firing, action: CreateTicket | UpdateTicket
) -> dict[str, Any]:
    tenant = await session.get(Tenant, firing.record.tenant_id)
    assert tenant is not None
    # Tickets are made for a customer id: no identity to normalise, so no PIN key is needed.
    desk = await open_desk(session, tenant, SYSTEM, IdentityRules(tenant.country, ""))
    if isinstance(action, CreateTicket):
        if firing.customer is None:
            return _skipped(action, "the event names no customer")
        data = TicketCreate(
            requester_id=firing.customer.id,
            subject=action.subject,
            description=action.description,
            team_id=action.team_id,
            priority=action.priority,
            tags=action.tags,
        )
        ticket = await create_ticket(session, desk, data)
        return {"type": action.type, "ticket_id": str(ticket.id)}
    value = firing.record.data.get("ticket_id")
    if not isinstance(value, str):
        return _skipped(action, "the event names no ticket")
    ticket_id = uuid.UUID(value)
    current = await get_ticket(session, ticket_id)
    change = action.model_dump(exclude={"type", "add_tags"}, exclude_none=True)
    if action.add_tags:
        change["tags"] = [*current.tags, *(t for t in action.add_tags if t not in current.tags)]
    await update_ticket(session, desk, ticket_id, TicketUpdate(**change))
    return {"type": action.type, "ticket_id": value}


async def _send_survey(session: AsyncSession, firing: Firing, action: SendSurvey) -> dict[str, Any]:
    if firing.interaction_id is None:
        return _skipped(action, "the event names no interaction")
    invitation, message, why = await offer_survey(
        session, firing.links, firing.interaction_id, firing.now, firing.rng
    )
    if invitation is None:
        return _skipped(action, why)
    return {
        "type": action.type,
        "invitation_id": str(invitation.id),
        "message_id": str(message.id) if message else None,
    }


async def _call_webhook(
    session: AsyncSession, firing: Firing, action: CallWebhook
) -> dict[str, Any]:
    subscription = await get_subscription(session, action.subscription_id)
    query = select(WebhookDelivery.id).where(
        WebhookDelivery.subscription_id == subscription.id,
        WebhookDelivery.event_id == firing.record.id,
    )
    existing = (await session.execute(query)).scalar_one_or_none()
    if existing is None:
        existing = add_delivery(session, subscription, firing.record, firing.now).id
    return {"type": action.type, "delivery_id": str(existing)}
