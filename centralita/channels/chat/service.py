"""Web chat conversations: start from the pre-chat form, visitor messages, what the widget shows.

A visitor is known by a chat visitor id kept in their signed token and, when they give one, by
their email: a returning visitor (or a customer who wrote an email before) continues as the same
customer. Every visitor message goes through the channels core's ``receive`` under the client's
own message id, so a resend after a dropped socket stores nothing twice.
"""

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.inbound import (
    OPEN_STATES,
    Inbound,
    Received,
    continue_conversation,
    conversation_by_ref,
    receive,
)
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.customers import service as customers
from centralita.customers.models import IdentityKind
from centralita.customers.schemas import IdentityCreate
from centralita.customers.service import IdentityRules
from centralita.errors import Conflict, InvalidInput
from centralita.events.service import Actor
from centralita.identity.models import User
from centralita.interactions.models import (
    AuthorKind,
    Channel,
    Interaction,
    InteractionState,
    Message,
)
from centralita.interactions.schemas import MessageIn
from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.nlu.service import steer
from centralita.routing import stats
from centralita.tenancy.models import Tenant
from centralita.tickets.desk import open_desk
from centralita.tickets.schemas import TicketCreate
from centralita.tickets.service import create_ticket

ACTOR = Actor(label="channel:chat")
LIVE_STATES = OPEN_STATES - {InteractionState.WRAP_UP}
# What the visitor sees of who wrote: internal notes never reach the widget.
AUTHOR_SHOWN = {
    AuthorKind.CUSTOMER: "visitor",
    AuthorKind.AGENT: "agent",
    AuthorKind.BOT: "bot",
    AuthorKind.SYSTEM: "system",
}


@dataclass(frozen=True)
class PreChat:
    """The pre-chat form, already checked for size and shape by the socket's schema."""

    name: str
    email: str | None
    topic: str | None
    text: str
    language: str | None


def new_visitor_id() -> str:
    return f"v-{secrets.token_urlsafe(16)}"


def new_conversation_ref() -> str:
    return f"chat-{uuid.uuid4().hex}"


async def widget_address(session: AsyncSession) -> ChannelAddress | None:
    """The scoped tenant's chat widget (its first, when it has several)."""
    query = (
        select(ChannelAddress)
        .where(ChannelAddress.channel == AddressChannel.CHAT)
        .order_by(ChannelAddress.created_at, ChannelAddress.id)
    )
    return (await session.execute(query.limit(1))).scalars().first()


async def _recognised(
    session: AsyncSession, rules: IdentityRules, visitor_id: str, email: str | None
) -> None:
    """Give the visitor id to the customer who owns the email, so ``receive`` finds them."""
    if email is None or await customers.find_by_identity(session, IdentityKind.CHAT, visitor_id):
        return
    owner = await customers.find_by_identity(session, IdentityKind.EMAIL, email)
    if owner is not None:
        await customers.add_identity(
            session,
            ACTOR,
            rules,
            owner.id,
            IdentityCreate(kind=IdentityKind.CHAT, value=visitor_id),
        )


async def start(
    session: AsyncSession,
    tenant: Tenant,
    address: ChannelAddress,
    rules: IdentityRules,
    *,
    visitor_id: str,
    conversation_ref: str,
    form: PreChat,
    client_id: str,
) -> Received:
    """A new chat from the pre-chat form; its first message is steered to a queue."""
    email = (
        customers.checked_identity(IdentityKind.EMAIL, form.email, rules, "email")
        if form.email
        else None
    )
    await _recognised(session, rules, visitor_id, email)
    steering = await steer(session, tenant.id, form.text)
    context: dict[str, Any] = {"prechat": {"name": form.name, "email": email, "topic": form.topic}}
    if steering is not None:
        context["intent"] = steering.intent
        context["confidence"] = steering.confidence
    received = await receive(
        session,
        tenant,
        Inbound(
            channel=Channel.CHAT,
            provider_ref=f"{visitor_id}:{client_id}",
            sender_kind=IdentityKind.CHAT,
            sender=visitor_id,
            sender_name=form.name,
            text=form.text,
            conversation_ref=conversation_ref,
            subject=form.topic,
            topic=form.topic,
            language=form.language,
            queue=(steering.queue if steering and steering.queue else None) or address.queue,
            self_service_context=context,
        ),
        rules,
    )
    if email is not None and not await customers.find_by_identity(
        session, IdentityKind.EMAIL, email
    ):
        await customers.add_identity(
            session,
            ACTOR,
            rules,
            received.customer_id,
            IdentityCreate(kind=IdentityKind.EMAIL, value=email),
        )
    return received


async def post(
    session: AsyncSession,
    *,
    visitor_id: str,
    conversation_ref: str,
    client_id: str,
    text: str,
) -> Received:
    """A visitor's message on their conversation; refused once the conversation has ended."""
    conversation = await conversation_by_ref(session, Channel.CHAT, conversation_ref)
    if conversation is None:
        raise Conflict("This conversation has not started", "conversation-missing")
    if conversation.state not in LIVE_STATES:
        # In wrap-up the agent has said goodbye: new words would land on finished work.
        raise Conflict("This conversation has ended", "conversation-ended")
    return await continue_conversation(
        session,
        conversation,
        Inbound(
            channel=Channel.CHAT,
            provider_ref=f"{visitor_id}:{client_id}",
            sender_kind=IdentityKind.CHAT,
            sender=visitor_id,
            text=text,
            conversation_ref=conversation_ref,
        ),
    )


async def conversation_of(session: AsyncSession, conversation_ref: str) -> Interaction | None:
    query = select(Interaction).where(
        Interaction.channel == Channel.CHAT, Interaction.external_ref == conversation_ref
    )
    return (await session.execute(query)).scalar_one_or_none()


async def agent_name(session: AsyncSession, interaction: Interaction) -> str | None:
    if interaction.agent_user_id is None:
        return None
    user = await session.get(User, interaction.agent_user_id)
    return user.display_name if user else None


def shown_message(message: dict[str, Any]) -> dict[str, Any] | None:
    """A message as the widget shows it: who wrote (visitor, agent, bot) and the plain text."""
    shown = AUTHOR_SHOWN.get(AuthorKind(message["author_kind"]))
    if shown is None:
        return None
    return {
        "id": str(message["id"]),
        "author": shown,
        "text": message["text"],
        "created_at": str(message["created_at"]),
    }


async def snapshot(session: AsyncSession, interaction: Interaction) -> dict[str, Any]:
    """All the widget needs after (re)connecting: the conversation so far, who is serving it and,
    while it waits, its place in the queue."""
    query = (
        select(Message)
        .where(Message.interaction_id == interaction.id)
        .order_by(Message.created_at, Message.id)
    )
    rows = (await session.execute(query)).scalars()
    messages = [
        shown
        for m in rows
        if (
            shown := shown_message(
                {
                    "id": m.id,
                    "author_kind": m.author_kind,
                    "text": m.text,
                    "created_at": m.created_at.isoformat(),
                }
            )
        )
    ]
    position, wait = await stats.position_in_queue(session, interaction)
    return {
        "state": interaction.state,
        "open": interaction.state in LIVE_STATES,
        "messages": messages,
        "agent": await agent_name(session, interaction),
        "position": position,
        "estimated_wait_seconds": wait,
    }


async def leave_message(
    session: AsyncSession, tenant: Tenant, rules: IdentityRules, form: PreChat
) -> str:
    """The visitor's message becomes an email ticket (they get the answer by email); returns
    the ticket's reference."""
    if form.email is None:
        raise InvalidInput.on_field("email", "an email address is needed for the answer")
    email = customers.checked_identity(IdentityKind.EMAIL, form.email, rules, "email")
    requester = await customers.find_or_create(
        session, tenant.id, IdentityKind.EMAIL, email, form.name
    )
    desk = await open_desk(session, tenant, ACTOR, rules)
    ticket = await create_ticket(
        session,
        desk,
        TicketCreate(
            requester_id=requester.customer.id,
            subject=(form.topic or form.text)[:200],
            description=form.text,
            channel=Channel.EMAIL,
        ),
        customer_said=MessageIn(author_kind=AuthorKind.CUSTOMER, text=form.text),
    )
    return desk.reference(ticket)


def request_transcript(session: AsyncSession, interaction: Interaction) -> None:
    """A copy of the conversation by email, sent by the job worker (durable, retried)."""
    schedule(session, JobKind.CHAT_TRANSCRIPT, ref_id=interaction.id)
