import re

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.routing import Match

from centralita.db.engine import Database
from centralita.identity.models import LoginAttempt
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture, TenantMaker
from tests.web.helpers import PASSWORD, csrf_from, make_user, post_login, signed_in_home

WRONG_ES = "El correo electrónico o la contraseña no son correctos."
WRONG_EN = "The email or the password is not correct."


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


async def _attempts(db: Database, email: str) -> int:
    async with db.system_session() as session:
        return (
            await session.execute(
                select(func.count()).select_from(LoginAttempt).where(LoginAttempt.email == email)
            )
        ).scalar_one()


async def test_sign_in_sets_http_only_cookie_and_lands_on_home(
    app: FastAPI,
    db: Database,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)], name="Ana Agente")

    response = await post_login(client, email)
    home = await client.get(response.headers["location"])

    assert response.status_code == 303
    assert response.headers["location"] == "/home"
    cookie = _set_cookies(response)["centralita_session"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie
    assert home.status_code == 200
    assert "Hola, Ana Agente" in home.text
    assert "Tenant A" in home.text
    assert ">Agente<" in home.text
    assert "Escritorio de agente" in home.text
    assert "Tenant B" not in home.text


async def test_cookies_are_secure_when_configured(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"secure_cookies": True})
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as https:
        response = await post_login(https, email)
        switched = await https.get("/home?lang=en")

    assert "secure" in _set_cookies(response)["centralita_session"].lower()
    assert "secure" in _set_cookies(switched)["centralita_lang"].lower()


async def test_wrong_password_answers_401_in_spanish_and_in_english(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])

    spanish = await post_login(client, email, "not the password")
    await client.get("/login?lang=en")
    english = await post_login(client, email, "not the password")

    assert spanish.status_code == 401
    assert WRONG_ES in spanish.text
    assert 'lang="es"' in spanish.text
    assert english.status_code == 401
    assert WRONG_EN in english.text
    assert "centralita_session" not in _set_cookies(english)
    assert await _attempts(db, email) == 2


async def test_sixth_attempt_is_refused_even_with_the_right_password(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])

    failures = [(await post_login(client, email, f"wrong {n}")).status_code for n in range(5)]
    sixth = await post_login(client, email, PASSWORD)

    assert failures == [401] * 5
    assert sixth.status_code == 429
    assert sixth.headers["retry-after"] == "900"
    assert "Demasiados intentos fallidos" in sixth.text
    assert "centralita_session" not in _set_cookies(sixth)
    assert (await client.get("/home")).status_code == 303


async def test_sign_in_without_the_form_token_is_forbidden_and_records_nothing(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])
    form = await client.get("/login")
    fields = {"email": email, "password": PASSWORD}

    missing = await client.post("/login", data=fields)
    wrong = await client.post("/login", data={**fields, "csrf_token": "x" * 43})
    non_ascii = await client.post("/login", data={**fields, "csrf_token": "ñ" * 43})
    client.cookies.clear()
    no_cookie = await client.post("/login", data={**fields, "csrf_token": csrf_from(form.text)})

    for response in (missing, wrong, non_ascii, no_cookie):
        assert response.status_code == 403
        assert "centralita_session" not in _set_cookies(response)
        assert "El formulario de acceso ha caducado" in response.text
    assert await _attempts(db, email) == 0


async def test_login_form_token_cookie_is_strict_and_http_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")

    cookie = _set_cookies(response)["centralita_csrf"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert csrf_from(response.text) == client.cookies["centralita_csrf"]


async def test_sign_out_needs_the_session_token_and_ends_the_session_on_the_server(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])
    home = await signed_in_home(client, email)
    stolen = client.cookies["centralita_session"]

    missing = await client.post("/logout")
    wrong = await client.post("/logout", data={"csrf_token": "not-the-token"})
    still_home = await client.get("/home")
    signed_out = await client.post("/logout", data={"csrf_token": csrf_from(home.text)})
    after = await client.get("/home")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        cookies={"centralita_session": stolen},
    ) as replay:
        replayed_page = await replay.get("/home")
        replayed_api = await replay.get("/api/v1/me")

    for response in (missing, wrong):
        assert response.status_code == 403
        assert "Acceso denegado" in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert still_home.status_code == 200
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/login?signed_out=1"
    assert after.status_code == 303
    assert replayed_page.status_code == 303
    assert replayed_api.status_code == 401
    signed_out_page = await client.get("/login?signed_out=1")
    assert "Has cerrado la sesión." in signed_out_page.text


async def test_home_without_a_session_redirects_to_the_login_form(
    client: httpx.AsyncClient,
) -> None:
    home = await client.get("/home")
    root = await client.get("/")
    login = await client.get(home.headers["location"])

    assert home.status_code == 303
    assert home.headers["location"] == "/login?next=%2Fhome"
    assert root.status_code == 303
    assert root.headers["location"] == "/login"
    assert 'name="next" value="/home"' in login.text


async def test_signed_in_visitor_of_root_or_login_goes_home(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])
    await signed_in_home(client, email)

    root = await client.get("/")
    login = await client.get("/login")

    assert root.headers["location"] == "/home"
    assert login.headers["location"] == "/home"


async def test_next_is_followed_only_inside_the_site(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])
    targets = {
        "/home?tab=queues": "/home?tab=queues",
        "//evil.example/x": "/home",
        "https://evil.example/": "/home",
        "/\\evil.example": "/home",
        "javascript:alert(1)": "/home",
    }
    for given, expected in targets.items():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            response = await post_login(http, email, next_url=given)
            assert response.headers["location"] == expected, given


async def test_language_switch_changes_the_text_and_is_remembered(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.SUPERVISOR)], locale="es")
    spanish = await signed_in_home(client, email)

    switched = await client.get("/home?lang=en")
    remembered = await client.get("/home")
    back = await client.get("/home?lang=es")

    assert "Tus espacios de trabajo" in spanish.text
    assert "Panel de supervisión" in spanish.text
    assert 'href="/home?lang=en"' in spanish.text
    assert "centralita_lang=en" in switched.headers["set-cookie"]
    for english in (switched, remembered):
        assert 'lang="en"' in english.text
        assert "Your workspaces" in english.text
        assert "Wallboard" in english.text
        assert "Sign out" in english.text
    assert "Cerrar sesión" in back.text


async def test_locale_follows_the_user_then_the_browser(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)], locale="en")

    anonymous_en = await client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    anonymous_es = await client.get("/login", headers={"Accept-Language": "fr, es;q=0.5"})
    home = await signed_in_home(client, email)

    assert "Use the email and password" in anonymous_en.text
    assert "Usa el correo electrónico" in anonymous_es.text
    assert "Agent desktop" in home.text


async def test_client_viewer_sees_only_its_tenant_and_no_staff_counts(
    app: FastAPI,
    db: Database,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    await make_user(app, db, [(tenant_a, Role.AGENT), (tenant_b, Role.AGENT)])
    email = await make_user(app, db, [(tenant_a, Role.CLIENT_VIEWER)], name="Carla Cliente")

    home = await signed_in_home(client, email)

    assert "Tenant A" in home.text
    assert "Tenant B" not in home.text
    assert "Responsable del cliente" in home.text
    assert "Informes de servicio" in home.text
    assert "<dt>Agentes</dt>" not in home.text
    assert "Trabajas para 1 empresa cliente." in home.text


async def test_admin_sees_members_per_role_of_each_tenant(
    app: FastAPI,
    db: Database,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    for _ in range(3):
        await make_user(app, db, [(tenant_a, Role.AGENT)])
    await make_user(app, db, [(tenant_b, Role.AGENT), (tenant_a, Role.SUPERVISOR)])
    email = await make_user(
        app, db, [(tenant_a, Role.ADMIN), (tenant_b, Role.AGENT)], name="Alba Admin"
    )

    home = await signed_in_home(client, email)

    cards = home.text.split('class="card workspace"')[1:]
    card_a = next(card for card in cards if "Tenant A" in card)
    card_b = next(card for card in cards if "Tenant B" in card)
    counts = dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd>([^<]+)</dd>", card_a))
    assert counts["Agentes"] == "3"
    assert counts["Supervisores"] == "1"
    assert counts["Administradores"] == "1"
    assert counts["Clientes finales"] == "0"
    assert "Responsables del cliente" not in counts
    assert "Administración" in card_a
    assert "Escritorio de agente" in card_b
    assert "<dt>Agentes</dt>" not in card_b
    assert "Trabajas para 2 empresas cliente." in home.text


async def test_platform_admin_sees_every_tenant(
    app: FastAPI,
    db: Database,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    email = await make_user(app, db, platform_admin=True, name="Pablo Plataforma")

    home = await signed_in_home(client, email)

    assert "Tenant A" in home.text
    assert "Tenant B" in home.text
    assert "Administrador de la plataforma" in home.text
    assert "ves todas las empresas cliente" in home.text


async def test_user_without_tenants_gets_an_explanation(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    email = await make_user(app, db)

    home = await signed_in_home(client, email)

    assert home.status_code == 200
    assert "No perteneces a ninguna empresa cliente" in home.text


async def test_tenant_name_with_markup_is_shown_as_text(
    app: FastAPI, db: Database, client: httpx.AsyncClient, make_tenant: TenantMaker
) -> None:
    hostile = await make_tenant(name="<img src=x onerror=alert(1)>")
    email = await make_user(app, db, [(hostile, Role.ADMIN)], name="<script>alert(2)</script>")

    home = await signed_in_home(client, email)

    assert "&lt;img src=x onerror=alert(1)&gt;" in home.text
    assert "<img src=x" not in home.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in home.text
    assert "<script>alert" not in home.text


async def test_workspace_links_once_its_page_is_served(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.CLIENT_VIEWER)])
    served = await signed_in_home(client, email)
    probe = {"type": "http", "method": "GET", "path": "/client", "root_path": ""}
    portal = [route for route in app.router.routes if route.matches(probe)[0] is Match.FULL]
    for route in portal:
        app.router.routes.remove(route)
    try:
        unserved = await client.get("/home")
    finally:
        app.router.routes.extend(portal)

    assert f'href="/client?tenant={tenant_a.slug}"' in served.text
    assert "Disponible en la próxima versión" not in served.text
    assert 'href="/client' not in unserved.text
    assert "Disponible en la próxima versión" in unserved.text


async def test_pages_carry_the_strict_policy_and_no_inline_code(
    app: FastAPI, db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    email = await make_user(app, db, [(tenant_a, Role.AGENT)])
    login = await client.get("/login")
    home = await signed_in_home(client, email)

    for page in (login, home):
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        assert "<script" not in page.text
        assert "<style" not in page.text
        assert " style=" not in page.text
        assert not re.search(r"<[^>]*\son\w+=", page.text)
    css = await client.get("/static/css/centralita.css")
    assert css.status_code == 200
