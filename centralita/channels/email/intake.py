"""Storing an email that arrived: recognised, threaded onto a ticket, or held, in one transaction.

The SMTP listener and the IMAP poller both call :func:`deliver`, and acknowledge the message only
once it returns: by then every recipient tenant's transaction has committed, raw message included.
A message seen before (same Message-ID in the tenant) stores nothing, also when two deliveries race.
"""

import asyncio
import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.email.mime import Parsed, Unreadable, parse
from centralita.channels.email.models import (
    Direction,
    EmailAttachment,
    EmailRecord,
    EmailStatus,
)
from centralita.channels.email.threads import participants, ticket_for, visible_reply
from centralita.channels.inbound import channel_actor
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.service import owner_of
from centralita.config import Settings
from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.customers.service import checked_identity, find_or_create
from centralita.db.base import new_id, utcnow
from centralita.db.engine import Database
from centralita.errors import InvalidInput
from centralita.events.bus import Event, emit, supervisors_topic, user_topic
from centralita.i18n import TRANSLATIONS, gettext_noop
from centralita.interactions.models import AuthorKind, Channel
from centralita.interactions.schemas import MAX_ATTACHMENTS, AttachmentIn, MessageIn
from centralita.interactions.service import sanitise_html
from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.nlu.service import steer
from centralita.tenancy.models import Tenant
from centralita.tickets.desk import Desk, open_tenant_desk
from centralita.tickets.messages import post_message
from centralita.tickets.models import MessageKind, Ticket
from centralita.tickets.schemas import MAX_TEXT, MessageCreate, TicketCreate
from centralita.tickets.service import create_ticket

NO_SUBJECT = gettext_noop("(no subject)")
NO_TEXT = gettext_noop("(This email has no text; see its attachments.)")


@dataclass(frozen=True)
class Outcome:
    tenant_id: uuid.UUID
    email_id: uuid.UUID | None
    status: EmailStatus | None
    ticket_id: uuid.UUID | None
    duplicate: bool = False


async def recipient_tenants(db: Database, recipients: list[str]) -> dict[str, ChannelAddress]:
    """Our addresses among ``recipients``, each with its owner (unknown ones are left out)."""
    found: dict[str, ChannelAddress] = {}
    async with db.system_session() as session:
        for recipient in recipients:
            row = await owner_of(session, AddressChannel.EMAIL, recipient.strip().lower())
            if row is not None:
                found[row.address] = row
    return found


async def deliver(
    db: Database, raw: bytes, addresses: list[ChannelAddress], settings: Settings
) -> list[Outcome]:
    """Store ``raw`` once for each tenant it is addressed to; returns after every commit."""
    try:
        # In a thread: a large message must not stall the other SMTP sessions.
        parsed: Parsed | Unreadable = await asyncio.to_thread(parse, raw)
    except Unreadable as exc:
        parsed = exc
    by_tenant: dict[uuid.UUID, ChannelAddress] = {}
    for address in addresses:
        by_tenant.setdefault(address.tenant_id, address)
    outcomes = []
    for tenant_id, address in by_tenant.items():
        outcomes.append(await _deliver_to(db, tenant_id, address, raw, parsed, settings))
    return outcomes


async def _deliver_to(
    db: Database,
    tenant_id: uuid.UUID,
    address: ChannelAddress,
    raw: bytes,
    parsed: Parsed | Unreadable,
    settings: Settings,
) -> Outcome:
    message_id = _message_id(raw, parsed)
    async with db.tenant_session(tenant_id) as session:
        try:
            outcome = await store(session, address, raw, parsed, settings)
            await session.commit()
            return outcome
        except IntegrityError:
            await session.rollback()
            seen = await _seen(session, message_id)
            if seen is None:
                raise
            # The message was stored before (a retry), or a concurrent delivery committed first.
            return Outcome(tenant_id, seen.id, seen.status, seen.ticket_id, duplicate=True)


def _message_id(raw: bytes, parsed: Parsed | Unreadable) -> str:
    # Unreadable mail is named by a digest, so a retry of the same bytes stores nothing new.
    if isinstance(parsed, Parsed):
        return parsed.message_id
    return "sha256-" + hashlib.sha256(raw).hexdigest()


async def _seen(session: AsyncSession, message_id: str) -> EmailRecord | None:
    query = select(EmailRecord).where(
        EmailRecord.direction == Direction.IN, EmailRecord.message_id == message_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def store(
    session: AsyncSession,
    address: ChannelAddress,
    raw: bytes,
    parsed: Parsed | Unreadable,
    settings: Settings,
) -> Outcome:
    """Store one message for the address's tenant, in the caller's transaction.

    A message seen before is not looked up first: retries are rare, and a repeat fails on the
    Message-ID's unique key when its row is written, last, so the caller rolls everything back
    and reports the duplicate. Every message saves that lookup.
    """
    actor = channel_actor(Channel.EMAIL)
    desk = await open_tenant_desk(session, address.tenant_id, actor, settings.secret_key)
    tenant = desk.tenant
    if isinstance(parsed, Unreadable):
        record = _record(tenant.id, address, raw, None)
        record.status, record.reason = EmailStatus.REFUSED, f"unreadable: {parsed}"[:300]
        session.add(record)
        await session.flush()
        return Outcome(tenant.id, record.id, record.status, None)
    record = _record(tenant.id, address, raw, parsed)
    files = _attachments(record, parsed, settings)
    if parsed.message_id.endswith("@" + settings.email_domain):
        _set(record, EmailStatus.IGNORED, "our own mail came back")
    elif parsed.report is not None:
        await _bounce(session, record, parsed)
    elif not parsed.sender:
        _set(record, EmailStatus.REFUSED, "no sender address")
    else:
        # A message lists a handful of files, attached ones before inline images; an email
        # of hundreds keeps them all beside its record. Our own rows are not validated again:
        # an odd content type must not stop the email being stored.
        shown = sorted(files, key=lambda f: f.inline)[:MAX_ATTACHMENTS]
        listed = [AttachmentIn.model_construct(**f.listed(tenant.slug)) for f in shown]
        await _thread(session, desk, address, record, parsed, listed)
    # Added last, complete: one INSERT, and a concurrent delivery of the same Message-ID fails
    # here on the unique key, undoing everything it did.
    session.add(record)
    await session.flush()
    session.add_all(files)
    await session.flush()
    return Outcome(tenant.id, record.id, record.status, record.ticket_id)


def _record(
    tenant_id: uuid.UUID, address: ChannelAddress, raw: bytes, parsed: Parsed | None
) -> EmailRecord:
    record = EmailRecord(
        tenant_id=tenant_id,
        id=new_id(),
        direction=Direction.IN,
        status=EmailStatus.RECEIVED,
        mailbox=address.address,
        raw=raw,
        size=len(raw),
    )
    if parsed is None:
        record.message_id = _message_id(raw, Unreadable())
        record.counterpart = ""
        return record
    record.message_id = parsed.message_id
    record.counterpart = parsed.sender[:320]
    record.counterpart_name = (parsed.sender_name or "")[:200] or None
    record.subject = parsed.subject
    record.automatic = parsed.automatic is not None
    record.full_text = parsed.text
    record.visible_text = visible_reply(parsed.text)
    record.html = sanitise_html(parsed.html) if parsed.html else None
    if parsed.truncated:
        record.reason = ("truncated: " + "; ".join(dict.fromkeys(parsed.truncated)))[:300]
    return record


def _set(record: EmailRecord, status: EmailStatus, reason: str | None) -> None:
    record.status = status
    if reason is not None:
        record.reason = reason


def _attachments(record: EmailRecord, parsed: Parsed, settings: Settings) -> list[EmailAttachment]:
    """The files kept beside the email (each within the size limit; the rest stay in the raw
    message, and the record says so)."""
    kept, skipped = [], []
    for part in parsed.parts:
        if len(part.content) > settings.email_attachment_max_bytes:
            skipped.append(part.filename)
            continue
        kept.append(
            EmailAttachment(
                tenant_id=record.tenant_id,
                id=new_id(),
                email_id=record.id,
                filename=part.filename,
                content_type=part.content_type,
                content_id=part.content_id,
                inline=part.inline,
                size=len(part.content),
                content=part.content,
            )
        )
    if skipped:
        note = "attachments over the size limit kept only in the raw message: " + ", ".join(skipped)
        record.reason = "; ".join(filter(None, [record.reason, note]))[:300]
    return kept


async def _bounce(session: AsyncSession, record: EmailRecord, parsed: Parsed) -> None:
    """A delivery report: a permanent failure marks the address undeliverable for the agent."""
    _set(record, EmailStatus.BOUNCE, None)
    now = utcnow()
    for failure in parsed.report or []:
        if not failure.permanent:
            continue
        await session.execute(
            update(CustomerIdentity)
            .where(
                CustomerIdentity.kind == IdentityKind.EMAIL,
                CustomerIdentity.value == failure.recipient,
            )
            .values(
                undeliverable_at=now,
                undeliverable_reason=f"{failure.status} {failure.diagnostic}".strip()[:300],
            )
        )
    if parsed.reported_id is not None:
        original = (
            await session.execute(
                select(EmailRecord).where(
                    EmailRecord.direction == Direction.OUT,
                    EmailRecord.message_id == parsed.reported_id,
                )
            )
        ).scalar_one_or_none()
        if original is not None and any(f.permanent for f in parsed.report or []):
            original.status = EmailStatus.BOUNCED
            record.ticket_id = original.ticket_id


def _locale_text(tenant: Tenant, message: str) -> str:
    return TRANSLATIONS.get(tenant.default_locale, TRANSLATIONS["en"]).gettext(message)


async def _thread(
    session: AsyncSession,
    desk: Desk,
    address: ChannelAddress,
    record: EmailRecord,
    parsed: Parsed,
    files: list[AttachmentIn],
) -> None:
    ticket = await ticket_for(session, desk, parsed)
    text = (record.visible_text or _locale_text(desk.tenant, NO_TEXT))[:MAX_TEXT]
    # The work that answers the email shows its words and lists its files.
    said = MessageIn(author_kind=AuthorKind.CUSTOMER, text=text, attachments=files)
    if ticket is None:
        await _open_ticket(session, desk, address, record, parsed, said)
        return
    allowed = await participants(session, ticket)
    record.ticket_id = ticket.id
    if parsed.automatic is not None:
        # An out-of-office answer to our reply must not reopen the ticket or queue work again.
        _set(record, EmailStatus.RECEIVED, f"automatic ({parsed.automatic}): not added")
        return
    if record.counterpart not in allowed:
        # Reply-To is never consulted: only the author (From) may speak for the customer.
        _set(record, EmailStatus.HELD, "the sender is not a participant of the ticket")
        _announce_held(session, desk, ticket, record)
        return
    message = await post_message(
        session, desk, ticket.id, MessageCreate(kind=MessageKind.CUSTOMER, text=text), said
    )
    # A reply to a closed ticket lands in a follow-up ticket.
    record.ticket_id, record.message_ref = message.ticket_id, message.id


async def _open_ticket(
    session: AsyncSession,
    desk: Desk,
    address: ChannelAddress,
    record: EmailRecord,
    parsed: Parsed,
    said: MessageIn,
) -> None:
    try:
        sender = checked_identity(IdentityKind.EMAIL, parsed.sender, desk.rules, "from")
    except InvalidInput:
        _set(record, EmailStatus.REFUSED, "the sender address is not valid")
        return
    customer = (
        await find_or_create(
            session, desk.tenant.id, IdentityKind.EMAIL, sender, parsed.sender_name
        )
    ).customer
    # Steered before the ticket is numbered: the tenant's number row stays locked from then until
    # commit, and every other new ticket of the tenant waits for it.
    steering = await steer(session, desk.tenant.id, f"{parsed.subject}\n{said.text}")
    ticket = await create_ticket(
        session,
        desk,
        TicketCreate(
            requester_id=customer.id,
            subject=parsed.subject or _locale_text(desk.tenant, NO_SUBJECT),
            description=said.text,
            channel=Channel.EMAIL,
        ),
        # The work goes where the tenant's intents send its words, else the address's queue.
        work_queue=(steering.queue if steering else None) or address.queue,
        work_topic=steering.intent if steering else None,
        customer_said=said,
    )
    record.ticket_id = ticket.id
    if address.settings.get("auto_acknowledge") and parsed.automatic is None:
        schedule(session, JobKind.EMAIL_ACKNOWLEDGEMENT, ref_id=record.id)


def _announce_held(session: AsyncSession, desk: Desk, ticket: Ticket, record: EmailRecord) -> None:
    recipients = [supervisors_topic(ticket.tenant_id)]
    if ticket.assignee_user_id is not None:
        recipients.append(user_topic(ticket.assignee_user_id))
    data = {
        "email_id": record.id,
        "ticket_id": ticket.id,
        "reference": desk.reference(ticket),
        "sender": record.counterpart,
    }
    emit(session, Event("email.held", ticket.tenant_id, data, tuple(recipients)))
