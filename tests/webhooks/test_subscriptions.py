"""Subscribing: URLs to the platform's own network are refused, before any row is written."""

import pytest

from centralita.identity.permissions import Role
from centralita.webhooks import ssrf
from tests.conftest import TenantFixture

INTERNAL = [
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://0.0.0.0/hook",
]


@pytest.mark.parametrize("url", INTERNAL)
async def test_internal_addresses_are_refused_and_nothing_is_created(
    url: str, tenant_a: TenantFixture
) -> None:
    http = await tenant_a.client()
    response = await http.post(
        tenant_a.url("/webhooks"), json={"url": url, "event_types": ["ticket.created"]}
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.url"
    assert (await http.get(tenant_a.url("/webhooks"))).json() == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "http"),
        ("http://user:secret@example.com/", "user name"),
        ("not a url", "http"),
        ("http://no-such-host.invalid/", "cannot be resolved"),
    ],
)
async def test_malformed_urls_are_refused(url: str, reason: str, tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    response = await http.post(
        tenant_a.url("/webhooks"), json={"url": url, "event_types": ["ticket.created"]}
    )
    assert response.status_code == 422
    assert reason in response.json()["errors"][0]["detail"]


async def test_loopback_is_refused_unless_the_setting_allows_it() -> None:
    for url in ("http://127.0.0.1/", "http://localhost:9000/", "http://[::1]/"):
        with pytest.raises(ssrf.UnsafeUrl):
            await ssrf.resolve(url, allow_loopback=False)
        assert (await ssrf.resolve(url, allow_loopback=True)).address.is_loopback
    # The test setting opens loopback only: metadata stays closed.
    with pytest.raises(ssrf.UnsafeUrl):
        await ssrf.resolve("http://169.254.169.254/", allow_loopback=True)


async def test_unknown_event_types_are_refused(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    response = await http.post(
        tenant_a.url("/webhooks"),
        json={"url": "http://127.0.0.1:9/", "event_types": ["ticket.created", "pizza.ordered"]},
    )
    assert response.status_code == 422
    assert "pizza.ordered" in response.text


async def test_manage_subscriptions(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    created = await http.post(
        tenant_a.url("/webhooks"),
        json={"url": "http://127.0.0.1:9/a", "event_types": ["ticket.created"]},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_")
    path = tenant_a.url(f"/webhooks/{body['id']}")

    bad = await http.patch(path, json={"url": "http://10.0.0.1/"})
    assert bad.status_code == 422
    assert (await http.get(path)).json()["url"] == "http://127.0.0.1:9/a"

    changed = await http.patch(path, json={"event_types": ["ticket.updated", "ticket.created"]})
    assert changed.json()["event_types"] == ["ticket.created", "ticket.updated"]
    assert "ticket.created" in (await http.get(tenant_a.url("/webhook-event-types"))).json()

    assert (await http.delete(path)).status_code == 204
    assert (await http.get(path)).status_code == 404


async def test_agents_may_not_manage_webhooks(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    assert (await http.get(tenant_a.url("/webhooks"))).status_code == 403
