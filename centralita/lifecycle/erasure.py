"""Erasure of one customer on request (the right to be forgotten).

The customer's row stays, emptied, so that every link to it (interactions, tickets, survey
answers, callbacks) keeps pointing at something and the counts that include the person keep
counting them; everything that tells who the person was goes: the profile, every identity (so
search and recognition no longer find them), what was said in their interactions and tickets,
their emails' raw form, text and attachments, their survey comments and free-text answers, their
callbacks' numbers and notes, messages written to them, the details of knowledge signals on their
work, and the audit history of their profile. Customers merged into them are the same person and
are erased with them.

Reporting facts keep their numbers and lose the link: the person's id in them is replaced by a
fresh random one, the same for all their facts, so repeat-contact and FCR counts are unchanged
while no report can lead back to the person. An erasure cannot be undone: the data is gone, not
hidden. The ``lifecycle_erasures`` row and the audit entry say who asked, when and how many rows
changed, and nothing of what was erased.
"""

import json
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.api.models import IdempotencyRecord
from centralita.callbacks.models import Callback
from centralita.channels.email.models import EmailAttachment, EmailRecord
from centralita.customers.models import Customer, CustomerIdentity, IdentityKind, ValueTier
from centralita.errors import NotFound
from centralita.events.models import AuditEntry, EventRecord
from centralita.events.service import Actor, record_audit
from centralita.interactions.models import Interaction, Message
from centralita.knowledge.models import KnowledgeEvent
from centralita.lifecycle.models import CustomerErasure
from centralita.lifecycle.schemas import ErasureIn
from centralita.outbound.models import OutboundMessage
from centralita.reporting.models import InteractionFact
from centralita.surveys.models import Survey, SurveyResponse
from centralita.tickets.models import Ticket, TicketMessage, TicketSettings
from centralita.tickets.search import index_words
from centralita.tickets.settings import reference
from centralita.webhooks.models import WebhookDelivery

ERASED = "[erased]"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SCAN_BATCH = 1000
# Survey answers that are numbers or one of the offered choices say nothing about who answered.
KEPT_ANSWER_KINDS = frozenset({"scale", "choice"})


async def _person(session: AsyncSession, customer_id: uuid.UUID) -> list[uuid.UUID]:
    """The customer's root profile (where a merge left it) and every profile merged into it."""
    found = (
        await session.execute(select(Customer).where(Customer.id == customer_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("Customer not found")
    root = found
    while root.merged_into_id is not None:
        merged_into = (
            await session.execute(select(Customer).where(Customer.id == root.merged_into_id))
        ).scalar_one()
        root = merged_into
    group, frontier = [root.id], [root.id]
    while frontier:
        query = select(Customer.id).where(Customer.merged_into_id.in_(frontier))
        frontier = list((await session.execute(query)).scalars())
        group.extend(frontier)
    return group


async def _rowcount(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def erase_customer(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: Actor,
    customer_id: uuid.UUID,
    data: ErasureIn,
) -> tuple[CustomerErasure, bool]:
    """Erase the customer (and the profiles merged into them); the record, and whether this
    request did it (False: they had been erased already, and nothing changed)."""
    group = await _person(session, customer_id)
    done = (
        await session.execute(select(CustomerErasure).where(CustomerErasure.customer_id.in_(group)))
    ).scalar_one_or_none()
    if done is not None:
        return done, False
    customers = list(
        (
            await session.execute(select(Customer).where(Customer.id.in_(group)).with_for_update())
        ).scalars()
    )
    emails = list(
        (
            await session.execute(
                select(CustomerIdentity.value).where(
                    CustomerIdentity.customer_id.in_(group),
                    CustomerIdentity.kind == IdentityKind.EMAIL,
                )
            )
        ).scalars()
    )
    work = select(Interaction.id).where(Interaction.customer_id.in_(group))
    ticket_ids = list(
        (await session.execute(select(Ticket.id).where(Ticket.requester_id.in_(group)))).scalars()
    )
    counts: dict[str, int] = {"customers": len(customers)}

    counts["customer_identities"] = await _rowcount(
        session, delete(CustomerIdentity).where(CustomerIdentity.customer_id.in_(group))
    )
    counts["interaction_messages"] = await _rowcount(
        session,
        update(Message)
        .where(Message.interaction_id.in_(work))
        .values(text="", html=None, attachments=[]),
    )
    counts["interactions"] = await _rowcount(
        session,
        update(Interaction)
        .where(Interaction.customer_id.in_(group))
        .values(subject=None, self_service_context={}),
    )
    counts["ticket_messages"] = await _rowcount(
        session,
        update(TicketMessage)
        .where(TicketMessage.ticket_id.in_(ticket_ids))
        .values(text="", html=None),
    )
    counts["tickets"] = await _erase_tickets(session, ticket_ids)
    counts.update(await _erase_emails(session, work, ticket_ids, emails))
    counts["survey_responses"] = await _erase_survey_answers(session, group)
    counts["callbacks"] = await _erase_callbacks(session, group)
    counts["outbound_messages"] = await _rowcount(
        session,
        update(OutboundMessage)
        .where(OutboundMessage.customer_id.in_(group))
        .values(to_address="", subject=None, body=""),
    )
    counts["knowledge_events"] = await _rowcount(
        session,
        update(KnowledgeEvent)
        .where(
            or_(
                KnowledgeEvent.interaction_id.in_(work),
                KnowledgeEvent.ticket_id.in_(ticket_ids),
            )
        )
        .values(details={}),
    )
    counts["reporting_facts_delinked"] = await _rowcount(
        session,
        update(InteractionFact)
        .where(InteractionFact.customer_id.in_(group))
        .values(customer_id=uuid.uuid4()),
    )
    work_ids = list((await session.execute(work)).scalars())
    about_them = {str(i) for i in (*group, *work_ids, *ticket_ids)}
    counts.update(await _erase_recorded_payloads(session, about_them, emails))
    profile_history: ColumnElement[bool] = (AuditEntry.entity_type == "customer") & (
        AuditEntry.entity_id.in_([str(c) for c in group])
    )
    ticket_history = (AuditEntry.entity_type == "ticket") & (
        AuditEntry.entity_id.in_([str(t) for t in ticket_ids])
    )
    counts["audit_entries_redacted"] = await _rowcount(
        session,
        update(AuditEntry)
        .where(or_(profile_history, ticket_history))
        .values(before={"erased": True}, after={"erased": True}),
    )
    for customer in customers:
        _empty_profile(customer)
    erasure = CustomerErasure(
        tenant_id=tenant_id,
        customer_id=group[0],
        requested_by_user_id=actor.user_id,
        requested_by=actor.label,
        reason=data.reason,
        counts={name: count for name, count in counts.items() if count},
    )
    session.add(erasure)
    await session.flush()
    record_audit(
        session,
        tenant_id,
        actor,
        "lifecycle.customer_erased",
        ("erasure", erasure.id),
        None,
        {"customer_id": group[0], "reason": data.reason, "counts": erasure.counts},
    )
    return erasure, True


def _mentions(value: object, ids: set[str], addresses: Sequence[str]) -> bool:
    text = json.dumps(value, default=str).lower()
    if any(address.lower() in text for address in addresses):
        return True
    return not ids.isdisjoint(UUID_TEXT.findall(text))


async def _erase_recorded_payloads(
    session: AsyncSession, ids: set[str], addresses: Sequence[str]
) -> dict[str, int]:
    """Recorded events, webhook payloads and replayable responses that name the person, their
    work or their tickets: the event keeps its type and time (webhook history stays whole), its
    data goes; a replayable response is dropped (a retry then simply runs again)."""
    counts: dict[str, int] = {}
    stores: list[tuple[str, Any, Any]] = [
        ("event_log", EventRecord, EventRecord.data),
        ("webhook_deliveries", WebhookDelivery, WebhookDelivery.payload),
        ("idempotency_keys", IdempotencyRecord, IdempotencyRecord.response_body),
    ]
    for name, model, column in stores:
        keys = [c for c in model.__table__.primary_key.columns if c.name != "tenant_id"]
        key_attrs = [getattr(model, c.key) for c in keys]
        matched: list[tuple[Any, ...]] = []
        result = await session.stream(
            select(*key_attrs, column).execution_options(yield_per=SCAN_BATCH)
        )
        async for chunk in result.partitions(SCAN_BATCH):
            matched.extend(tuple(row[:-1]) for row in chunk if _mentions(row[-1], ids, addresses))
        for row_key in matched:
            where = [attr == value for attr, value in zip(key_attrs, row_key, strict=True)]
            if model is IdempotencyRecord:
                await session.execute(delete(model).where(*where))
            else:
                await session.execute(
                    update(model).where(*where).values({column.key: {"erased": True}})
                )
        if matched:
            counts[name] = len(matched)
    return counts


def _empty_profile(customer: Customer) -> None:
    customer.display_name = ERASED
    customer.preferred_name = None
    customer.title = None
    customer.language = None
    customer.time_zone = None
    customer.segment = None
    customer.value_tier = ValueTier.STANDARD
    customer.lifetime_value = Decimal(0)
    customer.preferred_channel = None
    customer.consent_email = False
    customer.consent_sms = False
    customer.consent_marketing = False
    customer.attributes = {}
    customer.tags = []
    customer.search_name = ""


async def _erase_tickets(session: AsyncSession, ticket_ids: Sequence[uuid.UUID]) -> int:
    """Empty the requester's tickets and index them again by their reference only."""
    if not ticket_ids:
        return 0
    settings = (await session.execute(select(TicketSettings))).scalar_one_or_none()
    prefix = settings.prefix if settings is not None else ""
    tickets = list(
        (await session.execute(select(Ticket).where(Ticket.id.in_(ticket_ids)))).scalars()
    )
    for ticket in tickets:
        ticket.subject = ERASED
        ticket.description = ""
        ticket.custom_fields = {}
        await index_words(session, ticket, reference(prefix, ticket.number), replacing=True)
    await session.flush()
    return len(tickets)


async def _erase_emails(
    session: AsyncSession,
    work: Any,
    ticket_ids: Sequence[uuid.UUID],
    addresses: Sequence[str],
) -> dict[str, int]:
    """Their emails keep their rows (a Message-ID still recognises a provider's retry) and lose
    everything else."""
    theirs = select(EmailRecord.id).where(
        or_(
            EmailRecord.interaction_id.in_(work),
            EmailRecord.ticket_id.in_(ticket_ids),
            EmailRecord.counterpart.in_(list(addresses)),
        )
    )
    ids = list((await session.execute(theirs)).scalars())
    if not ids:
        return {}
    attachments = await _rowcount(
        session, delete(EmailAttachment).where(EmailAttachment.email_id.in_(ids))
    )
    emails = await _rowcount(
        session,
        update(EmailRecord)
        .where(EmailRecord.id.in_(ids))
        .values(
            counterpart="",
            counterpart_name=None,
            subject="",
            visible_text="",
            full_text="",
            html=None,
            raw=b"",
            size=0,
        ),
    )
    return {"email_messages": emails, "email_attachments": attachments}


async def _erase_survey_answers(session: AsyncSession, group: Sequence[uuid.UUID]) -> int:
    """Scores stay (CSAT and NPS count them); comments and free-text answers go."""
    responses = list(
        (
            await session.execute(
                select(SurveyResponse).where(SurveyResponse.customer_id.in_(group))
            )
        ).scalars()
    )
    kinds: dict[uuid.UUID, dict[str, str]] = {}
    for survey_id in {r.survey_id for r in responses}:
        survey = (await session.execute(select(Survey).where(Survey.id == survey_id))).scalar_one()
        kinds[survey_id] = {q["key"]: q["kind"] for q in survey.questions}
    for response in responses:
        kept = kinds[response.survey_id]
        response.answers = {
            key: value
            for key, value in response.answers.items()
            if kept.get(key) in KEPT_ANSWER_KINDS
        }
        response.comment = None
    await session.flush()
    return len(responses)


async def _erase_callbacks(session: AsyncSession, group: Sequence[uuid.UUID]) -> int:
    callbacks = list(
        (await session.execute(select(Callback).where(Callback.customer_id.in_(group)))).scalars()
    )
    for callback in callbacks:
        callback.phone = None
        callback.reason = ERASED
        callback.context = {}
        callback.attempts = [{**attempt, "note": None} for attempt in callback.attempts]
    await session.flush()
    return len(callbacks)


async def get_erasure(session: AsyncSession, customer_id: uuid.UUID) -> CustomerErasure:
    query = select(CustomerErasure).where(CustomerErasure.customer_id == customer_id)
    erasure = (await session.execute(query)).scalar_one_or_none()
    if erasure is None:
        raise NotFound("This customer has not been erased")
    return erasure
