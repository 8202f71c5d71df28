"""What contacts achieved: FCR and repeats from data, reasons and trend, cost, SLA compliance."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from centralita.identity.permissions import Role
from centralita.sla.models import SlaTarget, TargetKind, TargetStatus
from tests.conftest import TenantFixture
from tests.reporting.helpers import Outcome, add_queue, clock_at, contact
from tests.sla.test_service import make_policy, make_ticket

ANSWERED = Outcome(answered_after=10, talk=300, wrap=60)


@pytest.fixture
async def tenant(tenant_a: TenantFixture, tenant_b: TenantFixture) -> TenantFixture:
    await add_queue(tenant_a)
    return tenant_a


def _days_ago(tenant: TenantFixture, days: int, hour: int = 10) -> datetime:
    zone = ZoneInfo(tenant.tenant.time_zone)
    day = datetime.now(zone).date() - timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


def _day(at: datetime) -> str:
    return at.date().isoformat()


async def test_fcr_counts_a_contact_resolved_only_if_no_repeat_follows(
    tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, again = _days_ago(tenant, 20), _days_ago(tenant, 18)
    with clock_at(monkeypatch, first):
        await contact(tenant, ANSWERED, email="ana@example.com", topic="billing")
        await contact(tenant, ANSWERED, email="ana@example.com", topic="delivery")
        await contact(tenant, ANSWERED, email="luis@example.com", topic="billing")
    with clock_at(monkeypatch, again):
        await contact(tenant, ANSWERED, email="ana@example.com", topic="billing")
    http = await tenant.client(Role.SUPERVISOR)

    response = await http.get(
        tenant.url("/reports/fcr"), params={"date_from": _day(first), "date_to": _day(again)}
    )

    body = response.json()
    assert response.status_code == 200, response.text
    # Ana's first billing contact came back within 7 days; the other three did not.
    assert (body["contacts"], body["resolved_first_time"], body["repeat_contacts"]) == (4, 3, 1)
    assert body["fcr_rate"] == pytest.approx(3 / 4)
    assert body["window_days"] == 7


async def test_top_reasons_carry_their_trend_against_the_previous_period(
    tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    last_week, this_week = _days_ago(tenant, 10), _days_ago(tenant, 3)
    with clock_at(monkeypatch, last_week):
        for topic in ("billing", "billing", "delivery"):
            await contact(tenant, ANSWERED, topic=topic)
    with clock_at(monkeypatch, this_week):
        for topic in ("billing", "billing", "billing", "returns"):
            await contact(tenant, ANSWERED, topic=topic)
    http = await tenant.client(Role.SUPERVISOR)

    response = await http.get(
        tenant.url("/reports/reasons"),
        params={"date_from": _day(_days_ago(tenant, 6)), "date_to": _day(_days_ago(tenant, 0))},
    )

    rows = {
        r["topic"]: (r["contacts"], r["previous_contacts"], r["change"])
        for r in response.json()["rows"]
    }
    assert rows == {"billing": (3, 2, pytest.approx(0.5)), "returns": (1, 0, None)}


async def test_cost_per_contact_uses_the_tenants_hourly_cost(tenant: TenantFixture) -> None:
    admin = await tenant.client(Role.ADMIN)
    for _ in range(3):
        await contact(tenant, ANSWERED)  # 300 s talk + 60 s wrap: 6 minutes each

    unset = (await admin.get(tenant.url("/reports/cost"))).json()
    await admin.patch(tenant.url("/reports/settings"), json={"cost_per_agent_hour": 30})
    priced = (await admin.get(tenant.url("/reports/cost"))).json()

    assert unset["cost_per_contact"] is None
    assert "cost per agent hour" in unset["note"]
    assert priced["contacts"] == 3
    assert priced["handle_hours"] == pytest.approx(0.3)
    assert priced["cost_per_contact"] == pytest.approx(3.0)


async def test_this_week_is_compared_with_the_last(
    tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    wednesday = _days_ago(tenant, 14)
    wednesday -= timedelta(days=wednesday.weekday() - 2)
    with clock_at(monkeypatch, wednesday):
        await contact(tenant, ANSWERED)
        await contact(tenant, ANSWERED)
    with clock_at(monkeypatch, wednesday + timedelta(days=7)):
        await contact(tenant, Outcome(abandoned_after=30))
    http = await tenant.client(Role.SUPERVISOR)

    response = await http.get(
        tenant.url("/reports/comparison"), params={"week_of": _day(wednesday + timedelta(days=7))}
    )

    body = response.json()
    assert body["current"]["date_from"] == _day(wednesday + timedelta(days=5))
    assert body["previous"]["date_to"] == _day(wednesday + timedelta(days=4))
    assert (body["current_total"]["offered"], body["current_total"]["abandoned"]) == (1, 1)
    assert (body["previous_total"]["offered"], body["previous_total"]["answered"]) == (2, 2)


async def test_ticket_sla_compliance_by_policy_and_priority(tenant: TenantFixture) -> None:
    policy = await make_policy(
        tenant, {"P1": {"first_response": 60}, "P3": {"first_response": 480}}
    )
    decided = _days_ago(tenant, 2)
    rows = []
    for priority, breached in (("P1", False), ("P1", True), ("P3", False), ("P3", False)):
        ticket = await make_ticket(tenant, decided - timedelta(hours=2), priority=priority)
        rows.append(
            SlaTarget(
                tenant_id=tenant.id,
                ticket_id=ticket.id,
                policy_id=policy.id,
                kind=TargetKind.FIRST_RESPONSE,
                status=TargetStatus.BREACHED if breached else TargetStatus.ACHIEVED,
                target_minutes=60,
                started_at=decided - timedelta(hours=2),
                due_at=decided,
                achieved_at=None if breached else decided - timedelta(minutes=5),
                breached_at=decided if breached else None,
            )
        )
    async with tenant.db.tenant_session(tenant.id) as session:
        session.add_all(rows)
        await session.commit()
    http = await tenant.client(Role.CLIENT_VIEWER)

    response = await http.get(tenant.url("/reports/sla"))

    body = response.json()
    assert response.status_code == 200, response.text
    table = {(r["priority"], r["met"], r["breached"]) for r in body["rows"]}
    assert table == {("P1", 1, 1), ("P3", 2, 0)}
    assert {r["policy"] for r in body["rows"]} == {policy.name}
    assert body["compliance"] == pytest.approx(3 / 4)
