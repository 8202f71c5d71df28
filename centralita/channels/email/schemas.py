"""API shapes of stored email."""

import uuid
from datetime import datetime

from centralita.channels.email.models import Direction, EmailStatus
from centralita.schemas import Read


class AttachmentOut(Read):
    id: uuid.UUID
    filename: str
    content_type: str
    content_id: str | None
    inline: bool
    size: int


class EmailOut(Read):
    id: uuid.UUID
    direction: Direction
    message_id: str
    status: EmailStatus
    reason: str | None
    counterpart: str
    counterpart_name: str | None
    mailbox: str
    subject: str
    automatic: bool
    ticket_id: uuid.UUID | None
    interaction_id: uuid.UUID | None
    message_ref: uuid.UUID | None
    size: int
    created_at: datetime
    sent_at: datetime | None


class EmailDetail(EmailOut):
    visible_text: str
    full_text: str
    html: str | None
    attachments: list[AttachmentOut]
