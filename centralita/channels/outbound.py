"""The one outbound protocol: an agent's message reaches the customer through its channel's sender.

When an agent (or a bot) writes on an interaction whose channel is delivered by a provider (email,
SMS), the interactions service writes a ``channel.delivery`` job in the same transaction. The job
worker hands the message to the sender registered for that channel. A sender that fails raises,
and the worker tries again later with back-off; a sender must make a repeated attempt harmless
(for email, the same Message-ID; for an SMS, a provider idempotency key), because a crash after the
provider accepted a message but before the commit repeats the attempt.
"""

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.scoping import use_tenant_scope
from centralita.interactions.models import Channel, Interaction, Message
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobHandler, is_last_attempt

Sender = Callable[[AsyncSession, Interaction, Message, datetime, bool], Awaitable[None]]
"""Sends one message to the customer of its interaction; raises when it could not. The flag says
this is the last attempt: a sender that can record the failure for the agent does so instead."""


class NoSender(RuntimeError):
    """No sender is configured for the message's channel (the job is retried, then dropped)."""


def delivery_handlers(senders: Mapping[Channel, Sender]) -> dict[str, JobHandler]:
    """The job handler that delivers agents' messages with these senders, per channel."""

    async def deliver(session: AsyncSession, job: Job, now: datetime) -> None:
        message = (
            await session.execute(select(Message).where(Message.id == job.ref_id))
        ).scalar_one_or_none()
        if message is None:  # the conversation was erased meanwhile
            return
        await use_tenant_scope(session, message.tenant_id)
        interaction = (
            await session.execute(
                select(Interaction).where(Interaction.id == message.interaction_id)
            )
        ).scalar_one()
        sender = senders.get(Channel(interaction.channel))
        if sender is None:
            raise NoSender(f"no sender is configured for {interaction.channel}")
        await sender(session, interaction, message, now, is_last_attempt(job))

    return {JobKind.CHANNEL_DELIVERY: deliver}
