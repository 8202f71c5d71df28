"""Suggestions for agents, insertions that resolve tickets, and the reports on what is missing."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from centralita.db.base import utcnow
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobWorker
from centralita.knowledge.models import Article, EventKind, Search
from centralita.knowledge.signals import JOB_HANDLERS, record_event
from tests.conftest import TenantFixture
from tests.knowledge.helpers import search, write


async def _chat(tenant: TenantFixture, text: str) -> str:
    http = await tenant.client()
    response = await http.post(
        tenant.url("/interactions"),
        json={
            "channel": "chat",
            "identity": {"kind": "chat", "value": uuid.uuid4().hex},
            "language": "es",
            "message": {"text": text},
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_suggestions_answer_the_conversation(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    wanted = await write(
        http,
        tenant_a,
        title="Bloquear una tarjeta robada",
        visibility="internal",
        body_markdown="Bloquéala desde la app.",
    )
    await write(http, tenant_a, title="Cambiar la dirección postal")
    interaction_id = await _chat(tenant_a, "Hola, me han robado la tarjeta y quiero bloquearla")

    response = await http.get(
        tenant_a.url("/knowledge/suggestions"), params={"interaction_id": interaction_id}
    )
    nothing = await http.get(tenant_a.url("/knowledge/suggestions"))

    assert response.status_code == 200
    assert response.json()["items"][0]["id"] == wanted["id"]
    assert len(response.json()["items"]) <= 5
    assert nothing.json()["items"] == []


async def test_an_unknown_conversation_is_a_clear_error(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()

    response = await http.get(
        tenant_a.url("/knowledge/suggestions"), params={"interaction_id": str(uuid.uuid4())}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.interaction_id"


async def _ticket(tenant: TenantFixture) -> str:
    http = await tenant.client()
    customer = await http.post(tenant.url("/customers"), json={"display_name": "Ana"})
    response = await http.post(
        tenant.url("/tickets"),
        json={"requester_id": customer.json()["id"], "subject": "Tarjeta robada"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _signal_score(tenant: TenantFixture, article_id: str) -> float:
    async with tenant.db.tenant_session(tenant.id) as session:
        article = await session.get(Article, (tenant.id, uuid.UUID(article_id)))
        assert article is not None
        return article.signal_score


async def test_an_inserted_article_earns_a_resolution_when_the_ticket_stays_resolved(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client()
    article = await write(http, tenant_a, title="Bloquear una tarjeta", body_markdown="En la app.")
    ticket_id = await _ticket(tenant_a)

    inserted = await http.post(
        tenant_a.url(f"/knowledge/articles/{article['id']}/insertions"),
        json={"ticket_id": ticket_id},
    )
    after_insertion = await _signal_score(tenant_a, article["id"])
    await http.patch(tenant_a.url(f"/tickets/{ticket_id}"), json={"status": "resolved"})
    now = utcnow()
    for days in (2, 40):
        later = now + timedelta(days=days)

        def clock(at: datetime = later) -> datetime:
            return at

        assert await JobWorker(tenant_a.db, JOB_HANDLERS, clock=clock).step() == 1

    assert inserted.status_code == 201
    assert inserted.json()["text"] == "En la app."
    assert after_insertion == 2.0
    assert await _signal_score(tenant_a, article["id"]) > 4.0
    async with tenant_a.db.system_session() as session:
        pending = (
            (await session.execute(select(Job).where(Job.kind == JobKind.KNOWLEDGE_RESOLUTION)))
            .scalars()
            .all()
        )
    assert pending == []


async def test_content_gaps_list_questions_nobody_answered(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    await write(http, tenant_a, title="Horario de las oficinas")
    for _ in range(2):
        await search(http, tenant_a, "hipoteca variable")
    found = await search(http, tenant_a, "horario")
    await http.post(
        tenant_a.url(f"/knowledge/articles/{found['items'][0]['id']}/clicks"),
        json={"search_id": found["search_id"]},
    )

    gaps = (await http.get(tenant_a.url("/knowledge/reports/gaps"))).json()

    assert [(g["query"], g["searches"], g["with_results"]) for g in gaps] == [
        ("hipoteca variable", 2, 0)
    ]


async def test_articles_read_but_never_helpful_are_reported(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    useless = await write(http, tenant_a, title="Política de cookies")
    useful = await write(http, tenant_a, title="Pagar con el móvil")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        for article in (useless, useful):
            for _ in range(5):
                await record_event(
                    session, tenant_a.id, EventKind.VIEW, article_id=uuid.UUID(article["id"])
                )
        await record_event(
            session, tenant_a.id, EventKind.HELPFUL, article_id=uuid.UUID(useful["id"])
        )
        await session.commit()

    report = (await http.get(tenant_a.url("/knowledge/reports/unhelpful"))).json()

    assert [r["id"] for r in report] == [useless["id"]]


async def test_deflection_counts_visitors_who_opened_no_ticket_within_a_day(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client()
    article = await write(http, tenant_a, title="Devoluciones")
    two_days_ago = utcnow() - timedelta(days=2)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        for visitor in ("served", "contacted", "late-contact"):
            await record_event(
                session,
                tenant_a.id,
                EventKind.VIEW,
                visitor=visitor,
                article_id=uuid.UUID(article["id"]),
                now=two_days_ago,
            )
        session.add(
            Search(
                query="x",
                query_key="x",
                source="portal",
                result_count=0,
                clicks=0,
                visitor="searcher",
                created_at=two_days_ago,
            )
        )
        await record_event(
            session,
            tenant_a.id,
            EventKind.TICKET_OPENED,
            visitor="contacted",
            now=two_days_ago + timedelta(hours=2),
        )
        await record_event(
            session,
            tenant_a.id,
            EventKind.TICKET_OPENED,
            visitor="late-contact",
            now=two_days_ago + timedelta(hours=30),
        )
        await record_event(
            session,
            tenant_a.id,
            EventKind.VIEW,
            visitor="too-recent",
            article_id=uuid.UUID(article["id"]),
        )
        await session.commit()

    report = (await http.get(tenant_a.url("/knowledge/reports/deflection"))).json()

    assert report["self_service_sessions"] == 4
    assert report["deflected"] == 3
    assert report["rate"] == 0.75
