"""The visitor's chat over a real socket against uvicorn; the agent's side over /ws/agent."""

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from centralita.channels.chat.tokens import Visitor
from centralita.customers.models import Customer, CustomerIdentity, IdentityKind
from centralita.customers.service import find_or_create
from centralita.interactions.models import Channel, Interaction, InteractionState, Message
from centralita.jobs.models import Job, JobKind
from centralita.nlu.service import set_intent_route
from centralita.routing.models import Queue
from centralita.tickets.models import Ticket
from tests.channels.chat.conftest import ChatWorld, add_widget, receive, send, start_chat
from tests.conftest import TenantMaker
from tests.routing.world import agent_client, session_cookie


async def _chat_interaction(chat: ChatWorld) -> Interaction:
    async with chat.world.db.tenant_session(chat.world.tenant.id) as session:
        return (
            await session.execute(select(Interaction).where(Interaction.channel == Channel.CHAT))
        ).scalar_one()


async def _count(chat: ChatWorld, column: object) -> int:
    async with chat.world.db.tenant_session(chat.world.tenant.id) as session:
        return int((await session.execute(select(func.count(column)))).scalar_one())  # type: ignore[arg-type]


async def _closed_with(connecting: Any) -> int | None:
    async with connecting as visitor:
        with pytest.raises(ConnectionClosed) as closed:
            await receive(visitor)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_a_visitor_chats_with_the_agent_who_takes_the_work(chat: ChatWorld) -> None:
    world = chat.world
    agent = await world.agent(name="Marta Ruiz")
    await world.start_router()
    cookie = await session_cookie(world, agent)
    headers = {"Cookie": f"centralita_session={cookie}"}
    agent_ws = connect(f"ws://{chat.server}/ws/agent", additional_headers=headers)
    async with chat.connect() as visitor, agent_ws as desk:
        await receive(desk, "snapshot")
        token = await start_chat(visitor, email="lucia@example.com", topic="Facturas")
        await visitor.close()
        async with chat.connect(token) as visitor:
            snapshot = await receive(visitor, "snapshot")
            assert snapshot["state"] == "queued"
            assert snapshot["position"] == 1
            assert [m["text"] for m in snapshot["messages"]] == [
                "Hola, tengo un problema con mi factura"
            ]
            assert (await receive(visitor, "position"))["position"] == 1

            await world.step()
            offered = await receive(desk, "interaction.offered")
            work_id = offered["data"]["interaction_id"]
            http = await agent_client(world, agent)
            assert (await http.post(world.tenant.url(f"/interactions/{work_id}/accept"))).is_success
            assert (await receive(visitor, "agent"))["name"] == "Marta Ruiz"

            typed = await http.post(world.tenant.url(f"/interactions/{work_id}/typing"))
            assert typed.status_code == 204
            await receive(visitor, "typing")
            reply = await http.post(
                world.tenant.url(f"/interactions/{work_id}/messages"),
                json={"author_kind": "agent", "text": "Hola Lucía, ¿qué número de factura?"},
            )
            assert reply.status_code == 201, reply.text
            heard = await receive(visitor, "message")
            assert heard["message"]["author"] == "agent"
            assert heard["message"]["text"] == "Hola Lucía, ¿qué número de factura?"

            await send(visitor, type="typing")
            assert (await receive(desk, "visitor.typed"))["data"]["interaction_id"] == work_id
            await send(visitor, type="message", id="m2", text="La F-2024-118")
            assert (await receive(visitor, "ack"))["id"] == "m2"
            added = await receive(desk, "interaction.message_added")
            assert added["data"]["message"]["text"] == "La F-2024-118"
            last_event = heard["event_id"]

        # A reconnect resumes: the same conversation, what was missed replayed.
        reply = await http.post(
            world.tenant.url(f"/interactions/{work_id}/messages"),
            json={"author_kind": "agent", "text": "Ya está corregida"},
        )
        async with chat.connect(token, last_event) as visitor:
            snapshot = await receive(visitor, "snapshot")
            assert snapshot["agent"] == "Marta Ruiz"
            assert [m["author"] for m in snapshot["messages"]] == [
                "visitor",
                "agent",
                "visitor",
                "agent",
            ]
            replayed = await receive(visitor, "message")
            assert replayed["message"]["text"] in {"La F-2024-118", "Ya está corregida"}
            # A resend of a message already stored (its ack was lost) stores nothing.
            await send(visitor, type="message", id="m2", text="La F-2024-118")
            assert (await receive(visitor, "ack"))["message_id"] is None

            ended = await http.post(world.tenant.url(f"/interactions/{work_id}/end"))
            assert ended.is_success, ended.text
            await receive(visitor, "ended")
            await send(visitor, type="message", id="m9", text="¿Sigues ahí?")
            assert (await receive(visitor, "error"))["code"] == "conversation-ended"
        await http.aclose()
    assert await _count(chat, Message.id) == 4
    interaction = await _chat_interaction(chat)
    assert interaction.state == InteractionState.WRAP_UP
    assert interaction.subject == "Facturas"


async def test_the_first_message_steers_the_chat_to_its_intents_queue(chat: ChatWorld) -> None:
    world = chat.world
    async with world.db.tenant_session(world.tenant.id) as session:
        session.add(Queue(tenant_id=world.tenant.id, name="facturacion", channels=["chat"]))
        await set_intent_route(
            session, world.tenant.id, "billing", queue="facturacion", keywords=["factura"]
        )
        await session.commit()
    async with chat.connect() as visitor:
        await start_chat(visitor, text="Hola, no entiendo el cargo de mi última factura")

    steered = await _chat_interaction(chat)
    assert steered.queue == "facturacion"
    assert steered.self_service_context["intent"] == "billing"


async def test_a_visitor_with_a_known_email_is_the_same_customer(chat: ChatWorld) -> None:
    world = chat.world
    async with world.db.tenant_session(world.tenant.id) as session:
        known = await find_or_create(
            session, world.tenant.id, IdentityKind.EMAIL, "pablo@example.com", "Pablo"
        )
        await session.commit()
    async with chat.connect() as visitor:
        await start_chat(visitor, name="Pablo", email="Pablo@Example.com")
    interaction = await _chat_interaction(chat)
    assert interaction.customer_id == known.customer.id
    assert await _count(chat, Customer.id) == 1
    async with world.db.tenant_session(world.tenant.id) as session:
        kinds = (
            await session.execute(
                select(CustomerIdentity.kind).where(
                    CustomerIdentity.customer_id == known.customer.id
                )
            )
        ).scalars()
        assert sorted(kinds) == ["chat", "email"]


async def test_a_new_visitor_becomes_a_customer_with_their_email(chat: ChatWorld) -> None:
    async with chat.connect() as visitor:
        await start_chat(visitor, email="nueva@example.com")
    async with chat.world.db.tenant_session(chat.world.tenant.id) as session:
        identities = (await session.execute(select(CustomerIdentity))).scalars().all()
    assert sorted(i.kind for i in identities) == ["chat", "email"]
    assert len({i.customer_id for i in identities}) == 1


async def test_too_long_too_many_and_malformed_messages_are_refused(chat: ChatWorld) -> None:
    async with chat.connect() as visitor:
        await start_chat(visitor)
        await receive(visitor, "snapshot")
        await send(visitor, type="message", id="big", text="x" * 501)
        assert (await receive(visitor, "error"))["code"] == "too-long"
        await visitor.send("not json")
        assert (await receive(visitor, "error"))["code"] == "invalid"
        await send(visitor, type="message", id="bad id!", text="hola")
        assert (await receive(visitor, "error"))["code"] == "invalid"
        codes = []
        for n in range(6):
            await send(visitor, type="message", id=f"n{n}", text=f"mensaje {n}")
            answer = await receive(visitor)
            while answer["type"] not in {"ack", "error"}:
                answer = await receive(visitor)
            codes.append(answer["type"] if answer["type"] == "ack" else answer["code"])
    assert codes == ["ack"] * 5 + ["rate-limited"]
    assert await _count(chat, Message.id) == 6


async def test_a_forged_or_foreign_token_is_refused(chat: ChatWorld, make_tenant) -> None:
    other = await make_tenant(name="Otra")
    foreign = Visitor(other.id, "v-x", "chat-x").sign("test-secret")
    forged = Visitor(chat.world.tenant.id, "v-x", "chat-x").sign("not-the-secret")
    for token in (foreign, forged):
        assert await _closed_with(chat.connect(token)) == 4401


async def test_a_closed_queue_takes_a_message_as_an_email_ticket(chat: ChatWorld) -> None:
    world = chat.world
    async with world.db.tenant_session(world.tenant.id) as session:
        queue = await session.get(type(world.queue), (world.tenant.id, world.queue.id))
        assert queue is not None
        # Closed every day: no opening hours at all.
        queue.business_hours = {"mon": []}
        await session.commit()
    async with chat.connect() as visitor:
        hello = await receive(visitor, "hello")
        assert hello["leave_message"] is True
        await send(
            visitor,
            type="leave_message",
            name="Rosa",
            email="not-an-email",
            text="Necesito una copia del contrato",
        )
        assert (await receive(visitor, "error"))["code"] == "invalid"
        await send(
            visitor,
            type="leave_message",
            name="Rosa",
            email="rosa@example.com",
            topic="Contrato",
            text="Necesito una copia del contrato",
        )
        left = await receive(visitor, "message_left")
    async with world.db.tenant_session(world.tenant.id) as session:
        ticket = (await session.execute(select(Ticket))).scalar_one()
    assert left["ticket"].endswith(f"-{ticket.number}")
    assert ticket.channel == Channel.EMAIL
    assert ticket.subject == "Contrato"


async def test_a_transcript_request_is_queued_as_a_job(chat: ChatWorld) -> None:
    async with chat.connect() as visitor:
        await start_chat(visitor)
        await receive(visitor, "snapshot")
        await send(visitor, type="transcript")
        assert (await receive(visitor, "error"))["code"] == "no-email"
    async with chat.connect() as visitor:
        token = await start_chat(visitor, email="copia@example.com")
    async with chat.connect(token) as visitor:
        await receive(visitor, "snapshot")
        await send(visitor, type="transcript")
        await receive(visitor, "transcript_queued")
    async with chat.world.db.tenant_session(chat.world.tenant.id) as session:
        ours = list((await session.execute(select(Interaction.id))).scalars())
    async with chat.world.db.system_session() as session:
        query = select(Job.ref_id).where(Job.kind == JobKind.CHAT_TRANSCRIPT, Job.ref_id.in_(ours))
        jobs = list((await session.execute(query)).scalars())
    assert len(ours) == 2
    assert len(jobs) == 1


async def test_the_socket_answers_pings_and_a_missing_widget_is_refused(
    chat: ChatWorld,
    make_tenant,
) -> None:
    async with chat.connect() as visitor:
        await receive(visitor, "hello")
        await visitor.send(json.dumps({"type": "ping"}))
        await receive(visitor, "pong")
    bare = await make_tenant(name="Sin chat")
    assert await _closed_with(connect(f"ws://{chat.server}/ws/chat/{bare.slug}")) == 4404


async def test_a_widget_limited_to_some_sites_refuses_other_pages(
    chat: ChatWorld, make_tenant: TenantMaker
) -> None:
    shop = await make_tenant(name="Tienda")
    await add_widget(shop, None, allowed_origins=["https://tienda.example"])
    uri = f"ws://{chat.server}/ws/chat/{shop.slug}"

    elsewhere = connect(uri, additional_headers={"Origin": "https://evil.example"})
    assert await _closed_with(elsewhere) == 4403
    async with connect(uri, additional_headers={"Origin": "https://tienda.example"}) as visitor:
        assert (await receive(visitor))["type"] == "hello"


async def test_a_reconnect_from_an_event_long_gone_is_told_to_reload(chat: ChatWorld) -> None:
    async with chat.connect() as visitor:
        token = await start_chat(visitor)
    async with chat.connect(token, last="0190e3b6-0000-7000-8000-000000000000") as visitor:
        snapshot = await receive(visitor, "snapshot")
        assert len(snapshot["messages"]) == 1
        with pytest.raises(ConnectionClosed) as closed:
            await receive(visitor)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.reason == "resync"
    async with chat.connect(token) as visitor:
        assert (await receive(visitor, "snapshot"))["state"] == "queued"
