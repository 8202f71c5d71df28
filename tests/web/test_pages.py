"""The page foundation later pages build on: error pages, rollback, CSRF-checked forms."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from centralita.db.engine import Database
from centralita.errors import Forbidden, NotFound
from centralita.identity.permissions import Role
from centralita.tenancy.models import Tenant
from centralita.web.pages import AnyPage, CsrfCheckedPage, SignedInPage, page_router, safe_next
from tests.conftest import TenantFixture
from tests.web.helpers import csrf_from, make_user, signed_in_home


@pytest.fixture
def probe_app(app: FastAPI) -> FastAPI:
    """The application with a few pages of the kind later issues add."""
    router = page_router()

    @router.get("/probe/missing")
    async def missing(page: AnyPage) -> None:
        raise NotFound("no such queue")

    @router.get("/probe/forbidden")
    async def forbidden(page: SignedInPage) -> None:
        raise Forbidden("supervisors only")

    @router.get("/probe/half-done")
    async def half_done(page: AnyPage) -> None:
        page.session.add(
            Tenant(
                slug="half-done", name="Half", default_locale="es", time_zone="UTC", country="ES"
            )
        )
        await page.session.flush()
        raise NotFound("gone after all")

    @router.get("/probe/counted")
    async def counted(page: AnyPage, limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @router.post("/probe/form")
    async def form(page: CsrfCheckedPage) -> dict[str, str]:
        return {"user": page.viewer.email}

    app.include_router(router)
    return app


async def test_missing_thing_in_a_page_answers_a_translated_html_404(
    probe_app: FastAPI, client: httpx.AsyncClient
) -> None:
    spanish = await client.get("/probe/missing")
    english = await client.get("/probe/missing?lang=en")
    api = await client.get("/api/v1/no-such-thing")

    assert spanish.status_code == 404
    assert spanish.headers["content-type"].startswith("text/html")
    assert "Página no encontrada" in spanish.text
    assert 'href="/static/css/centralita.css"' in spanish.text
    assert english.status_code == 404
    assert "Page not found" in english.text
    assert api.headers["content-type"] == "application/problem+json"


async def test_forbidden_page_keeps_the_user_menu(
    probe_app: FastAPI,
    app: FastAPI,
    db: Database,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)], name="Ana Agente")
    await signed_in_home(client, email)

    response = await client.get("/probe/forbidden")

    assert response.status_code == 403
    assert "Acceso denegado" in response.text
    assert "Ana Agente" in response.text
    assert 'href="/home"' in response.text


async def test_signed_in_page_sends_strangers_to_login_and_back(
    probe_app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/probe/forbidden?tenant=banco&lang=en")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fprobe%2Fforbidden%3Ftenant%3Dbanco"
    assert "centralita_lang=en" in response.headers["set-cookie"]


async def test_error_in_a_page_rolls_back_its_writes(
    probe_app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    response = await client.get("/probe/half-done")

    assert response.status_code == 404
    async with db.system_session() as session:
        found = await session.execute(select(Tenant).where(Tenant.slug == "half-done"))
        assert found.scalar_one_or_none() is None


async def test_bad_query_in_a_page_answers_an_html_error(
    probe_app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/probe/counted?limit=many")

    assert response.status_code == 400
    assert "No se ha podido entender la petición" in response.text


async def test_csrf_checked_form_accepts_only_the_session_token(
    probe_app: FastAPI,
    app: FastAPI,
    db: Database,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])
    home = await signed_in_home(client, email)

    refused = await client.post("/probe/form", data={"csrf_token": "forged"})
    accepted = await client.post("/probe/form", data={"csrf_token": csrf_from(home.text)})

    assert refused.status_code == 403
    assert accepted.json() == {"user": email}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "/home"),
        ("", "/home"),
        ("/agent?tenant=banco", "/agent?tenant=banco"),
        ("//evil.example", "/home"),
        ("/\\evil.example", "/home"),
        ("https://evil.example/home", "/home"),
        ("/home\r\nSet-Cookie: x=1", "/home"),
        ("home", "/home"),
    ],
)
def test_safe_next(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


async def test_unknown_page_is_a_styled_html_404_while_the_api_keeps_problem_json(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no-such-page", headers={"accept-language": "es"})
    api = await client.get("/api/v1/no-such-thing")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text
    assert api.headers["content-type"] == "application/problem+json"
