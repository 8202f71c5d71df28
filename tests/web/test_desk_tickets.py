"""Tickets from the desk: a conversation filed under a ticket (and moved to another), what the
customer panel then shows, and the reply macros rendered for that ticket's customer."""

import uuid

import pytest
from sqlalchemy import select

from centralita.config import Settings
from centralita.interactions.models import Interaction, InteractionState
from tests.conftest import TenantFixture
from tests.routing.world import World, agent_client, make_world


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def test_a_conversation_is_filed_under_a_ticket_and_moved_to_another(
    world: World, tenant_b: TenantFixture
) -> None:
    agent = await world.agent(name="Ana Agente")
    http = await agent_client(world, agent)
    work_id = await world.arrive()
    customer = (await world.interaction(work_id)).customer_id

    async def ticket(subject: str) -> dict[str, str]:
        made = await http.post(
            world.tenant.url("/tickets"),
            json={"requester_id": str(customer), "subject": subject, "channel": "chat"},
        )
        assert made.status_code == 201, made.text
        body: dict[str, str] = made.json()
        return body

    first, second = await ticket("Tarjeta bloqueada"), await ticket("Tarjeta bloqueada otra vez")
    filed = await http.post(
        world.tenant.url(f"/tickets/{first['id']}/conversations"),
        json={"interaction_id": str(work_id)},
    )
    assert filed.status_code == 200, filed.text
    assert filed.json()["reference"] == first["reference"]
    detail = (await http.get(world.tenant.url(f"/interactions/{work_id}"))).json()
    assert detail["ticket_id"] == first["id"]

    # Filing it again is harmless; filing it elsewhere moves it, and both histories say so.
    again = await http.post(
        world.tenant.url(f"/tickets/{first['id']}/conversations"),
        json={"interaction_id": str(work_id)},
    )
    assert again.status_code == 200
    moved = await http.post(
        world.tenant.url(f"/tickets/{second['id']}/conversations"),
        json={"interaction_id": str(work_id)},
    )
    assert moved.status_code == 200, moved.text
    detail = (await http.get(world.tenant.url(f"/interactions/{work_id}"))).json()
    assert detail["ticket_id"] == second["id"]
    history = (await http.get(world.tenant.url(f"/tickets/{first['id']}/history"))).json()
    actions = [entry.get("action") for entry in history]
    assert actions.count("ticket.conversation_attached") == 1
    assert "ticket.conversation_detached" in actions
    history = (await http.get(world.tenant.url(f"/tickets/{second['id']}/history"))).json()
    assert "ticket.conversation_attached" in [entry.get("action") for entry in history]

    # The panel beside the conversation says where it is filed and what is related.
    linked = await http.post(
        world.tenant.url(f"/tickets/{second['id']}/links"), json={"other_id": first["id"]}
    )
    assert linked.status_code == 201, linked.text
    panel = await http.get(
        "/agent/panel",
        params={"tenant": world.tenant.slug, "interaction": str(work_id), "lang": "en"},
    )
    assert panel.status_code == 200
    assert panel.text.count("This conversation is filed under this ticket.") == 1
    assert f"File this conversation under {first['reference']}" in panel.text
    assert f"Related: {first['reference']}" in panel.text
    assert f"Merge it into {second['reference']} (it is a duplicate)" in panel.text
    spanish = await http.get(
        "/agent/panel",
        params={"tenant": world.tenant.slug, "interaction": str(work_id), "lang": "es"},
    )
    assert "Esta conversación está archivada en esta incidencia." in spanish.text

    # A merged (closed) ticket takes no conversation; an unknown one is a field error.
    merged = await http.post(
        world.tenant.url(f"/tickets/{second['id']}/merge"), json={"source_id": first["id"]}
    )
    assert merged.status_code == 200, merged.text
    refused = await http.post(
        world.tenant.url(f"/tickets/{first['id']}/conversations"),
        json={"interaction_id": str(work_id)},
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    unknown = await http.post(
        world.tenant.url(f"/tickets/{second['id']}/conversations"),
        json={"interaction_id": str(uuid.uuid4())},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.interaction_id"

    # Another tenant's conversation is as unknown as one that never existed.
    admin_b = await tenant_b.client()
    theirs = await admin_b.post(
        tenant_b.url("/interactions"),
        json={"channel": "chat", "identity": {"kind": "email", "value": "b@example.com"}},
    )
    assert theirs.status_code == 201, theirs.text
    foreign = await http.post(
        world.tenant.url(f"/tickets/{second['id']}/conversations"),
        json={"interaction_id": theirs.json()["id"]},
    )
    assert foreign.status_code == 422
    await http.aclose()


async def _ticket_work(world: World, ticket_id: str) -> list[Interaction]:
    async with world.db.tenant_session(world.tenant.id) as session:
        query = select(Interaction).where(Interaction.ticket_id == uuid.UUID(ticket_id))
        return list((await session.execute(query)).scalars())


async def test_a_ticket_made_from_an_open_conversation_is_worked_in_that_conversation(
    world: World, tenant_b: TenantFixture
) -> None:
    agent = await world.agent(name="Ana Agente")
    http = await agent_client(world, agent)
    work_id = await world.arrive()
    customer = str((await world.interaction(work_id)).customer_id)

    made = await http.post(
        world.tenant.url("/tickets"),
        json={
            "requester_id": customer,
            "subject": "Tarjeta bloqueada",
            "channel": "chat",
            "conversation_id": str(work_id),
        },
    )
    assert made.status_code == 201, made.text
    ticket = made.json()
    # The chat is the ticket's work: nothing else waits in the queue beside it.
    assert [item.id for item in await _ticket_work(world, ticket["id"])] == [work_id]
    history = (await http.get(world.tenant.url(f"/tickets/{ticket['id']}/history"))).json()
    assert "ticket.conversation_attached" in [entry.get("action") for entry in history]

    # Once the conversation is over, a ticket made from it is follow-up work of its own.
    async with world.db.tenant_session(world.tenant.id) as session:
        ended = await session.get(Interaction, (world.tenant.id, work_id))
        assert ended is not None
        ended.state = InteractionState.ENDED
        await session.commit()
    follow_up = await http.post(
        world.tenant.url("/tickets"),
        json={"requester_id": customer, "subject": "Seguimiento", "conversation_id": str(work_id)},
    )
    assert follow_up.status_code == 201, follow_up.text
    work = await _ticket_work(world, follow_up.json()["id"])
    assert len(work) == 2
    assert {item.state for item in work} == {InteractionState.ENDED, InteractionState.QUEUED}

    # Someone else's conversation, another tenant's, or none at all: a field error, no ticket.
    other_customer = (await world.interaction(await world.arrive())).customer_id
    admin_b = await tenant_b.client()
    theirs = await admin_b.post(
        tenant_b.url("/interactions"),
        json={"channel": "chat", "identity": {"kind": "email", "value": "b@example.com"}},
    )
    assert theirs.status_code == 201, theirs.text
    before = (await http.get(world.tenant.url("/tickets"))).json()["items"]
    for requester, conversation in (
        (str(other_customer), str(work_id)),
        (customer, theirs.json()["id"]),
        (customer, str(uuid.uuid4())),
    ):
        refused = await http.post(
            world.tenant.url("/tickets"),
            json={"requester_id": requester, "subject": "x", "conversation_id": conversation},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "body.conversation_id"
    assert (await http.get(world.tenant.url("/tickets"))).json()["items"] == before
    await http.aclose()


async def test_a_macro_is_rendered_for_the_ticket_the_conversation_is_filed_under(
    world: World,
) -> None:
    admin = await world.tenant.client()
    template = await admin.post(
        world.tenant.url("/ticket-templates"),
        json={
            "name": "Tarjetas",
            "macros": [
                {
                    "name": "Saludo",
                    "body": {
                        "es": "Hola {{customer.preferred_name}}, sobre {{ticket.number}}:",
                        "en": "Hello {{customer.preferred_name}}, about {{ticket.number}}:",
                    },
                }
            ],
        },
    )
    assert template.status_code == 201, template.text
    agent = await world.agent(name="Ana Agente")
    http = await agent_client(world, agent)
    work_id = await world.arrive(queue=world.queue.name)
    customer = (await world.interaction(work_id)).customer_id
    await admin.patch(world.tenant.url(f"/customers/{customer}"), json={"preferred_name": "Rosa"})
    made = await http.post(
        world.tenant.url("/tickets"), json={"requester_id": str(customer), "subject": "Tarjeta"}
    )
    ticket = made.json()
    await http.post(
        world.tenant.url(f"/tickets/{ticket['id']}/conversations"),
        json={"interaction_id": str(work_id)},
    )
    detail = (await http.get(world.tenant.url(f"/interactions/{work_id}"))).json()

    # What the desk does when the agent picks the macro: listed, then rendered for the ticket.
    (listed,) = [
        t
        for t in (await http.get(world.tenant.url("/ticket-templates"))).json()
        if t["id"] == template.json()["id"]
    ]
    rendered = await http.post(
        world.tenant.url(f"/tickets/{detail['ticket_id']}/macros/render"),
        json={"template_id": listed["id"], "index": 0},
    )
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["text"] == f"Hola Rosa, sobre {ticket['reference']}:"
    await http.aclose()
    await admin.aclose()
