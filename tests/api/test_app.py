import httpx


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_openapi_contract_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = await client.get("/api/openapi.json")
    docs = await client.get("/api/docs")
    bundle = await client.get("/api/docs-assets/swagger-ui-bundle.js")

    assert spec.json()["info"]["title"] == "centralita"
    assert "/api/v1/tenants/{tenant_slug}" in spec.json()["paths"]
    assert docs.status_code == 200
    assert bundle.status_code == 200


async def test_responses_carry_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_unknown_api_path_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
