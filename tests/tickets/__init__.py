"""Helpers the ticket tests share: staff who sign in, customers, tickets."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from centralita.config import Settings
from centralita.identity import service as identity
from centralita.identity.models import User
from centralita.identity.permissions import Role
from tests.conftest import TEST_ACTOR, TenantFixture


async def make_staff(
    tenant: TenantFixture, role: Role = Role.AGENT, name: str = "Ana Agente"
) -> User:
    """A user with ``role`` in the tenant."""
    app: FastAPI = tenant.app
    passwords: identity.Passwords = app.state.passwords
    async with tenant.db.system_session() as session:
        user = await identity.create_user(
            session,
            passwords,
            email=f"{uuid.uuid4().hex[:12]}@example.com",
            display_name=name,
            password="a long enough password",
        )
        await identity.grant_role(session, TEST_ACTOR, tenant.id, user, role)
        await session.commit()
    return user


@asynccontextmanager
async def signed_in(tenant: TenantFixture, user: User) -> AsyncIterator[httpx.AsyncClient]:
    """An API client signed in as ``user`` with a browser session (cookie and CSRF token)."""
    settings: Settings = tenant.app.state.settings
    async with tenant.db.system_session() as session:
        cookie = await identity.open_web_session(
            session, settings, user, ip="127.0.0.1", user_agent="tests"
        )
        principal = await identity.principal_from_cookie(session, cookie)
        await session.commit()
    assert principal is not None
    assert principal.csrf_token is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=tenant.app),
        base_url="http://testserver",
        cookies={"centralita_session": cookie},
        headers={"x-csrf-token": principal.csrf_token},
    ) as http:
        yield http


async def post_ok(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], status: int = 201
) -> Any:
    """The JSON answer to a POST that must succeed with ``status``."""
    response = await http.post(url, json=body)
    assert response.status_code == status, response.text
    return response.json()


async def make_customer(tenant: TenantFixture, name: str = "Lucía Núñez", **fields: Any) -> str:
    http = await tenant.client(Role.ADMIN)
    body = await post_ok(http, tenant.url("/customers"), {"display_name": name, **fields})
    return str(body["id"])


async def make_ticket(
    tenant: TenantFixture,
    requester_id: str | None = None,
    http: httpx.AsyncClient | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A ticket made through the API (by an agent's token unless ``http`` is given)."""
    http = http or await tenant.client(Role.AGENT)
    requester_id = requester_id or await make_customer(tenant)
    body = {"requester_id": requester_id, "subject": "No puedo entrar", **fields}
    ticket: dict[str, Any] = await post_ok(http, tenant.url("/tickets"), body)
    return ticket


async def fetch(tenant: TenantFixture, ticket_id: str) -> dict[str, Any]:
    http = await tenant.client(Role.AGENT)
    response = await http.get(tenant.url(f"/tickets/{ticket_id}"))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def fields_of(response: httpx.Response) -> list[str]:
    """The fields a problem response names."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [error["field"] for error in response.json().get("errors", [])]
