"""The knowledge editor pages (httpx): who may open them, what they list, versions and diff."""

import httpx

from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.knowledge.helpers import write
from tests.web.helpers import make_user, post_login

XSS = "<script>alert(1)</script>"


async def _sign_in(tenant: TenantFixture, client: httpx.AsyncClient, role: Role) -> None:
    email = await make_user(tenant.app, tenant.db, [(tenant, role)], name="Elena Editora")
    client.cookies.clear()
    assert (await post_login(client, email)).status_code == 303


async def test_the_list_filters_by_state_and_language(
    tenant_a: TenantFixture, client: httpx.AsyncClient
) -> None:
    http = await tenant_a.client()
    await write(http, tenant_a, title="Cambiar el PIN de la tarjeta")
    await write(http, tenant_a, title="Change your card PIN", locale="en", publish=False)
    await write(http, tenant_a, title=f"Borrador {XSS}", publish=False)
    await _sign_in(tenant_a, client, Role.AGENT)
    base = f"/knowledge/{tenant_a.slug}"

    everything = await client.get(f"{base}?lang=es")
    drafts = await client.get(f"{base}?state=draft&lang=es")
    english = await client.get(f"{base}?locale=en&lang=en")
    bad_locale = await client.get(f"{base}?locale=xx&lang=en")

    assert everything.status_code == 200, everything.text
    assert "Base de conocimiento" in everything.text
    assert "Cambiar el PIN de la tarjeta" in everything.text
    assert "Change your card PIN" in everything.text
    assert XSS not in everything.text
    assert "Cambiar el PIN" not in drafts.text
    assert "Change your card PIN" in drafts.text
    assert "Change your card PIN" in english.text
    assert "Cambiar el PIN" not in english.text
    assert "Knowledge base" in english.text
    assert bad_locale.status_code == 422


async def test_an_article_page_shows_versions_diff_and_the_moves_the_role_allows(
    tenant_a: TenantFixture, client: httpx.AsyncClient
) -> None:
    http = await tenant_a.client()
    article = await write(
        http, tenant_a, title="Horario de oficinas", body_markdown="Abrimos a las 9.", publish=False
    )
    url = tenant_a.url(f"/knowledge/articles/{article['id']}")
    changed = await http.patch(url, json={"body_markdown": "Abrimos a las 8:30."})
    assert changed.status_code == 200, changed.text
    page_url = f"/knowledge/{tenant_a.slug}/{article['id']}"

    await _sign_in(tenant_a, client, Role.AGENT)
    as_agent = await client.get(f"{page_url}?diff=2&lang=es")
    await _sign_in(tenant_a, client, Role.SUPERVISOR)
    as_supervisor = await client.get(f"{page_url}?lang=es")
    no_version = await client.get(f"{page_url}?diff=9&lang=es")

    assert as_agent.status_code == 200, as_agent.text
    assert "Versión 2" in as_agent.text
    assert "Restaurar la versión 1" in as_agent.text
    assert '<span class="diff-removed">-Abrimos a las 9.</span>' in as_agent.text
    assert '<span class="diff-added">+Abrimos a las 8:30.</span>' in as_agent.text
    assert "Enviar a revisión" in as_agent.text
    assert "Publicar" not in as_agent.text
    assert "Traducir al Inglés" in as_agent.text
    assert "Publicar" in as_supervisor.text
    assert no_version.status_code == 404


async def test_only_editors_of_the_tenant_open_the_editor(
    tenant_a: TenantFixture, tenant_b: TenantFixture, client: httpx.AsyncClient
) -> None:
    await _sign_in(tenant_a, client, Role.CLIENT_VIEWER)
    viewer = await client.get(f"/knowledge/{tenant_a.slug}")
    await _sign_in(tenant_a, client, Role.ADMIN)
    elsewhere = await client.get(f"/knowledge/{tenant_b.slug}")
    other_article = await write(await tenant_b.client(), tenant_b, title="Secreto", publish=False)
    foreign = await client.get(f"/knowledge/{tenant_a.slug}/{other_article['id']}")

    assert viewer.status_code == 403
    assert elsewhere.status_code == 404
    assert foreign.status_code == 404
    assert "Secreto" not in foreign.text


async def test_the_preview_renders_markdown_sanitised_without_saving(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    body = "**Hola** [x](javascript:alert(1)) <img src=x onerror=alert(1)>" + XSS

    shown = await http.post(tenant_a.url("/knowledge/preview"), json={"body_markdown": body})
    too_long = await http.post(
        tenant_a.url("/knowledge/preview"), json={"body_markdown": "x" * 100_001}
    )
    listed = await http.get(tenant_a.url("/knowledge/articles"))

    assert shown.status_code == 200, shown.text
    html = shown.json()["html"]
    assert "<strong>Hola</strong>" in html
    assert 'href="javascript' not in html
    assert "onerror" not in html
    assert "<script" not in html
    assert too_long.status_code == 422
    assert too_long.headers["content-type"] == "application/problem+json"
    assert listed.json()["items"] == []
