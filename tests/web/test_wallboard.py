"""The supervisor's wallboard page and its live fragment (httpx)."""

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from centralita.config import Settings
from centralita.customers.models import Customer
from centralita.db.base import utcnow
from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction
from centralita.routing.models import AgentProfile
from centralita.tickets.models import Ticket
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world
from tests.web.helpers import make_user, post_login

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def _supervisor(
    world: World, client: httpx.AsyncClient, role: Role = Role.SUPERVISOR
) -> None:
    tenant = world.tenant
    email = await make_user(tenant.app, tenant.db, [(tenant, role)], name="Sara Supervisora")
    client.cookies.clear()
    assert (await post_login(client, email)).status_code == 303


async def test_the_wallboard_shows_queues_agents_waiting_work_and_charts(
    world: World, client: httpx.AsyncClient
) -> None:
    busy = await world.agent(name=XSS)
    idle = await world.agent(name="Ana Libre")
    waiting = await world.arrive()
    last_week = await world.arrive()
    async with world.db.tenant_session(world.tenant.id) as session:
        customer_id = (await world.interaction(waiting)).customer_id
        await session.execute(
            update(Customer).where(Customer.id == customer_id).values(display_name=XSS)
        )
        await session.execute(
            update(Interaction).where(Interaction.id == waiting).values(subject=XSS)
        )
        # What the router records when it gives an agent a chat.
        await session.execute(
            update(AgentProfile).where(AgentProfile.user_id == busy.id).values(load_chat=1)
        )
        await session.execute(
            update(Interaction)
            .where(Interaction.id == last_week)
            .values(queued_at=utcnow() - timedelta(days=7), state="abandoned", ended_at=utcnow())
        )
        await session.commit()
    await _supervisor(world, client)

    page = await client.get(f"/supervisor?tenant={world.tenant.slug}&lang=es")

    assert page.status_code == 200, page.text
    html = page.text
    assert XSS not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 3  # agent, customer, subject
    assert "Panel de supervisión" in html
    assert f'data-queue="{world.queue.id}"' in html
    assert "Cola de trabajo en espera" not in html
    assert "Trabajo en espera" in html
    assert 'data-field="waiting">1<' in html
    assert "Contactos por 15 minutos" in html
    assert "Hoy 1 contactos; el mismo día de la semana pasada 1." in html
    assert 'class="bar"' in html
    assert f'<form class="move-form inline-form" data-interaction="{waiting}">' in html
    # The waiting work can be handed to the signed-in agent.
    assert f'<form class="offer-form inline-form" data-interaction="{waiting}">' in html
    # Load is read per kind of work in hand, in the page's language; an idle agent holds none.
    busy_row = html[html.index("&lt;img src=x") :]
    assert (
        '<span class="load">Chat <span class="num">1/3</span></span>'
        in busy_row[: busy_row.index("</tr>")]
    )
    idle_row = html[html.index(idle.display_name) :]
    assert 'class="load"' not in idle_row[: idle_row.index("</tr>")]


async def test_without_a_company_the_wallboard_opens_the_first_one(
    world: World, client: httpx.AsyncClient
) -> None:
    await _supervisor(world, client)
    page = await client.get("/supervisor")
    assert page.status_code == 303
    assert page.headers["location"] == f"/supervisor?tenant={world.tenant.slug}"


async def test_agents_have_no_wallboard_and_other_companies_are_not_found(
    world: World, client: httpx.AsyncClient, tenant_b: TenantFixture
) -> None:
    await _supervisor(world, client, Role.AGENT)
    assert (await client.get(f"/supervisor?tenant={world.tenant.slug}")).status_code == 403
    assert (await client.get(f"/supervisor?tenant={tenant_b.slug}")).status_code == 403
    await _supervisor(world, client)
    assert (await client.get(f"/supervisor?tenant={tenant_b.slug}")).status_code == 404
    assert (await client.get(f"/supervisor/live?tenant={tenant_b.slug}")).status_code == 404


async def test_the_live_fragment_lists_tickets_breaching_within_the_hour(
    world: World, client: httpx.AsyncClient
) -> None:
    admin = await world.tenant.client()
    customer = await admin.post(world.tenant.url("/customers"), json={"display_name": "Rosa"})
    assert customer.status_code == 201, customer.text
    made: list[uuid.UUID] = []
    for subject in ("Tarjeta bloqueada", "Cambio de domicilio"):
        ticket = await admin.post(
            world.tenant.url("/tickets"),
            json={"requester_id": customer.json()["id"], "subject": subject},
        )
        assert ticket.status_code == 201, ticket.text
        made.append(uuid.UUID(ticket.json()["id"]))
    async with world.db.tenant_session(world.tenant.id) as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == made[0])
            .values(sla_due_at=utcnow() + timedelta(minutes=20))
        )
        await session.execute(
            update(Ticket)
            .where(Ticket.id == made[1])
            .values(sla_due_at=utcnow() + timedelta(hours=5))
        )
        await session.commit()
    await _supervisor(world, client)

    live = await client.get(f"/supervisor/live?tenant={world.tenant.slug}&lang=en")

    assert live.status_code == 200
    # New tickets are routable work too: they also wait in the queue, listed before.
    _, breaching = live.text.split("Tickets breaching within the hour")
    assert "Tarjeta bloqueada" in breaching
    assert "Cambio de domicilio" not in breaching
    assert "<html" not in live.text
