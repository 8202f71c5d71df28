"""Interactions: creating work for a customer, the messages in it, and its moves between states.

Interactions are work, not configuration, so they are not written to the audit log; each state
records when it was first reached instead, which is what the measures in KPI.md are built from.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

import nh3
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import object_session

from centralita.customers.models import Customer
from centralita.customers.service import IdentityRules, checked_identity, find_or_create
from centralita.db.base import new_id, utcnow
from centralita.db.inserts import flush_inserts
from centralita.db.paging import DEFAULT_LIMIT, Slice, paginate
from centralita.errors import Conflict, FieldError, InvalidInput, NotFound
from centralita.events.bus import Event, conversation_topic, emit, supervisors_topic, user_topic
from centralita.events.service import Actor
from centralita.interactions.models import (
    INITIAL_STATES,
    TRANSITIONS,
    AuthorKind,
    Channel,
    Interaction,
    InteractionState,
    Message,
)
from centralita.interactions.schemas import (
    InteractionCreate,
    InteractionUpdate,
    MessageIn,
)
from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.reporting.facts import record_facts, transition_facts
from centralita.tenancy.models import Tenant

State = InteractionState

# Formatting a customer or an agent may reasonably send; no images (remote images track the
# reader), no styles, no forms, nothing that runs.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Tags whose content is code or styling, dropped entirely rather than shown as text.
DROPPED_WITH_CONTENT = frozenset({"script", "style"})

# Each timestamp records the first time the state was reached: waits count from the first
# arrival in a queue and an answer is the first acceptance, so a transfer resets neither.
# ``queued_at`` is what KPI.md calls ``offered_at`` (entered a queue); our ``offered_at`` is when
# the work was first offered to an agent.
FIRST_REACHED = {
    State.QUEUED: "queued_at",
    State.OFFERED: "offered_at",
    State.ACTIVE: "answered_at",
}


# Channels whose provider carries an agent's message to the customer (chat reaches the widget
# through the conversation's events instead).
DELIVERED_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})
OUTGOING_AUTHORS = frozenset({AuthorKind.AGENT, AuthorKind.BOT})

# Fields the routing engine reads: a change to one of them makes it look at the work again.
ROUTED_FIELDS = frozenset({"queue", "language", "priority"})


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )


@dataclass(frozen=True)
class InteractionThread:
    """An interaction with its messages, oldest first."""

    interaction: Interaction
    messages: list[Message]


def _stamp(
    interaction: Interaction,
    source: InteractionState | None,
    target: InteractionState,
    now: datetime,
    actor: Actor,
) -> None:
    interaction.state = target
    first = FIRST_REACHED.get(target)
    if first is not None and getattr(interaction, first) is None:
        setattr(interaction, first, now)
    if target == State.ACTIVE and interaction.agent_user_id is None:
        # Whoever answers owns the work; an integration's token has no user to record.
        interaction.agent_user_id = actor.user_id
    if target == State.ENDED and source == State.WRAP_UP:
        interaction.wrap_up_ended_at = now
    elif target in (State.WRAP_UP, State.ENDED, State.ABANDONED):
        interaction.ended_at = now


def change_state(
    interaction: Interaction, target: InteractionState, actor: Actor, now: datetime | None = None
) -> None:
    """Move work to ``target`` if the transition table allows it, and let routing know."""
    source = InteractionState(interaction.state)
    if target not in TRANSITIONS[source]:
        raise Conflict(f"An interaction cannot go from {source} to {target}", "invalid-transition")
    now = now or utcnow()
    _stamp(interaction, source, target, now, actor)
    # Work being moved was loaded in its session, so the facts join the same transaction.
    session = object_session(interaction)
    if session is None:
        raise RuntimeError("an interaction changes state only inside a session")
    record_facts(session, transition_facts(interaction, source, target, now, actor.user_id))
    if target == State.ABANDONED:
        emit(session, interaction_event("interaction.abandoned", interaction))


def announce_change(session: AsyncSession, interaction: Interaction) -> None:
    """Routing reconciles its view of this work with the database, after this transaction."""
    schedule(session, JobKind.ROUTING_WORK, ref_id=interaction.id)


def _waited_seconds(interaction: Interaction) -> float | None:
    """How long the work waited in a queue before it was answered or abandoned, if it was."""
    start, end = interaction.queued_at, interaction.answered_at or interaction.ended_at
    return (end - start).total_seconds() if start and end else None


def interaction_event(kind: str, interaction: Interaction) -> Event:
    """An event about one piece of work, for the tenant's supervisors (and webhooks and rules)."""
    return Event(
        type=kind,
        tenant=interaction.tenant_id,
        data={
            "interaction_id": interaction.id,
            "customer_id": interaction.customer_id,
            "channel": interaction.channel,
            "direction": interaction.direction,
            "state": interaction.state,
            "queue": interaction.queue,
            "priority": interaction.priority,
            "agent_id": interaction.agent_user_id,
            "language": interaction.language,
            "topic": interaction.topic,
            "queued_at": interaction.queued_at,
            "ended_at": interaction.ended_at,
            "waited_seconds": _waited_seconds(interaction),
        },
        recipients=(supervisors_topic(interaction.tenant_id),),
    )


def new_message(interaction: Interaction, data: MessageIn, actor: Actor, now: datetime) -> Message:
    return Message(
        tenant_id=interaction.tenant_id,
        id=new_id(),
        interaction_id=interaction.id,
        author_kind=data.author_kind,
        author_user_id=actor.user_id,
        text=data.text,
        html=sanitise_html(data.html) if data.html is not None else None,
        attachments=[a.model_dump(mode="json") for a in data.attachments],
        created_at=now,
        updated_at=now,
    )


def announce_message(session: AsyncSession, interaction: Interaction, message: Message) -> None:
    """Live screens see the message after commit; an agent's reply on a provider channel is
    handed to its delivery job in the same transaction."""
    recipients = []
    if message.author_kind != AuthorKind.NOTE:
        recipients.append(conversation_topic(interaction.id))
    if interaction.agent_user_id is not None:
        recipients.append(user_topic(interaction.agent_user_id))
    if recipients:
        data = {
            "interaction_id": interaction.id,
            "channel": interaction.channel,
            "message": {
                "id": message.id,
                "author_kind": message.author_kind,
                "text": message.text,
                "attachments": message.attachments,
                "created_at": message.created_at,
            },
        }
        emit(
            session,
            Event("interaction.message_added", interaction.tenant_id, data, tuple(recipients)),
        )
    if message.author_kind in OUTGOING_AUTHORS and interaction.channel in DELIVERED_CHANNELS:
        schedule(session, JobKind.CHANNEL_DELIVERY, ref_id=message.id)


async def _customer_by_id(
    session: AsyncSession, tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> Customer:
    """The live customer with this id in the scoped tenant, following merges. By primary key, so
    a customer this transaction has just recognised or created is not read again."""
    customer = await session.get(Customer, (tenant_id, customer_id))
    if customer is None:
        # Another tenant's id is unknown here, exactly like an id that never existed.
        raise InvalidInput.on_field("body.customer_id", "No such customer")
    while customer.merged_into_id is not None:
        merged_into = await session.get(Customer, (tenant_id, customer.merged_into_id))
        if merged_into is None:
            raise RuntimeError(f"customer {customer.id} was merged into a missing customer")
        customer = merged_into
    return customer


async def _resolve_customer(
    session: AsyncSession, tenant: Tenant, data: InteractionCreate, rules: IdentityRules
) -> Customer:
    if data.customer_id is not None and data.identity is None:
        return await _customer_by_id(session, tenant.id, data.customer_id)
    if data.identity is not None and data.customer_id is None:
        kind = data.identity.kind
        value = checked_identity(kind, data.identity.value, rules, "body.identity.value")
        resolved = await find_or_create(session, tenant.id, kind, value, data.customer_name)
        return resolved.customer
    message = "give either customer_id or identity, exactly one"
    raise InvalidInput(
        "Name the customer by customer_id or by identity",
        [FieldError("body.customer_id", message), FieldError("body.identity", message)],
    )


async def create_interaction(
    session: AsyncSession,
    tenant: Tenant,
    actor: Actor,
    data: InteractionCreate,
    rules: IdentityRules,
    *,
    own_savepoint: bool = True,
) -> InteractionThread:
    """New work for a customer found by id or by identity (created if the identity is new).

    Work with an ``external_ref`` is inserted in a savepoint, so that a provider id seen before
    is a clear :class:`Conflict`; a caller that already writes inside a savepoint of its own and
    takes a repeated ``external_ref`` (an ``IntegrityError``) as its own case passes
    ``own_savepoint=False``, and is spared the second one."""
    if data.state not in INITIAL_STATES:
        allowed = ", ".join(sorted(INITIAL_STATES))
        raise InvalidInput.on_field("body.state", f"new work starts as one of: {allowed}")
    customer = await _resolve_customer(session, tenant, data, rules)
    now = utcnow()
    # Ids and times are set here rather than at flush, so the one flush below writes everything.
    interaction = Interaction(
        tenant_id=tenant.id,
        id=new_id(),
        customer_id=customer.id,
        channel=data.channel,
        direction=data.direction,
        queue=data.queue,
        language=data.language or customer.language,
        priority=data.priority,
        subject=data.subject,
        topic=data.topic,
        self_service_context=data.self_service_context,
        external_ref=data.external_ref,
        agent_user_id=None,
        created_at=now,
        updated_at=now,
    )
    _stamp(interaction, None, data.state, now, actor)
    messages = [new_message(interaction, data.message, actor, now)] if data.message else []
    if data.external_ref is None or not own_savepoint:
        _add_new_work(session, interaction, messages, now)
        # Every change is a new row: on PostgreSQL they go in one statement.
        await flush_inserts(session)
    else:
        await _add_once_per_external_ref(session, interaction, messages, now)
    return InteractionThread(interaction, messages)


def _add_new_work(
    session: AsyncSession, interaction: Interaction, messages: list[Message], now: datetime
) -> None:
    """Add the work with its messages, its first facts and what it announces, all written by
    one flush (the event is emitted before it, so its record and jobs are in that flush too)."""
    session.add(interaction)
    record_facts(session, transition_facts(interaction, None, interaction.state, now))
    announce_change(session, interaction)
    session.add_all(messages)
    for message in messages:
        announce_message(session, interaction, message)
    emit(session, interaction_event("interaction.created", interaction))


async def _add_once_per_external_ref(
    session: AsyncSession, interaction: Interaction, messages: list[Message], now: datetime
) -> None:
    """Insert in a savepoint, so a provider id seen before is a clear conflict, also in a race
    (its facts, jobs and events go with the savepoint: dropped if the insert is refused)."""
    try:
        async with session.begin_nested():
            _add_new_work(session, interaction, messages, now)
    except IntegrityError:
        raise Conflict(
            f"An interaction on {interaction.channel} with external_ref "
            f"{interaction.external_ref!r} already exists",
            "interaction-exists",
        ) from None


async def get_interaction(
    session: AsyncSession, interaction_id: uuid.UUID, *, for_update: bool = False
) -> Interaction:
    query = select(Interaction).where(Interaction.id == interaction_id)
    if for_update:
        query = query.with_for_update()
    interaction = (await session.execute(query)).scalar_one_or_none()
    if interaction is None:
        raise NotFound("Interaction not found")
    return interaction


async def get_thread(session: AsyncSession, interaction_id: uuid.UUID) -> InteractionThread:
    interaction = await get_interaction(session, interaction_id)
    query = (
        select(Message)
        .where(Message.interaction_id == interaction.id)
        .order_by(Message.created_at, Message.id)
    )
    return InteractionThread(interaction, list((await session.execute(query)).scalars()))


async def list_interactions(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID | None = None,
    channel: Channel | None = None,
    state: InteractionState | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Slice[Interaction]:
    """The scoped tenant's interactions, newest first."""
    query = select(Interaction)
    if customer_id is not None:
        query = query.where(Interaction.customer_id == customer_id)
    if channel is not None:
        query = query.where(Interaction.channel == channel)
    if state is not None:
        query = query.where(Interaction.state == state)
    return await paginate(
        session,
        query,
        (Interaction.created_at, Interaction.id),
        cursor=cursor,
        limit=limit,
    )


async def add_message(
    session: AsyncSession, actor: Actor, interaction_id: uuid.UUID, data: MessageIn
) -> Message:
    interaction = await get_interaction(session, interaction_id)
    message = append_message(session, interaction, new_message(interaction, data, actor, utcnow()))
    await session.flush()
    return message


def append_message(session: AsyncSession, interaction: Interaction, message: Message) -> Message:
    """The message joins the interaction's thread, and the screens following it hear of it."""
    session.add(message)
    announce_message(session, interaction, message)
    return message


async def update_interaction(
    session: AsyncSession, actor: Actor, interaction_id: uuid.UUID, data: InteractionUpdate
) -> Interaction:
    """Change an interaction; a new state must be reachable from the current one."""
    # Locked, so two agents moving the same work at once are checked one after the other.
    interaction = await get_interaction(session, interaction_id, for_update=True)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    target = changes.pop("state", None)
    if target is not None and target != interaction.state:
        change_state(interaction, target, actor)
    for name, value in changes.items():
        setattr(interaction, name, value)
    if target is not None or changes.keys() & ROUTED_FIELDS:
        announce_change(session, interaction)
    await session.flush()
    return interaction
