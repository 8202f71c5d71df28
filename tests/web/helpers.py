"""Users and a browser-like sign-in for the web shell tests."""

import re
import secrets
from collections.abc import Sequence

import httpx
from fastapi import FastAPI

from centralita.db.engine import Database
from centralita.identity import service as identity
from centralita.identity.permissions import Role
from tests.conftest import TEST_ACTOR, TenantFixture

PASSWORD = "una contraseña larga 123"
HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_user(
    app: FastAPI,
    db: Database,
    roles: Sequence[tuple[TenantFixture, Role]] = (),
    *,
    name: str = "Ana Agente",
    locale: str = "es",
    platform_admin: bool = False,
) -> str:
    """A user with ``PASSWORD`` and the given roles; returns the email."""
    email = f"user-{secrets.token_hex(4)}@example.com"
    async with db.system_session() as session:
        user = await identity.create_user(
            session,
            app.state.passwords,
            email=email,
            display_name=name,
            password=PASSWORD,
            locale=locale,
            is_platform_admin=platform_admin,
        )
        for tenant, role in roles:
            await identity.grant_role(session, TEST_ACTOR, tenant.id, user, role)
        await session.commit()
    return email


def csrf_from(html: str) -> str:
    match = HIDDEN_CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def post_login(
    http: httpx.AsyncClient, email: str, password: str = PASSWORD, *, next_url: str = ""
) -> httpx.Response:
    """Fill in the sign-in form the way a browser does: load it, then post it with its token."""
    form = await http.get("/login")
    return await http.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_from(form.text),
            "next": next_url,
        },
    )


async def signed_in_home(http: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await post_login(http, email)
    assert response.status_code == 303, response.text
    return await http.get(response.headers["location"])
