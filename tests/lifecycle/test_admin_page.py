"""The administration's data section: retention periods and exports, in Spanish and English."""

import httpx
import pytest

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.lifecycle.helpers import export_ready
from tests.web.helpers import make_user, post_login


async def _sign_in(tenant: TenantFixture, client: httpx.AsyncClient, role: Role) -> None:
    email = await make_user(tenant.app, tenant.db, [(tenant, role)], name="Alba Admin")
    client.cookies.clear()
    assert (await post_login(client, email)).status_code == 303


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("es", ("Datos y privacidad", "Conversaciones (días)", "Lista", "Descargar")),
        ("en", ("Data and privacy", "Conversations (days)", "Ready", "Download")),
    ],
)
async def test_the_data_section_shows_the_periods_and_the_exports(
    tenant_a: TenantFixture,
    client: httpx.AsyncClient,
    settings: Settings,
    lang: str,
    words: tuple[str, ...],
) -> None:
    api = await tenant_a.client(Role.ADMIN)
    await api.put(tenant_a.url("/retention"), json={"conversations_days": 400})
    ready = await export_ready(tenant_a, settings)
    await _sign_in(tenant_a, client, Role.ADMIN)

    page = await client.get(f"/admin?tenant={tenant_a.slug}&section=data&lang={lang}")

    assert page.status_code == 200, page.text
    for word in words:
        assert word in page.text
    assert 'name="conversations_days" data-type="int" inputmode="numeric" value="400"' in page.text
    download = tenant_a.url(f"/exports/{ready['id']}/download")
    assert f'href="{download}"' in page.text


async def test_supervisors_do_not_reach_the_data_section(
    tenant_a: TenantFixture, client: httpx.AsyncClient
) -> None:
    await _sign_in(tenant_a, client, Role.SUPERVISOR)

    page = await client.get(f"/admin?tenant={tenant_a.slug}&section=data")

    assert page.status_code == 403
