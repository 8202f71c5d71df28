"""The inbound protocol every channel shares: one customer, one conversation, no duplicates."""

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from centralita.channels.inbound import Inbound, Received, receive
from centralita.channels.outbound import NoSender, delivery_handlers
from centralita.customers.models import Customer, IdentityKind
from centralita.customers.service import IdentityRules
from centralita.db.engine import Database
from centralita.errors import Conflict, InvalidInput
from centralita.events.bus import Event, conversation_topic, wait_for_published
from centralita.interactions import service as interactions
from centralita.interactions.models import (
    AuthorKind,
    Channel,
    Interaction,
    InteractionState,
    Message,
)
from centralita.interactions.schemas import MessageIn
from centralita.jobs.models import Job, JobKind
from tests.conftest import TEST_ACTOR, TenantFixture


def _sms(text: str, ref: str | None = None, sender: str = "612 34 56 78") -> Inbound:
    return Inbound(
        channel=Channel.SMS,
        provider_ref=ref or f"SM{uuid.uuid4().hex}",
        sender_kind=IdentityKind.PHONE,
        sender=sender,
        text=text,
    )


async def _receive(tenant: TenantFixture, inbound: Inbound) -> Received:
    rules = IdentityRules.for_tenant(tenant.tenant, "test-secret")
    async with tenant.db.tenant_session(tenant.id) as session:
        received = await receive(session, tenant.tenant, inbound, rules)
        await session.commit()
        return received


async def _count(tenant: TenantFixture, column: object) -> int:
    async with tenant.db.tenant_session(tenant.id) as session:
        return int((await session.execute(select(func.count(column)))).scalar_one())  # type: ignore[arg-type]


@pytest.fixture
def events(app: FastAPI) -> Iterator[list[Event]]:
    heard: list[Event] = []
    app.state.bus.subscribe(heard.append)
    yield heard
    app.state.bus.unsubscribe(heard.append)


async def test_messages_from_one_phone_continue_one_conversation_until_it_ends(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    first = await _receive(tenant_a, _sms("Hola, mi pedido no ha llegado"))
    second = await _receive(tenant_a, _sms("Es el pedido 1042", sender="+34 612-345-678"))

    assert first.new_conversation
    assert not second.new_conversation
    assert second.interaction.id == first.interaction.id
    assert first.interaction.state == InteractionState.QUEUED
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        thread = await interactions.get_thread(session, first.interaction.id)
        row = await interactions.get_interaction(session, first.interaction.id, for_update=True)
        interactions.change_state(row, InteractionState.ENDED, TEST_ACTOR)
        await session.commit()
    assert [m.text for m in thread.messages] == [
        "Hola, mi pedido no ha llegado",
        "Es el pedido 1042",
    ]
    assert all(m.author_kind == AuthorKind.CUSTOMER for m in thread.messages)

    later = await _receive(tenant_a, _sms("¿Alguna novedad?"))

    assert later.new_conversation
    assert later.interaction.id != first.interaction.id
    assert later.customer_id == first.customer_id
    assert await _count(tenant_a, Customer.id) == 1
    assert await _count(tenant_b, Interaction.id) == 0


async def test_a_provider_retry_stores_nothing_and_answers_with_the_same_conversation(
    tenant_a: TenantFixture,
) -> None:
    message = _sms("Quiero darme de baja", ref="SM-retried")

    first = await _receive(tenant_a, message)
    again = await _receive(tenant_a, message)

    assert not first.duplicate
    assert again.duplicate
    assert again.message is None
    assert again.interaction.id == first.interaction.id
    assert await _count(tenant_a, Message.id) == 1


async def test_the_same_provider_message_delivered_twice_at_once_is_stored_once(
    tenant_a: TenantFixture,
) -> None:
    message = _sms("Dos entregas a la vez", ref="SM-raced")

    results = await asyncio.gather(*(_receive(tenant_a, message) for _ in range(4)))

    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert len({r.interaction.id for r in results}) == 1
    assert await _count(tenant_a, Message.id) == 1


def _chat(text: str, ref: str, conversation: str) -> Inbound:
    return Inbound(
        channel=Channel.CHAT,
        provider_ref=ref,
        sender_kind=IdentityKind.CHAT,
        sender=f"visitor-{conversation}",
        text=text,
        conversation_ref=conversation,
    )


async def test_a_message_on_a_started_conversation_delivered_four_times_at_once_is_stored_once(
    tenant_a: TenantFixture,
) -> None:
    conversation = f"conv-{uuid.uuid4().hex}"
    started = await _receive(tenant_a, _chat("Hola", f"{conversation}:1", conversation))
    before = await _count(tenant_a, Message.id)
    again = _chat("¿Seguís ahí?", f"{conversation}:2", conversation)

    results = await asyncio.gather(*(_receive(tenant_a, again) for _ in range(4)))

    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert {r.interaction.id for r in results} == {started.interaction.id}
    assert {r.customer_id for r in results} == {started.customer_id}
    assert await _count(tenant_a, Message.id) == before + 1


async def test_the_first_message_of_a_conversation_delivered_four_times_at_once_is_stored_once(
    tenant_a: TenantFixture,
) -> None:
    conversation = f"conv-{uuid.uuid4().hex}"
    opening = _chat("Hola", f"{conversation}:1", conversation)

    results = await asyncio.gather(*(_receive(tenant_a, opening) for _ in range(4)))

    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert len({r.interaction.id for r in results}) == 1
    assert await _count(tenant_a, Message.id) == 1


async def test_two_messages_starting_one_conversation_at_once_both_land_in_it(
    tenant_a: TenantFixture,
) -> None:
    conversation = f"conv-{uuid.uuid4().hex}"
    said = [
        _chat(text, f"{conversation}:{n}", conversation)
        for n, text in enumerate(("Hola", "¿Hay alguien?"))
    ]

    results = await asyncio.gather(*(_receive(tenant_a, message) for message in said))

    assert not any(r.duplicate for r in results)
    assert sorted(r.new_conversation for r in results) == [False, True]
    assert len({r.interaction.id for r in results}) == 1
    assert await _count(tenant_a, Message.id) == 2
    assert await _count(tenant_a, Interaction.id) == 1


async def test_a_retry_after_the_conversation_ended_is_a_duplicate_not_a_refusal(
    tenant_a: TenantFixture,
) -> None:
    conversation = f"conv-{uuid.uuid4().hex}"
    said = _chat("Gracias, eso era todo", f"{conversation}:1", conversation)
    first = await _receive(tenant_a, said)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        row = await interactions.get_interaction(session, first.interaction.id, for_update=True)
        interactions.change_state(row, InteractionState.ABANDONED, TEST_ACTOR)
        await session.commit()

    retried = await _receive(tenant_a, said)

    assert retried.duplicate
    assert retried.interaction.id == first.interaction.id
    with pytest.raises(Conflict):
        await _receive(tenant_a, _chat("Una cosa más", f"{conversation}:2", conversation))


async def test_a_conversation_id_keeps_a_call_or_chat_together_and_refuses_words_after_its_end(
    tenant_a: TenantFixture,
) -> None:
    def said(text: str) -> Inbound:
        return Inbound(
            channel=Channel.CHAT,
            provider_ref=uuid.uuid4().hex,
            sender_kind=IdentityKind.CHAT,
            sender="visitor-7",
            sender_name="Marta",
            text=text,
            conversation_ref="conv-1",
            topic="billing",
        )

    first = await _receive(tenant_a, said("Hola"))
    second = await _receive(tenant_a, said("¿Hay alguien?"))
    assert second.interaction.id == first.interaction.id
    assert first.interaction.topic == "billing"
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        row = await interactions.get_interaction(session, first.interaction.id, for_update=True)
        interactions.change_state(row, InteractionState.ABANDONED, TEST_ACTOR)
        await session.commit()

    with pytest.raises(Conflict):
        await _receive(tenant_a, said("¿Sigue ahí?"))
    assert await _count(tenant_a, Message.id) == 2


async def test_an_unusable_sender_is_a_clear_error_and_stores_nothing(
    tenant_a: TenantFixture,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await _receive(tenant_a, _sms("hola", sender="not a phone"))

    assert refused.value.errors[0].field == "sender"
    assert await _count(tenant_a, Interaction.id) == 0


async def test_messages_reach_the_conversation_and_agent_replies_wait_for_their_provider(
    tenant_a: TenantFixture, db: Database, events: list[Event]
) -> None:
    received = await _receive(tenant_a, _sms("Hola"))
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        reply = await interactions.add_message(
            session,
            TEST_ACTOR,
            received.interaction.id,
            MessageIn(author_kind=AuthorKind.AGENT, text="Le ayudo ahora mismo"),
        )
        await interactions.add_message(
            session,
            TEST_ACTOR,
            received.interaction.id,
            MessageIn(author_kind=AuthorKind.NOTE, text="cliente molesto"),
        )
        await session.commit()
    await wait_for_published()

    topic = conversation_topic(received.interaction.id)
    heard = [e.data["message"]["text"] for e in events if topic in e.recipients]
    assert heard == ["Hola", "Le ayudo ahora mismo"]
    async with db.system_session() as session:
        jobs = await session.execute(select(Job).where(Job.kind == JobKind.CHANNEL_DELIVERY))
        deliveries = [job.ref_id for job in jobs.scalars()]
    assert reply.id in deliveries
    assert len([ref for ref in deliveries if ref == reply.id]) == 1


async def test_a_delivery_goes_to_the_channels_sender_and_fails_loudly_without_one(
    tenant_a: TenantFixture, db: Database
) -> None:
    received = await _receive(tenant_a, _sms("Hola"))
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        reply = await interactions.add_message(
            session,
            TEST_ACTOR,
            received.interaction.id,
            MessageIn(author_kind=AuthorKind.AGENT, text="Enviado"),
        )
        await session.commit()
    sent: list[tuple[str, str]] = []

    async def sms_sender(session, interaction, message, now, last_attempt):
        sent.append((str(interaction.id), message.text))

    job = Job(kind=JobKind.CHANNEL_DELIVERY, ref_id=reply.id)
    async with db.system_session() as session:
        await delivery_handlers({Channel.SMS: sms_sender})[JobKind.CHANNEL_DELIVERY](
            session, job, reply.created_at
        )
    assert sent == [(str(received.interaction.id), "Enviado")]

    async with db.system_session() as session:
        with pytest.raises(NoSender):
            await delivery_handlers({})[JobKind.CHANNEL_DELIVERY](session, job, reply.created_at)
