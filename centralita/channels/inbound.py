"""The one inbound protocol every channel adapter speaks.

An adapter turns a provider's payload into an :class:`Inbound` and calls :func:`receive`, which
recognises the customer, keeps one interaction per conversation, stores the message and makes the
work routable, all in the caller's transaction: the adapter acknowledges the provider only after
that commits, so nothing acknowledged is lost. A provider's retry of a message already stored is
recognised by its ``provider_ref`` and stores nothing, also when two deliveries race.

A message on a conversation that exists (the provider named it) takes the short way: its receipt
is claimed with ``INSERT .. ON CONFLICT DO NOTHING`` before anything else is written, so neither a
savepoint nor a customer lookup (the conversation knows its customer) is needed: a chat message
is four statements.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.models import ChannelReceipt
from centralita.customers.models import Customer, IdentityKind
from centralita.customers.service import IdentityRules, checked_identity, find_or_create
from centralita.db.base import utcnow
from centralita.errors import Conflict
from centralita.events.service import Actor
from centralita.interactions import service as interactions
from centralita.interactions.models import (
    AuthorKind,
    Channel,
    Interaction,
    InteractionState,
    Message,
)
from centralita.interactions.schemas import InteractionCreate, MessageIn
from centralita.tenancy.models import Tenant

OPEN_STATES = frozenset(
    {
        InteractionState.QUEUED,
        InteractionState.OFFERED,
        InteractionState.ACTIVE,
        InteractionState.WRAP_UP,
    }
)


@dataclass(frozen=True)
class Inbound:
    """One message (or event with words in it) from a customer on a channel."""

    channel: Channel
    # The provider's id for this message: the key that makes a retry harmless.
    provider_ref: str
    # Who wrote, as the channel knows them (an email address, a phone number, a chat visitor id).
    sender_kind: IdentityKind
    sender: str
    text: str
    # The provider's id for the whole conversation (a CallSid, a chat conversation id). Without
    # one (SMS), the customer's open conversation on the channel continues, or a new one starts.
    conversation_ref: str | None = None
    sender_name: str | None = None
    html: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    subject: str | None = None
    language: str | None = None
    queue: str | None = None
    topic: str | None = None
    priority: int = 5
    self_service_context: dict[str, Any] = field(default_factory=dict)
    # The sender, when the adapter has already recognised (or created) them in this
    # transaction: then ``sender`` is not looked up again.
    customer: Customer | None = None


@dataclass(frozen=True)
class Received:
    interaction: Interaction
    # None when the message had been received before (``duplicate``): nothing was written.
    message: Message | None
    customer_id: uuid.UUID
    new_conversation: bool
    duplicate: bool


def channel_actor(channel: Channel) -> Actor:
    return Actor(label=f"channel:{channel.value}")


async def receive(
    session: AsyncSession, tenant: Tenant, inbound: Inbound, rules: IdentityRules
) -> Received:
    """Store a customer's message on its conversation; a message seen before changes nothing."""
    if inbound.conversation_ref is not None:
        current = await conversation_by_ref(session, inbound.channel, inbound.conversation_ref)
        if current is not None:
            return await continue_conversation(session, current, inbound)
    # A retry is not looked up first (retries are rare): its receipt fails on the unique key,
    # and the savepoint takes back everything it wrote.
    try:
        async with session.begin_nested():
            received = await _store(session, tenant, inbound, rules)
            session.add(
                ChannelReceipt(
                    tenant_id=tenant.id,
                    channel=inbound.channel.value,
                    provider_ref=inbound.provider_ref,
                    interaction_id=received.interaction.id,
                    message_id=received.message.id if received.message else None,
                )
            )
    except IntegrityError:
        # The provider's message was stored before, or a concurrent delivery stored it first;
        # or another message started the conversation first, and this one continues it.
        seen = await _receipt(session, inbound)
        if seen is not None:
            return await _duplicate(session, seen)
        if inbound.conversation_ref is None:
            raise
        current = await conversation_by_ref(session, inbound.channel, inbound.conversation_ref)
        if current is None:
            raise
        return await continue_conversation(session, current, inbound)
    return received


async def _receipt(session: AsyncSession, inbound: Inbound) -> ChannelReceipt | None:
    query = select(ChannelReceipt).where(
        ChannelReceipt.channel == inbound.channel.value,
        ChannelReceipt.provider_ref == inbound.provider_ref,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _duplicate(session: AsyncSession, receipt: ChannelReceipt) -> Received:
    interaction = await interactions.get_interaction(session, receipt.interaction_id)
    return Received(interaction, None, interaction.customer_id, False, duplicate=True)


async def conversation_by_ref(
    session: AsyncSession, channel: Channel, ref: str
) -> Interaction | None:
    """The conversation with the provider's id for it, if it has started."""
    query = select(Interaction).where(
        Interaction.channel == channel, Interaction.external_ref == ref
    )
    return (await session.execute(query)).scalars().first()


async def continue_conversation(
    session: AsyncSession, conversation: Interaction, inbound: Inbound
) -> Received:
    """Add the customer's message to ``conversation`` unless the provider sent it before.

    The receipt is claimed first, in one statement: a delivery stored before (or by a racing
    request that commits first, which the unique key makes this one wait for) claims nothing, and
    nothing is written."""
    if conversation.state not in OPEN_STATES:
        if await _receipt(session, inbound) is None:
            raise Conflict("This conversation has ended", "conversation-ended")
        return Received(conversation, None, conversation.customer_id, False, duplicate=True)
    message = interactions.new_message(
        conversation, _message_in(inbound), channel_actor(inbound.channel), utcnow()
    )
    if not await _claim(session, inbound, conversation, message.id):
        return Received(conversation, None, conversation.customer_id, False, duplicate=True)
    _append(session, conversation, message)
    await session.flush()
    return Received(
        conversation, message, conversation.customer_id, new_conversation=False, duplicate=False
    )


async def _claim(
    session: AsyncSession, inbound: Inbound, conversation: Interaction, message_id: uuid.UUID
) -> bool:
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    claim = (
        insert(ChannelReceipt)
        .values(
            tenant_id=conversation.tenant_id,
            channel=inbound.channel.value,
            provider_ref=inbound.provider_ref,
            interaction_id=conversation.id,
            message_id=message_id,
        )
        .on_conflict_do_nothing()
        .returning(ChannelReceipt.provider_ref)
    )
    return (await session.execute(claim)).first() is not None


def _append(session: AsyncSession, conversation: Interaction, message: Message) -> Message:
    session.add(message)
    interactions.announce_message(session, conversation, message)
    return message


def _message_in(inbound: Inbound) -> MessageIn:
    return MessageIn.model_validate(
        {
            "author_kind": AuthorKind.CUSTOMER,
            "text": inbound.text,
            "html": inbound.html,
            "attachments": inbound.attachments,
        }
    )


async def _latest_open_conversation(
    session: AsyncSession, channel: Channel, customer_id: uuid.UUID
) -> Interaction | None:
    """Without a provider's conversation id (SMS), the customer's latest open conversation on the
    channel continues."""
    query = (
        select(Interaction)
        .where(
            Interaction.channel == channel,
            Interaction.customer_id == customer_id,
            Interaction.state.in_(OPEN_STATES),
            Interaction.ticket_id.is_(None),
        )
        .order_by(Interaction.created_at.desc())
    )
    return (await session.execute(query.limit(1))).scalars().first()


async def _store(
    session: AsyncSession, tenant: Tenant, inbound: Inbound, rules: IdentityRules
) -> Received:
    customer = inbound.customer
    if customer is None:
        value = checked_identity(inbound.sender_kind, inbound.sender, rules, "sender")
        kind, name = inbound.sender_kind, inbound.sender_name
        customer = (await find_or_create(session, tenant.id, kind, value, name)).customer
    actor = channel_actor(inbound.channel)
    message = _message_in(inbound)
    # With a conversation id, receive has just found no conversation of that id.
    current = (
        await _latest_open_conversation(session, inbound.channel, customer.id)
        if inbound.conversation_ref is None
        else None
    )
    if current is not None:
        added = _append(
            session, current, interactions.new_message(current, message, actor, utcnow())
        )
        await session.flush()
        return Received(current, added, customer.id, new_conversation=False, duplicate=False)
    thread = await interactions.create_interaction(
        session,
        tenant,
        actor,
        InteractionCreate(
            channel=inbound.channel,
            customer_id=customer.id,
            queue=inbound.queue,
            language=inbound.language,
            priority=inbound.priority,
            subject=inbound.subject,
            topic=inbound.topic,
            self_service_context=inbound.self_service_context,
            external_ref=inbound.conversation_ref,
            message=message,
        ),
        rules,
        # Inside receive's savepoint, whose handler takes a conversation started concurrently
        # (its external_ref taken) as this delivery's duplicate, or as the one it continues.
        own_savepoint=False,
    )
    first = thread.messages[0]
    return Received(thread.interaction, first, customer.id, new_conversation=True, duplicate=False)
