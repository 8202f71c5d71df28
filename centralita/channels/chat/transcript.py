"""A chat transcript by email: the ``chat.transcript`` job sends it through the email channel.

Sent to the customer's email address (the one given in the pre-chat form), from the tenant's
mailbox, once per conversation: the email channel's ``send_once`` keys it by a Message-ID derived
from the conversation, and honours undeliverable addresses and the cap on automatic mail.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.email.outbound import Outgoing, Relay, send_once
from centralita.channels.texts import transcript_text
from centralita.db.scoping import use_tenant_scope
from centralita.i18n import TRANSLATIONS, format_moment
from centralita.interactions.models import AuthorKind, Interaction, Message
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobHandler, is_last_attempt
from centralita.tenancy.models import Tenant


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


def transcript_handlers(relay: Relay) -> dict[str, JobHandler]:
    async def send_transcript(session: AsyncSession, job: Job, now: datetime) -> None:
        interaction = (
            await session.execute(select(Interaction).where(Interaction.id == job.ref_id))
        ).scalar_one_or_none()
        if interaction is None:
            return
        await use_tenant_scope(session, interaction.tenant_id)
        tenant = await session.get(Tenant, interaction.tenant_id)
        if tenant is None:
            return
        messages = (
            await session.execute(
                select(Message)
                .where(Message.interaction_id == interaction.id)
                .order_by(Message.created_at, Message.id)
            )
        ).scalars()
        locale = interaction.language if interaction.language in TRANSLATIONS else "es"
        outgoing = Outgoing(
            tenant=tenant,
            message_id=relay.message_id("transcript", interaction.id),
            customer_id=interaction.customer_id,
            subject=transcript_text(locale, "subject", name=tenant.name),
            text=transcript_body(locale, tenant, list(messages)),
            html=None,
            interaction_id=interaction.id,
            automatic="auto-generated",
        )
        await send_once(session, relay, outgoing, now, last_attempt=is_last_attempt(job))

    return {JobKind.CHAT_TRANSCRIPT: send_transcript}
