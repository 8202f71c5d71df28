"""Sending email through the tenant's relay, at most once per message, from durable jobs.

Each outgoing email has a Message-ID derived from what it is for (the ticket reply, the
interaction message, the ticket it acknowledges), and its ``email_messages`` row, the sent-marker,
is written in the job's own transaction. The job and the marker commit together: a retry after a
committed send finds the marker and sends nothing, and a failed send leaves no marker, so the job
tries again and the reply is never lost. The one window left is a crash after the relay accepted
the message and before that commit: the retry sends it again with the same Message-ID, which
receiving systems use to recognise a duplicate.
"""

import html as html_module
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.email.mime import format_address
from centralita.channels.email.models import Direction, EmailAttachment, EmailRecord, EmailStatus
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.config import Settings
from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.tenancy.models import Tenant

# How many earlier Message-IDs a reply's References carries (the first one and the latest).
MAX_REFERENCES = 20
# Mail that is part of a thread; reports and loops are not.
THREAD_STATUSES = (
    EmailStatus.RECEIVED,
    EmailStatus.RELEASED,
    EmailStatus.HELD,
    EmailStatus.SENT,
)


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    domain: str
    automatic_per_hour: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "Relay | None":
        if settings.smtp_relay_host is None:
            return None
        return cls(
            host=settings.smtp_relay_host,
            port=settings.smtp_relay_port,
            username=settings.smtp_relay_username,
            password=settings.smtp_relay_password,
            starttls=settings.smtp_relay_starttls,
            domain=settings.email_domain,
            automatic_per_hour=settings.email_auto_replies_per_hour,
        )

    def message_id(self, kind: str, ref: object) -> str:
        return f"{kind}.{ref}@{self.domain}"


@dataclass(frozen=True)
class Outgoing:
    tenant: Tenant
    message_id: str
    customer_id: uuid.UUID
    subject: str
    text: str
    html: str | None
    ticket_id: uuid.UUID | None = None
    interaction_id: uuid.UUID | None = None
    message_ref: uuid.UUID | None = None
    # "auto-replied" or "auto-generated" for mail no person wrote (RFC 3834).
    automatic: str | None = None
    # More header fields, such as a campaign's List-Unsubscribe (RFC 2369, RFC 8058).
    headers: Mapping[str, str] = field(default_factory=dict)
    # Files the agent attached (their content loaded); linked to the email once it is recorded.
    attachments: Sequence[EmailAttachment] = ()


class NotSent(RuntimeError):
    """The relay could not take the message this time: the caller tries again later."""


def _refused_for_good(exc: aiosmtplib.SMTPException) -> bool:
    """A 5xx answer (unknown mailbox, rejected content): trying again cannot help."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code >= 500
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refusal.code >= 500 for refusal in exc.recipients)
    return False


async def send_once(
    session: AsyncSession,
    relay: Relay,
    outgoing: Outgoing,
    now: datetime,
    *,
    last_attempt: bool = False,
) -> EmailRecord:
    """Send ``outgoing`` unless its Message-ID went out (or was decided on) before.

    A relay that cannot be reached or answers "try later" raises :class:`NotSent`, unless this is
    the ``last_attempt``: then, as for a permanent refusal, the message is recorded ``failed``
    with the relay's reason, which also stops every later attempt."""
    query = select(EmailRecord).where(
        EmailRecord.direction == Direction.OUT, EmailRecord.message_id == outgoing.message_id
    )
    existing = (await session.execute(query)).scalar_one_or_none()
    if existing is not None:
        return existing
    thread = await _thread(session, outgoing)
    mailbox = await _mailbox(session, thread)
    recipient = await _recipient(session, outgoing, thread)
    record = EmailRecord(
        tenant_id=outgoing.tenant.id,
        direction=Direction.OUT,
        message_id=outgoing.message_id,
        status=EmailStatus.SENT,
        counterpart=recipient or "",
        mailbox=mailbox.address if mailbox else "",
        subject=outgoing.subject[:300],
        automatic=outgoing.automatic is not None,
        ticket_id=outgoing.ticket_id,
        interaction_id=outgoing.interaction_id,
        message_ref=outgoing.message_ref,
        visible_text=outgoing.text,
        full_text=outgoing.text,
        html=outgoing.html,
        raw=b"",
        created_at=now,
        updated_at=now,
    )
    if mailbox is None:
        record.status, record.reason = EmailStatus.UNDELIVERABLE, "the tenant has no email address"
    elif recipient is None:
        record.status, record.reason = EmailStatus.UNDELIVERABLE, "no deliverable address"
    elif outgoing.automatic and await _over_cap(session, relay, recipient, now):
        record.status, record.reason = EmailStatus.SKIPPED, "automatic mail cap for this hour"
    else:
        mime = compose(relay, outgoing, mailbox, recipient, thread, now)
        try:
            await aiosmtplib.send(
                mime,
                sender=mailbox.address,
                recipients=[recipient],
                hostname=relay.host,
                port=relay.port,
                username=relay.username,
                password=relay.password,
                start_tls=relay.starttls,
                timeout=30,
            )
        except (OSError, aiosmtplib.SMTPException) as exc:
            refused = isinstance(exc, aiosmtplib.SMTPException) and _refused_for_good(exc)
            if not (refused or last_attempt):
                raise NotSent(f"the relay did not take it: {exc}") from exc
            record.status, record.reason = EmailStatus.FAILED, f"not sent: {exc}"[:300]
        else:
            raw = mime.as_bytes()
            record.raw, record.size, record.sent_at = raw, len(raw), now
    session.add(record)
    await session.flush()
    for attachment in outgoing.attachments:
        attachment.email_id = record.id
    return record


def compose(
    relay: Relay,
    outgoing: Outgoing,
    mailbox: ChannelAddress,
    recipient: str,
    thread: list[EmailRecord],
    now: datetime,
) -> EmailMessage:
    """A multipart text+HTML message with threading headers and the tenant's From address."""
    mime = EmailMessage()
    mime["From"] = format_address(mailbox.display_name or outgoing.tenant.name, mailbox.address)
    mime["To"] = recipient
    mime["Subject"] = outgoing.subject
    mime["Date"] = format_datetime(now)
    mime["Message-ID"] = f"<{outgoing.message_id}>"
    ids = [record.message_id for record in thread]
    answered = [r.message_id for r in thread if r.direction == Direction.IN]
    if ids:
        mime["In-Reply-To"] = f"<{(answered or ids)[-1]}>"
        kept = ids if len(ids) <= MAX_REFERENCES else [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
        mime["References"] = " ".join(f"<{i}>" for i in kept)
    if outgoing.automatic:
        mime["Auto-Submitted"] = outgoing.automatic
        # Other responders keep quiet too (Microsoft's convention).
        mime["X-Auto-Response-Suppress"] = "All"
    for name, value in outgoing.headers.items():
        mime[name] = value
    mime.set_content(outgoing.text)
    mime.add_alternative(outgoing.html or text_as_html(outgoing.text), subtype="html")
    for attachment in outgoing.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mime.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return mime


def text_as_html(text: str) -> str:
    paragraphs = (html_module.escape(block).replace("\n", "<br>") for block in text.split("\n\n"))
    body = "".join(f"<p>{p}</p>" for p in paragraphs if p.strip())
    return f'<!doctype html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


async def _thread(session: AsyncSession, outgoing: Outgoing) -> list[EmailRecord]:
    """The mail of the ticket (or else the interaction) this one continues, oldest first."""
    query = select(EmailRecord).where(EmailRecord.status.in_(THREAD_STATUSES))
    if outgoing.ticket_id is not None:
        query = query.where(EmailRecord.ticket_id == outgoing.ticket_id)
    elif outgoing.interaction_id is not None:
        query = query.where(EmailRecord.interaction_id == outgoing.interaction_id)
    else:
        return []
    return list((await session.execute(query.order_by(EmailRecord.created_at))).scalars())


async def _mailbox(session: AsyncSession, thread: list[EmailRecord]) -> ChannelAddress | None:
    """The address the customer wrote to, else the tenant's first email address."""
    query = select(ChannelAddress).where(ChannelAddress.channel == AddressChannel.EMAIL)
    rows = list((await session.execute(query.order_by(ChannelAddress.created_at))).scalars())
    wrote_to = [r.mailbox for r in thread if r.direction == Direction.IN]
    for row in rows:
        if wrote_to and row.address == wrote_to[-1]:
            return row
    return rows[0] if rows else None


async def _recipient(
    session: AsyncSession, outgoing: Outgoing, thread: list[EmailRecord]
) -> str | None:
    """The customer's address they last wrote from, else any of theirs; never a bounced one."""
    query = select(CustomerIdentity).where(
        CustomerIdentity.customer_id == outgoing.customer_id,
        CustomerIdentity.kind == IdentityKind.EMAIL,
        CustomerIdentity.undeliverable_at.is_(None),
    )
    usable = [identity.value for identity in (await session.execute(query)).scalars()]
    for record in reversed(thread):
        if record.direction == Direction.IN and record.counterpart in usable:
            return record.counterpart
    return sorted(usable)[0] if usable else None


async def _over_cap(session: AsyncSession, relay: Relay, recipient: str, now: datetime) -> bool:
    query = select(func.count()).where(
        EmailRecord.direction == Direction.OUT,
        EmailRecord.counterpart == recipient,
        EmailRecord.automatic.is_(True),
        EmailRecord.status == EmailStatus.SENT,
        EmailRecord.created_at > now - timedelta(hours=1),
    )
    return int((await session.execute(query)).scalar_one()) >= relay.automatic_per_hour
