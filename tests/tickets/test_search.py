"""Searching tickets, saved views, bulk changes and the CSV export."""

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

from centralita.db.base import utcnow
from centralita.identity.permissions import Role
from centralita.sla.models import SlaPolicy, SlaTarget, TargetKind, TargetStatus
from centralita.sla.urgency import refresh_ticket_urgency
from centralita.tickets.export import neutralise
from tests.conftest import TenantFixture
from tests.tickets import (
    fetch,
    fields_of,
    make_customer,
    make_staff,
    make_ticket,
    post_ok,
    signed_in,
)


async def _numbers(tenant: TenantFixture, **params: Any) -> list[int]:
    http = await tenant.client(Role.AGENT)
    response = await http.get(tenant.url("/tickets"), params=params)
    assert response.status_code == 200, response.text
    return [ticket["number"] for ticket in response.json()["items"]]


async def _targets(tenant: TenantFixture, *targets: tuple[str, TargetStatus, int, bool]) -> None:
    """SLA targets for tickets: (ticket id, status, minutes until due, breached)."""
    now = utcnow()
    async with tenant.db.tenant_session(tenant.id) as session:
        # Inactive, so that the SLA clock never applies it to a ticket by itself.
        policy = SlaPolicy(name=f"p-{uuid.uuid4().hex[:6]}", is_active=False)
        session.add(policy)
        await session.flush()
        for ticket_id, status, minutes, breached in targets:
            session.add(
                SlaTarget(
                    ticket_id=uuid.UUID(ticket_id),
                    policy_id=policy.id,
                    kind=TargetKind.RESOLUTION,
                    status=status,
                    target_minutes=60,
                    started_at=now,
                    due_at=now + timedelta(minutes=minutes),
                    breached_at=now if breached else None,
                )
            )
        # Written by hand, so the tickets' SLA summary is refreshed as the SLA code would.
        ids = [uuid.UUID(ticket_id) for ticket_id, *_ in targets]
        await refresh_ticket_urgency(session, tenant.id, ids)
        await session.commit()


async def test_filters_combine_and_never_show_another_tenant(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    agent = await make_staff(tenant_a)
    team = await post_ok(await tenant_a.client(Role.ADMIN), tenant_a.url("/teams"), {"name": "N1"})
    lucia = await make_customer(tenant_a, "Lucía")
    await make_ticket(tenant_a, lucia, subject="Cajero sin efectivo", tags=["vip"])
    await make_ticket(
        tenant_a,
        subject="Comisión indebida",
        description="Cobro de mantenimiento",
        impact="high",
        urgency="high",
        tags=["vip-gold", "comisiones"],
        assignee_user_id=str(agent.id),
    )
    third = await make_ticket(tenant_a, lucia, subject="Tarjeta", team_id=team["id"], tags=["vip"])
    await make_ticket(tenant_b, subject="Comisión indebida", tags=["vip"])
    await (await tenant_a.client(Role.AGENT)).patch(
        tenant_a.url(f"/tickets/{(await make_ticket(tenant_a))['id']}"), json={"status": "open"}
    )

    assert await _numbers(tenant_a) == [4, 3, 2, 1]
    assert await _numbers(tenant_a, text="COMISION") == [2]
    assert await _numbers(tenant_a, text="mantenimiento") == [2]
    assert await _numbers(tenant_a, text=third["reference"].lower()) == [3]
    assert await _numbers(tenant_a, priority=["P1", "P2"]) == [2]
    assert await _numbers(tenant_a, status=["open", "pending_customer"]) == [4]
    assert await _numbers(tenant_a, status=["new"], tags=["vip"]) == [3, 1]
    assert await _numbers(tenant_a, tags=["vip", "comisiones"]) == []
    assert await _numbers(tenant_a, tags=["vip-gold", "comisiones"]) == [2]
    assert await _numbers(tenant_a, assignee=str(agent.id)) == [2]
    assert await _numbers(tenant_a, assignee="none", requester=lucia) == [3, 1]
    assert await _numbers(tenant_a, team=team["id"]) == [3]
    async with signed_in(tenant_a, agent) as http:
        mine = await http.get(tenant_a.url("/tickets"), params={"assignee": "me"})
    assert [t["number"] for t in mine.json()["items"]] == [2]
    token_me = await (await tenant_a.client(Role.AGENT)).get(
        tenant_a.url("/tickets"), params={"assignee": "me"}
    )
    assert fields_of(token_me) == ["query.assignee"]


async def test_text_finds_words_by_their_start_whole_numbers_and_follows_an_edited_subject(
    tenant_a: TenantFixture,
) -> None:
    card = await make_ticket(tenant_a, subject="Tarjeta bloqueada en el cajero")
    for _ in range(9):
        await make_ticket(tenant_a, subject="Otra consulta")
    tenth = await make_ticket(tenant_a, subject="Extracto de la cuenta")

    assert await _numbers(tenant_a, text="tarj") == [1]
    assert await _numbers(tenant_a, text="CAJERO tarjeta") == [1]
    assert await _numbers(tenant_a, text="cajero extracto") == []
    assert await _numbers(tenant_a, text=card["reference"]) == [1]
    assert await _numbers(tenant_a, text=tenth["reference"]) == [11]
    assert await _numbers(tenant_a, text="'; DROP TABLE tickets; -- 🙂 \"%_") == []

    http = await tenant_a.client(Role.AGENT)
    edited = await http.patch(
        tenant_a.url(f"/tickets/{card['id']}"), json={"subject": "Cajero sin efectivo"}
    )
    assert edited.status_code == 200, edited.text
    assert await _numbers(tenant_a, text="tarjeta") == []
    assert await _numbers(tenant_a, text="efectivo") == [1]


async def test_sla_filters_and_sorting_by_due_time_page_with_a_cursor(
    tenant_a: TenantFixture,
) -> None:
    tickets = [await make_ticket(tenant_a) for _ in range(5)]
    await _targets(
        tenant_a,
        (tickets[0]["id"], TargetStatus.ACTIVE, 240, False),
        (tickets[1]["id"], TargetStatus.ACTIVE, 30, False),
        (tickets[2]["id"], TargetStatus.BREACHED, -10, True),
        (tickets[3]["id"], TargetStatus.ACHIEVED, 10, False),
        # Past due, not yet marked breached by the SLA clock.
        (tickets[4]["id"], TargetStatus.ACTIVE, -5, False),
    )
    http = await tenant_a.client(Role.AGENT)
    soon = (utcnow() + timedelta(hours=1)).isoformat()

    first = (await http.get(tenant_a.url("/tickets"), params={"sort": "due", "limit": 3})).json()
    rest = (
        await http.get(
            tenant_a.url("/tickets"),
            params={"sort": "due", "limit": 3, "cursor": first["next_cursor"]},
        )
    ).json()

    assert await _numbers(tenant_a, breached="true") == [3]
    assert await _numbers(tenant_a, breached="false") == [5, 4, 2, 1]
    assert await _numbers(tenant_a, due_before=soon) == [5, 2]
    assert await _numbers(tenant_a, view="breaching_soon") == [2]
    assert [t["number"] for t in first["items"] + rest["items"]] == [3, 5, 2, 1, 4]
    assert rest["next_cursor"] is None
    naive = await http.get(tenant_a.url("/tickets"), params={"due_before": "2030-01-01T10:00:00"})
    assert naive.status_code == 422
    targets = (await fetch(tenant_a, tickets[2]["id"]))["sla_targets"]
    assert [(t["kind"], t["status"]) for t in targets] == [("resolution", "breached")]
    assert targets[0]["breached_at"] is not None


async def test_a_due_window_pages_and_holds_a_breached_ticket_due_again_within_it(
    tenant_a: TenantFixture,
) -> None:
    tickets = [await make_ticket(tenant_a) for _ in range(4)]
    await _targets(
        tenant_a,
        # Breached once, and due again within the hour: due, though breached.
        (tickets[0]["id"], TargetStatus.BREACHED, 20, True),
        (tickets[1]["id"], TargetStatus.ACTIVE, 40, False),
        # Breached and past due: overdue, not due.
        (tickets[2]["id"], TargetStatus.BREACHED, -30, True),
        (tickets[3]["id"], TargetStatus.ACTIVE, 120, False),
    )
    http = await tenant_a.client(Role.AGENT)
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    window: dict[str, str | int] = {"due_before": soon, "limit": 1}

    first = (await http.get(tenant_a.url("/tickets"), params=window)).json()
    rest = (
        await http.get(tenant_a.url("/tickets"), params={**window, "cursor": first["next_cursor"]})
    ).json()
    by_due = await _numbers(tenant_a, due_before=soon, sort="due")

    # Latest update first, one a page; nearest deadline first.
    assert [t["number"] for t in first["items"] + rest["items"]] == [2, 1]
    assert rest["next_cursor"] is None
    assert by_due == [1, 2]


async def test_saved_views_are_personal_or_shared_by_supervisors(
    tenant_a: TenantFixture,
) -> None:
    ana = await make_staff(tenant_a, Role.AGENT, "Ana")
    luis = await make_staff(tenant_a, Role.AGENT, "Luis")
    await make_ticket(tenant_a, assignee_user_id=str(ana.id), impact="high", urgency="high")
    await make_ticket(tenant_a, impact="high", urgency="high")
    await make_ticket(tenant_a)
    supervisor = await tenant_a.client(Role.SUPERVISOR)
    views_url = tenant_a.url("/ticket-views")

    async with signed_in(tenant_a, ana) as as_ana, signed_in(tenant_a, luis) as as_luis:
        mine = await post_ok(
            as_ana, views_url, {"name": "Mis P1", "filters": {"priority": ["P1"], "assignee": "me"}}
        )
        shared_by_agent = await as_ana.post(views_url, json={"name": "X", "shared": True})
        bad_filter = await as_ana.post(views_url, json={"name": "X", "filters": {"colour": "red"}})
        shared = await post_ok(
            supervisor,
            views_url,
            {
                "name": "Sin asignar P1",
                "shared": True,
                "filters": {"priority": ["P1"], "assignee": "none"},
            },
        )
        ana_sees = [v["name"] for v in (await as_ana.get(views_url)).json()]
        luis_sees = [v["name"] for v in (await as_luis.get(views_url)).json()]
        hidden = await as_luis.get(f"{views_url}/{mine['id']}")
        luis_edits_shared = await as_luis.patch(f"{views_url}/{shared['id']}", json={"name": "Mío"})
        by_view = await as_ana.get(tenant_a.url("/tickets"), params={"view": mine["id"]})
        by_shared = await as_luis.get(tenant_a.url("/tickets"), params={"view": shared["id"]})
        builtin_mine = await as_ana.get(tenant_a.url("/tickets"), params={"view": "mine"})
        unassigned = await as_ana.get(tenant_a.url("/tickets"), params={"view": "unassigned"})
        refined = await as_ana.get(
            tenant_a.url("/tickets"), params={"view": "unassigned", "priority": ["P1"]}
        )
        luis_uses_anas = await as_luis.get(tenant_a.url("/tickets"), params={"view": mine["id"]})

    def numbers(response: Any) -> list[int]:
        return [t["number"] for t in response.json()["items"]]

    assert shared_by_agent.status_code == 403
    assert fields_of(bad_filter) == ["body.filters.colour"]
    assert ana_sees == [
        "My open tickets",
        "Unassigned",
        "Breaching within the hour",
        "Mis P1",
        "Sin asignar P1",
    ]
    assert luis_sees == [
        "My open tickets",
        "Unassigned",
        "Breaching within the hour",
        "Sin asignar P1",
    ]
    assert hidden.status_code == 404
    assert luis_edits_shared.status_code == 403
    assert numbers(by_view) == [1]
    assert numbers(by_shared) == [2]
    assert numbers(builtin_mine) == [1]
    assert numbers(unassigned) == [3, 2]
    assert numbers(refined) == [2]
    assert fields_of(luis_uses_anas) == ["query.view"]


async def test_bulk_update_is_all_or_nothing_with_an_error_per_ticket(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    agent = await make_staff(tenant_a)
    supervisor = await tenant_a.client(Role.SUPERVISOR)
    tickets = [await make_ticket(tenant_a, tags=["a", "old"]) for _ in range(3)]
    resolved = await make_ticket(tenant_a)
    url = tenant_a.url(f"/tickets/{resolved['id']}")
    await supervisor.patch(url, json={"status": "resolved"})
    await supervisor.patch(url, json={"status": "closed"})
    theirs = await make_ticket(tenant_b)
    ids = [t["id"] for t in tickets]
    changes = {
        "status": "open",
        "assignee_user_id": str(agent.id),
        "tags_add": ["b"],
        "tags_remove": ["old"],
    }

    refused = await supervisor.post(
        tenant_a.url("/tickets/bulk"),
        json={"ids": [*ids, resolved["id"], theirs["id"]], "changes": changes},
    )
    untouched = [await fetch(tenant_a, i) for i in ids]
    by_agent = await (await tenant_a.client(Role.AGENT)).post(
        tenant_a.url("/tickets/bulk"), json={"ids": ids, "changes": changes}
    )
    done = await supervisor.post(
        tenant_a.url("/tickets/bulk"), json={"ids": ids, "changes": changes}
    )
    too_many = await supervisor.post(
        tenant_a.url("/tickets/bulk"),
        json={"ids": [str(uuid.uuid4()) for _ in range(501)], "changes": {"priority": "P1"}},
    )

    assert refused.status_code == 422
    assert fields_of(refused) == ["body.ids.3", "body.ids.4"]
    assert [(t["status"], t["tags"], t["assignee_user_id"]) for t in untouched] == [
        ("new", ["a", "old"], None)
    ] * 3
    assert by_agent.status_code == 403
    assert done.status_code == 200, done.text
    assert done.json()["updated"] == 3
    for ticket in [await fetch(tenant_a, i) for i in ids]:
        assert (ticket["status"], ticket["tags"]) == ("open", ["a", "b"])
        assert ticket["assignee_user_id"] == str(agent.id)
    assert too_many.status_code == 422


async def test_csv_export_streams_the_search_and_neutralises_formulas(
    tenant_a: TenantFixture,
) -> None:
    agent = await make_staff(tenant_a, name="Marta Ruiz")
    lucia = await make_customer(tenant_a, '=HYPERLINK("http://evil")')
    await make_ticket(tenant_a, lucia, subject="=1+1", tags=["vip"], assignee_user_id=str(agent.id))
    await make_ticket(tenant_a, subject='Dice "hola", y\nse va')
    for prefix in ("+", "-", "@"):
        await make_ticket(tenant_a, subject=f"{prefix}cmd")
    http = await tenant_a.client(Role.AGENT)

    response = await http.get(tenant_a.url("/tickets/export.csv"))
    filtered = await http.get(tenant_a.url("/tickets/export.csv"), params={"tags": ["vip"]})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert "\r\n" in response.text
    by_number = {row["number"].split("-")[-1]: row for row in rows}
    assert len(rows) == 5
    assert by_number["1"]["subject"] == "'=1+1"
    assert by_number["1"]["requester"] == '\'=HYPERLINK("http://evil")'
    assert by_number["1"]["assignee"] == "Marta Ruiz"
    assert by_number["2"]["subject"] == 'Dice "hola", y\nse va'
    assert [by_number[str(n)]["subject"] for n in range(3, 6)] == ["'+cmd", "'-cmd", "'@cmd"]
    filtered_rows = list(
        csv.DictReader(io.StringIO(filtered.content.decode("utf-8-sig"), newline=""))
    )
    assert [row["subject"] for row in filtered_rows] == ["'=1+1"]


def test_every_formula_start_is_neutralised_and_nothing_else() -> None:
    assert [neutralise(cell) for cell in ("=A1", "+1", "-1", "@SUM", "\tx", "\rx")] == [
        "'=A1",
        "'+1",
        "'-1",
        "'@SUM",
        "'\tx",
        "'\rx",
    ]
    assert [neutralise(cell) for cell in ("", "BH-12", "a=b", " =x")] == ["", "BH-12", "a=b", " =x"]
