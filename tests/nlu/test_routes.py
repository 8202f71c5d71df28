"""The tenant's intent model through the API: examples, training, versions, trying a text."""

import csv
import io
from typing import Any

from centralita.identity.permissions import Role
from centralita.nlu.demo import BANK, FLOWERS, demo_examples
from centralita.nlu.service import steer
from centralita.nlu.trainer import NluTrainer
from tests.conftest import TenantFixture


def _csv(intents=BANK, locale: str | None = "es") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "intent", "locale"])
    writer.writerows((e.text, e.intent, locale or "") for e in demo_examples(intents))
    return out.getvalue().encode()


async def _trained(tenant: TenantFixture, intents=BANK, threshold: float = 0.3) -> dict[str, Any]:
    http = await tenant.client(Role.ADMIN)
    uploaded = await http.post(
        tenant.url("/nlu/examples"), files={"file": ("train.csv", _csv(intents), "text/csv")}
    )
    assert uploaded.status_code == 200, uploaded.text
    queued = await http.post(
        tenant.url("/nlu/train"), json={"threshold": threshold, "embeddings": False}
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["state"] == "queued"
    run = await finish_training(tenant, queued.headers["location"])
    assert run["state"] == "succeeded", run
    versions = (await http.get(tenant.url("/nlu/models"))).json()
    body: dict[str, Any] = next(v for v in versions if v["version"] == run["model_version"])
    return body


async def finish_training(tenant: TenantFixture, run_url: str) -> dict[str, Any]:
    """Drive the trainer (the test app runs no background workers) until the run is done; other
    tests' runs may come first."""
    http = await tenant.client(Role.ADMIN)
    trainer = NluTrainer(tenant.db)
    for _ in range(50):
        run: dict[str, Any] = (await http.get(run_url)).json()
        if run["state"] in ("succeeded", "failed"):
            return run
        await trainer.step()
    raise AssertionError(f"training did not finish: {run}")


async def test_a_trained_model_steers_requests_to_the_intents_queue(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    made = await http.post(
        tenant_a.url("/nlu/intents"),
        json={"intent": "lost_card", "queue": "tarjetas", "skills": ["bloqueos"]},
    )
    assert made.status_code == 201, made.text

    version = await _trained(tenant_a)
    tried = await http.post(tenant_a.url("/nlu/predict"), json={"text": "me robaron la tarjeta"})
    elsewhere = await (await tenant_b.client()).post(
        tenant_b.url("/nlu/predict"), json={"text": "me robaron la tarjeta"}
    )

    assert version["version"] == 1
    assert version["n_examples"] == len(demo_examples(BANK))
    assert version["examples_by_intent"]["lost_card"] == 8
    assert version["metrics"]["held_out"] > 0
    assert 0.5 <= version["metrics"]["in_scope_accuracy"] <= 1.0
    assert set(version["metrics"]["by_locale"]) == {"es"}
    assert tried.status_code == 200, tried.text
    assert tried.json() | {"confidence": None} == {
        "intent": "lost_card",
        "confidence": None,
        "queue": "tarjetas",
        "skills": ["bloqueos"],
        "self_service": None,
        "source": "model",
        "model_version": 1,
    }
    # Tenant B has neither a model nor keywords: nothing of A's reaches it.
    assert elsewhere.json()["intent"] == "oos"
    assert elsewhere.json()["source"] == "keywords"
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        steered = await steer(session, tenant_a.id, "he perdido mi tarjeta de débito")
        unknown = await steer(session, tenant_a.id, "¿quién ganó el partido de anoche?")
    assert steered is not None
    assert (steered.intent, steered.queue) == ("lost_card", "tarjetas")
    assert steered.skills == ("bloqueos",)
    assert unknown is None


async def test_a_newer_version_replaces_the_loaded_model(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)
    await _trained(tenant_a)
    first = await http.post(tenant_a.url("/nlu/predict"), json={"text": "where is my bouquet"})

    await _trained(tenant_a, FLOWERS)
    second = await http.post(tenant_a.url("/nlu/predict"), json={"text": "where is my bouquet"})
    versions = await http.get(tenant_a.url("/nlu/models"))

    assert first.json()["model_version"] == 1
    assert first.json()["intent"] != "order_status"
    assert second.json()["model_version"] == 2
    assert second.json()["intent"] == "order_status"
    assert [v["version"] for v in versions.json()] == [2, 1]
    assert "blob" not in versions.json()[0]


async def test_the_threshold_can_be_tried_per_request(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)
    await _trained(tenant_a)

    strict = await http.post(
        tenant_a.url("/nlu/predict"), json={"text": "me robaron la tarjeta", "threshold": 1.0}
    )
    lax = await http.post(
        tenant_a.url("/nlu/predict"), json={"text": "recommend me a film", "threshold": 0.0}
    )

    assert strict.json()["intent"] == "oos"
    assert strict.json()["confidence"] > 0.3
    assert lax.json()["intent"] != "oos"


async def test_a_file_with_bad_rows_is_refused_row_by_row_and_stores_nothing(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    await http.post(tenant_a.url("/nlu/intents"), json={"intent": "lost_card"})
    bad = b"text,intent\nhe perdido la tarjeta,lost_card\n,lost_card\nsolo una columna\n"

    refused = await http.post(
        tenant_a.url("/nlu/examples"), files={"file": ("bad.csv", bad, "text/csv")}
    )
    binary = await http.post(
        tenant_a.url("/nlu/examples"), files={"file": ("x.csv", b"\xff\xfe\x00", "text/csv")}
    )
    untrained = await http.post(tenant_a.url("/nlu/train"), json={"embeddings": False})

    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["detail"]) for e in refused.json()["errors"]] == [
        ("body.file.line.3", "the text is empty"),
        ("body.file.line.4", "expected 2 columns, found 1"),
    ]
    assert binary.status_code == 422
    assert untrained.status_code == 422
    intents = await http.get(tenant_a.url("/nlu/intents"))
    assert intents.json()[0]["examples"] == 0
    assert (await http.get(tenant_a.url("/nlu/models"))).json() == []


async def test_intents_are_managed_by_admins_and_read_by_agents(tenant_a: TenantFixture) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    agent = await tenant_a.client(Role.AGENT)

    made = await admin.post(
        tenant_a.url("/nlu/intents"),
        json={"intent": "balance", "self_service": "balance", "keywords": ["saldo"]},
    )
    twice = await admin.post(tenant_a.url("/nlu/intents"), json={"intent": "balance"})
    oos = await admin.post(tenant_a.url("/nlu/intents"), json={"intent": "oos"})
    by_agent = await agent.post(tenant_a.url("/nlu/intents"), json={"intent": "fraud"})
    intent_url = tenant_a.url(f"/nlu/intents/{made.json()['id']}")
    changed = await admin.patch(intent_url, json={"queue": "general", "self_service": None})
    keyword = await agent.post(tenant_a.url("/nlu/predict"), json={"text": "mi SALDO por favor"})
    agent_trains = await agent.post(tenant_a.url("/nlu/train"), json={})
    deleted = await admin.delete(intent_url)

    assert made.status_code == 201, made.text
    assert twice.status_code == 409
    assert oos.status_code == 422
    assert by_agent.status_code == 403
    assert changed.json()["queue"] == "general"
    assert changed.json()["self_service"] is None
    assert keyword.json() | {"confidence": 1.0} == {
        "intent": "balance",
        "confidence": 1.0,
        "queue": "general",
        "skills": [],
        "self_service": None,
        "source": "keywords",
        "model_version": None,
    }
    assert agent_trains.status_code == 403
    assert deleted.status_code == 204
    assert (await admin.get(intent_url)).status_code == 404
