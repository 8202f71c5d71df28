"""An agent's email reply with files: checked, stored with its message, sent by the durable job.

The message, its files and its delivery job are written in one transaction, so a reply the agent
saw accepted is sent with every file even if the worker crashes before sending it (the job runs
again). The files live in ``email_attachments`` beside those that came in by email, and are read
back through the same tenant-scoped download.
"""

import mimetypes
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.email.models import EmailAttachment
from centralita.db.base import new_id, utcnow
from centralita.errors import Conflict, DomainError, InvalidInput
from centralita.events.service import Actor
from centralita.interactions.models import AuthorKind, Channel, Interaction, Message
from centralita.interactions.schemas import MAX_TEXT, MessageIn
from centralita.interactions.service import announce_message, get_interaction, new_message

# Within what common mail providers accept for a whole message once encoded (about 25 MB).
MAX_FILE_BYTES = 10_000_000
MAX_REPLY_BYTES = 15_000_000
MAX_FILES = 10
# Programs and scripts: mail systems drop or quarantine them, and customers should not get them.
REFUSED_EXTENSIONS = frozenset(
    {
        "bat", "cmd", "com", "cpl", "dll", "exe", "hta", "jar", "js", "jse", "lnk", "msi",
        "msp", "ps1", "psm1", "reg", "scr", "sh", "vb", "vbe", "vbs", "wsf", "wsh",
    }
)  # fmt: skip
TOO_LARGE_TOGETHER = f"the files together are larger than {MAX_REPLY_BYTES // 1_000_000} MB"
CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


class TooLarge(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, 413, "Content too large", "attachments-too-large")


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    content: bytes


def clean_filename(name: str) -> str:
    """The file's own name (no folders), printable, at most 255 characters; kept as text."""
    base = re.split(r"[\\/]", name)[-1]
    printable = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return (printable or "attachment")[:255]


def checked(uploads: Sequence[Upload]) -> list[Upload]:
    """The files as they will be stored, or the reason they cannot be sent."""
    if len(uploads) > MAX_FILES:
        raise InvalidInput.on_field("body.files", f"attach at most {MAX_FILES} files")
    files = []
    for upload in uploads:
        name = clean_filename(upload.filename)
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension in REFUSED_EXTENSIONS:
            raise InvalidInput.on_field(
                "body.files", f"{name}: programs and scripts cannot be sent by email"
            )
        if not upload.content:
            raise InvalidInput.on_field("body.files", f"{name} is empty")
        if len(upload.content) > MAX_FILE_BYTES:
            raise TooLarge(f"{name} is larger than {MAX_FILE_BYTES // 1_000_000} MB")
        given = upload.content_type.split(";")[0].strip().lower()
        content_type = given if CONTENT_TYPE.match(given) else ""
        if content_type in ("", "application/octet-stream"):
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append(Upload(name, content_type[:100], upload.content))
    if sum(len(f.content) for f in files) > MAX_REPLY_BYTES:
        raise TooLarge(TOO_LARGE_TOGETHER)
    return files


async def email_work(session: AsyncSession, interaction_id: uuid.UUID) -> Interaction:
    """The email conversation a reply with files is for (404 if unknown in this tenant)."""
    interaction = await get_interaction(session, interaction_id)
    if interaction.channel != Channel.EMAIL:
        raise Conflict("Files can only be sent on email conversations", "not-email")
    return interaction


async def reply_with_files(
    session: AsyncSession,
    actor: Actor,
    interaction: Interaction,
    tenant_slug: str,
    text: str,
    uploads: Sequence[Upload],
) -> Message:
    """The agent's reply and its files, stored and queued for sending in the caller's
    transaction."""
    files = checked(uploads)
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput.on_field("body.text", f"at most {MAX_TEXT} characters")
    if not text and not files:
        raise InvalidInput.on_field("body.text", "write a reply or attach a file")
    now = utcnow()
    # Checked above; a reply of files alone may have no words, which MessageIn would refuse.
    said = MessageIn.model_construct(author_kind=AuthorKind.AGENT, text=text, attachments=[])
    message = new_message(interaction, said, actor, now)
    rows = [
        EmailAttachment(
            tenant_id=interaction.tenant_id,
            id=new_id(),
            message_ref=message.id,
            filename=f.filename,
            content_type=f.content_type,
            inline=False,
            size=len(f.content),
            content=f.content,
            created_at=now,
            updated_at=now,
        )
        for f in files
    ]
    message.attachments = [row.listed(tenant_slug) for row in rows]
    session.add(message)
    await session.flush()
    session.add_all(rows)
    announce_message(session, interaction, message)
    await session.flush()
    return message
