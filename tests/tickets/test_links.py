"""Merging duplicates, related links, parents and children, and major incidents."""

import uuid

from fastapi import FastAPI
from sqlalchemy import select

from centralita.events.bus import Bus, Event, wait_for_published
from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction
from tests.conftest import TenantFixture
from tests.tickets import fetch, fields_of, make_customer, make_staff, make_ticket, post_ok


async def test_merge_moves_messages_and_followers_and_closes_the_duplicate(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    ana, luis = await make_staff(tenant_a, name="Ana"), await make_staff(tenant_a, name="Luis")
    survivor = await make_ticket(tenant_a, followers=[str(ana.id)])
    duplicate = await make_ticket(tenant_a, followers=[str(ana.id), str(luis.id)])
    url = tenant_a.url(f"/tickets/{survivor['id']}")
    await post_ok(
        http,
        tenant_a.url(f"/tickets/{duplicate['id']}/messages"),
        {"kind": "customer", "text": "Lo mismo que ayer"},
    )

    merged = await post_ok(http, f"{url}/merge", {"source_id": duplicate["id"]}, status=200)
    left = await fetch(tenant_a, duplicate["id"])
    thread = (await http.get(f"{url}/messages")).json()
    history = (await http.get(f"{url}/history")).json()
    late = await post_ok(
        http,
        tenant_a.url(f"/tickets/{duplicate['id']}/messages"),
        {"kind": "customer", "text": "¿Y bien?"},
    )

    assert sorted(merged["followers"]) == sorted([str(ana.id), str(luis.id)])
    assert (left["status"], left["merged_into_id"]) == ("closed", survivor["id"])
    assert left["followers"] == []
    assert [m["kind"] for m in thread] == ["customer", "system"]
    assert duplicate["reference"] in thread[1]["text"]
    absorbed = next(e for e in history if e.get("action") == "ticket.merge_absorbed")
    assert absorbed["after"]["source_id"] == duplicate["id"]
    assert absorbed["after"]["moved_messages"] == 1
    assert late["ticket_id"] == survivor["id"]
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        work = select(Interaction.ticket_id).where(Interaction.ticket_id.is_not(None))
        assert set((await session.execute(work)).scalars()) == {uuid.UUID(survivor["id"])}


async def test_merge_refuses_itself_other_tenants_and_merged_tickets_changing_nothing(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.AGENT)
    one, two, three = [await make_ticket(tenant_a) for _ in range(3)]
    theirs = await make_ticket(tenant_b)
    url = tenant_a.url(f"/tickets/{one['id']}/merge")
    before = await fetch(tenant_a, one["id"])

    itself = await http.post(url, json={"source_id": one["id"]})
    foreign = await http.post(url, json={"source_id": theirs["id"]})
    await post_ok(http, url, {"source_id": two["id"]}, status=200)
    twice = await http.post(url, json={"source_id": two["id"]})
    into_merged = await http.post(
        tenant_a.url(f"/tickets/{two['id']}/merge"), json={"source_id": three["id"]}
    )

    assert fields_of(itself) == ["body.source_id"]
    assert fields_of(foreign) == ["body.source_id"]
    assert twice.status_code == 409
    assert into_merged.status_code == 409
    assert (await fetch(tenant_a, three["id"]))["status"] == "new"
    theirs_after = await fetch(tenant_b, theirs["id"])
    assert (theirs_after["status"], theirs_after["merged_into_id"]) == ("new", None)
    assert (await fetch(tenant_a, one["id"]))["subject"] == before["subject"]


async def test_related_links_are_symmetric_and_stored_once(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.AGENT)
    one, two = await make_ticket(tenant_a), await make_ticket(tenant_a)
    theirs = await make_ticket(tenant_b)
    links = tenant_a.url(f"/tickets/{two['id']}/links")

    first = await post_ok(http, links, {"other_id": one["id"]})
    again = await post_ok(
        http, tenant_a.url(f"/tickets/{one['id']}/links"), {"other_id": two["id"]}
    )
    itself = await http.post(links, json={"other_id": two["id"]})
    foreign = await http.post(links, json={"other_id": theirs["id"]})
    seen_from_one = (await fetch(tenant_a, one["id"]))["related"]
    removed = await http.delete(tenant_a.url(f"/tickets/{one['id']}/links/{two['id']}"))
    removed_again = await http.delete(f"{links}/{one['id']}")

    assert [r["id"] for r in first] == [one["id"]]
    assert [r["id"] for r in again] == [two["id"]]
    assert [r["reference"] for r in seen_from_one] == [two["reference"]]
    assert fields_of(itself) == ["body.other_id"]
    assert fields_of(foreign) == ["body.other_id"]
    assert removed.status_code == 204
    assert removed_again.status_code == 404
    assert (await fetch(tenant_a, two["id"]))["related"] == []


async def test_a_loop_of_parents_is_refused(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.AGENT)
    grandparent = await make_ticket(tenant_a)
    parent = await make_ticket(tenant_a, parent_id=grandparent["id"])
    child = await make_ticket(tenant_a, parent_id=parent["id"])
    theirs = await make_ticket(tenant_b)

    loop = await http.patch(
        tenant_a.url(f"/tickets/{grandparent['id']}"), json={"parent_id": child["id"]}
    )
    itself = await http.patch(
        tenant_a.url(f"/tickets/{child['id']}"), json={"parent_id": child["id"]}
    )
    adopted_loop = await http.post(
        tenant_a.url(f"/tickets/{child['id']}/children"),
        json={"ticket_ids": [grandparent["id"], theirs["id"]]},
    )

    assert fields_of(loop) == ["body.parent_id"]
    assert fields_of(itself) == ["body.parent_id"]
    assert fields_of(adopted_loop) == ["body.ticket_ids.0", "body.ticket_ids.1"]
    assert (await fetch(tenant_a, grandparent["id"]))["parent_id"] is None
    assert (await fetch(tenant_a, child["id"]))["parent_id"] == parent["id"]
    assert [c["id"] for c in (await fetch(tenant_a, grandparent["id"]))["children"]] == [
        parent["id"]
    ]


def _capture(app: FastAPI) -> list[Event]:
    bus: Bus = app.state.bus
    received: list[Event] = []
    bus.subscribe(received.append)
    return received


async def test_a_major_incident_updates_every_customer_and_resolves_its_children(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    customers = [await make_customer(tenant_a, f"Cliente {n}") for n in range(3)]
    incident = await make_ticket(tenant_a, customers[0], subject="Caída de la banca online")
    reports = [await make_ticket(tenant_a, c, subject="No entro") for c in customers]
    done = await make_ticket(tenant_a, customers[1])
    url = tenant_a.url(f"/tickets/{incident['id']}")
    children = await post_ok(
        http, f"{url}/children", {"ticket_ids": [r["id"] for r in [*reports, done]]}, status=200
    )
    done_url = tenant_a.url(f"/tickets/{done['id']}")
    await http.patch(done_url, json={"status": "resolved"})
    await http.patch(done_url, json={"status": "closed"})

    not_major = await http.post(f"{url}/major-update", json={"text": "Investigando"})
    await http.patch(url, json={"is_major": True})
    received = _capture(tenant_a.app)
    update = await post_ok(http, f"{url}/major-update", {"text": "Restablecido a las 10:40"})
    await wait_for_published()
    resolved = await http.patch(url, json={"status": "resolved"})

    assert len(children) == 4
    assert not_major.status_code == 409
    assert sorted(update["updated_ticket_ids"]) == sorted(
        [incident["id"], *(r["id"] for r in reports)]
    )
    public = [e for e in received if e.type == "ticket.updated_publicly"]
    assert sorted((e.data["ticket_id"], e.data["customer_id"]) for e in public) == sorted(
        [(incident["id"], customers[0])]
        + [(r["id"], c) for r, c in zip(reports, customers, strict=True)]
    )
    assert resolved.json()["status"] == "resolved"
    for report in reports:
        after = await fetch(tenant_a, report["id"])
        assert after["status"] == "resolved"
        assert after["first_responded_at"] is not None
        texts = [
            m["text"]
            for m in (await http.get(tenant_a.url(f"/tickets/{report['id']}/messages"))).json()
        ]
        assert texts == ["Restablecido a las 10:40", f"Resuelto junto con {incident['reference']}."]
    assert (await fetch(tenant_a, done["id"]))["status"] == "closed"
