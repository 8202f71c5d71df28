"""The phone menu: greet, listen, steer, self-serve, queue with announcements, callback, voicemail.

Each step is one webhook answered with TwiML. The call becomes routable work (an interaction whose
``external_ref`` is the CallSid) when the caller has said what they want, so the agent sees those
words and choices (``self_service_context``) and the caller never repeats them.
"""

import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.inbound import Inbound, channel_actor, receive
from centralita.channels.models import ChannelReceipt
from centralita.channels.texts import spoken, status_name
from centralita.channels.voice.twiml import TwiML
from centralita.channels.voice.webhook import Webhook
from centralita.channels.waiting import is_open, queue_named
from centralita.customers.models import Customer, IdentityKind
from centralita.customers.service import (
    IdentityRules,
    checked_identity,
    find_by_identity,
    find_or_create,
    normalise_identity,
)
from centralita.interactions import service as interactions
from centralita.interactions.models import Channel, Interaction, InteractionState
from centralita.interactions.schemas import InteractionCreate
from centralita.nlu.service import steer
from centralita.routing import stats
from centralita.tickets.desk import open_desk
from centralita.tickets.models import Ticket
from centralita.tickets.schemas import TicketCreate
from centralita.tickets.service import create_ticket

BASE = "/telephony/voice"
TICKET_STATUS = "ticket_status"
ENDED_CALL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
# A transferred call waits for its next agent in these states (offered: straight to a colleague).
WAITING_CALL = frozenset(
    {InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.ACTIVE}
)
GATHER_TIMEOUT = "5"


@dataclass(frozen=True)
class Call:
    hook: Webhook
    rules: IdentityRules
    caller: Customer | None
    locale: str
    # The caller's number in E.164, as customers are recognised by it; None when withheld or
    # not a valid number.
    caller_number: str | None = None

    @property
    def sid(self) -> str:
        return self.hook.get("CallSid")

    @property
    def number(self) -> str:
        return self.hook.get("From")


async def identify(session: AsyncSession, hook: Webhook, rules: IdentityRules) -> Call:
    """The caller as the tenant knows them (by their E.164 number), and the language to speak."""
    caller = None
    try:
        number = normalise_identity(IdentityKind.PHONE, hook.get("From"), rules)
    except ValueError:
        number = None
    if number is not None:
        caller = await find_by_identity(session, IdentityKind.PHONE, number)
    language = (caller.language if caller else None) or hook.tenant.default_locale
    locale = language[:2] if language[:2] in ("es", "en") else "es"
    return Call(hook, rules, caller, locale, number)


def _ask(twiml: TwiML, call: Call) -> None:
    gather = twiml.gather(
        f"{BASE}/steer", call.locale, input="speech dtmf", numDigits="1", timeout=GATHER_TIMEOUT
    )
    twiml.say(spoken(call.locale, "how_can_we_help"), call.locale, parent=gather)
    # Silence: steer with nothing said, the call goes to the number's queue.
    twiml.verb("Redirect", f"{BASE}/steer", method="POST")


async def incoming(session: AsyncSession, call: Call) -> TwiML:
    twiml = TwiML()
    company = call.hook.address.display_name or call.hook.tenant.name
    if not await is_open(session, call.hook.tenant, call.hook.address.queue):
        message = call.hook.address.settings.get("after_hours_message")
        twiml.say(message or spoken(call.locale, "after_hours"), call.locale)
        twiml.say(spoken(call.locale, "voicemail"), call.locale)
        twiml.verb(
            "Record",
            action=f"{BASE}/voicemail",
            method="POST",
            maxLength="120",
            playBeep="true",
        )
        return twiml
    name = call.caller.preferred_name or call.caller.display_name if call.caller else None
    if name and not name.startswith("+"):
        twiml.say(spoken(call.locale, "welcome_back", name=name, company=company), call.locale)
    else:
        twiml.say(spoken(call.locale, "welcome", company=company), call.locale)
    _ask(twiml, call)
    return twiml


def _ticket_prompt(call: Call) -> TwiML:
    twiml = TwiML()
    gather = twiml.gather(
        f"{BASE}/ticket", call.locale, input="dtmf speech", finishOnKey="#", timeout="8"
    )
    twiml.say(spoken(call.locale, "ticket_number"), call.locale, parent=gather)
    twiml.say(spoken(call.locale, "not_heard"), call.locale)
    twiml.verb("Hangup")
    return twiml


async def steered(session: AsyncSession, call: Call) -> TwiML:
    """What the caller said or keyed: ticket status self-service, or a queue chosen by intent."""
    said, digits = call.hook.get("SpeechResult"), call.hook.get("Digits")
    if digits == "1":
        return _ticket_prompt(call)
    steering = await steer(session, call.hook.tenant.id, said) if said else None
    if steering is not None and steering.self_service == TICKET_STATUS:
        return _ticket_prompt(call)
    context: dict[str, Any] = {"said": said or None, "keyed": digits or None}
    if steering is not None:
        context.update(intent=steering.intent, confidence=steering.confidence)
    queue = (steering.queue if steering else None) or call.hook.address.queue
    text = said or spoken(call.locale, "nothing_said")
    return await enqueue(session, call, text, queue, context)


async def enqueue(
    session: AsyncSession, call: Call, text: str, queue: str | None, context: dict[str, Any]
) -> TwiML:
    """The call becomes routable work and waits, hearing its place in the queue."""
    caller = call.caller
    if caller is None and call.caller_number is not None:
        # Not known when the step began: a new customer (or the one a concurrent call made).
        tenant_id, number = call.hook.tenant.id, call.caller_number
        caller = (await find_or_create(session, tenant_id, IdentityKind.PHONE, number)).customer
    received = await receive(
        session,
        call.hook.tenant,
        Inbound(
            channel=Channel.VOICE,
            provider_ref=f"{call.sid}:menu",
            sender_kind=IdentityKind.PHONE,
            sender=call.number,
            text=text,
            conversation_ref=call.sid,
            language=call.locale,
            queue=queue,
            self_service_context=context,
            customer=caller,
        ),
        call.rules,
    )
    twiml = TwiML().say(spoken(call.locale, "connecting"), call.locale)
    twiml.verb(
        "Enqueue",
        received.interaction.queue or "default",
        waitUrl=f"{BASE}/wait",
        waitUrlMethod="POST",
        # Where the call goes once it leaves the queue: to the agent who took it.
        action=f"{BASE}/bridge",
        method="POST",
    )
    return twiml


def _digits(text: str) -> int | None:
    found = "".join(re.findall(r"\d", text))
    return int(found) if found and len(found) <= 9 else None


async def ticket_status(session: AsyncSession, call: Call) -> TwiML:
    number = _digits(call.hook.get("Digits") or call.hook.get("SpeechResult"))
    ticket = None
    if number is not None:
        query = select(Ticket).where(Ticket.number == number)
        ticket = (await session.execute(query)).scalar_one_or_none()
    twiml = TwiML()
    if ticket is None:
        twiml.say(spoken(call.locale, "no_ticket", number=number or ""), call.locale)
    else:
        status = status_name(call.locale, ticket.status)
        twiml.say(spoken(call.locale, "ticket_status", number=number, status=status), call.locale)
    choice = f"{BASE}/agent?ticket={number}" if ticket is not None else f"{BASE}/agent"
    gather = twiml.gather(choice, call.locale, input="dtmf", numDigits="1", timeout=GATHER_TIMEOUT)
    twiml.say(spoken(call.locale, "offer_agent"), call.locale, parent=gather)
    twiml.say(spoken(call.locale, "goodbye"), call.locale).verb("Hangup")
    return twiml


async def to_agent(session: AsyncSession, call: Call, ticket_number: int | None) -> TwiML:
    if call.hook.get("Digits") != "1":
        return TwiML().say(spoken(call.locale, "goodbye"), call.locale).verb("Hangup")
    context: dict[str, Any] = {"self_service": TICKET_STATUS, "ticket": None, "status": None}
    text = spoken(call.locale, "nothing_said")
    if ticket_number is not None:
        query = select(Ticket).where(Ticket.number == ticket_number)
        ticket = (await session.execute(query)).scalar_one_or_none()
        if ticket is not None:
            context.update(ticket=ticket_number, ticket_id=str(ticket.id), status=ticket.status)
            text = spoken(call.locale, "asked_ticket", number=ticket_number)
    return await enqueue(session, call, text, call.hook.address.queue, context)


async def _call_interaction(session: AsyncSession, call_sid: str) -> Interaction | None:
    query = select(Interaction).where(
        Interaction.channel == Channel.VOICE, Interaction.external_ref == call_sid
    )
    return (await session.execute(query)).scalar_one_or_none()


def _hold_music(call: Call, twiml: TwiML) -> TwiML:
    music = call.hook.address.settings.get("hold_music_url")
    if isinstance(music, str):
        return twiml.verb("Play", music)
    return twiml.verb("Pause", length="10")


async def waiting(session: AsyncSession, call: Call) -> TwiML:
    """The wait loop (Twilio's ``waitUrl``): place and wait, a callback offer when it is long."""
    twiml = TwiML()
    interaction = await _call_interaction(session, call.sid)
    if interaction is not None and interaction.state == InteractionState.ACTIVE:
        # An agent has accepted the call: leave the queue for the Enqueue's action (bridge).
        return twiml.verb("Leave")
    if interaction is not None:
        position, wait = await stats.position_in_queue(session, interaction)
        if position:
            minutes = max(1, math.ceil((wait or 0) / 60))
            twiml.say(
                spoken(call.locale, "position", position=position, minutes=minutes), call.locale
            )
        queue = await queue_named(session, interaction.queue)
        # Offered only where callbacks are routable work: the callback waits in this queue.
        threshold = (
            queue.callback_threshold_seconds
            if queue and Channel.CALLBACK in queue.channels
            else None
        )
        if threshold is not None and wait is not None and wait > threshold:
            gather = twiml.gather(
                f"{BASE}/callback", call.locale, input="dtmf", numDigits="1", timeout="5"
            )
            twiml.say(spoken(call.locale, "offer_callback"), call.locale, parent=gather)
    return _hold_music(call, twiml)


async def bridge(session: AsyncSession, call: Call) -> TwiML:
    """The call left the queue: put it through to the agent who accepted it."""
    interaction = await _call_interaction(session, call.sid)
    if (
        call.hook.get("QueueResult") != "leave"
        or interaction is None
        or interaction.state != InteractionState.ACTIVE
        or interaction.agent_user_id is None
    ):
        return TwiML().verb("Hangup")
    twiml = TwiML().say(spoken(call.locale, "connecting"), call.locale)
    return twiml.dial_client(agent_client(interaction.agent_user_id))


async def on_hold(session: AsyncSession, call: Call) -> TwiML:
    """The agent put the caller on hold: music (or silence) with a reminder, until resumed."""
    twiml = TwiML().say(spoken(call.locale, "on_hold"), call.locale)
    return _hold_music(call, twiml).verb("Redirect", f"{BASE}/hold", method="POST")


async def requeued(session: AsyncSession, call: Call) -> TwiML:
    """The agent transferred the call: it waits again, in the queue routing now has it in,
    until the next agent accepts it."""
    interaction = await _call_interaction(session, call.sid)
    if interaction is None or interaction.state not in WAITING_CALL:
        return TwiML().verb("Hangup")
    twiml = TwiML().say(spoken(call.locale, "transferring"), call.locale)
    return twiml.verb(
        "Enqueue",
        interaction.queue or "default",
        waitUrl=f"{BASE}/wait",
        waitUrlMethod="POST",
        action=f"{BASE}/bridge",
        method="POST",
    )


def agent_client(agent_id: uuid.UUID) -> str:
    """The agent's softphone identity at the provider."""
    return f"agent-{agent_id}"


async def callback(session: AsyncSession, call: Call) -> TwiML:
    """The caller hangs up and keeps their place: a callback waits with the call's queued time
    and priority, and the call itself ends."""
    interaction = await _call_interaction(session, call.sid)
    if call.hook.get("Digits") != "1" or interaction is None:
        return TwiML().verb("Redirect", f"{BASE}/wait", method="POST")
    queue = await queue_named(session, interaction.queue)
    if queue is None or Channel.CALLBACK not in queue.channels:
        return TwiML().verb("Redirect", f"{BASE}/wait", method="POST")
    if interaction.state == InteractionState.QUEUED:
        thread = await interactions.create_interaction(
            session,
            call.hook.tenant,
            channel_actor(Channel.VOICE),
            InteractionCreate(
                channel=Channel.CALLBACK,
                customer_id=interaction.customer_id,
                queue=interaction.queue,
                language=interaction.language,
                priority=interaction.priority,
                subject=interaction.subject,
                self_service_context={
                    **interaction.self_service_context,
                    "callback_for": str(interaction.id),
                    "number": call.number,
                },
            ),
            call.rules,
        )
        thread.interaction.queued_at = interaction.queued_at
        interaction.disposition = "callback-requested"
        interactions.change_state(interaction, InteractionState.ENDED, channel_actor(Channel.VOICE))
        interactions.announce_change(session, interaction)
        await session.flush()
    twiml = TwiML().say(spoken(call.locale, "callback_booked"), call.locale)
    return twiml.verb("Hangup")


async def call_status(session: AsyncSession, call: Call) -> None:
    """A status callback: a call that ended while waiting was abandoned in the queue; one that
    ended while an agent had it is over (the agent wraps up). A repeat changes nothing."""
    if call.hook.get("CallStatus") not in ENDED_CALL:
        return
    interaction = await _call_interaction(session, call.sid)
    if interaction is None:
        return
    actor = channel_actor(Channel.VOICE)
    if interaction.state == InteractionState.QUEUED:
        interactions.change_state(interaction, InteractionState.ABANDONED, actor)
    elif interaction.state == InteractionState.ACTIVE:
        interactions.change_state(interaction, InteractionState.WRAP_UP, actor)
    else:
        return
    interactions.announce_change(session, interaction)
    await session.flush()


async def voicemail(session: AsyncSession, call: Call) -> TwiML:
    """After hours, the caller's recording becomes a ticket (once, whatever the retries)."""
    recording = call.hook.get("RecordingSid") or f"{call.sid}:recording"
    seen = await session.execute(
        select(ChannelReceipt).where(
            ChannelReceipt.channel == Channel.VOICE, ChannelReceipt.provider_ref == recording
        )
    )
    twiml = TwiML().say(spoken(call.locale, "voicemail_saved"), call.locale).verb("Hangup")
    if seen.scalar_one_or_none() is not None:
        return twiml
    number = checked_identity(IdentityKind.PHONE, call.number, call.rules, "From")
    requester = await find_or_create(session, call.hook.tenant.id, IdentityKind.PHONE, number)
    desk = await open_desk(session, call.hook.tenant, channel_actor(Channel.VOICE), call.rules)
    url, seconds = call.hook.get("RecordingUrl"), call.hook.get("RecordingDuration")
    ticket = await create_ticket(
        session,
        desk,
        TicketCreate(
            requester_id=requester.customer.id,
            subject=spoken(call.locale, "voicemail_subject", number=number),
            description=f"{url}\n({seconds} s)",
            channel=Channel.VOICE,
        ),
    )
    work = (
        await session.execute(select(Interaction.id).where(Interaction.ticket_id == ticket.id))
    ).scalar()
    if work is not None:
        # A concurrent retry that stored it first makes this insert fail, and the whole
        # transaction (this second ticket with it) rolls back.
        session.add(
            ChannelReceipt(
                tenant_id=call.hook.tenant.id,
                channel=Channel.VOICE,
                provider_ref=recording,
                interaction_id=work,
                message_id=None,
            )
        )
        await session.flush()
    return twiml
