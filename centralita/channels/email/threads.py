"""Which ticket an email belongs to, who may write on it, and what part of a reply is new.

A reply is threaded by its In-Reply-To and References against Message-IDs this tenant has seen or
sent, then by the ticket number in its subject (``[BP-1042]``). Every lookup runs in the tenant's
scoped session, so a thread can never reach another tenant's ticket.
"""

import re

from email_reply_parser import EmailReplyParser
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.email.mime import Parsed
from centralita.channels.email.models import Direction, EmailRecord, EmailStatus
from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.tickets.desk import Desk
from centralita.tickets.models import Ticket

SUBJECT_REFERENCE = re.compile(r"\[([A-Za-z0-9]{1,10})-(\d{1,9})\]")
# Quote headers email-reply-parser does not know: Spanish clients and Outlook's separators.
QUOTE_HEADER = re.compile(
    r"(?im)^\s*(-{2,}\s*(original message|mensaje original|forwarded message|mensaje reenviado)"
    r"\s*-{2,}|el .{5,300}escribi[óo]:|on .{5,300}wrote:|_{20,})\s*$"
)
# Senders whose mail counts as the customer's on the ticket.
ACCEPTED = (EmailStatus.RECEIVED, EmailStatus.RELEASED)


def visible_reply(text: str) -> str:
    """What the customer wrote this time: quoted history and signature removed."""
    found = QUOTE_HEADER.search(text)
    head = text[: found.start()] if found else text
    visible = str(EmailReplyParser.parse_reply(head)).strip()
    return visible or text.strip()


async def ticket_for(session: AsyncSession, desk: Desk, parsed: Parsed) -> Ticket | None:
    """The ticket this email continues, if any (a merged ticket is followed by the caller)."""
    if parsed.answers:
        # The ticket of the latest mail answered, in one round trip.
        answered = (
            select(Ticket)
            .join(
                EmailRecord,
                (EmailRecord.tenant_id == Ticket.tenant_id) & (EmailRecord.ticket_id == Ticket.id),
            )
            .where(EmailRecord.message_id.in_(parsed.answers))
            .order_by(EmailRecord.created_at.desc())
            .limit(1)
        )
        found = (await session.execute(answered)).scalar_one_or_none()
        if found is not None:
            return found
    for prefix, number in SUBJECT_REFERENCE.findall(parsed.subject):
        if prefix.upper() == desk.prefix.upper():
            numbered = select(Ticket).where(Ticket.number == int(number))
            found = (await session.execute(numbered)).scalar_one_or_none()
            if found is not None:
                return found
    return None


async def participants(session: AsyncSession, ticket: Ticket) -> set[str]:
    """The addresses that speak for the customer on a ticket: the requester's, and anyone whose
    mail on it was accepted (an agent released it, or it was the mail that opened the ticket)."""
    requester = select(CustomerIdentity.value).where(
        CustomerIdentity.customer_id == ticket.requester_id,
        CustomerIdentity.kind == IdentityKind.EMAIL,
    )
    writers = select(EmailRecord.counterpart).where(
        EmailRecord.ticket_id == ticket.id,
        EmailRecord.direction == Direction.IN,
        EmailRecord.status.in_(ACCEPTED),
    )
    found = set((await session.execute(requester)).scalars())
    found.update((await session.execute(writers)).scalars())
    return found


def reply_subject(reference: str, subject: str) -> str:
    """``Re: [BP-1042] subject``, without stacking prefixes or repeating the reference."""
    bare = re.sub(r"^\s*((re|aw|fwd?|rv|res)\s*:\s*)+", "", subject, flags=re.IGNORECASE)
    tagged = bare if f"[{reference}]" in bare else f"[{reference}] {bare}".strip()
    return f"Re: {tagged}"[:300]
