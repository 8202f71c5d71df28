"""Every email that came in or went out, with its raw form and its attachments.

Raw messages and attachments are kept in the database rather than on disk: they are written in the
same transaction as the ticket they feed, so the SMTP ``250`` promises exactly what was committed,
several API processes need no shared volume, and backups hold them. Size limits keep them bounded.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class EmailStatus(StrEnum):
    RECEIVED = "received"  # became a ticket or a reply on one
    HELD = "held"  # a non-participant wrote on a ticket: an agent decides
    RELEASED = "released"  # held, then appended by an agent
    DISMISSED = "dismissed"  # held, then dropped by an agent
    BOUNCE = "bounce"  # a delivery report
    IGNORED = "ignored"  # our own mail come back: a loop
    REFUSED = "refused"  # could not be read within the limits; kept raw for an operator
    SENT = "sent"
    BOUNCED = "bounced"  # sent, and a delivery report said it failed
    UNDELIVERABLE = "undeliverable"  # not sent: no usable address
    FAILED = "failed"  # not sent: the relay refused it for good, or failed on the last attempt
    SKIPPED = "skipped"  # automatic mail not sent (loop guard or hourly cap)


class EmailRecord(TenantEntity, Base):
    __tablename__ = "email_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "direction", "message_id"),
        ForeignKeyConstraint(["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "interaction_id"], ["interactions.tenant_id", "interactions.id"]
        ),
        # Threading looks up Message-IDs whichever way they went.
        Index("ix_email_messages_message_id", "tenant_id", "message_id"),
        Index("ix_email_messages_ticket", "tenant_id", "ticket_id", "created_at"),
        Index("ix_email_messages_status", "tenant_id", "status", "created_at"),
        # The hourly cap on automatic mail counts per recipient.
        Index("ix_email_messages_counterpart", "tenant_id", "counterpart", "created_at"),
    )

    direction: Mapped[Direction] = mapped_column(String(3))
    # Without angle brackets; for mail that came without one, a digest of the raw bytes.
    message_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[EmailStatus] = mapped_column(String(15))
    reason: Mapped[str | None] = mapped_column(String(300))
    # The customer's side: who wrote to us, or whom we wrote to.
    counterpart: Mapped[str] = mapped_column(String(320))
    counterpart_name: Mapped[str | None] = mapped_column(String(200))
    # Our side: the tenant's address it came to or went from.
    mailbox: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    # Sent or received by a machine (auto-reply, list, report): never answered automatically.
    automatic: Mapped[bool] = mapped_column(default=False)
    ticket_id: Mapped[uuid.UUID | None]
    interaction_id: Mapped[uuid.UUID | None]
    # The ticket or interaction message this email became, or was sent for.
    message_ref: Mapped[uuid.UUID | None]
    # What the agent reads (quoted history and signature removed) and the whole text.
    visible_text: Mapped[str] = mapped_column(Text, default="")
    full_text: Mapped[str] = mapped_column(Text, default="")
    # Sanitised (interactions.service.sanitise_html): no images, scripts or styles.
    html: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(default=0)
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sent_at: Mapped[datetime | None]


class EmailAttachment(TenantEntity, Base):
    """A file that came with an email, or one an agent attached to a reply.

    An agent's file is stored with the interaction message it was sent with (``message_ref``),
    in the same transaction as that message and its delivery job; the email it went out in is
    filled in (``email_id``) when the job sends it.
    """

    __tablename__ = "email_attachments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "email_id"],
            ["email_messages.tenant_id", "email_messages.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "message_ref"],
            ["interaction_messages.tenant_id", "interaction_messages.id"],
            ondelete="CASCADE",
        ),
        Index("ix_email_attachments_email", "tenant_id", "email_id"),
        Index("ix_email_attachments_message", "tenant_id", "message_ref"),
    )

    email_id: Mapped[uuid.UUID | None]
    message_ref: Mapped[uuid.UUID | None]
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    # An inline image's Content-ID, so the original can be reassembled by an operator.
    content_id: Mapped[str | None] = mapped_column(String(300))
    inline: Mapped[bool] = mapped_column(default=False)
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    def listed(self, tenant_slug: str) -> dict[str, Any]:
        """The file as a conversation message lists it: the agent downloads it from here."""
        return {
            "name": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "url": f"/api/v1/tenants/{tenant_slug}/email/attachments/{self.id}",
        }
