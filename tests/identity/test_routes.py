import time
from types import SimpleNamespace

import httpx
import pytest

from centralita.api import lookups
from centralita.api.lookups import LOOKUP_TTL_S
from centralita.app import create_app
from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture


async def test_token_secret_is_shown_once_and_works_until_revoked(
    tenant_a: TenantFixture,
) -> None:
    admin = await tenant_a.client(Role.ADMIN)

    issued = await admin.post(tenant_a.url("/api-tokens"), json={"name": "crm", "role": "agent"})
    secret = issued.json()["token"]
    listed = await admin.get(tenant_a.url("/api-tokens"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=tenant_a.app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {secret}"},
    ) as crm:
        before = await crm.get(tenant_a.url())
        revoked = await admin.delete(tenant_a.url(f"/api-tokens/{issued.json()['id']}"))
        after = await crm.get(tenant_a.url())

    assert issued.status_code == 201
    assert secret.startswith("ctl_")
    assert secret not in listed.text
    crm_row = next(t for t in listed.json() if t["name"] == "crm")
    assert secret.startswith(crm_row["prefix"])
    assert before.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert after.status_code == 401
    assert after.headers["content-type"] == "application/problem+json"


async def test_token_records_when_it_was_last_used(tenant_a: TenantFixture) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    await admin.get(tenant_a.url())

    tokens = (await admin.get(tenant_a.url("/api-tokens"))).json()

    assert next(t for t in tokens if t["name"] == "test-admin")["last_used_at"] is not None


async def test_requests_without_credentials_or_with_a_forged_token_are_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    anonymous = await client.get(tenant_a.url())
    forged = await client.get(tenant_a.url(), headers={"Authorization": "Bearer ctl_forged"})

    assert anonymous.status_code == 401
    assert forged.status_code == 401


async def test_admin_adds_a_member_and_the_grant_is_audited(tenant_a: TenantFixture) -> None:
    admin = await tenant_a.client(Role.ADMIN)

    added = await admin.post(
        tenant_a.url("/members"),
        json={
            "email": "Ana.Supervisora@Example.com",
            "display_name": "Ana",
            "password": "correct horse battery",
            "role": "supervisor",
        },
    )
    members = await admin.get(tenant_a.url("/members"))
    audit = await admin.get(tenant_a.url("/audit"))

    assert added.status_code == 201
    assert added.json()["email"] == "ana.supervisora@example.com"
    assert [m["role"] for m in members.json() if m["display_name"] == "Ana"] == ["supervisor"]
    assert audit.json()["items"][0]["action"] == "membership.granted"
    assert audit.json()["items"][0]["after"] == {"role": "supervisor"}


async def test_new_member_without_password_is_refused_and_nothing_is_written(
    tenant_a: TenantFixture,
) -> None:
    admin = await tenant_a.client(Role.ADMIN)

    response = await admin.post(
        tenant_a.url("/members"), json={"email": "nobody@example.com", "role": "agent"}
    )
    members = await admin.get(tenant_a.url("/members"))

    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "body.display_name",
        "body.password",
    }
    assert "nobody@example.com" not in members.text


async def test_invalid_email_names_the_field(tenant_a: TenantFixture) -> None:
    admin = await tenant_a.client(Role.ADMIN)

    response = await admin.post(
        tenant_a.url("/members"), json={"email": "not-an-email", "role": "agent"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.email"


async def test_agents_cannot_manage_members_or_tokens(tenant_a: TenantFixture) -> None:
    agent = await tenant_a.client(Role.AGENT)

    members = await agent.get(tenant_a.url("/members"))
    token = await agent.post(tenant_a.url("/api-tokens"), json={"name": "x", "role": "admin"})

    assert members.status_code == 403
    assert token.status_code == 403


async def test_me_lists_the_callers_roles(tenant_a: TenantFixture) -> None:
    agent = await tenant_a.client(Role.AGENT)

    me = (await agent.get("/api/v1/me")).json()

    assert me["memberships"] == [{"tenant_id": str(tenant_a.id), "role": "agent"}]


async def test_a_token_revoked_in_another_process_stops_working_within_the_lookup_ttl(
    tenant_a: TenantFixture, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    issued = (
        await admin.post(tenant_a.url("/api-tokens"), json={"name": "crm", "role": "agent"})
    ).json()
    now = [time.monotonic()]
    # The lookups' own clock, moved by hand (the event loop's clock is left alone).
    monkeypatch.setattr(lookups, "time", SimpleNamespace(monotonic=lambda: now[0]))
    other_process = create_app(settings)
    async with (
        other_process.router.lifespan_context(other_process),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other_process),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {issued['token']}"},
        ) as crm,
    ):
        before = await crm.get(tenant_a.url())
        await admin.delete(tenant_a.url(f"/api-tokens/{issued['id']}"))
        remembered = await crm.get(tenant_a.url())
        now[0] += LOOKUP_TTL_S
        after = await crm.get(tenant_a.url())

    assert before.status_code == 200
    # The documented window: the other process still knows the token for up to the TTL.
    assert remembered.status_code == 200
    assert after.status_code == 401
