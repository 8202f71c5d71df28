"""Articles through the API: translations, versions, states, editors by role, bad input."""

import re

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from centralita.events.bus import Bus, Event, wait_for_published
from centralita.events.models import AuditEntry
from centralita.identity.permissions import Role
from centralita.knowledge.models import Article
from tests.conftest import TenantFixture
from tests.knowledge.helpers import search, write


async def test_an_article_and_its_translation_link_to_each_other(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    es = await write(http, tenant_a, title="Cómo pagar una factura", body_markdown="Paga **ya**.")
    en = await write(
        http, tenant_a, locale="en", title="How to pay a bill", translation_of=es["id"]
    )

    response = await http.get(tenant_a.url(f"/knowledge/articles/{es['id']}"))

    assert response.status_code == 200
    body = response.json()
    assert body["body_html"] == "<p>Paga <strong>ya</strong>.</p>\n"
    assert [t["locale"] for t in body["translations"]] == ["en"]
    assert body["translations"][0]["id"] == en["id"]
    assert en["translation_group_id"] == es["translation_group_id"]


async def test_a_second_translation_in_the_same_language_is_refused(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client()
    es = await write(http, tenant_a, title="Original")

    response = await http.post(
        tenant_a.url("/knowledge/articles"),
        json={"locale": "es", "title": "Otra", "translation_of": es["id"]},
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


async def test_editing_makes_versions_with_a_diff_and_a_rollback(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    article = await write(http, tenant_a, title="Roaming", body_markdown="Activa el roaming.")
    url = tenant_a.url(f"/knowledge/articles/{article['id']}")

    edited = await http.patch(url, json={"body_markdown": "Activa el roaming en Ajustes."})
    diff = await http.get(f"{url}/diff")
    rolled = await http.post(f"{url}/rollback", json={"version": 1})
    versions = await http.get(f"{url}/versions")

    assert edited.json()["version"] == 2
    assert "-Activa el roaming." in diff.json()["unified"]
    assert "+Activa el roaming en Ajustes." in diff.json()["unified"]
    assert rolled.json()["version"] == 3
    assert rolled.json()["body_markdown"] == "Activa el roaming."
    assert [v["version"] for v in versions.json()] == [3, 2, 1]


async def test_a_change_to_a_published_article_is_found_at_once(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    article = await write(http, tenant_a, title="Cambiar la contraseña")

    await http.patch(
        tenant_a.url(f"/knowledge/articles/{article['id']}"), json={"title": "Recuperar el PIN"}
    )

    assert [i["title"] for i in (await search(http, tenant_a, "pin"))["items"]] == [
        "Recuperar el PIN"
    ]
    assert (await search(http, tenant_a, "contraseña"))["items"] == []


async def test_agents_write_and_submit_but_only_supervisors_publish(
    tenant_a: TenantFixture,
) -> None:
    agent = await tenant_a.client(Role.AGENT)
    supervisor = await tenant_a.client(Role.SUPERVISOR)
    article = await write(agent, tenant_a, title="Borrador", publish=False)
    state_url = tenant_a.url(f"/knowledge/articles/{article['id']}/state")

    submitted = await agent.post(state_url, json={"state": "in_review"})
    refused = await agent.post(state_url, json={"state": "published"})
    published = await supervisor.post(state_url, json={"state": "published"})
    viewer = await tenant_a.client(Role.CLIENT_VIEWER)

    assert submitted.json()["state"] == "in_review"
    assert refused.status_code == 403
    assert published.json()["state"] == "published"
    assert published.json()["published_at"] is not None
    assert (await viewer.get(tenant_a.url("/knowledge/articles"))).status_code == 403


async def test_archived_articles_leave_the_search(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    article = await write(http, tenant_a, title="Tarifa antigua")
    state_url = tenant_a.url(f"/knowledge/articles/{article['id']}/state")

    await http.post(state_url, json={"state": "archived"})
    to_review = await http.post(state_url, json={"state": "in_review"})

    assert (await search(http, tenant_a, "tarifa"))["items"] == []
    assert to_review.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"locale": "español", "title": "x"}, "body.locale"),
        ({"locale": "es", "title": ""}, "body.title"),
        (
            {"locale": "es", "title": "x", "category_id": "0190b5a4-0000-7000-8000-000000000000"},
            "body.category_id",
        ),
        ({"locale": "es", "title": "x", "attachments": [{"name": "a"}]}, "body.attachments.0.url"),
        ({"locale": "es", "title": "x", "colour": "red"}, "body.colour"),
    ],
)
async def test_bad_input_is_a_clear_error_and_changes_nothing(
    tenant_a: TenantFixture, body: dict[str, object], field: str
) -> None:
    http = await tenant_a.client()

    response = await http.post(tenant_a.url("/knowledge/articles"), json=body)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        assert (await session.execute(select(func.count()).select_from(Article))).scalar() == 0


XSS = """# Oferta

<script>alert('x')</script>
<img src="https://example.com/a.png" onerror="alert(1)">
[pulsa](javascript:alert(1)) <a href="JaVaScRiPt:alert(2)">aquí</a>
<a href="https://example.com" onclick="steal()">web</a>
<style>body{display:none}</style><iframe src="https://evil.example"></iframe>
"""


async def test_script_handlers_and_javascript_links_are_neutralised(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client()

    article = await write(http, tenant_a, title="Oferta", body_markdown=XSS)

    html = article["body_html"].lower()
    tags = " ".join(re.findall(r"<[^>]*>", html))
    for danger in ("<script", "onerror", "onclick", "javascript:", "<style", "<iframe", "alert("):
        assert danger not in tags
    assert "<script" not in html
    assert "steal()" not in html
    assert '<img src="https://example.com/a.png">' in html
    assert 'href="https://example.com"' in html


async def test_changes_are_audited(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    article = await write(http, tenant_a, title="Auditado")

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        actions = list(
            (
                await session.execute(
                    select(AuditEntry.action)
                    .where(AuditEntry.entity_id == article["id"])
                    .order_by(AuditEntry.at)
                )
            ).scalars()
        )

    assert actions == ["knowledge_article.created", "knowledge_article.state_changed"]


async def test_categories_and_synonyms_are_managed_by_supervisors(
    tenant_a: TenantFixture,
) -> None:
    agent = await tenant_a.client(Role.AGENT)
    admin = await tenant_a.client()

    refused = await agent.post(tenant_a.url("/knowledge/categories"), json={"name": "Pagos"})
    created = await admin.post(tenant_a.url("/knowledge/categories"), json={"name": "Pagos"})
    twice = await admin.post(tenant_a.url("/knowledge/categories"), json={"name": "Pagos"})
    same_word = await admin.post(
        tenant_a.url("/knowledge/synonyms"), json={"terms": ["Móvil", "movil"]}
    )

    assert refused.status_code == 403
    assert created.status_code == 201
    assert twice.status_code == 409
    assert same_word.status_code == 422


async def test_publishing_and_editing_announce_the_article(
    app: FastAPI, tenant_a: TenantFixture
) -> None:
    bus: Bus = app.state.bus
    received: list[Event] = []
    bus.subscribe(received.append)
    http = await tenant_a.client()

    article = await write(http, tenant_a, title="Nuevo horario")
    await http.patch(tenant_a.url(f"/knowledge/articles/{article['id']}"), json={"tags": ["x"]})
    await wait_for_published()

    mine = [e for e in received if e.data.get("article_id") == article["id"]]
    assert [e.type for e in mine] == ["article.published", "article.updated"]
    assert {e.tenant for e in mine} == {tenant_a.id}
