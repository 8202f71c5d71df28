"""A chat transcript by email: the ``chat.transcript`` job sends it over SMTP with aiosmtplib.

Sent to the email the visitor gave in the pre-chat form. The Message-ID is derived from the
conversation, so a repeat after a crash between sending and committing is recognisable as the same
mail by the receiving side.
"""

from datetime import datetime
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.config import Settings
from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.db.scoping import use_tenant_scope
from centralita.interactions.models import AuthorKind, Interaction, Message
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobHandler
from centralita.tenancy.models import Tenant
from centralita.web.channel_texts import transcript_text
from centralita.web.i18n import TRANSLATIONS, format_moment


def transcript_body(locale: str, tenant: Tenant, messages: list[Message]) -> str:
    labels = {
        AuthorKind.CUSTOMER: transcript_text(locale, "customer"),
        AuthorKind.AGENT: transcript_text(locale, "agent"),
        AuthorKind.BOT: transcript_text(locale, "bot"),
    }
    lines = [transcript_text(locale, "heading", name=tenant.name), ""]
    for message in messages:
        label = labels.get(AuthorKind(message.author_kind))
        if label is not None:
            when = format_moment(message.created_at, locale, tenant.time_zone, "short")
            lines.append(f"[{when}] {label}: {message.text}")
    return "\n".join(lines) + "\n"


def transcript_handlers(settings: Settings) -> dict[str, JobHandler]:
    async def send_transcript(session: AsyncSession, job: Job, now: datetime) -> None:
        interaction = (
            await session.execute(select(Interaction).where(Interaction.id == job.ref_id))
        ).scalar_one_or_none()
        if interaction is None or settings.chat_transcript_smtp_host is None:
            return
        await use_tenant_scope(session, interaction.tenant_id)
        tenant = await session.get(Tenant, interaction.tenant_id)
        email = await session.scalar(
            select(CustomerIdentity.value).where(
                CustomerIdentity.customer_id == interaction.customer_id,
                CustomerIdentity.kind == IdentityKind.EMAIL,
            )
        )
        if tenant is None or email is None:
            return
        messages = (
            await session.execute(
                select(Message)
                .where(Message.interaction_id == interaction.id)
                .order_by(Message.created_at, Message.id)
            )
        ).scalars()
        locale = interaction.language if interaction.language in TRANSLATIONS else "es"
        mail = EmailMessage()
        mail["From"] = settings.chat_transcript_from
        mail["To"] = email
        mail["Subject"] = transcript_text(locale, "subject", name=tenant.name)
        mail["Message-ID"] = f"<transcript.{interaction.id}@centralita>"
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(transcript_body(locale, tenant, list(messages)))
        await aiosmtplib.send(
            mail,
            hostname=settings.chat_transcript_smtp_host,
            port=settings.chat_transcript_smtp_port,
        )

    return {JobKind.CHAT_TRANSCRIPT: send_transcript}
