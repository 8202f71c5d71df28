"""QA: forms with versions, scoring beside the transcript, the agent's answer, calibration,
sampling and the agent scorecard."""

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.reporting.helpers import (
    Outcome,
    add_queue,
    agent_user,
    clock_at,
    contact,
    user_client,
)

PROBLEM = "application/problem+json"
FORM: dict[str, Any] = {
    "name": "Calidad chat",
    "sections": [
        {
            "title": "Apertura",
            "questions": [{"id": "greet", "text": "Saluda por el nombre", "kind": "yes_no"}],
        },
        {
            "title": "Cumplimiento",
            "questions": [
                {
                    "id": "disclosure",
                    "text": "Lee la cláusula de protección de datos",
                    "kind": "yes_no",
                    "weight": 2,
                    "auto_fail": True,
                }
            ],
        },
        {
            "title": "Habilidades",
            "questions": [
                {"id": "empathy", "text": "Empatía", "kind": "scale", "scale_max": 5, "weight": 2},
                {
                    "id": "upsell",
                    "text": "Ofrece la tarjeta oro",
                    "kind": "yes_no",
                    "allow_na": True,
                },
            ],
        },
    ],
}
GOOD = {"greet": True, "disclosure": True, "empathy": 4, "upsell": "na"}


@pytest.fixture
async def tenant(tenant_a: TenantFixture, tenant_b: TenantFixture) -> TenantFixture:
    await add_queue(tenant_a)
    return tenant_a


async def test_an_evaluator_scores_an_interaction_and_the_agent_sees_it_on_their_scorecard(
    tenant: TenantFixture,
) -> None:
    ana = await agent_user(tenant, "Ana Agente")
    luis = await agent_user(tenant, "Luis Agente")
    lead = await user_client(tenant, await agent_user(tenant, "Sara Supervisora", Role.SUPERVISOR))
    second = await user_client(tenant, await agent_user(tenant, "Raúl Calidad", Role.SUPERVISOR))
    work = await contact(
        tenant, Outcome(answered_after=5, talk=60, wrap=15), agent_id=ana, text="Hola, mi tarjeta"
    )
    as_ana, as_luis = await user_client(tenant, ana), await user_client(tenant, luis)

    form = (await lead.post(tenant.url("/qa/forms"), json=FORM)).json()
    scored = await lead.post(
        tenant.url("/qa/evaluations"),
        json={"form_id": form["id"], "interaction_id": str(work), "answers": GOOD,
              "coaching_notes": "Muy bien; recuerda ofrecer la tarjeta oro."},
    )  # fmt: skip
    failed = await second.post(
        tenant.url("/qa/evaluations"),
        json={"form_id": form["id"], "interaction_id": str(work),
              "answers": {**GOOD, "disclosure": False}},
    )  # fmt: skip
    again = await lead.post(
        tenant.url("/qa/evaluations"),
        json={"form_id": form["id"], "interaction_id": str(work), "answers": GOOD},
    )
    mine = (await as_ana.get(tenant.url("/qa/evaluations"))).json()
    detail = await as_ana.get(tenant.url(f"/qa/evaluations/{scored.json()['id']}"))
    peeking = await as_luis.get(tenant.url(f"/qa/evaluations/{scored.json()['id']}"))
    calibration = (await lead.get(tenant.url(f"/qa/calibration/{work}"))).json()
    card = await as_ana.get(tenant.url(f"/qa/scorecards/{ana}"))
    others_card = await as_luis.get(tenant.url(f"/qa/scorecards/{ana}"))

    assert scored.status_code == 201, scored.text
    # (1 x greet + 2 x disclosure + 2 x 3/4 empathy) / 5, the N/A question left out.
    assert scored.json()["score"] == pytest.approx(0.9)
    assert failed.json()["score"] == 0.0
    assert failed.json()["auto_failed"] is True
    assert again.status_code == 409
    assert {e["id"] for e in mine} == {scored.json()["id"], failed.json()["id"]}
    assert detail.status_code == 200
    assert [m["text"] for m in detail.json()["transcript"]] == ["Hola, mi tarjeta"]
    assert detail.json()["coaching_notes"].startswith("Muy bien")
    assert peeking.status_code == 403
    assert calibration["score_spread"] == pytest.approx(0.9)
    assert calibration["evaluations"][1]["differing_answers"] == ["disclosure"]
    assert card.status_code == 200, card.text
    week = card.json()["periods"][-1]
    assert (week["evaluations"], week["contacts"]) == (2, 1)
    assert week["qa_score"] == pytest.approx(0.45)
    assert week["aht_seconds"] == pytest.approx(75)
    assert week["fcr_rate"] == 1.0
    assert week["total"] == pytest.approx(0.5 * 0.45 + 0.25 * 1 + 0.25 * 1)
    assert card.json()["not_measured"] == ["csat", "adherence"]
    assert others_card.status_code == 403


async def test_the_agent_acknowledges_or_disputes_once(tenant: TenantFixture) -> None:
    ana = await agent_user(tenant, "Ana Agente")
    lead = await user_client(tenant, await agent_user(tenant, "Sara", Role.SUPERVISOR))
    other_lead = await user_client(tenant, await agent_user(tenant, "Raúl", Role.SUPERVISOR))
    work = await contact(tenant, Outcome(answered_after=5), agent_id=ana)
    as_ana = await user_client(tenant, ana)
    form = (await lead.post(tenant.url("/qa/forms"), json=FORM)).json()
    body = {"form_id": form["id"], "interaction_id": str(work), "answers": GOOD}
    first = (await lead.post(tenant.url("/qa/evaluations"), json=body)).json()
    second = (await other_lead.post(tenant.url("/qa/evaluations"), json=body)).json()

    by_lead = await lead.post(tenant.url(f"/qa/evaluations/{first['id']}/acknowledge"))
    acknowledged = await as_ana.post(tenant.url(f"/qa/evaluations/{first['id']}/acknowledge"))
    twice = await as_ana.post(
        tenant.url(f"/qa/evaluations/{first['id']}/dispute"), json={"comment": "No"}
    )
    empty = await as_ana.post(tenant.url(f"/qa/evaluations/{second['id']}/dispute"), json={})
    disputed = await as_ana.post(
        tenant.url(f"/qa/evaluations/{second['id']}/dispute"),
        json={"comment": "La cláusula se leyó al principio de la llamada."},
    )

    assert by_lead.status_code == 403
    assert acknowledged.json()["status"] == "acknowledged"
    assert twice.status_code == 409
    assert empty.status_code == 422
    assert disputed.json()["status"] == "disputed"
    assert disputed.json()["agent_comment"].startswith("La cláusula")


async def test_answers_that_do_not_fit_the_form_are_refused_field_by_field(
    tenant: TenantFixture,
) -> None:
    ana = await agent_user(tenant, "Ana Agente")
    lead = await user_client(tenant, await agent_user(tenant, "Sara", Role.SUPERVISOR))
    work = await contact(tenant, Outcome(answered_after=5), agent_id=ana)
    form = (await lead.post(tenant.url("/qa/forms"), json=FORM)).json()

    response = await lead.post(
        tenant.url("/qa/evaluations"),
        json={"form_id": form["id"], "interaction_id": str(work),
              "answers": {"greet": "na", "disclosure": True, "empathy": 9, "bonus": True}},
    )  # fmt: skip
    bad_form = await lead.post(
        tenant.url("/qa/forms"),
        json={"name": "Mal", "sections": [{"title": "S", "questions": [
            {"id": "q", "text": "?", "kind": "scale"}]}]},
    )  # fmt: skip
    listed = await lead.get(tenant.url("/qa/evaluations"))

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert {e["field"] for e in response.json()["errors"]} == {
        "body.answers.bonus", "body.answers.greet", "body.answers.empathy", "body.answers.upsell",
    }  # fmt: skip
    assert bad_form.status_code == 422
    assert listed.json() == []


async def test_a_new_form_version_leaves_old_evaluations_on_their_version(
    tenant: TenantFixture,
) -> None:
    ana = await agent_user(tenant, "Ana Agente")
    lead = await user_client(tenant, await agent_user(tenant, "Sara", Role.SUPERVISOR))
    work = await contact(tenant, Outcome(answered_after=5), agent_id=ana)
    v1 = (await lead.post(tenant.url("/qa/forms"), json=FORM)).json()
    body = {"form_id": v1["id"], "interaction_id": str(work), "answers": GOOD}
    evaluation = (await lead.post(tenant.url("/qa/evaluations"), json=body)).json()
    shorter = {**FORM, "sections": FORM["sections"][:2]}

    v2 = await lead.post(tenant.url(f"/qa/forms/{v1['id']}/versions"), json=shorter)
    renamed = await lead.post(
        tenant.url(f"/qa/forms/{v1['id']}/versions"), json={**shorter, "name": "Otro"}
    )
    current = (await lead.get(tenant.url("/qa/forms"))).json()
    old = (await lead.get(tenant.url(f"/qa/forms/{v1['id']}"))).json()
    kept = (await lead.get(tenant.url(f"/qa/evaluations/{evaluation['id']}"))).json()

    assert v2.status_code == 201, v2.text
    assert v2.json()["version"] == 2
    assert renamed.status_code == 422
    assert [(f["name"], f["version"]) for f in current] == [("Calidad chat", 2)]
    assert (old["version"], old["is_current"], len(old["sections"])) == (1, False, 3)
    assert kept["form_id"] == v1["id"]


async def test_a_sample_picks_per_agent_and_filters_long_or_transferred_work(
    tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana, luis = await agent_user(tenant, "Ana"), await agent_user(tenant, "Luis")
    lead = await user_client(tenant, await agent_user(tenant, "Sara", Role.SUPERVISOR))
    # Mid-morning today in the tenant's zone, so no call ends past midnight, outside the week.
    zone = ZoneInfo(tenant.tenant.time_zone)
    with clock_at(monkeypatch, datetime.combine(datetime.now(zone).date(), time(10), zone)):
        for _ in range(3):
            await contact(tenant, Outcome(answered_after=5, talk=60), agent_id=ana)
        long_call = await contact(tenant, Outcome(answered_after=5, talk=900), agent_id=luis)
        await contact(tenant, Outcome(answered_after=5, talk=30), agent_id=luis)
    as_agent = await tenant.client(Role.AGENT)

    sample = (await lead.get(tenant.url("/qa/sample"), params={"per_agent": 2})).json()
    long_only = (
        await lead.get(tenant.url("/qa/sample"), params={"min_handle_seconds": 600})
    ).json()
    forbidden = await as_agent.get(tenant.url("/qa/sample"))

    per_agent = {
        agent: sum(1 for s in sample if s["agent_user_id"] == agent)
        for agent in (str(ana), str(luis))
    }
    assert per_agent == {str(ana): 2, str(luis): 2}
    assert [s["interaction_id"] for s in long_only] == [str(long_call)]
    assert forbidden.status_code == 403
