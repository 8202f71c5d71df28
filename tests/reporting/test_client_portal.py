"""The client portal over HTTP: one tenant only, agents unnamed unless allowed, text as text."""

import httpx
import pytest
from fastapi import FastAPI

from centralita.db.engine import Database
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture, TenantMaker
from tests.reporting.helpers import Outcome, add_queue, agent_user, contact
from tests.web.helpers import make_user, post_login

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _signed_in(http: httpx.AsyncClient, email: str) -> None:
    response = await post_login(http, email)
    assert response.status_code == 303, response.text


async def test_a_client_manager_sees_their_tenant_and_never_another(
    app: FastAPI, db: Database, make_tenant: TenantMaker, browser: httpx.AsyncClient
) -> None:
    bank = await make_tenant(name="Banco Meridiano")
    rival = await make_tenant(name="Seguros Rivales")
    await add_queue(bank)
    await add_queue(rival)
    for _ in range(3):
        await contact(bank, Outcome(answered_after=5))
    await contact(bank, Outcome(abandoned_after=40))
    await contact(rival, Outcome(abandoned_after=40))
    email = await make_user(app, db, [(bank, Role.CLIENT_VIEWER)], name="Clara Cliente")
    await _signed_in(browser, email)

    own = await browser.get("/client", params={"tenant": bank.slug})
    default = await browser.get("/client")
    other = await browser.get("/client", params={"tenant": rival.slug})
    export = await browser.get(
        f"/api/v1/tenants/{rival.slug}/reports/export", params={"report": "intervals"}
    )

    assert own.status_code == 200, own.text
    assert "Banco Meridiano" in own.text
    assert "Seguros Rivales" not in own.text
    assert "Nivel de servicio" in own.text
    assert "75,0" in own.text  # 3 answered within 20 s of 4 counted contacts
    assert default.status_code == 200
    assert "Banco Meridiano" in default.text
    assert other.status_code == 404
    assert "Seguros Rivales" not in other.text
    assert export.status_code == 404
    assert own.headers["content-security-policy"].startswith("default-src 'self'")


async def test_an_agent_has_no_client_portal(
    app: FastAPI, db: Database, tenant_a: TenantFixture, browser: httpx.AsyncClient
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])
    await _signed_in(browser, email)

    response = await browser.get("/client", params={"tenant": tenant_a.slug})

    assert response.status_code == 404


async def test_agent_names_and_customer_text_on_the_portal(
    app: FastAPI, db: Database, tenant_a: TenantFixture, browser: httpx.AsyncClient
) -> None:
    await add_queue(tenant_a)
    agent = await agent_user(tenant_a, "Pedro Operador")
    await contact(tenant_a, Outcome(answered_after=5), agent_id=agent, topic=XSS)
    email = await make_user(app, db, [(tenant_a, Role.CLIENT_VIEWER)], locale="en")
    await _signed_in(browser, email)

    hidden = await browser.get("/client", params={"tenant": tenant_a.slug})
    admin = await tenant_a.client(Role.ADMIN)
    await admin.patch(tenant_a.url("/reports/settings"), json={"show_agent_names_to_clients": True})
    shown = await browser.get("/client", params={"tenant": tenant_a.slug})

    assert "Pedro Operador" not in hidden.text
    assert "Pedro Operador" in shown.text
    assert "Service level" in hidden.text
    assert XSS not in hidden.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in hidden.text


async def test_a_bad_period_is_explained_and_the_page_still_works(
    app: FastAPI, db: Database, tenant_a: TenantFixture, browser: httpx.AsyncClient
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.CLIENT_VIEWER)])
    await _signed_in(browser, email)

    reversed_period = await browser.get(
        "/client",
        params={"tenant": tenant_a.slug, "date_from": "2026-03-10", "date_to": "2026-03-01"},
    )
    not_a_date = await browser.get(
        "/client", params={"tenant": tenant_a.slug, "date_from": "yesterday"}
    )

    assert reversed_period.status_code == 422
    assert "El periodo termina antes de empezar" in reversed_period.text
    assert not_a_date.status_code == 422
    assert "año-mes-día" in not_a_date.text
    assert 'type="date"' in not_a_date.text


async def test_the_landing_page_links_the_client_portal(
    app: FastAPI, db: Database, tenant_a: TenantFixture, browser: httpx.AsyncClient
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.CLIENT_VIEWER)])
    await _signed_in(browser, email)

    home = await browser.get("/home")

    assert f'href="/client?tenant={tenant_a.slug}"' in home.text
