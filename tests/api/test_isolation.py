"""The tenant isolation matrix, generated from the route table so a new route cannot escape it.

For every route under ``/api/v1/tenants/{tenant_slug}``, tenant A's administrator:
* asking through tenant B's slug gets 404, whatever the method;
* asking through A's own slug for B's objects (every id in the path is B's) gets 404;
* listing or searching in A never sees B's rows (B's ids and B's marker text never appear).
The route table is the OpenAPI document, which is the API's contract: every tenant route is in
it. A route with a path parameter that has no factory below, or a body-taking route on B's objects
without an example body, fails the matrix until it is added here.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from centralita.app import create_app
from centralita.channels.email.models import Direction, EmailAttachment, EmailRecord, EmailStatus
from centralita.config import Settings
from centralita.db.base import new_id, utcnow
from centralita.events.models import EventRecord
from centralita.identity import service as identity
from centralita.identity.permissions import Role
from centralita.nlu.models import TrainingRun
from centralita.webhooks import service as webhooks
from tests.conftest import TEST_ACTOR, TenantFixture
from tests.reporting.helpers import Outcome, agent_user, contact

MARKER = "Zq-isolation-marker"
TENANT_PREFIX = "/api/v1/tenants/{tenant_slug}"


def _tenant_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the tenant API, read from the OpenAPI contract of the real app."""
    paths = create_app(Settings()).openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in sorted(paths.items())
        if path.startswith(TENANT_PREFIX)
        for method in sorted(operations)
    ]


TENANT_ROUTES = _tenant_routes()


async def _member(tenant: TenantFixture) -> str:
    async with tenant.db.system_session() as session:
        user = await identity.create_user(
            session,
            identity.Passwords(Settings(argon2_time_cost=1, argon2_memory_kib=64)),
            email=f"{uuid.uuid4().hex[:10]}@example.com",
            display_name=MARKER,
            password="a long enough password",
        )
        await identity.grant_role(session, TEST_ACTOR, tenant.id, user, Role.AGENT)
        await session.commit()
        return str(user.id)


async def _api_token(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(tenant.url("/api-tokens"), json={"name": MARKER, "role": "agent"})
    return str(response.json()["id"])


async def _customer_with(tenant: TenantFixture, identities: list[dict[str, str]]) -> dict[str, Any]:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url("/customers"), json={"display_name": MARKER, "identities": identities}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _customer(tenant: TenantFixture) -> str:
    return str((await _customer_with(tenant, []))["id"])


async def _identity(tenant: TenantFixture) -> str:
    customer = await _customer_with(tenant, [{"kind": "crm", "value": uuid.uuid4().hex}])
    return str(customer["identities"][0]["id"])


async def _interaction(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url("/interactions"),
        json={
            "channel": "chat",
            "identity": {"kind": "chat", "value": uuid.uuid4().hex},
            "customer_name": MARKER,
            "subject": MARKER,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _skill(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url("/skills"), json={"name": f"{MARKER}-{uuid.uuid4().hex[:8]}"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _queue(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url("/queues"),
        json={"name": f"q-{uuid.uuid4().hex[:8]}", "description": MARKER, "channels": ["chat"]},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _business_calendar(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url("/business-calendars"),
        json={
            "name": f"{MARKER}-{uuid.uuid4().hex[:8]}",
            "weekly_hours": {"mon": [["09:00", "17:00"]]},
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _sla_policy(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url("/sla-policies"),
        json={"name": f"{MARKER}-{uuid.uuid4().hex[:8]}", "targets": {"P1": {"resolution": 60}}},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _ticket(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url("/tickets"), json={"requester_id": await _customer(tenant), "subject": MARKER}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _created(tenant: TenantFixture, path: str, body: dict[str, Any]) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(tenant.url(path), json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _team(tenant: TenantFixture) -> str:
    return await _created(tenant, "/teams", {"name": f"{MARKER}-{uuid.uuid4().hex[:8]}"})


async def _category(tenant: TenantFixture) -> str:
    return await _created(
        tenant, "/ticket-categories", {"name": f"{MARKER}-{uuid.uuid4().hex[:8]}"}
    )


async def _custom_field(tenant: TenantFixture) -> str:
    field = {"key": f"f_{uuid.uuid4().hex[:8]}", "kind": "text", "label": {"en": MARKER}}
    return await _created(tenant, "/ticket-fields", field)


async def _template(tenant: TenantFixture) -> str:
    return await _created(tenant, "/ticket-templates", {"name": f"{MARKER}-{uuid.uuid4().hex[:8]}"})


async def _ticket_view(tenant: TenantFixture) -> str:
    return await _created(tenant, "/ticket-views", {"name": MARKER, "shared": True})


async def _wfm_schedule(tenant: TenantFixture) -> str:
    agent = await _member(tenant)
    office = [float(hour == 9) for _day in range(7) for hour in range(24)]
    body = {
        "name": MARKER,
        "week_start": "2026-12-07",
        "interval_minutes": 60,
        "requirement": {"soporte": office},
        "templates": [{"name": "1h", "length_minutes": 60, "start_times": [540]}],
        "agents": [{"user_id": agent, "skills": ["soporte"]}],
    }
    return await _created(tenant, "/wfm/schedules", body)


async def _webhook(tenant: TenantFixture) -> str:
    body = {"url": "http://8.8.8.8/hook", "event_types": ["ticket.created"], "description": MARKER}
    return await _created(tenant, "/webhooks", body)


async def _webhook_delivery(tenant: TenantFixture) -> str:
    async with tenant.db.tenant_session(tenant.id) as session:
        subscription = await webhooks.get_subscription(session, uuid.UUID(await _webhook(tenant)))
        record = EventRecord(
            tenant_id=tenant.id, id=new_id(), type="ticket.created", data={}, at=utcnow()
        )
        session.add(record)
        delivery = webhooks.add_delivery(session, subscription, record, utcnow())
        await session.commit()
        return str(delivery.id)


async def _rule(tenant: TenantFixture) -> str:
    rule = {
        "name": MARKER,
        "trigger": "ticket.created",
        "actions": [{"type": "notify_team", "message": MARKER}],
    }
    return await _created(tenant, "/rules", rule)


async def _callback(tenant: TenantFixture) -> str:
    body = {"customer_id": await _customer(tenant), "reason": MARKER}
    return await _created(tenant, "/callbacks", body)


SURVEY = {"name": MARKER, "title": {"es": MARKER}}


async def _survey(tenant: TenantFixture) -> str:
    return await _created(tenant, "/surveys", SURVEY)


QA_FORM = {
    "name": MARKER,
    "sections": [{"title": MARKER, "questions": [{"id": "q", "text": MARKER, "kind": "yes_no"}]}],
}


async def _qa_form(tenant: TenantFixture) -> str:
    return await _created(
        tenant, "/qa/forms", {**QA_FORM, "name": f"{MARKER}-{uuid.uuid4().hex[:8]}"}
    )


async def _qa_evaluation(tenant: TenantFixture) -> str:
    agent = await agent_user(tenant, MARKER)
    work = await contact(tenant, Outcome(answered_after=5), agent_id=agent)
    body = {"form_id": await _qa_form(tenant), "interaction_id": str(work), "answers": {"q": True}}
    return await _created(tenant, "/qa/evaluations", body)


async def _knowledge_category(tenant: TenantFixture) -> str:
    return await _created(
        tenant, "/knowledge/categories", {"name": f"{MARKER}-{uuid.uuid4().hex[:8]}"}
    )


async def _article(tenant: TenantFixture) -> str:
    """A published public article, so that searches in the other tenant could find it."""
    article_id = await _created(
        tenant,
        "/knowledge/articles",
        {"locale": "en", "title": MARKER, "body_markdown": MARKER, "visibility": "public"},
    )
    http = await tenant.client(Role.ADMIN)
    response = await http.post(
        tenant.url(f"/knowledge/articles/{article_id}/state"), json={"state": "published"}
    )
    assert response.status_code == 200, response.text
    return article_id


async def _synonyms(tenant: TenantFixture) -> str:
    return await _created(tenant, "/knowledge/synonyms", {"terms": [MARKER, "zq-other"]})


# How to make, in a tenant, the object each path parameter names.
async def _channel_address(tenant: TenantFixture) -> str:
    return await _created(tenant, "/channel-addresses", {"channel": "chat", "display_name": MARKER})


async def _held_email(tenant: TenantFixture) -> str:
    ticket_id = uuid.UUID(await _ticket(tenant))
    async with tenant.db.tenant_session(tenant.id) as session:
        record = EmailRecord(
            tenant_id=tenant.id,
            direction=Direction.IN,
            message_id=f"{uuid.uuid4()}@example.com",
            status=EmailStatus.HELD,
            counterpart="stranger@example.com",
            mailbox="ayuda@example.com",
            subject=MARKER,
            ticket_id=ticket_id,
            visible_text=MARKER,
            raw=MARKER.encode(),
        )
        session.add(record)
        await session.flush()
        attachment = EmailAttachment(
            tenant_id=tenant.id,
            email_id=record.id,
            filename=f"{MARKER}.txt",
            content_type="text/plain",
            size=len(MARKER),
            content=MARKER.encode(),
        )
        session.add(attachment)
        await session.commit()
        return str(record.id)


async def _email_attachment(tenant: TenantFixture) -> str:
    email_id = uuid.UUID(await _held_email(tenant))
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(EmailAttachment.id).where(EmailAttachment.email_id == email_id)
        return str((await session.execute(query)).scalar_one())


async def _nlu_intent(tenant: TenantFixture) -> str:
    body = {"intent": f"i-{uuid.uuid4().hex[:8]}", "keywords": [MARKER]}
    return await _created(tenant, "/nlu/intents", body)


async def _export(tenant: TenantFixture) -> str:
    http = await tenant.client(Role.ADMIN)
    response = await http.post(tenant.url("/exports"))
    if response.status_code == 409:  # one export at a time: the one already being prepared
        return str((await http.get(tenant.url("/exports"))).json()[0]["id"])
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _nlu_training(tenant: TenantFixture) -> str:
    # A finished run, so that no trainer picks it up.
    async with tenant.db.tenant_session(tenant.id) as session:
        run = TrainingRun(tenant_id=tenant.id, threshold=0.5, embeddings=False, state="failed")
        session.add(run)
        await session.commit()
        return str(run.id)


async def _campaign(tenant: TenantFixture) -> str:
    body = {"name": MARKER, "templates": {"sms": {"es": MARKER}}}
    return await _created(tenant, "/campaigns", body)


OBJECT_FACTORIES: dict[str, Callable[[TenantFixture], Awaitable[str]]] = {
    "user_id": _member,
    "token_id": _api_token,
    "customer_id": _customer,
    "identity_id": _identity,
    "interaction_id": _interaction,
    "skill_id": _skill,
    "queue_id": _queue,
    "calendar_id": _business_calendar,
    "policy_id": _sla_policy,
    "ticket_id": _ticket,
    "other_id": _ticket,
    "team_id": _team,
    "category_id": _category,
    "field_id": _custom_field,
    "template_id": _template,
    "view_id": _ticket_view,
    "address_id": _channel_address,
    "email_id": _held_email,
    "attachment_id": _email_attachment,
    "schedule_id": _wfm_schedule,
    "subscription_id": _webhook,
    "delivery_id": _webhook_delivery,
    "rule_id": _rule,
    "callback_id": _callback,
    "survey_id": _survey,
    "form_id": _qa_form,
    "evaluation_id": _qa_evaluation,
    "knowledge_category_id": _knowledge_category,
    "article_id": _article,
    "synonyms_id": _synonyms,
    "intent_id": _nlu_intent,
    "export_id": _export,
    "training_id": _nlu_training,
    "campaign_id": _campaign,
}

CUSTOMER = f"{TENANT_PREFIX}/customers/{{customer_id}}"
INTERACTION = f"{TENANT_PREFIX}/interactions/{{interaction_id}}"
TICKET = f"{TENANT_PREFIX}/tickets/{{ticket_id}}"
KNOWLEDGE = f"{TENANT_PREFIX}/knowledge"
ARTICLE = f"{KNOWLEDGE}/articles/{{article_id}}"
AGENT_PROFILE = {
    "languages": ["es"],
    "capacity": {"voice": 1, "chat": 2, "email": 3, "sms": 3, "task": 3},
    "occupancy_cap": 0.8,
    "wrap_up_seconds": 30,
    "skills": [],
}

# A valid body for each body-taking route on an object, so that validation cannot mask a leak.
EXAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", CUSTOMER): {"display_name": "Renamed"},
    ("POST", f"{CUSTOMER}/identities"): {"kind": "crm", "value": "X-1"},
    ("POST", f"{CUSTOMER}/merge"): {"source_id": str(uuid.uuid4())},
    ("PATCH", INTERACTION): {"priority": 3},
    ("POST", f"{INTERACTION}/messages"): {"text": "Hola"},
    ("PATCH", f"{TENANT_PREFIX}/skills/{{skill_id}}"): {"description": "Renamed"},
    ("PATCH", f"{TENANT_PREFIX}/queues/{{queue_id}}"): {"priority": 3},
    ("PUT", f"{TENANT_PREFIX}/agents/{{user_id}}"): AGENT_PROFILE,
    ("PUT", f"{TENANT_PREFIX}/agents/{{user_id}}/presence"): {
        "presence": "away",
        "reason": "break",
    },
    ("POST", f"{INTERACTION}/accept"): {},
    ("POST", f"{INTERACTION}/reject"): {},
    ("POST", f"{INTERACTION}/end"): {},
    ("POST", f"{INTERACTION}/transfer"): {"queue_id": str(uuid.uuid4())},
    ("POST", f"{INTERACTION}/wrap-up"): {"disposition": "resolved"},
    ("POST", f"{INTERACTION}/offer"): {"agent_id": str(uuid.uuid4())},
    ("PATCH", f"{TENANT_PREFIX}/business-calendars/{{calendar_id}}"): {"name": "Renamed"},
    ("PATCH", f"{TENANT_PREFIX}/sla-policies/{{policy_id}}"): {"name": "Renamed"},
    ("PATCH", TICKET): {"subject": "Renamed"},
    ("POST", f"{TICKET}/messages"): {"kind": "internal", "text": "Hola"},
    ("POST", f"{TICKET}/merge"): {"source_id": str(uuid.uuid4())},
    ("POST", f"{TICKET}/links"): {"other_id": str(uuid.uuid4())},
    ("POST", f"{TICKET}/children"): {"ticket_ids": [str(uuid.uuid4())]},
    ("POST", f"{TICKET}/major-update"): {"text": "Hola"},
    ("POST", f"{TICKET}/macros/render"): {"template_id": str(uuid.uuid4()), "index": 0},
    ("POST", f"{TICKET}/conversations"): {"interaction_id": str(uuid.uuid4())},
    ("POST", f"{TENANT_PREFIX}/calls/{{interaction_id}}/hold"): {},
    ("POST", f"{TENANT_PREFIX}/calls/{{interaction_id}}/resume"): {},
    ("POST", f"{TENANT_PREFIX}/calls/{{interaction_id}}/transfer"): {"queue_id": str(uuid.uuid4())},
    ("POST", f"{TENANT_PREFIX}/calls/{{interaction_id}}/hang-up"): {},
    ("PATCH", f"{TENANT_PREFIX}/teams/{{team_id}}"): {"name": "Renamed"},
    ("PUT", f"{TENANT_PREFIX}/teams/{{team_id}}/members"): {"user_ids": []},
    ("PATCH", f"{TENANT_PREFIX}/ticket-categories/{{category_id}}"): {"name": "Renamed"},
    ("PATCH", f"{TENANT_PREFIX}/ticket-fields/{{field_id}}"): {"required": False},
    ("PATCH", f"{TENANT_PREFIX}/ticket-templates/{{template_id}}"): {"name": "Renamed"},
    ("PATCH", f"{TENANT_PREFIX}/ticket-views/{{view_id}}"): {"name": "Renamed"},
    ("PATCH", f"{TENANT_PREFIX}/channel-addresses/{{address_id}}"): {"queue": "general"},
    ("POST", f"{TENANT_PREFIX}/email/messages/{{email_id}}/release"): {},
    ("POST", f"{TENANT_PREFIX}/email/messages/{{email_id}}/dismiss"): {},
    ("POST", f"{TENANT_PREFIX}/email/interactions/{{interaction_id}}/replies"): {},
    ("POST", f"{TENANT_PREFIX}/wfm/schedules/{{schedule_id}}/publish"): {},
    ("POST", f"{TENANT_PREFIX}/interactions/{{interaction_id}}/typing"): {},
    ("PATCH", f"{TENANT_PREFIX}/webhooks/{{subscription_id}}"): {"description": "Renamed"},
    ("POST", f"{TENANT_PREFIX}/webhooks/{{subscription_id}}/replay"): {
        "since": "2020-01-01T00:00:00Z"
    },
    ("POST", f"{TENANT_PREFIX}/webhooks/{{subscription_id}}/deliveries/{{delivery_id}}/replay"): {},
    ("PATCH", f"{TENANT_PREFIX}/rules/{{rule_id}}"): {"name": "Renamed"},
    ("POST", f"{TENANT_PREFIX}/rules/{{rule_id}}/dry-run"): {},
    ("POST", f"{TENANT_PREFIX}/callbacks/{{callback_id}}/attempts"): {"outcome": "reached"},
    ("POST", f"{TENANT_PREFIX}/callbacks/{{callback_id}}/cancel"): {},
    ("PUT", f"{TENANT_PREFIX}/surveys/{{survey_id}}"): {**SURVEY, "name": "Renamed"},
    ("POST", f"{TENANT_PREFIX}/qa/forms/{{form_id}}/versions"): QA_FORM,
    ("POST", f"{TENANT_PREFIX}/qa/evaluations/{{evaluation_id}}/acknowledge"): {},
    ("POST", f"{TENANT_PREFIX}/qa/evaluations/{{evaluation_id}}/dispute"): {"comment": "No"},
    ("PATCH", f"{KNOWLEDGE}/categories/{{knowledge_category_id}}"): {"name": "Renamed"},
    ("PATCH", ARTICLE): {"title": "Renamed"},
    ("POST", f"{ARTICLE}/state"): {"state": "in_review"},
    ("POST", f"{ARTICLE}/rollback"): {"version": 1},
    ("POST", f"{ARTICLE}/clicks"): {},
    ("POST", f"{ARTICLE}/votes"): {"helpful": True},
    ("POST", f"{ARTICLE}/insertions"): {},
    ("PATCH", f"{TENANT_PREFIX}/nlu/intents/{{intent_id}}"): {"queue": "general"},
    ("POST", f"{CUSTOMER}/erasure"): {"reason": "isolation"},
    ("POST", f"{TENANT_PREFIX}/campaigns/{{campaign_id}}/targets"): {},
    ("POST", f"{TENANT_PREFIX}/campaigns/{{campaign_id}}/start"): {},
    ("POST", f"{TENANT_PREFIX}/campaigns/{{campaign_id}}/pause"): {},
    ("PUT", f"{CUSTOMER}/consents"): {"channel": "sms", "granted": False},
}


def _path_params(path: str) -> list[str]:
    return [
        part[1:-1] for part in path.split("/") if part.startswith("{") and part != "{tenant_slug}"
    ]


async def _objects_of(tenant: TenantFixture, params: list[str]) -> dict[str, str]:
    missing = [p for p in params if p not in OBJECT_FACTORIES]
    assert not missing, f"add a factory to OBJECT_FACTORIES for path parameter(s) {missing}"
    return {p: await OBJECT_FACTORIES[p](tenant) for p in params}


def _fill(path: str, slug: str, objects: dict[str, str]) -> str:
    return path.replace("{tenant_slug}", slug).format(**objects)


@pytest.mark.parametrize(("method", "path"), TENANT_ROUTES)
async def test_other_tenants_slug_is_not_found(
    method: str, path: str, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    objects = await _objects_of(tenant_b, _path_params(path))

    response = await http.request(method, _fill(path, tenant_b.slug, objects), json={})

    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"


OBJECT_ROUTES = [(m, p) for m, p in TENANT_ROUTES if _path_params(p)]


@pytest.mark.parametrize(("method", "path"), OBJECT_ROUTES)
async def test_other_tenants_objects_are_not_found(
    method: str, path: str, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    objects = await _objects_of(tenant_b, _path_params(path))
    body = None
    if method in {"POST", "PUT", "PATCH"}:
        assert (method, path) in EXAMPLE_BODIES, f"add an example body for {method} {path}"
        body = EXAMPLE_BODIES[(method, path)]

    response = await http.request(method, _fill(path, tenant_a.slug, objects), json=body)

    assert response.status_code == 404, response.text


LIST_ROUTES = [(m, p) for m, p in TENANT_ROUTES if m == "GET" and not _path_params(p)]


@pytest.mark.parametrize(("method", "path"), LIST_ROUTES)
async def test_lists_and_searches_never_show_other_tenants_rows(
    method: str, path: str, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    b_ids = [await factory(tenant_b) for factory in OBJECT_FACTORIES.values()]

    plain = await http.get(_fill(path, tenant_a.slug, {}))
    searched = await http.get(_fill(path, tenant_a.slug, {}), params={"q": MARKER})

    for response in (plain, searched):
        assert response.status_code == 200, response.text
        assert MARKER not in response.text
        assert tenant_b.slug not in response.text
        assert not [i for i in b_ids if i in response.text]
