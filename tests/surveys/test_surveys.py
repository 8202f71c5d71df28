"""Surveys end to end: a finished contact is invited, answers once through the link, and a low
answer from a valued customer lands in the rescue queue as a callback."""

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.events.bus import emit
from centralita.interactions.models import Interaction
from centralita.outbound.models import OutboundMessage
from centralita.routing.work import work_event
from centralita.surveys.models import SurveyInvitation
from tests.automation.world import callbacks_of, customer, run_jobs
from tests.conftest import TenantFixture

SURVEY = {
    "name": "After sales",
    "ask_csat": True,
    "ask_nps": True,
    "title": {"es": "¿Qué tal le atendimos?", "en": "How did we do?"},
    "queues": ["ventas"],
    "questions": [
        {
            "key": "reason",
            "kind": "choice",
            "label": {"es": "Motivo", "en": "Reason"},
            "choices": [
                {"value": "price", "label": {"es": "Precio", "en": "Price"}},
                {"value": "wait", "label": {"es": "Espera", "en": "Waiting"}},
            ],
        }
    ],
}


async def make_survey(tenant: TenantFixture, **fields: Any) -> dict[str, Any]:
    http = await tenant.client()
    response = await http.post(tenant.url("/surveys"), json={**SURVEY, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def finished_contact(
    db: Database, tenant: TenantFixture, person: dict[str, Any], queue: str = "ventas"
) -> str:
    """A chat in ``queue`` that an agent has just completed (as routing announces it)."""
    http = await tenant.client()
    response = await http.post(
        tenant.url("/interactions"),
        json={"channel": "email", "customer_id": person["id"], "queue": queue},
    )
    assert response.status_code == 201, response.text
    interaction_id = uuid.UUID(response.json()["id"])
    async with db.tenant_session(tenant.id) as session:
        work = await session.get(Interaction, (tenant.id, interaction_id))
        assert work is not None
        emit(session, work_event("interaction.completed", work, uuid.uuid4()))
        await session.commit()
    return str(interaction_id)


async def invitation_link(db: Database, tenant: TenantFixture) -> tuple[OutboundMessage, str]:
    async with db.tenant_session(tenant.id) as session:
        query = select(OutboundMessage).where(OutboundMessage.purpose == "survey")
        [message] = list((await session.execute(query)).scalars())
    found = re.search(r"https?://\S+", message.body)
    assert found is not None
    return message, httpx.URL(found.group()).path


async def test_a_low_answer_from_a_valued_customer_reaches_the_rescue_queue(
    db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await make_survey(tenant_a)
    gold = await customer(
        tenant_a,
        "gold",
        language="en",
        consent_email=True,
        identities=[{"kind": "email", "value": f"{uuid.uuid4().hex[:8]}@example.com"}],
    )
    contact = await finished_contact(db, tenant_a, gold)
    await run_jobs(db)

    message, path = await invitation_link(db, tenant_a)
    assert (message.channel, message.language) == ("email", "en")
    assert message.to_address == gold["identities"][0]["value"]
    assert message.subject == "How did we do?"
    form = await client.get(path)
    assert form.status_code == 200
    assert "How did we do?" in form.text
    assert "default-src 'none'" in form.headers["content-security-policy"]
    assert form.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in form.text

    sent = await client.post(
        path, data={"csat": "1", "nps": "3", "reason": "", "q_reason": "wait", "comment": "Slow"}
    )
    assert sent.status_code == 200, sent.text
    assert "Thank you!" in sent.text
    again = await client.post(path, data={"csat": "5", "nps": "10"})
    assert again.status_code == 410

    http = await tenant_a.client()
    [answer] = (
        await http.get(tenant_a.url("/survey-responses"), params={"customer_id": gold["id"]})
    ).json()["items"]
    assert (answer["csat"], answer["nps"], answer["low"]) == (1, 3, True)
    assert (answer["interaction_id"], answer["queue"], answer["language"]) == (
        contact,
        "ventas",
        "en",
    )
    assert answer["answers"] == {"reason": "wait"}
    assert answer["comment"] == "Slow"

    await run_jobs(db)
    [rescue] = await callbacks_of(tenant_a, gold["id"])
    assert (rescue["queue"], rescue["priority"], rescue["status"]) == ("rescue", 8, "queued")
    assert rescue["context"]["event"]["csat"] == 1
    routed = (await http.get(tenant_a.url(f"/interactions/{rescue['interaction_id']}"))).json()
    assert (routed["channel"], routed["queue"], routed["state"]) == ("callback", "rescue", "queued")


async def test_an_ordinary_customer_or_a_good_answer_starts_no_rescue(
    db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await make_survey(tenant_a, cool_off_days=0)
    ordinary = await customer(tenant_a, "standard", consent_sms=True)
    await finished_contact(db, tenant_a, ordinary)
    await run_jobs(db)
    _, path = await invitation_link(db, tenant_a)
    assert (await client.post(path, data={"csat": "1", "nps": "0"})).status_code == 200
    await run_jobs(db)
    assert await callbacks_of(tenant_a, ordinary["id"]) == []


async def test_links_that_are_forged_foreign_or_expired_do_not_open(
    db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await make_survey(tenant_a)
    person = await customer(tenant_a, consent_sms=True)
    await finished_contact(db, tenant_a, person)
    await run_jobs(db)
    _, path = await invitation_link(db, tenant_a)
    _, _, slug, token = path.split("/")

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (await client.get(f"/s/{slug}/{forged}")).status_code == 404
    assert (await client.get(f"/s/{tenant_b.slug}/{token}")).status_code == 404
    assert (await client.post(f"/s/{tenant_b.slug}/{token}", data={"csat": "5"})).status_code == 404
    async with db.tenant_session(tenant_a.id) as session:
        await session.execute(
            update(SurveyInvitation).values(expires_at=utcnow() - timedelta(minutes=1))
        )
        await session.commit()
    expired = await client.get(path, params={"lang": "es"})
    assert expired.status_code == 410
    assert "Esta encuesta está cerrada" in expired.text


async def test_incomplete_answers_are_shown_again_and_nothing_is_stored(
    db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await make_survey(tenant_a)
    person = await customer(tenant_a, consent_sms=True, language="es")
    await finished_contact(db, tenant_a, person)
    await run_jobs(db)
    message, path = await invitation_link(db, tenant_a)
    assert message.channel == "sms"
    assert message.body.startswith("Gracias por contactar")

    for bad in (
        {"nps": "7"},
        {"csat": "9", "nps": "7"},
        {"csat": "3", "nps": "7", "q_reason": "x"},
    ):
        response = await client.post(path, data=bad)
        assert response.status_code == 422
        assert 'role="alert"' in response.text
    http = await tenant_a.client()
    assert (await http.get(tenant_a.url("/survey-responses"))).json()["items"] == []
    assert (await client.post(path, data={"csat": "4", "nps": "9"})).status_code == 200


async def test_sampling_and_cool_off_decide_who_is_asked(
    db: Database, tenant_a: TenantFixture
) -> None:
    await make_survey(tenant_a, queues=["ventas"], cool_off_days=30)
    await make_survey(tenant_a, name="Never", queues=["soporte"], sampling_percent=0)
    person = await customer(tenant_a, consent_sms=True)
    await finished_contact(db, tenant_a, person, "ventas")
    await finished_contact(db, tenant_a, person, "ventas")
    await finished_contact(db, tenant_a, await customer(tenant_a, consent_sms=True), "soporte")
    await run_jobs(db)

    async with db.tenant_session(tenant_a.id) as session:
        invitations = list((await session.execute(select(SurveyInvitation))).scalars())
    assert len(invitations) == 1
    http = await tenant_a.client()
    rules = (await http.get(tenant_a.url("/rules"))).json()
    [survey_rule] = [r for r in rules if r["default_key"] == "survey_after_contact"]
    runs = (await http.get(tenant_a.url(f"/rules/{survey_rule['id']}/runs"))).json()["items"]
    reasons = sorted(r["results"][0].get("skipped", "invited") for r in runs)
    assert reasons == ["invited", "not drawn in the sample", "the customer was asked recently"]


async def test_results_follow_the_kpi_definitions(
    db: Database, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await make_survey(tenant_a, cool_off_days=0)
    answers = [(5, 10), (4, 9), (2, 5), (3, 7)]
    for _ in answers:
        person = await customer(tenant_a, consent_sms=True)
        await finished_contact(db, tenant_a, person)
    await run_jobs(db)
    async with db.tenant_session(tenant_a.id) as session:
        messages = list((await session.execute(select(OutboundMessage))).scalars())
    paths = [httpx.URL(re.search(r"https?://\S+", m.body).group()).path for m in messages]  # type: ignore[union-attr]
    for path, (csat, nps) in zip(paths, answers, strict=True):
        assert (
            await client.post(path, data={"csat": str(csat), "nps": str(nps)})
        ).status_code == 200

    http = await tenant_a.client()
    results = (await http.get(tenant_a.url("/survey-results"))).json()
    assert results == {
        "answers": 4,
        "csat_answers": 4,
        "csat_percent": 50.0,
        "nps_answers": 4,
        "nps": 25.0,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"ask_csat": False, "ask_nps": False, "questions": []},
        {"sampling_percent": 101},
        {"questions": [{"key": "x", "kind": "choice", "label": {"es": "X"}, "choices": []}]},
        {"title": {"fr": "Bonjour"}},
    ],
)
async def test_a_survey_that_does_not_validate_is_refused(
    change: dict[str, Any], tenant_a: TenantFixture
) -> None:
    http = await tenant_a.client()
    response = await http.post(tenant_a.url("/surveys"), json={**SURVEY, **change})
    assert response.status_code == 422, response.text
    assert (await http.get(tenant_a.url("/surveys"))).json() == []
