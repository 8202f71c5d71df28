"""Queue a message to a customer on the channel they prefer and have consented to.

The channel side consumes ``JobKind.OUTBOUND_SEND`` (ref_id = the message's id): it loads the
:class:`OutboundMessage`, sends ``body`` (and ``subject`` for email) to ``to_address`` on
``channel``, and sets ``status`` to sent or failed (with ``error``) in the job's transaction.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer, CustomerIdentity, IdentityKind
from centralita.db.base import new_id
from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.outbound.delivery import Report, ending_of
from centralita.outbound.models import OutboundChannel, OutboundMessage, OutboundStatus

ADDRESS_KIND = {
    OutboundChannel.SMS: IdentityKind.PHONE,
    OutboundChannel.VOICE: IdentityKind.PHONE,
    OutboundChannel.EMAIL: IdentityKind.EMAIL,
}


@dataclass(frozen=True)
class Texts:
    """A message in each language it is written in; ``subject`` only matters for email."""

    body: Mapping[Any, str]
    subject: Mapping[Any, str] | None = None

    def pick(self, language: str | None, fallback: str) -> tuple[str, str, str | None]:
        """The customer's language if the message is written in it, else the fallback's."""
        chosen = next(
            (c for c in (language, fallback) if c is not None and c in self.body),
            next(iter(self.body)),
        )
        subject = self.subject.get(chosen) if self.subject else None
        return chosen, self.body[chosen], subject


def _consented(customer: Customer, channel: OutboundChannel) -> bool:
    if channel == OutboundChannel.EMAIL:
        return customer.consent_email
    # A voice call or an SMS goes to the phone the customer agreed to be contacted on.
    return customer.consent_sms


def channel_order(customer: Customer, wanted: str, *, fall_back: bool) -> list[OutboundChannel]:
    """``wanted`` if it names a channel, else the customer's preferred one; then (when
    ``fall_back``, or for "preferred") the other written channels."""
    order = [OutboundChannel.SMS, OutboundChannel.EMAIL]
    first = wanted if wanted in set(OutboundChannel) else customer.preferred_channel
    if wanted in set(OutboundChannel) and not fall_back:
        return [OutboundChannel(wanted)]
    if first in set(OutboundChannel):
        order = [OutboundChannel(first), *(c for c in order if c != first)]
    return order


async def queue_message(
    session: AsyncSession,
    customer: Customer,
    texts: Texts,
    *,
    channel: str,
    purpose: str,
    ref_id: uuid.UUID | None = None,
    fallback_language: str = "es",
    fall_back: bool = False,
) -> OutboundMessage | None:
    """A message on the first consented channel the customer has an address for, or None."""
    query = select(CustomerIdentity).where(CustomerIdentity.customer_id == customer.id)
    identities = list((await session.execute(query)).scalars())
    for candidate in channel_order(customer, channel, fall_back=fall_back):
        address = next((i.value for i in identities if i.kind == ADDRESS_KIND[candidate]), None)
        if address is None or not _consented(customer, candidate):
            continue
        language, body, subject = texts.pick(customer.language, fallback_language)
        message = OutboundMessage(
            tenant_id=customer.tenant_id,
            id=new_id(),
            customer_id=customer.id,
            channel=candidate,
            to_address=address,
            language=language,
            subject=subject,
            body=body,
            purpose=purpose,
            ref_id=ref_id,
        )
        session.add(message)
        schedule(session, JobKind.OUTBOUND_SEND, ref_id=message.id)
        return message
    return None


async def record_delivery_report(
    session: AsyncSession, message_id: uuid.UUID, report: Report
) -> OutboundMessage | None:
    """Apply a status callback to the (scoped tenant's) message it names; None when there is no
    such message. Only a sent message takes an ending, once: repeats and late reports do not."""
    query = select(OutboundMessage).where(OutboundMessage.id == message_id).with_for_update()
    message = (await session.execute(query)).scalar_one_or_none()
    if message is None:
        return None
    ending = ending_of(report, call=message.channel == OutboundChannel.VOICE)
    if ending is not None and message.status == OutboundStatus.SENT:
        message.status = OutboundStatus.DELIVERED if ending.delivered else OutboundStatus.FAILED
        message.error = ending.error
        await session.flush()
    return message
