"""The durable jobs that send email: ticket replies, interaction messages, acknowledgements and
web-portal confirmations. Each reads what it is for, takes the tenant's scope and calls
:func:`outbound.send_once`; a failure raises, and the worker tries again later with back-off.
On the worker's last attempt the email is recorded ``failed`` with the relay's reason instead
(listed by the email API), so nobody waits for a reply that will not go."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from centralita.channels.email.models import EmailAttachment, EmailRecord
from centralita.channels.email.outbound import Outgoing, Relay, send_once
from centralita.channels.email.threads import reply_subject
from centralita.channels.outbound import Sender
from centralita.customers.models import Customer
from centralita.db.scoping import use_tenant_scope
from centralita.i18n import TRANSLATIONS, gettext_noop
from centralita.interactions.models import Interaction, Message
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobHandler, is_last_attempt
from centralita.tenancy.models import Tenant
from centralita.tickets.models import Ticket, TicketMessage
from centralita.tickets.settings import reference, ticket_settings

ACKNOWLEDGEMENT = gettext_noop(
    "Hello,\n\nWe have received your message and opened ticket %(reference)s. An agent will "
    "answer you as soon as possible. To add anything, reply to this email and keep "
    "[%(reference)s] in the subject.\n\n%(team)s"
)
CONFIRMATION = gettext_noop(
    'Hello,\n\nYour request "%(subject)s" has been registered as ticket %(reference)s. An agent '
    "will answer you as soon as possible. To add anything, reply to this email.\n\n%(team)s"
)


async def _tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    return (await session.execute(select(Tenant).where(Tenant.id == tenant_id))).scalar_one()


async def _ticket_reference(session: AsyncSession, tenant: Tenant, ticket: Ticket) -> str:
    return reference((await ticket_settings(session, tenant)).prefix, ticket.number)


async def _locale(session: AsyncSession, tenant: Tenant, customer_id: uuid.UUID) -> str:
    query = select(Customer.language).where(Customer.id == customer_id)
    language = ((await session.execute(query)).scalar_one_or_none() or "")[:2]
    return language if language in TRANSLATIONS else tenant.default_locale


def email_handlers(relay: Relay) -> dict[str, JobHandler]:
    """The email job kinds' handlers, sending through ``relay``."""

    async def ticket_reply(session: AsyncSession, job: Job, now: datetime) -> None:
        query = select(TicketMessage).where(TicketMessage.id == job.ref_id)
        message = (await session.execute(query)).scalar_one_or_none()
        if message is None:
            return
        await use_tenant_scope(session, message.tenant_id)
        ticket = (
            await session.execute(select(Ticket).where(Ticket.id == message.ticket_id))
        ).scalar_one()
        tenant = await _tenant(session, ticket.tenant_id)
        subject = reply_subject(await _ticket_reference(session, tenant, ticket), ticket.subject)
        outgoing = Outgoing(
            tenant=tenant,
            message_id=relay.message_id("reply", message.id),
            customer_id=ticket.requester_id,
            subject=subject,
            text=message.text,
            html=message.html,
            ticket_id=ticket.id,
            message_ref=message.id,
        )
        await send_once(session, relay, outgoing, now, last_attempt=is_last_attempt(job))

    async def acknowledgement(session: AsyncSession, job: Job, now: datetime) -> None:
        query = select(EmailRecord).where(EmailRecord.id == job.ref_id)
        opening = (await session.execute(query)).scalar_one_or_none()
        if opening is None or opening.ticket_id is None:
            return
        await use_tenant_scope(session, opening.tenant_id)
        ticket = (
            await session.execute(select(Ticket).where(Ticket.id == opening.ticket_id))
        ).scalar_one()
        await _automatic(session, relay, ticket, "ack", ACKNOWLEDGEMENT, "auto-replied", now, job)

    async def confirmation(session: AsyncSession, job: Job, now: datetime) -> None:
        query = select(Ticket).where(Ticket.id == job.ref_id)
        ticket = (await session.execute(query)).scalar_one_or_none()
        if ticket is None:
            return
        await use_tenant_scope(session, ticket.tenant_id)
        await _automatic(
            session, relay, ticket, "confirm", CONFIRMATION, "auto-generated", now, job
        )

    return {
        JobKind.EMAIL_TICKET_REPLY: ticket_reply,
        JobKind.EMAIL_ACKNOWLEDGEMENT: acknowledgement,
        JobKind.EMAIL_CONFIRMATION: confirmation,
    }


async def _automatic(
    session: AsyncSession,
    relay: Relay,
    ticket: Ticket,
    kind: str,
    template: str,
    automatic: str,
    now: datetime,
    job: Job,
) -> None:
    tenant = await _tenant(session, ticket.tenant_id)
    ref = await _ticket_reference(session, tenant, ticket)
    translations = TRANSLATIONS[await _locale(session, tenant, ticket.requester_id)]
    text = translations.gettext(template) % {
        "reference": ref,
        "subject": ticket.subject,
        "team": tenant.name,
    }
    outgoing = Outgoing(
        tenant=tenant,
        message_id=relay.message_id(kind, ticket.id),
        customer_id=ticket.requester_id,
        subject=reply_subject(ref, ticket.subject),
        text=text,
        html=None,
        ticket_id=ticket.id,
        automatic=automatic,
    )
    await send_once(session, relay, outgoing, now, last_attempt=is_last_attempt(job))


def email_sender(relay: Relay) -> Sender:
    """The core's ``channel.delivery`` sender for messages on email interactions."""

    async def send(
        session: AsyncSession,
        interaction: Interaction,
        message: Message,
        now: datetime,
        last_attempt: bool,
    ) -> None:
        tenant = await _tenant(session, interaction.tenant_id)
        subject = interaction.subject or ""
        if interaction.ticket_id is not None:
            ticket = (
                await session.execute(select(Ticket).where(Ticket.id == interaction.ticket_id))
            ).scalar_one()
            subject = reply_subject(
                await _ticket_reference(session, tenant, ticket), ticket.subject
            )
        outgoing = Outgoing(
            tenant=tenant,
            message_id=relay.message_id("msg", message.id),
            customer_id=interaction.customer_id,
            subject=subject if subject.lower().startswith("re:") else f"Re: {subject}".strip(),
            text=message.text,
            html=message.html,
            ticket_id=interaction.ticket_id,
            interaction_id=interaction.id,
            message_ref=message.id,
            attachments=await _attached(session, message),
        )
        await send_once(session, relay, outgoing, now, last_attempt=last_attempt)

    return send


async def _attached(session: AsyncSession, message: Message) -> list[EmailAttachment]:
    """The files the agent sent with ``message``, in the order they were attached."""
    if not message.attachments:
        return []
    query = (
        select(EmailAttachment)
        .where(EmailAttachment.message_ref == message.id)
        .options(undefer(EmailAttachment.content))
    )
    order = [str(listed.get("url", "")).rsplit("/", 1)[-1] for listed in message.attachments]
    found = list((await session.execute(query)).scalars())
    return sorted(found, key=lambda row: order.index(str(row.id)) if str(row.id) in order else 0)
