"""Ticket numbering under concurrency, the tenant's settings, and the SLA clock's hooks."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from centralita.customers.service import IdentityRules
from centralita.identity.permissions import Role
from centralita.sla.service import SlaEvent, SlaSubject
from centralita.tenancy.models import Tenant
from centralita.tickets import effects
from centralita.tickets.desk import open_desk
from centralita.tickets.models import TicketSearchWord
from centralita.tickets.schemas import TicketCreate
from centralita.tickets.service import create_ticket
from centralita.tickets.settings import default_prefix
from tests.conftest import TEST_ACTOR, TenantFixture, TenantMaker
from tests.tickets import make_customer, make_staff, make_ticket, post_ok, signed_in


@pytest.mark.parametrize(
    ("slug", "prefix"),
    [
        ("banco-hispano", "BH"),
        ("acme", "AC"),
        ("seguros-del-norte-sa", "SDNS"),
        ("7-eleven", "T7E"),
    ],
)
def test_the_default_prefix_is_the_slugs_initials(slug: str, prefix: str) -> None:
    assert default_prefix(slug) == prefix


async def test_twenty_concurrent_creations_take_numbers_one_to_twenty(
    make_tenant: TenantMaker,
) -> None:
    tenant = await make_tenant(slug="banco-hispano")
    other = await make_tenant()
    requester = uuid.UUID(await make_customer(tenant))
    rules = IdentityRules.for_tenant(tenant.tenant, "test-secret")

    async def create(n: int) -> int:
        async with tenant.db.tenant_session(tenant.id) as session:
            desk = await open_desk(session, tenant.tenant, TEST_ACTOR, rules)
            data = TicketCreate(requester_id=requester, subject=f"Ticket {n}")
            ticket = await create_ticket(session, desk, data)
            await session.commit()
            return ticket.number

    numbers = await asyncio.gather(*(create(n) for n in range(20)))
    in_other = await make_ticket(other)

    assert sorted(numbers) == list(range(1, 21))
    assert in_other["number"] == 1
    http = await tenant.client(Role.AGENT)
    settings = (await http.get(tenant.url("/ticket-settings"))).json()
    assert settings["prefix"] == "BH"
    assert settings["next_number"] == 21
    async with tenant.db.tenant_session(tenant.id) as session:
        prefixed = select(TicketSearchWord.ticket_id).where(TicketSearchWord.word == "bh")
        references = (await session.execute(prefixed)).scalars().all()
    assert len(set(references)) == 20


async def test_the_prefix_is_set_before_the_first_ticket_and_then_kept(
    make_tenant: TenantMaker,
) -> None:
    tenant = await make_tenant()
    admin = await tenant.client(Role.ADMIN)

    before = await admin.get(tenant.url("/ticket-settings"))
    changed = await admin.patch(tenant.url("/ticket-settings"), json={"prefix": "BP"})
    ticket = await make_ticket(tenant)
    later = await admin.patch(tenant.url("/ticket-settings"), json={"prefix": "XX"})
    lowercase = await admin.patch(tenant.url("/ticket-settings"), json={"prefix": "bp"})

    assert before.json()["next_number"] == 1
    assert changed.json()["prefix"] == "BP"
    assert ticket["reference"] == "BP-1"
    assert later.status_code == 409
    assert lowercase.status_code == 422
    assert (await admin.get(tenant.url("/ticket-settings"))).json()["prefix"] == "BP"


@dataclass
class Tracked:
    event: SlaEvent
    subject: SlaSubject


@pytest.fixture
def tracked(monkeypatch: pytest.MonkeyPatch) -> list[Tracked]:
    """What the SLA clock is told, in order."""
    calls: list[Tracked] = []

    async def record(
        session: Any, tenant: Tenant, subject: SlaSubject, event: SlaEvent, now: datetime
    ) -> None:
        assert tenant.id == subject.tenant_id
        assert now.tzinfo is not None
        calls.append(Tracked(event, subject))

    monkeypatch.setattr(effects, "track_ticket", record)
    return calls


async def test_the_sla_clock_hears_of_every_change_that_matters(
    tenant_a: TenantFixture, tracked: list[Tracked]
) -> None:
    agent = await make_staff(tenant_a)
    gold = await make_customer(tenant_a, "Oro", segment="empresas", value_tier="gold")
    http = await tenant_a.client(Role.AGENT)
    ticket = await make_ticket(tenant_a, gold, channel="chat", type="question")
    url = tenant_a.url(f"/tickets/{ticket['id']}")
    duplicate = await make_ticket(tenant_a, gold)

    events = [(t.event, t.subject.ticket_id) for t in tracked]
    await http.patch(url, json={"tags": ["sin-efecto"]})
    untracked = len(tracked)
    await http.patch(url, json={"priority": "P1"})
    async with signed_in(tenant_a, agent) as as_agent:
        await post_ok(as_agent, f"{url}/messages", {"kind": "internal", "text": "Mirando"})
        await post_ok(as_agent, f"{url}/messages", {"kind": "public", "text": "Hola"})
    await post_ok(http, f"{url}/messages", {"kind": "customer", "text": "Gracias"})
    await post_ok(http, f"{url}/merge", {"source_id": duplicate["id"]}, status=200)

    created = tracked[0].subject
    assert events == [
        (SlaEvent.CREATED, uuid.UUID(ticket["id"])),
        (SlaEvent.CREATED, uuid.UUID(duplicate["id"])),
    ]
    assert (created.segment, created.value_tier, created.channel, created.type) == (
        "empresas",
        "gold",
        "chat",
        "question",
    )
    assert created.status == "new"
    assert created.priority == "P3"
    assert untracked == 2
    assert [(t.event, t.subject.status, t.subject.priority) for t in tracked[2:]] == [
        (SlaEvent.CHANGED, "new", "P1"),
        (SlaEvent.AGENT_REPLIED, "new", "P1"),
        (SlaEvent.CHANGED, "open", "P1"),
        (SlaEvent.CUSTOMER_REPLIED, "open", "P1"),
        (SlaEvent.MERGED, "closed", "P3"),
    ]
    assert tracked[-1].subject.ticket_id == uuid.UUID(duplicate["id"])


async def test_the_ticket_shows_its_sla_targets_as_the_clock_runs(tenant_a: TenantFixture) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    agent = await make_staff(tenant_a)
    policy = {"name": "Estándar", "targets": {"P3": {"first_response": 60, "resolution": 480}}}
    await post_ok(admin, tenant_a.url("/sla-policies"), policy)
    ticket = await make_ticket(tenant_a)
    created = datetime.fromisoformat(ticket["created_at"])
    url = tenant_a.url(f"/tickets/{ticket['id']}")

    async with signed_in(tenant_a, agent) as http:
        await post_ok(http, f"{url}/messages", {"kind": "public", "text": "Lo miramos"})
        replied = (await http.get(url)).json()

    due = {t["kind"]: datetime.fromisoformat(t["due_at"]) for t in ticket["sla_targets"]}
    assert due == {
        "first_response": created + timedelta(minutes=60),
        "resolution": created + timedelta(minutes=480),
    }
    assert [t["status"] for t in ticket["sla_targets"]] == ["active", "active"]
    after = {t["kind"]: t for t in replied["sla_targets"]}
    assert after["first_response"]["status"] == "achieved"
    assert after["first_response"]["achieved_at"] == replied["first_responded_at"]
    assert after["resolution"]["status"] == "active"
