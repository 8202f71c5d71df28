"""Messages the platform starts (survey links, rule notifications): the ``outbound.send`` job.

Surveys, rules and callbacks queue an ``OutboundMessage`` on the customer's consented channel;
this job sends it through the same SMS provider and email relay agents' replies use, and records
whether it went. An SMS carries the message id as the provider's idempotency key; an email has a
Message-ID derived from it and is sent once (the email channel's ``send_once``); a voice message
is an automated call that speaks the text. The provider's delivery report on a text or a call
later says whether it reached the customer (``channels/reports.py``).
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.email.models import EmailStatus
from centralita.channels.email.outbound import Outgoing, Relay, send_once
from centralita.channels.reports import ReportTarget, status_callback_url
from centralita.channels.sms.sender import sending_number
from centralita.channels.voice.provider import Provider, calling_number
from centralita.channels.voice.twiml import TwiML
from centralita.db.scoping import use_tenant_scope
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobHandler, is_last_attempt
from centralita.outbound.models import OutboundChannel, OutboundMessage, OutboundStatus
from centralita.tenancy.models import Tenant


def proactive_handlers(
    provider: Provider, relay: Relay | None, reports: str
) -> dict[str, JobHandler]:
    """The ``outbound.send`` handler; ``reports`` is the base URL of the status callbacks."""

    async def send(session: AsyncSession, job: Job, now: datetime) -> None:
        # Locked: a delivery report waits for the commit instead of being overwritten by it.
        query = select(OutboundMessage).where(OutboundMessage.id == job.ref_id).with_for_update()
        message = (await session.execute(query)).scalar_one_or_none()
        if message is None or message.status != OutboundStatus.PENDING:
            return
        await use_tenant_scope(session, message.tenant_id)
        error = await _send(session, provider, relay, message, now, reports, is_last_attempt(job))
        message.status = OutboundStatus.FAILED if error else OutboundStatus.SENT
        message.error = error
        await session.flush()

    return {JobKind.OUTBOUND_SEND: send}


async def _send(
    session: AsyncSession,
    provider: Provider,
    relay: Relay | None,
    message: OutboundMessage,
    now: datetime,
    reports: str,
    last_attempt: bool,
) -> str | None:
    """Send the message; the reason it cannot go, or None once it went. A provider that cannot
    be reached raises, so the job is tried again later (email: until its last attempt)."""
    if message.channel == OutboundChannel.SMS:
        number = await sending_number(session)
        if number is None:
            return "the company has no SMS number"
        status_callback = status_callback_url(reports, "sms", ReportTarget(message=message.id))
        await provider.message(
            number, message.to_address, message.body, str(message.id), status_callback
        )
        return None
    if message.channel == OutboundChannel.VOICE:
        number = await calling_number(session)
        if number is None:
            return "the company has no phone number with a provider account"
        twiml = TwiML().say(message.body, message.language).document()
        status_callback = status_callback_url(reports, "voice", ReportTarget(message=message.id))
        await provider.announce(number, message.to_address, twiml, str(message.id), status_callback)
        return None
    if message.channel == OutboundChannel.EMAIL:
        if relay is None:
            return "no SMTP relay is configured"
        tenant = await session.get(Tenant, message.tenant_id)
        assert tenant is not None  # the message's tenant row outlives its messages
        outgoing = Outgoing(
            tenant=tenant,
            message_id=relay.message_id("outbound", message.id),
            customer_id=message.customer_id,
            subject=message.subject or tenant.name,
            text=message.body,
            html=None,
            automatic="auto-generated",
        )
        record = await send_once(session, relay, outgoing, now, last_attempt=last_attempt)
        return None if record.status == EmailStatus.SENT else record.reason or record.status
    return f"no sender for {message.channel}"
