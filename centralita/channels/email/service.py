"""What agents and operators do with email: read it, decide on held mail, ask for confirmations."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from centralita.channels.email.models import EmailAttachment, EmailRecord, EmailStatus
from centralita.db.paging import DEFAULT_LIMIT, Slice, paginate
from centralita.errors import Conflict, NotFound
from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.tickets.desk import Desk
from centralita.tickets.messages import post_message
from centralita.tickets.models import MessageKind, Ticket
from centralita.tickets.schemas import MAX_TEXT, MessageCreate


def send_ticket_confirmation(session: AsyncSession, ticket: Ticket) -> None:
    """Email the requester that their ticket (opened on the web portal) is registered; durable,
    in the caller's transaction, sent once."""
    schedule(session, JobKind.EMAIL_CONFIRMATION, ref_id=ticket.id)


async def list_emails(
    session: AsyncSession,
    *,
    status: EmailStatus | None = None,
    ticket_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Slice[EmailRecord]:
    query = select(EmailRecord)
    if status is not None:
        query = query.where(EmailRecord.status == status)
    if ticket_id is not None:
        query = query.where(EmailRecord.ticket_id == ticket_id)
    return await paginate(
        session, query, (EmailRecord.created_at, EmailRecord.id), cursor=cursor, limit=limit
    )


async def get_email(
    session: AsyncSession, email_id: uuid.UUID, *, for_update: bool = False
) -> EmailRecord:
    query = select(EmailRecord).where(EmailRecord.id == email_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound("Email not found")
    return found


async def raw_email(session: AsyncSession, email_id: uuid.UUID) -> bytes:
    query = select(EmailRecord.raw).where(EmailRecord.id == email_id)
    raw = (await session.execute(query)).scalar_one_or_none()
    if raw is None:
        raise NotFound("Email not found")
    return raw


async def attachments_of(session: AsyncSession, email_id: uuid.UUID) -> list[EmailAttachment]:
    query = (
        select(EmailAttachment)
        .where(EmailAttachment.email_id == email_id)
        .order_by(EmailAttachment.created_at, EmailAttachment.id)
    )
    return list((await session.execute(query)).scalars())


async def get_attachment(session: AsyncSession, attachment_id: uuid.UUID) -> EmailAttachment:
    query = (
        select(EmailAttachment)
        .where(EmailAttachment.id == attachment_id)
        .options(undefer(EmailAttachment.content))
    )
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound("Attachment not found")
    return found


def _held(record: EmailRecord) -> None:
    if record.status != EmailStatus.HELD or record.ticket_id is None:
        raise Conflict(f"This email is {record.status}, not held", "email-not-held")


async def release(session: AsyncSession, desk: Desk, email_id: uuid.UUID) -> EmailRecord:
    """An agent accepts held mail: it becomes the customer's reply on its ticket, and its sender
    a participant from now on."""
    record = await get_email(session, email_id, for_update=True)
    _held(record)
    assert record.ticket_id is not None  # checked by _held
    text = record.visible_text[:MAX_TEXT] or record.subject or "-"
    message = await post_message(
        session, desk, record.ticket_id, MessageCreate(kind=MessageKind.CUSTOMER, text=text)
    )
    record.status, record.ticket_id, record.message_ref = (
        EmailStatus.RELEASED,
        message.ticket_id,
        message.id,
    )
    await session.flush()
    return record


async def dismiss(session: AsyncSession, email_id: uuid.UUID) -> EmailRecord:
    """An agent drops held mail; it stays stored, out of the ticket."""
    record = await get_email(session, email_id, for_update=True)
    _held(record)
    record.status = EmailStatus.DISMISSED
    await session.flush()
    return record
