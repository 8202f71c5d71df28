"""Erasing one customer: the person is gone from search, the 360, tickets, emails, surveys and
exports; the numbers stay; the erasure is audited without the erased data and asked twice does
nothing more."""

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.events.models import AuditEntry
from centralita.identity.permissions import Role
from centralita.reporting.models import InteractionFact
from centralita.surveys.models import Survey, SurveyInvitation, SurveyResponse
from tests.channels.email.conftest import Listener
from tests.conftest import TenantFixture
from tests.lifecycle.helpers import export_ready, read_archive, receive_email, reports
from tests.reporting.helpers import Outcome, add_queue, contact

ANA = "Ana Martínez-Zubiri"
ANA_EMAIL = "ana.zubiri@example.com"
ANA_PHONE = "+34600111222"
SECRETS = ("Zubiri", ANA_EMAIL, "600111222", "Calle Olmo 7", "DNI 12345678Z")
ANSWERED = Outcome(answered_after=10, talk=200, wrap=20)


async def _customer(tenant: TenantFixture, name: str, identities: list[dict[str, str]]) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url("/customers"), json={"display_name": name, "identities": identities}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _survey_answer(
    tenant: TenantFixture, customer_id: str, interaction_id: uuid.UUID
) -> None:
    async with tenant.db.tenant_session(tenant.id) as session:
        survey = Survey(
            tenant_id=tenant.id,
            name=f"after-{uuid.uuid4().hex[:6]}",
            questions=[
                {"key": "why", "kind": "text"},
                {"key": "speed", "kind": "scale", "min": 1, "max": 5},
            ],
            title={"es": "Encuesta"},
        )
        session.add(survey)
        await session.flush()
        invitation = SurveyInvitation(
            tenant_id=tenant.id,
            survey_id=survey.id,
            interaction_id=interaction_id,
            customer_id=uuid.UUID(customer_id),
            channel="chat",
            language="es",
            expires_at=utcnow() + timedelta(days=1),
            answered_at=utcnow(),
        )
        session.add(invitation)
        await session.flush()
        session.add(
            SurveyResponse(
                tenant_id=tenant.id,
                invitation_id=invitation.id,
                survey_id=survey.id,
                interaction_id=interaction_id,
                customer_id=uuid.UUID(customer_id),
                channel="chat",
                csat=2,
                answers={"why": "Vivo en Calle Olmo 7", "speed": 4},
                comment="Mi DNI 12345678Z, llamadme",
                language="es",
                low=True,
            )
        )
        await session.commit()


async def _ana_everywhere(tenant: TenantFixture, listener: Listener) -> dict[str, str]:
    """Ana with identities, a chat, a ticket with a reply, an email, a survey answer and a
    callback; the returned ids."""
    ana = await _customer(
        tenant, ANA, [{"kind": "email", "value": ANA_EMAIL}, {"kind": "phone", "value": ANA_PHONE}]
    )
    chat = await contact(
        tenant,
        ANSWERED,
        email=ANA_EMAIL,
        topic="billing",
        subject="Soy Ana Zubiri",
        text="Vivo en Calle Olmo 7",
    )
    await contact(tenant, ANSWERED, email=ANA_EMAIL, topic="billing")
    http = await tenant.client(Role.ADMIN)
    ticket = await http.post(
        tenant.url("/tickets"),
        json={"requester_id": ana, "subject": "Reembolso Zubiri", "description": "DNI 12345678Z"},
    )
    assert ticket.status_code == 201, ticket.text
    reply = await http.post(
        tenant.url(f"/tickets/{ticket.json()['id']}/messages"),
        json={"kind": "customer", "text": "Mi teléfono 600111222"},
    )
    assert reply.status_code == 201, reply.text
    await receive_email(listener, tenant, ANA_EMAIL, "Factura Zubiri", "Calle Olmo 7, Madrid")
    await _survey_answer(tenant, ana, chat)
    callback = await http.post(
        tenant.url("/callbacks"),
        json={"customer_id": ana, "phone": ANA_PHONE, "reason": "Zubiri quiere hablar"},
    )
    assert callback.status_code == 201, callback.text
    return {"customer": ana, "ticket": ticket.json()["id"]}


async def test_an_erased_customer_is_gone_everywhere_and_the_numbers_stay(
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    listener: Listener,
    settings: Settings,
) -> None:
    await add_queue(tenant_a)
    ids = await _ana_everywhere(tenant_a, listener)
    luis = await _customer(tenant_a, "Luis Pérez", [{"kind": "email", "value": "luis@ex.com"}])
    await contact(tenant_a, ANSWERED, email="luis@ex.com", topic="delivery")
    http = await tenant_a.client(Role.ADMIN)
    reports_before = await reports(tenant_a)
    results_before = (await http.get(tenant_a.url("/survey-results"))).json()
    before = await http.get(tenant_a.url("/customers"), params={"q": "Zubiri"})
    assert [c["id"] for c in before.json()["items"]] == [ids["customer"]]
    before = await http.get(tenant_a.url("/tickets"), params={"text": "Zubiri"})
    assert len(before.json()["items"]) == 2

    erased = await http.post(
        tenant_a.url(f"/customers/{ids['customer']}/erasure"), json={"reason": "RGPD-2026-17"}
    )

    assert erased.status_code == 201, erased.text
    counts = erased.json()["counts"]
    assert counts["customer_identities"] == 2
    assert counts["email_attachments"] == 1
    assert counts["reporting_facts_delinked"] > 0
    assert await reports(tenant_a) == reports_before
    assert (await http.get(tenant_a.url("/survey-results"))).json() == results_before
    for q in ("Zubiri", ANA_EMAIL, ANA_PHONE, "ana"):
        found = (await http.get(tenant_a.url("/customers"), params={"q": q})).json()["items"]
        assert found == [], q
    tickets = await http.get(tenant_a.url("/tickets"), params={"text": "Zubiri"})
    assert tickets.json()["items"] == []
    luis_found = await http.get(tenant_a.url("/customers"), params={"q": "Luis"})
    assert [c["id"] for c in luis_found.json()["items"]] == [luis]
    pages = [
        f"/customers/{ids['customer']}/360",
        f"/tickets/{ids['ticket']}",
        f"/tickets/{ids['ticket']}/messages",
        "/survey-responses",
        "/callbacks",
        "/interactions",
        "/email/messages",
    ]
    for page in pages:
        response = await http.get(tenant_a.url(page))
        assert response.status_code == 200, page
        assert not [secret for secret in SECRETS if secret in response.text], page
    status = await export_ready(tenant_a, settings)
    archive = await http.get(tenant_a.url(f"/exports/{status['id']}/download"))
    tables, files = read_archive(archive.content)
    for secret in SECRETS:
        assert not [name for name, rows in tables.items() if secret in json.dumps(rows)], secret
        assert not [name for name, data in files.items() if secret.encode() in data], secret
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        linked = select(InteractionFact.id).where(
            InteractionFact.customer_id == uuid.UUID(ids["customer"])
        )
        assert (await session.execute(linked)).first() is None
        query = select(AuditEntry).where(AuditEntry.action == "lifecycle.customer_erased")
        (audit,) = (await session.execute(query)).scalars()
    assert audit.after is not None
    assert audit.after["counts"] == counts
    assert audit.after["reason"] == "RGPD-2026-17"
    assert not [s for s in SECRETS if s in json.dumps(audit.after)]
    assert len(tables["lifecycle_erasures"]) == 1


async def test_erasing_twice_changes_nothing_more(tenant_a: TenantFixture) -> None:
    ana = await _customer(tenant_a, ANA, [{"kind": "email", "value": ANA_EMAIL}])
    http = await tenant_a.client(Role.ADMIN)

    first = await http.post(tenant_a.url(f"/customers/{ana}/erasure"))
    second = await http.post(tenant_a.url(f"/customers/{ana}/erasure"), json={})

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        query = select(AuditEntry.id).where(AuditEntry.action == "lifecycle.customer_erased")
        assert len((await session.execute(query)).all()) == 1


async def test_profiles_merged_into_the_customer_are_erased_with_them(
    tenant_a: TenantFixture,
) -> None:
    ana = await _customer(tenant_a, ANA, [{"kind": "email", "value": ANA_EMAIL}])
    twin = await _customer(tenant_a, "Ana Z.", [{"kind": "phone", "value": ANA_PHONE}])
    http = await tenant_a.client(Role.ADMIN)
    merged = await http.post(tenant_a.url(f"/customers/{ana}/merge"), json={"source_id": twin})
    assert merged.status_code == 200, merged.text

    erased = await http.post(tenant_a.url(f"/customers/{twin}/erasure"))

    assert erased.json()["customer_id"] == ana
    assert erased.json()["counts"]["customers"] == 2
    for customer in (ana, twin):
        profile = (await http.get(tenant_a.url(f"/customers/{customer}"))).json()
        assert profile["display_name"] == "[erased]"
        assert profile["identities"] == []


@pytest.mark.parametrize(
    ("role", "body", "status"),
    [
        (Role.SUPERVISOR, {}, 403),
        (Role.AGENT, {}, 403),
        (Role.ADMIN, {"reason": "x" * 301}, 422),
        (Role.ADMIN, {"reason": "ok", "name": "Ana"}, 422),
    ],
)
async def test_who_may_erase_and_bad_requests_change_nothing(
    tenant_a: TenantFixture, role: Role, body: dict[str, Any], status: int
) -> None:
    ana = await _customer(tenant_a, ANA, [{"kind": "email", "value": ANA_EMAIL}])
    http = await tenant_a.client(role)

    response = await http.post(tenant_a.url(f"/customers/{ana}/erasure"), json=body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    admin = await tenant_a.client(Role.ADMIN)
    assert (await admin.get(tenant_a.url(f"/customers/{ana}"))).json()["display_name"] == ANA


async def test_an_unknown_customer_is_not_found(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)

    response = await http.post(tenant_a.url(f"/customers/{uuid.uuid4()}/erasure"))

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
