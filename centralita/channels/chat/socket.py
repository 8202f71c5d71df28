"""The visitor's WebSocket: pre-chat, then the live conversation, resumed after a reconnect.

Everything the widget does goes over this one socket, so a widget on a third-party page needs no
cross-origin HTTP calls (and no CORS): WebSockets may connect to the app's origin from any page,
and the widget's address may list the page origins it is allowed on.

Protocol (JSON text frames). Server: ``hello`` (availability, before a conversation), ``started``
(the visitor token to keep), ``snapshot``, ``message``, ``ack``, ``typing``, ``agent``,
``waiting``, ``position``, ``ended``, ``message_left``, ``transcript_queued``, ``error``, ``pong``.
Client: ``start``, ``leave_message``, ``message``, ``typing``, ``transcript``, ``ping``.
"""

import asyncio
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import to_json
from sqlalchemy import select
from starlette.websockets import WebSocket, WebSocketDisconnect

from centralita.channels.chat import service
from centralita.channels.chat.tokens import Visitor
from centralita.channels.models import ChannelAddress
from centralita.channels.waiting import availability
from centralita.config import Settings
from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.customers.service import IdentityRules
from centralita.db.engine import Database
from centralita.errors import Conflict, InvalidInput
from centralita.events.bus import Bus, Event, conversation_topic, user_topic
from centralita.events.hub import Hub, ResyncRequired
from centralita.interactions.models import Interaction, InteractionState
from centralita.routing import stats
from centralita.tenancy.models import Tenant

CLIENT_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ENDED_STATES = {InteractionState.WRAP_UP, InteractionState.ENDED, InteractionState.ABANDONED}
TYPING_EVERY_SECONDS = 1.0


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartIn(_In):
    type: Literal["start"]
    id: CLIENT_ID
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    topic: str | None = Field(default=None, max_length=100)
    text: str = Field(min_length=1)
    language: Literal["es", "en"] | None = None


class LeaveMessageIn(_In):
    type: Literal["leave_message"]
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    topic: str | None = Field(default=None, max_length=100)
    text: str = Field(min_length=1)


class MessageIn(_In):
    type: Literal["message"]
    id: CLIENT_ID
    text: str = Field(min_length=1)


class SimpleIn(_In):
    type: Literal["typing", "transcript", "ping"]


ClientMessage = TypeAdapter(
    Annotated[StartIn | LeaveMessageIn | MessageIn | SimpleIn, Field(discriminator="type")]
)


class VisitorLimits:
    """At most ``per_minute`` messages per visitor (across their sockets in this process)."""

    def __init__(self, per_minute: int, remembered: int = 100_000) -> None:
        self._per_minute = per_minute
        self._remembered = remembered
        self._sent: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, visitor_id: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        sent = self._sent.pop(visitor_id, None) or deque(maxlen=self._per_minute)
        self._sent[visitor_id] = sent
        if len(self._sent) > self._remembered:
            self._sent.popitem(last=False)
        if len(sent) == self._per_minute and now - sent[0] < 60:
            return False
        sent.append(now)
        return True


@dataclass
class ChatContext:
    websocket: WebSocket
    db: Database
    hub: Hub
    bus: Bus
    settings: Settings
    tenant: Tenant
    address: ChannelAddress
    rules: IdentityRules
    limits: VisitorLimits

    async def send(self, payload: dict[str, Any]) -> None:
        await self.websocket.send_text(to_json(payload).decode())

    async def error(self, code: str, detail: str, client_id: str | None = None) -> None:
        await self.send({"type": "error", "code": code, "detail": detail, "id": client_id})


async def _read(ctx: ChatContext) -> StartIn | LeaveMessageIn | MessageIn | SimpleIn:
    """The next well-formed client message; a malformed one is answered with an error."""
    while True:
        raw = await ctx.websocket.receive_text()
        try:
            return ClientMessage.validate_json(raw)
        except ValidationError as exc:
            await ctx.error("invalid", exc.errors(include_url=False)[0]["msg"])


def _too_long(ctx: ChatContext, text: str) -> bool:
    return len(text) > ctx.settings.chat_max_message_chars


async def pre_chat(ctx: ChatContext, visitor: Visitor | None) -> Visitor:
    """Tell the visitor whether anyone can answer; then start a chat or take a message."""
    async with ctx.db.tenant_session(ctx.tenant.id) as session:
        seen = await availability(session, ctx.tenant, ctx.address.queue)
    await ctx.send(
        {
            "type": "hello",
            "open": seen.open,
            "estimated_wait_seconds": seen.estimated_wait_seconds,
            "leave_message": seen.offer_alternative,
            "max_chars": ctx.settings.chat_max_message_chars,
        }
    )
    visitor_id = visitor.visitor_id if visitor else service.new_visitor_id()
    while True:
        incoming = await _read(ctx)
        if isinstance(incoming, SimpleIn):
            if incoming.type == "ping":
                await ctx.send({"type": "pong"})
            continue
        if isinstance(incoming, MessageIn):
            await ctx.error("not-started", "Start the conversation first", incoming.id)
            continue
        if _too_long(ctx, incoming.text):
            await ctx.error("too-long", f"At most {ctx.settings.chat_max_message_chars} characters")
            continue
        form = service.PreChat(
            name=incoming.name,
            email=incoming.email or None,
            topic=incoming.topic or None,
            text=incoming.text,
            language=incoming.language if isinstance(incoming, StartIn) else None,
        )
        try:
            if isinstance(incoming, LeaveMessageIn):
                async with ctx.db.tenant_session(ctx.tenant.id) as session:
                    ticket = await service.leave_message(session, ctx.tenant, ctx.rules, form)
                    await session.commit()
                await ctx.send({"type": "message_left", "ticket": ticket})
                continue
            ref = service.new_conversation_ref()
            async with ctx.db.tenant_session(ctx.tenant.id) as session:
                await service.start(
                    session,
                    ctx.tenant,
                    ctx.address,
                    ctx.rules,
                    visitor_id=visitor_id,
                    conversation_ref=ref,
                    form=form,
                    client_id=incoming.id,
                )
                await session.commit()
        except InvalidInput as exc:
            await ctx.error("invalid", exc.detail)
            continue
        started = Visitor(ctx.tenant.id, visitor_id, ref)
        await ctx.send({"type": "started", "token": started.sign(ctx.settings.secret_key)})
        return started


@dataclass
class Live:
    """What the socket knows of its conversation between events."""

    interaction_id: uuid.UUID
    state: str
    agent_id: uuid.UUID | None


async def has_live_conversation(ctx: ChatContext, visitor: Visitor) -> bool:
    if visitor.conversation_ref is None:
        return False
    async with ctx.db.tenant_session(ctx.tenant.id) as session:
        found = await service.conversation_of(session, visitor.conversation_ref)
    return found is not None and found.state in service.LIVE_STATES


async def converse(ctx: ChatContext, visitor: Visitor, last_event_id: str | None) -> None:
    assert visitor.conversation_ref is not None
    # Events committed while the snapshot loads are replayed from here (deduplicated by id).
    since = last_event_id or ctx.hub.latest_event_id
    async with ctx.db.tenant_session(ctx.tenant.id) as session:
        interaction = await service.conversation_of(session, visitor.conversation_ref)
        if interaction is None:
            await ctx.error("unknown-conversation", "This conversation does not exist")
            return
        shot = await service.snapshot(session, interaction)
    live = Live(interaction.id, interaction.state, interaction.agent_user_id)
    topics = frozenset({conversation_topic(interaction.id)})
    async with ctx.hub.subscribe(topics, since) as subscription:
        await ctx.send({"type": "snapshot", **shot})
        await _until_either_returns(
            _forward(ctx, live, subscription),
            _answer(ctx, live, visitor),
            _tell_position(ctx, live),
        )


async def _forward(ctx: ChatContext, live: Live, subscription: Any) -> None:
    try:
        async for event in subscription:
            shown = await _shown_event(ctx, live, event)
            if shown is not None:
                await ctx.send({**shown, "event_id": event.id})
    except ResyncRequired:
        # The widget reconnects with its token and gets a fresh snapshot.
        await ctx.websocket.close(1000, "resync")


async def _shown_event(ctx: ChatContext, live: Live, event: Event) -> dict[str, Any] | None:
    data = event.data
    if event.type == "interaction.message_added":
        message = service.shown_message(data["message"])
        return None if message is None else {"type": "message", "message": message}
    if event.type == "agent.typed":
        return {"type": "typing"}
    state = data.get("state")
    if state is not None:
        live.state = state
    if state in ENDED_STATES:
        return {"type": "ended"}
    if event.type == "interaction.assigned":
        live.agent_id = uuid.UUID(data["agent_id"])
        async with ctx.db.tenant_session(ctx.tenant.id) as session:
            found = await session.get(Interaction, (ctx.tenant.id, live.interaction_id))
            name = await service.agent_name(session, found) if found else None
        return {"type": "agent", "name": name}
    if state == InteractionState.QUEUED:
        live.agent_id = None
        return {"type": "waiting"}
    return None


async def _tell_position(ctx: ChatContext, live: Live) -> None:
    while True:
        await asyncio.sleep(ctx.settings.chat_position_interval_seconds)
        if live.state != InteractionState.QUEUED:
            continue
        async with ctx.db.tenant_session(ctx.tenant.id) as session:
            found = await session.get(Interaction, (ctx.tenant.id, live.interaction_id))
            if found is None:
                return
            # The database has the last word should an event have been missed.
            live.state = found.state
            if found.state != InteractionState.QUEUED:
                continue
            position, wait = await stats.position_in_queue(session, found)
        await ctx.send({"type": "position", "position": position, "estimated_wait_seconds": wait})


async def _answer(ctx: ChatContext, live: Live, visitor: Visitor) -> None:
    typed_at = 0.0
    while True:
        incoming = await _read(ctx)
        if isinstance(incoming, MessageIn):
            await _post(ctx, visitor, incoming)
        elif isinstance(incoming, SimpleIn) and incoming.type == "ping":
            await ctx.send({"type": "pong"})
        elif isinstance(incoming, SimpleIn) and incoming.type == "typing":
            now = time.monotonic()
            if live.agent_id is not None and now - typed_at >= TYPING_EVERY_SECONDS:
                typed_at = now
                await ctx.bus.publish([_visitor_typed(ctx, live)])
        elif isinstance(incoming, SimpleIn) and incoming.type == "transcript":
            await _transcript(ctx, live)
        else:
            await ctx.error("already-started", "This conversation has started")


def _visitor_typed(ctx: ChatContext, live: Live) -> Event:
    assert live.agent_id is not None
    return Event(
        "visitor.typed",
        ctx.tenant.id,
        {"interaction_id": live.interaction_id},
        (user_topic(live.agent_id),),
    )


async def _post(ctx: ChatContext, visitor: Visitor, incoming: MessageIn) -> None:
    if _too_long(ctx, incoming.text):
        limit = ctx.settings.chat_max_message_chars
        await ctx.error("too-long", f"At most {limit} characters", incoming.id)
        return
    if not ctx.limits.allow(visitor.visitor_id):
        await ctx.error("rate-limited", "Too many messages; wait a moment", incoming.id)
        return
    assert visitor.conversation_ref is not None
    try:
        async with ctx.db.tenant_session(ctx.tenant.id) as session:
            received = await service.post(
                session,
                visitor_id=visitor.visitor_id,
                conversation_ref=visitor.conversation_ref,
                client_id=incoming.id,
                text=incoming.text,
            )
            await session.commit()
    except Conflict as exc:
        await ctx.error(exc.code or "conflict", exc.detail, incoming.id)
        return
    message_id = received.message.id if received.message else None
    await ctx.send({"type": "ack", "id": incoming.id, "message_id": message_id})


async def _transcript(ctx: ChatContext, live: Live) -> None:
    async with ctx.db.tenant_session(ctx.tenant.id) as session:
        found = await session.get(Interaction, (ctx.tenant.id, live.interaction_id))
        assert found is not None
        email = await session.scalar(
            select(CustomerIdentity.value)
            .where(
                CustomerIdentity.customer_id == found.customer_id,
                CustomerIdentity.kind == IdentityKind.EMAIL,
            )
            .limit(1)
        )
        if email is None:
            await ctx.error("no-email", "Give an email address in the form to get a copy")
            return
        service.request_transcript(session, found)
        await session.commit()
    await ctx.send({"type": "transcript_queued"})


async def _until_either_returns(*work: Coroutine[Any, Any, None]) -> None:
    tasks = [asyncio.create_task(coroutine) for coroutine in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        exc = task.exception()
        if exc is not None and not isinstance(exc, WebSocketDisconnect):
            raise exc
