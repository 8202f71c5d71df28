"""The agent desktop page and the customer panel beside each conversation (httpx)."""

import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from centralita.config import Settings
from centralita.customers.models import Customer
from centralita.db.base import utcnow
from centralita.identity.models import User
from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction
from tests.conftest import TenantFixture
from tests.routing.world import World, agent_client, make_world
from tests.web.helpers import make_user, post_login

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def _offered(world: World) -> tuple[uuid.UUID, User]:
    agent = await world.agent(name="Ana Agente")
    await world.start_router()
    work_id = await world.arrive()
    await world.step()
    return work_id, agent


async def test_the_desktop_page_carries_presence_reasons_and_templates(world: World) -> None:
    agent = await world.agent(name="Ana Agente")
    http = await agent_client(world, agent)

    page = await http.get("/agent?lang=es")

    assert page.status_code == 200
    assert 'src="/static/js/desk.js"' in page.text
    assert "Escritorio de agente" in page.text
    assert '<option value="lunch"' in page.text
    assert "Comida" in page.text
    assert 'id="work-template"' in page.text
    assert 'id="offer-template"' in page.text
    assert "Resuelto" in page.text  # a disposition
    assert '"offer": "Nuevo trabajo ofrecido"' in page.text
    english = await http.get("/agent?lang=en")
    assert "Agent desktop" in english.text
    assert '"offer": "New work offered"' in english.text


async def test_a_client_viewer_has_no_desktop(world: World, client: httpx.AsyncClient) -> None:
    tenant = world.tenant
    email = await make_user(tenant.app, tenant.db, [(tenant, Role.CLIENT_VIEWER)])
    await post_login(client, email)
    page = await client.get("/agent")
    assert page.status_code == 403


async def test_signed_out_the_desktop_asks_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/agent")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fagent"


async def test_the_customer_panel_shows_banners_and_escapes_customer_text(world: World) -> None:
    work_id, agent = await _offered(world)
    interaction = await world.interaction(work_id)
    async with world.db.tenant_session(world.tenant.id) as session:
        await session.execute(
            update(Customer)
            .where(Customer.id == interaction.customer_id)
            .values(display_name=XSS, value_tier="platinum", tags=["moroso"], title="Sra.")
        )
        await session.execute(
            update(Interaction)
            .where(Interaction.id == work_id)
            .values(topic="tarjeta", queued_at=utcnow() - timedelta(minutes=6, seconds=5))
        )
        await session.commit()
    for _ in range(2):
        earlier = await world.arrive()
        async with world.db.tenant_session(world.tenant.id) as session:
            await session.execute(
                update(Interaction)
                .where(Interaction.id == earlier)
                .values(customer_id=interaction.customer_id, topic="tarjeta", subject=XSS)
            )
            await session.commit()
    http = await agent_client(world, agent)

    panel = await http.get(
        "/agent/panel",
        params={"tenant": world.tenant.slug, "interaction": str(work_id), "lang": "es"},
    )

    assert panel.status_code == 200
    assert XSS not in panel.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in panel.text
    assert "Cliente VIP" in panel.text
    assert "Contacto número 3 sobre «tarjeta» en 7 días" in panel.text
    assert "moroso" in panel.text
    assert "Platino" in panel.text
    assert "Esperó 6 minutos" in panel.text


async def test_the_panel_of_another_tenants_work_is_not_found(
    world: World, tenant_b: TenantFixture
) -> None:
    work_id, agent = await _offered(world)
    http = await agent_client(world, agent)

    foreign = await http.get(
        "/agent/panel", params={"tenant": tenant_b.slug, "interaction": str(work_id)}
    )
    missing = await http.get(
        "/agent/panel", params={"tenant": world.tenant.slug, "interaction": str(uuid.uuid4())}
    )

    assert foreign.status_code == 404
    assert missing.status_code == 404


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")


async def test_work_pages_carry_no_inline_code(world: World, client: httpx.AsyncClient) -> None:
    tenant = world.tenant
    pages = {
        Role.SUPERVISOR: ("/agent", f"/supervisor?tenant={tenant.slug}"),
        Role.ADMIN: (f"/admin?tenant={tenant.slug}",),
    }
    for role, paths in pages.items():
        client.cookies.clear()
        await post_login(client, await make_user(tenant.app, tenant.db, [(tenant, role)]))
        for path in paths:
            await _assert_no_inline_code(client, path)


async def _assert_no_inline_code(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path)
    assert page.status_code == 200, path
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert not INLINE_SCRIPT.search(page.text), path
    assert "<style" not in page.text
    assert " style=" not in page.text
    assert not re.search(r"<[^>]*\son\w+=", page.text), path
