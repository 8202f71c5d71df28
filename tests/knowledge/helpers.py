"""Writing articles through the API, as an editor would."""

from typing import Any

import httpx

from tests.conftest import TenantFixture


async def write(
    http: httpx.AsyncClient, tenant: TenantFixture, *, publish: bool = True, **fields: Any
) -> dict[str, Any]:
    body = {"locale": "es", "visibility": "public", **fields}
    response = await http.post(tenant.url("/knowledge/articles"), json=body)
    assert response.status_code == 201, response.text
    article: dict[str, Any] = response.json()
    if publish:
        response = await http.post(
            tenant.url(f"/knowledge/articles/{article['id']}/state"), json={"state": "published"}
        )
        assert response.status_code == 200, response.text
        article = response.json()
    return article


async def search(
    http: httpx.AsyncClient, tenant: TenantFixture, q: str, **params: Any
) -> dict[str, Any]:
    response = await http.get(tenant.url("/knowledge/search"), params={"q": q, **params})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def titles(
    http: httpx.AsyncClient, tenant: TenantFixture, q: str, **params: Any
) -> list[str]:
    return [item["title"] for item in (await search(http, tenant, q, **params))["items"]]
