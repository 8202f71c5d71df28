"""The administration pages (httpx): each section lists what exists, for administrators only."""

import httpx
import pytest

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world
from tests.web.helpers import make_user, post_login

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def _sign_in(world: World, client: httpx.AsyncClient, role: Role = Role.ADMIN) -> None:
    tenant = world.tenant
    email = await make_user(tenant.app, tenant.db, [(tenant, role)], name="Alba Admin")
    client.cookies.clear()
    assert (await post_login(client, email)).status_code == 303


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("company", "País (festivos)"),
        ("members", "Añadir una persona"),
        ("skills", "Nueva habilidad"),
        ("queues", "Nueva cola"),
        ("agents", "Habilidades en esta empresa"),
        ("calendars", "Nuevo calendario laboral"),
        ("policies", "Nueva política de SLA"),
    ],
)
async def test_every_section_renders_its_list_and_form(
    world: World, client: httpx.AsyncClient, section: str, expected: str
) -> None:
    await world.agent(name=XSS)
    await _sign_in(world, client)

    page = await client.get(f"/admin?tenant={world.tenant.slug}&section={section}&lang=es")

    assert page.status_code == 200, page.text
    assert expected in page.text
    assert 'src="/static/js/forms.js"' in page.text
    assert XSS not in page.text
    assert 'aria-current="page"' in page.text


async def test_the_lists_show_the_configuration(world: World, client: httpx.AsyncClient) -> None:
    await world.agent(name="Pedro Pérez")
    await _sign_in(world, client)
    slug = world.tenant.slug

    queues = await client.get(f"/admin?tenant={slug}&section=queues&lang=en")
    agents = await client.get(f"/admin?tenant={slug}&section=agents&lang=en")
    members = await client.get(f"/admin?tenant={slug}&section=members&lang=en")

    assert "soporte ≥ 2" in queues.text
    assert "80% in 20 s" in queues.text
    assert "Pedro Pérez" in agents.text
    assert f'data-api="/api/v1/tenants/{slug}/agents/' in agents.text
    assert "Alba Admin" in members.text


async def test_only_administrators_of_the_company_get_in(
    world: World, client: httpx.AsyncClient, tenant_b: TenantFixture
) -> None:
    await _sign_in(world, client, Role.SUPERVISOR)
    assert (await client.get(f"/admin?tenant={world.tenant.slug}")).status_code == 403
    await _sign_in(world, client)
    assert (await client.get("/admin")).headers["location"] == f"/admin?tenant={world.tenant.slug}"
    assert (await client.get(f"/admin?tenant={tenant_b.slug}")).status_code == 404
    unknown = await client.get(f"/admin?tenant={world.tenant.slug}&section=secrets")
    assert unknown.status_code == 404
