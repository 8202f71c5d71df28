"""Creating tickets, checking what they refer to, and their lifecycle."""

import uuid
from typing import Any

from sqlalchemy import select

from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction
from tests.conftest import TenantFixture
from tests.tickets import fetch, fields_of, make_customer, make_staff, make_ticket, post_ok


async def _work(tenant: TenantFixture, ticket_id: str) -> list[Interaction]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(Interaction).where(Interaction.ticket_id == uuid.UUID(ticket_id))
        return list((await session.execute(query)).scalars())


async def test_a_new_ticket_is_numbered_prioritised_followed_and_queued_as_work(
    tenant_a: TenantFixture,
) -> None:
    agent = await make_staff(tenant_a, Role.AGENT, "Marta Ruiz")
    supervisor = await make_staff(tenant_a, Role.SUPERVISOR)
    lucia = await make_customer(tenant_a, "Lucía Núñez")

    first = await make_ticket(
        tenant_a,
        lucia,
        subject="Tarjeta bloqueada",
        description="No puedo pagar en comercios",
        type="incident",
        impact="high",
        urgency="medium",
        assignee_user_id=str(agent.id),
        followers=[str(supervisor.id)],
        tags=["tarjetas", "tarjetas", "urgente"],
        channel="email",
    )
    second = await make_ticket(tenant_a, lucia, subject="Cambio de domicilio")

    http = await tenant_a.client(Role.AGENT)
    prefix = (await http.get(tenant_a.url("/ticket-settings"))).json()["prefix"]
    assert (first["number"], second["number"]) == (1, 2)
    assert first["reference"] == f"{prefix}-1"
    assert first["status"] == "new"
    assert first["priority"] == "P2"
    assert first["priority_overridden"] is False
    assert first["tags"] == ["tarjetas", "urgente"]
    assert first["followers"] == [str(supervisor.id)]
    assert first["requester_id"] == lucia
    assert second["priority"] == "P3"
    (work,) = await _work(tenant_a, first["id"])
    assert work.state == "queued"
    assert work.channel == "email"
    assert str(work.customer_id) == lucia
    assert work.subject == f"{prefix}-1 · Tarjeta bloqueada"
    (by_hand,) = await _work(tenant_a, second["id"])
    assert by_hand.channel == "task"


async def test_references_to_another_tenant_or_unknown_rows_are_422_and_create_nothing(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.AGENT)
    theirs_customer = await make_customer(tenant_b)
    theirs_agent = await make_staff(tenant_b)
    theirs_ticket = await make_ticket(tenant_b)
    admin_b = await tenant_b.client(Role.ADMIN)
    theirs_team = await post_ok(admin_b, tenant_b.url("/teams"), {"name": "Nivel 2"})
    theirs_category = await post_ok(admin_b, tenant_b.url("/ticket-categories"), {"name": "Red"})
    viewer = await make_staff(tenant_a, Role.CLIENT_VIEWER)
    mine = await make_customer(tenant_a)

    foreign = await http.post(
        tenant_a.url("/tickets"),
        json={
            "requester_id": theirs_customer,
            "subject": "x",
            "assignee_user_id": str(theirs_agent.id),
            "team_id": theirs_team["id"],
            "category_id": theirs_category["id"],
            "parent_id": theirs_ticket["id"],
            "followers": [str(viewer.id)],
        },
    )
    no_subject = await http.post(tenant_a.url("/tickets"), json={"requester_id": mine})

    assert foreign.status_code == 422
    assert sorted(fields_of(foreign)) == [
        "body.assignee_user_id",
        "body.category_id",
        "body.followers.0",
        "body.parent_id",
        "body.requester_id",
        "body.team_id",
    ]
    assert fields_of(no_subject) == ["body.subject"]
    listed = await http.get(tenant_a.url("/tickets"))
    assert listed.json()["items"] == []
    settings = await http.get(tenant_a.url("/ticket-settings"))
    assert settings.json()["next_number"] == 1


async def test_custom_fields_are_typed_and_a_bad_value_names_its_key(
    tenant_a: TenantFixture,
) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    for field in (
        {"key": "contract", "kind": "text", "label": {"es": "Contrato", "en": "Contract"}},
        {"key": "amount", "kind": "number"},
        {"key": "since", "kind": "date"},
        {"key": "card", "kind": "choice", "choices": ["visa", "mastercard"]},
    ):
        await post_ok(admin, tenant_a.url("/ticket-fields"), field)
    duplicate = await admin.post(
        tenant_a.url("/ticket-fields"), json={"key": "amount", "kind": "text"}
    )
    choice_without_choices = await admin.post(
        tenant_a.url("/ticket-fields"), json={"key": "other", "kind": "choice"}
    )
    ticket = await make_ticket(
        tenant_a,
        custom_fields={"contract": "C-77", "amount": 120.5, "since": "2024-02-29", "card": "visa"},
    )
    http = await tenant_a.client(Role.AGENT)
    url = tenant_a.url(f"/tickets/{ticket['id']}")

    wrong = await http.patch(
        url,
        json={
            "subject": "Changed",
            "custom_fields": {"amount": "ciento", "since": "29/02/2024", "card": "amex", "nope": 1},
        },
    )
    boolean = await http.patch(url, json={"custom_fields": {"amount": True}})
    cleared = await http.patch(url, json={"custom_fields": {"contract": None, "amount": 7}})

    assert ticket["custom_fields"] == {
        "contract": "C-77",
        "amount": 120.5,
        "since": "2024-02-29",
        "card": "visa",
    }
    assert duplicate.status_code == 409
    assert choice_without_choices.status_code == 422
    assert wrong.status_code == 422
    assert sorted(fields_of(wrong)) == [
        "body.custom_fields.amount",
        "body.custom_fields.card",
        "body.custom_fields.nope",
        "body.custom_fields.since",
    ]
    assert fields_of(boolean) == ["body.custom_fields.amount"]
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["custom_fields"] == {"amount": 7, "since": "2024-02-29", "card": "visa"}
    assert cleared.json()["subject"] == "No puedo entrar"


async def test_a_required_field_is_asked_for_when_resolving(tenant_a: TenantFixture) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    await post_ok(
        admin, tenant_a.url("/ticket-fields"), {"key": "cause", "kind": "text", "required": True}
    )
    ticket = await make_ticket(tenant_a)
    http = await tenant_a.client(Role.AGENT)
    url = tenant_a.url(f"/tickets/{ticket['id']}")

    refused = await http.patch(url, json={"status": "resolved"})
    resolved = await http.patch(
        url, json={"status": "resolved", "custom_fields": {"cause": "Tarjeta caducada"}}
    )

    assert fields_of(refused) == ["body.custom_fields.cause"]
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"


async def test_priority_follows_the_matrix_until_overridden_and_the_override_is_audited(
    tenant_a: TenantFixture,
) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    http = await tenant_a.client(Role.AGENT)
    matrix = {
        impact: dict.fromkeys(("high", "medium", "low"), "P4")
        for impact in ("high", "medium", "low")
    }
    matrix["high"]["high"] = "P1"
    incomplete = await admin.patch(
        tenant_a.url("/ticket-settings"), json={"priority_matrix": {"high": {"high": "P1"}}}
    )
    by_agent = await http.patch(tenant_a.url("/ticket-settings"), json={"reopen_days": 3})
    saved = await admin.patch(tenant_a.url("/ticket-settings"), json={"priority_matrix": matrix})
    ticket = await make_ticket(tenant_a, impact="medium", urgency="medium")
    url = tenant_a.url(f"/tickets/{ticket['id']}")

    raised = await http.patch(url, json={"impact": "high", "urgency": "high"})
    overridden = await http.patch(url, json={"priority": "P3"})
    kept = await http.patch(url, json={"urgency": "low"})
    back_to_matrix = await http.patch(url, json={"priority": None})
    history = (await http.get(f"{url}/history")).json()

    assert incomplete.status_code == 422
    assert by_agent.status_code == 403
    assert saved.json()["priority_matrix"]["high"]["high"] == "P1"
    assert ticket["priority"] == "P4"
    assert raised.json()["priority"] == "P1"
    assert (overridden.json()["priority"], overridden.json()["priority_overridden"]) == ("P3", True)
    assert kept.json()["priority"] == "P3"
    assert (back_to_matrix.json()["priority"], back_to_matrix.json()["priority_overridden"]) == (
        "P4",
        False,
    )
    override = next(
        e for e in history if e["entry"] == "change" and e["after"].get("priority") == "P3"
    )
    assert override["before"] == {"priority": "P1", "priority_overridden": False}
    assert override["after"] == {"priority": "P3", "priority_overridden": True}
    assert override["actor_label"] == "token:test-agent"


async def test_an_impossible_transition_is_a_409_and_changes_nothing(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    ticket = await make_ticket(tenant_a)
    url = tenant_a.url(f"/tickets/{ticket['id']}")
    refused = []
    for path, target in ([], "closed"), (["open"], "new"), (["resolved"], "on_hold"):
        for status in path:
            assert (await http.patch(url, json={"status": status})).status_code == 200
        before = await fetch(tenant_a, ticket["id"])
        response = await http.patch(url, json={"status": target, "subject": "Otro asunto"})
        refused.append((response.status_code, response.headers["content-type"]))
        assert f"to {target}" in response.json()["detail"]
        assert await fetch(tenant_a, ticket["id"]) == before

    assert refused == [(409, "application/problem+json")] * 3


async def test_status_changes_stamp_their_times_and_closed_is_final(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    ticket = await make_ticket(tenant_a)
    url = tenant_a.url(f"/tickets/{ticket['id']}")

    pending = (await http.patch(url, json={"status": "pending_customer"})).json()
    resolved = (await http.patch(url, json={"status": "resolved"})).json()
    reopened = (await http.patch(url, json={"status": "open"})).json()
    await http.patch(url, json={"status": "resolved"})
    closed = (await http.patch(url, json={"status": "closed"})).json()
    edited = await http.patch(url, json={"subject": "Too late"})
    noted = await http.post(f"{url}/messages", json={"kind": "internal", "text": "x"})

    assert pending["status_changed_at"] > ticket["status_changed_at"]
    assert resolved["resolved_at"] is not None
    assert reopened["resolved_at"] is None
    assert closed["closed_at"] is not None
    assert closed["resolved_at"] is not None
    assert edited.status_code == 409
    assert noted.status_code == 409
    assert (await fetch(tenant_a, ticket["id"]))["subject"] == "No puedo entrar"


async def test_category_tree_refuses_loops_and_foreign_parents(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    url = tenant_a.url("/ticket-categories")
    cards = await post_ok(admin, url, {"name": "Tarjetas"})
    blocked = await post_ok(admin, url, {"name": "Bloqueo", "parent_id": cards["id"]})
    stolen = await post_ok(admin, url, {"name": "Robo", "parent_id": blocked["id"]})
    theirs = await post_ok(
        await tenant_b.client(Role.ADMIN), tenant_b.url("/ticket-categories"), {"name": "X"}
    )

    loop = await admin.patch(f"{url}/{cards['id']}", json={"parent_id": stolen["id"]})
    itself = await admin.patch(f"{url}/{cards['id']}", json={"parent_id": cards["id"]})
    foreign = await post_ok(admin, url, {"name": "Y", "parent_id": theirs["id"]}, status=422)
    twin = await admin.post(url, json={"name": "Tarjetas"})
    in_use = await admin.delete(f"{url}/{cards['id']}")
    tree = (await admin.get(url)).json()

    assert stolen["path"] == "Tarjetas / Bloqueo / Robo"
    assert fields_of(loop) == ["body.parent_id"]
    assert fields_of(itself) == ["body.parent_id"]
    assert [e["field"] for e in foreign["errors"]] == ["body.parent_id"]
    assert twin.status_code == 409
    assert in_use.status_code == 409
    assert [c["path"] for c in tree] == [
        "Tarjetas",
        "Tarjetas / Bloqueo",
        "Tarjetas / Bloqueo / Robo",
    ]
    assert (await admin.get(f"{url}/{cards['id']}")).json()["parent_id"] is None


async def test_teams_hold_staff_of_the_tenant_only(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    agent = await make_staff(tenant_a)
    outsider = await make_staff(tenant_b)
    team = await post_ok(
        admin, tenant_a.url("/teams"), {"name": "Nivel 1", "member_ids": [str(agent.id)]}
    )
    url = tenant_a.url(f"/teams/{team['id']}")

    foreign = await admin.put(
        f"{url}/members", json={"user_ids": [str(agent.id), str(outsider.id)]}
    )
    by_agent = await (await tenant_a.client(Role.AGENT)).post(
        tenant_a.url("/teams"), json={"name": "X"}
    )
    await make_ticket(tenant_a, team_id=team["id"])
    in_use = await admin.delete(url)

    assert team["member_ids"] == [str(agent.id)]
    assert fields_of(foreign) == ["body.user_ids.1"]
    assert (await admin.get(url)).json()["member_ids"] == [str(agent.id)]
    assert by_agent.status_code == 403
    assert in_use.status_code == 409


async def test_client_viewers_see_no_tickets(tenant_a: TenantFixture) -> None:
    viewer = await tenant_a.client(Role.CLIENT_VIEWER)

    assert (await viewer.get(tenant_a.url("/tickets"))).status_code == 403
    assert (await viewer.get(tenant_a.url("/ticket-settings"))).status_code == 403


async def test_the_same_idempotency_key_makes_one_ticket(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    body: dict[str, Any] = {"requester_id": await make_customer(tenant_a), "subject": "Hola"}
    headers = {"Idempotency-Key": "mail-<abc@example.com>"}

    first = await http.post(tenant_a.url("/tickets"), json=body, headers=headers)
    retry = await http.post(tenant_a.url("/tickets"), json=body, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert len((await http.get(tenant_a.url("/tickets"))).json()["items"]) == 1
