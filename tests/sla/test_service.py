"""The SLA clock of tickets through the service, on a real database.

Tickets are inserted as rows (the tickets service builds on this one); ``track_ticket`` is called
with explicit instants, so nothing depends on today's date.
"""

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from centralita.customers import service as customers
from centralita.customers.schemas import CustomerCreate
from centralita.jobs.models import Job, JobKind
from centralita.sla import policies, service
from centralita.sla.models import SlaPolicy, SlaTarget, TargetKind, TargetStatus
from centralita.sla.recompute import recompute_deadlines
from centralita.sla.schemas import (
    CalendarCreate,
    CalendarUpdate,
    PolicyCreate,
    PolicyUpdate,
    TargetOut,
)
from centralita.sla.service import SlaEvent, SlaSubject
from centralita.tickets.models import Category, Ticket
from tests.conftest import TEST_ACTOR, TenantFixture

MADRID = ZoneInfo("Europe/Madrid")
OFFICE_HOURS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
HOUR = timedelta(hours=1)
FR, NR, RES = TargetKind.FIRST_RESPONSE, TargetKind.NEXT_RESPONSE, TargetKind.RESOLUTION
_numbers = itertools.count(1)


def madrid(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MADRID)


# --- the world: calendars, policies, tickets ---------------------------------------------------


async def make_calendar(tenant: TenantFixture, **fields: Any) -> uuid.UUID:
    data = CalendarCreate.model_validate(
        {"name": f"cal-{uuid.uuid4().hex[:8]}", "weekly_hours": OFFICE_HOURS, **fields}
    )
    async with tenant.db.tenant_session(tenant.id) as session:
        calendar = await policies.create_calendar(session, TEST_ACTOR, tenant.tenant, data)
        await session.commit()
    return calendar.id


async def make_policy(tenant: TenantFixture, targets: dict[str, Any], **fields: Any) -> SlaPolicy:
    fields = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in fields.items()}
    data = PolicyCreate.model_validate(
        {"name": f"policy-{uuid.uuid4().hex[:8]}", "targets": targets, **fields}
    )
    async with tenant.db.tenant_session(tenant.id) as session:
        policy = await policies.create_policy(session, TEST_ACTOR, tenant.tenant, data)
        await session.commit()
    return policy


async def office_policy(tenant: TenantFixture, targets: dict[str, Any], **fields: Any) -> SlaPolicy:
    """A policy on the Madrid office calendar (Mon-Fri 09:00-18:00, Spanish holidays)."""
    calendar_id = await make_calendar(tenant)
    return await make_policy(tenant, targets, calendar_id=calendar_id, **fields)


async def make_ticket(tenant: TenantFixture, created_at: datetime, **fields: Any) -> Ticket:
    async with tenant.db.tenant_session(tenant.id) as session:
        customer = await customers.create_customer(
            session,
            TEST_ACTOR,
            tenant.id,
            customers.IdentityRules.for_tenant(tenant.tenant, "secret"),
            CustomerCreate(display_name="Requester", segment=fields.pop("segment", None)),
        )
        ticket = Ticket(
            tenant_id=tenant.id,
            number=next(_numbers),
            type=fields.pop("type", "incident"),
            status=fields.pop("status", "new"),
            subject="Printer on fire",
            requester_id=customer.id,
            priority=fields.pop("priority", "P3"),
            channel=fields.pop("channel", "email"),
            created_at=created_at,
            **fields,
        )
        session.add(ticket)
        await session.commit()
    return ticket


def subject_of(ticket: Ticket, segment: str | None = None) -> SlaSubject:
    return SlaSubject(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        priority=ticket.priority,
        type=ticket.type,
        category_id=ticket.category_id,
        segment=segment,
        value_tier="standard",
        channel=ticket.channel,
        status=ticket.status,
        created_at=ticket.created_at,
    )


async def track(
    tenant: TenantFixture, ticket: Ticket, event: SlaEvent, now: datetime, **changes: Any
) -> SlaSubject:
    """Apply ``changes`` to the ticket row, then tell the SLA clock about ``event`` at ``now``."""
    async with tenant.db.tenant_session(tenant.id) as session:
        row = await session.get(Ticket, (tenant.id, ticket.id))
        assert row is not None
        for name, value in changes.items():
            setattr(row, name, value)
            setattr(ticket, name, value)
        subject = subject_of(row)
        await service.track_ticket(session, tenant.tenant, subject, event, now)
        await session.commit()
    return subject


async def targets_of(tenant: TenantFixture, ticket_id: uuid.UUID) -> list[SlaTarget]:
    """The rows as stored (``ticket_targets`` would read them at today's date)."""
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(SlaTarget).where(SlaTarget.ticket_id == ticket_id).order_by(SlaTarget.id)
        return list((await session.execute(query)).scalars())


async def target(tenant: TenantFixture, ticket_id: uuid.UUID, kind: TargetKind) -> SlaTarget:
    """The ticket's latest target of a kind."""
    return [t for t in await targets_of(tenant, ticket_id) if t.kind == kind][-1]


async def timers_of(tenant: TenantFixture, target_id: uuid.UUID) -> list[datetime]:
    async with tenant.db.system_session() as session:
        query = select(Job.due_at).where(
            Job.kind == JobKind.SLA_ESCALATION, Job.ref_id == target_id
        )
        return list((await session.execute(query)).scalars())


# --- the four examples -------------------------------------------------------------------------


async def test_friday_afternoon_plus_eight_business_hours_is_monday_afternoon(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await office_policy(tenant_a, {"P3": {"resolution": 8 * 60}})
    ticket = await make_ticket(tenant_a, madrid(2026, 11, 20, 17))

    await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 11, 20, 17))

    resolution = await target(tenant_a, ticket.id, RES)
    assert resolution.status == TargetStatus.ACTIVE
    assert resolution.started_at == madrid(2026, 11, 20, 17)
    assert resolution.due_at == madrid(2026, 11, 23, 16)


async def test_christmas_eve_plus_four_hours_skips_christmas_and_the_weekend(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await office_policy(tenant_a, {"P2": {"resolution": 4 * 60}})
    ticket = await make_ticket(tenant_a, madrid(2026, 12, 24, 17, 30), priority="P2")

    await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 12, 24, 17, 30))

    assert (await target(tenant_a, ticket.id, RES)).due_at == madrid(2026, 12, 28, 12, 30)


async def test_a_saturday_ticket_waits_for_monday_to_start_its_first_response_hour(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await office_policy(tenant_a, {"P3": {"first_response": 60}})
    ticket = await make_ticket(tenant_a, madrid(2026, 11, 21, 10))

    await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 11, 21, 10))

    first_response = await target(tenant_a, ticket.id, FR)
    assert first_response.due_at == madrid(2026, 11, 23, 10)
    assert [t.kind for t in await targets_of(tenant_a, ticket.id)] == [FR]


async def test_a_day_waiting_for_the_customer_moves_the_deadline_by_nine_business_hours(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await office_policy(tenant_a, {"P3": {"resolution": 45 * 60}})
    ticket = await make_ticket(tenant_a, madrid(2026, 11, 16, 9))
    await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 11, 16, 9))
    before = (await target(tenant_a, ticket.id, RES)).due_at
    assert before is not None

    await track(
        tenant_a, ticket, SlaEvent.CHANGED, madrid(2026, 11, 17, 10), status="pending_customer"
    )
    paused = await target(tenant_a, ticket.id, RES)
    assert (paused.status, paused.due_at) == (TargetStatus.PAUSED, None)
    assert await timers_of(tenant_a, paused.id) == []

    await track(tenant_a, ticket, SlaEvent.CHANGED, madrid(2026, 11, 18, 10), status="open")

    resumed = await target(tenant_a, ticket.id, RES)
    assert resumed.status == TargetStatus.ACTIVE
    assert resumed.paused_seconds == 9 * 3600
    # Due Friday 18:00 without the pause; nine business hours later is Monday 18:00.
    assert before == madrid(2026, 11, 20, 18)
    assert resumed.due_at == madrid(2026, 11, 23, 18)


# --- the rules ---------------------------------------------------------------------------------


async def test_the_first_active_matching_policy_by_position_applies(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        hardware = Category(tenant_id=tenant_a.id, name="Hardware")
        session.add(hardware)
        await session.commit()
    await make_policy(tenant_a, {"P3": {"resolution": 10}}, position=0, is_active=False)
    await make_policy(
        tenant_a, {"P3": {"resolution": 20}}, position=1, conditions={"segments": ["vip"]}
    )
    await make_policy(
        tenant_a,
        {"P3": {"resolution": 30}},
        position=2,
        conditions={"category_ids": [str(hardware.id)], "channels": ["email"]},
    )
    await make_policy(tenant_a, {"P3": {"resolution": 40}}, position=3)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    in_hardware = await make_ticket(tenant_a, start, category_id=hardware.id)
    elsewhere = await make_ticket(tenant_a, start)

    for ticket in (in_hardware, elsewhere):
        await track(tenant_a, ticket, SlaEvent.CREATED, start)

    assert (await target(tenant_a, in_hardware.id, RES)).target_minutes == 30
    assert (await target(tenant_a, elsewhere.id, RES)).target_minutes == 40
    # Around the clock without a calendar.
    assert (await target(tenant_a, elsewhere.id, RES)).due_at == start + 40 * timedelta(minutes=1)


async def test_a_policy_without_minutes_for_the_priority_sets_no_target(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await make_policy(tenant_a, {"P1": {"resolution": 60}}, position=0)
    await make_policy(tenant_a, {"P4": {"resolution": 600}}, position=1)
    ticket = await make_ticket(tenant_a, datetime(2026, 3, 2, 9, tzinfo=UTC), priority="P4")

    await track(tenant_a, ticket, SlaEvent.CREATED, ticket.created_at)

    assert await targets_of(tenant_a, ticket.id) == []


async def test_replies_achieve_responses_and_a_customer_message_starts_the_next_one(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await office_policy(tenant_a, {"P3": {"first_response": 60, "next_response": 120}})
    ticket = await make_ticket(tenant_a, madrid(2026, 11, 16, 9))
    await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 11, 16, 9))
    await track(tenant_a, ticket, SlaEvent.CUSTOMER_REPLIED, madrid(2026, 11, 16, 9, 10))
    assert [t.kind for t in await targets_of(tenant_a, ticket.id)] == [FR]

    await track(tenant_a, ticket, SlaEvent.AGENT_REPLIED, madrid(2026, 11, 16, 9, 30))
    await track(tenant_a, ticket, SlaEvent.CUSTOMER_REPLIED, madrid(2026, 11, 16, 17))

    first, following = await targets_of(tenant_a, ticket.id)
    assert (first.kind, first.status) == (FR, TargetStatus.ACHIEVED)
    assert first.achieved_at == madrid(2026, 11, 16, 9, 30)
    assert await timers_of(tenant_a, first.id) == []
    assert (following.kind, following.status) == (NR, TargetStatus.ACTIVE)
    assert following.due_at == madrid(2026, 11, 17, 10)

    await track(tenant_a, ticket, SlaEvent.AGENT_REPLIED, madrid(2026, 11, 17, 11))

    late = await target(tenant_a, ticket.id, NR)
    assert late.status == TargetStatus.BREACHED
    assert late.breached_at == madrid(2026, 11, 17, 10)
    assert late.achieved_at == madrid(2026, 11, 17, 11)


async def test_resolving_achieves_resolution_and_reopening_resumes_it(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await office_policy(tenant_a, {"P3": {"first_response": 60, "resolution": 16 * 60}})
    ticket = await make_ticket(tenant_a, madrid(2026, 11, 16, 9))
    await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 11, 16, 9))

    await track(tenant_a, ticket, SlaEvent.CHANGED, madrid(2026, 11, 16, 12), status="resolved")
    first, resolution = await targets_of(tenant_a, ticket.id)
    assert first.status == TargetStatus.CANCELLED
    assert (resolution.status, resolution.achieved_at) == (
        TargetStatus.ACHIEVED,
        madrid(2026, 11, 16, 12),
    )

    await track(tenant_a, ticket, SlaEvent.CHANGED, madrid(2026, 11, 17, 12), status="open")

    reopened = await target(tenant_a, ticket.id, RES)
    assert reopened.id == resolution.id
    assert (reopened.status, reopened.achieved_at) == (TargetStatus.ACTIVE, None)
    # The 9 business hours it spent resolved do not count against it.
    assert reopened.paused_seconds == 9 * 3600
    assert reopened.due_at == madrid(2026, 11, 18, 16)
    assert await timers_of(tenant_a, reopened.id) == [madrid(2026, 11, 18, 16)]


async def test_a_priority_change_takes_the_new_minutes_from_the_same_start(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await office_policy(tenant_a, {"P3": {"resolution": 16 * 60}, "P1": {"resolution": 4 * 60}})
    ticket = await make_ticket(tenant_a, madrid(2026, 11, 16, 9))
    await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 11, 16, 9))

    await track(tenant_a, ticket, SlaEvent.CHANGED, madrid(2026, 11, 16, 10), priority="P1")

    resolution = await target(tenant_a, ticket.id, RES)
    assert (resolution.target_minutes, resolution.started_at) == (240, madrid(2026, 11, 16, 9))
    assert resolution.due_at == madrid(2026, 11, 16, 13)
    assert await timers_of(tenant_a, resolution.id) == [madrid(2026, 11, 16, 13)]


async def test_a_change_that_leaves_every_policy_cancels_the_running_targets(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await make_policy(tenant_a, {"P3": {"resolution": 60}}, conditions={"types": ["incident"]})
    ticket = await make_ticket(tenant_a, datetime(2026, 3, 2, 9, tzinfo=UTC))
    await track(tenant_a, ticket, SlaEvent.CREATED, ticket.created_at)

    await track(tenant_a, ticket, SlaEvent.CHANGED, ticket.created_at + HOUR / 2, type="question")

    cancelled = await target(tenant_a, ticket.id, RES)
    assert cancelled.status == TargetStatus.CANCELLED
    assert await timers_of(tenant_a, cancelled.id) == []


async def test_a_merged_ticket_stops_every_clock(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await make_policy(tenant_a, {"P3": {"first_response": 30, "resolution": 60}})
    ticket = await make_ticket(tenant_a, datetime(2026, 3, 2, 9, tzinfo=UTC))
    await track(tenant_a, ticket, SlaEvent.CREATED, ticket.created_at)

    await track(tenant_a, ticket, SlaEvent.MERGED, ticket.created_at + HOUR / 4)

    for cancelled in await targets_of(tenant_a, ticket.id):
        assert cancelled.status == TargetStatus.CANCELLED
        assert await timers_of(tenant_a, cancelled.id) == []


async def test_earliest_due_is_the_nearest_counting_deadline(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await make_policy(tenant_a, {"P3": {"first_response": 30, "resolution": 60}})
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    ticket = await make_ticket(tenant_a, start)
    untracked = await make_ticket(tenant_a, start)
    await track(tenant_a, ticket, SlaEvent.CREATED, start)

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        assert await service.earliest_due(session, ticket.id) == start + HOUR / 2
        assert await service.earliest_due(session, untracked.id) is None
    await track(tenant_a, ticket, SlaEvent.CHANGED, start + HOUR / 6, status="pending_customer")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        assert await service.earliest_due(session, ticket.id) is None


async def test_reading_targets_past_due_shows_them_breached(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await make_policy(tenant_a, {"P3": {"resolution": 60}})
    # Long before today, so the deadline has passed whenever the test runs.
    ticket = await make_ticket(tenant_a, datetime(2020, 3, 2, 9, tzinfo=UTC))
    await track(tenant_a, ticket, SlaEvent.CREATED, ticket.created_at)

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        (read,) = await service.ticket_targets(session, ticket.id)
        await session.commit()

    shown = TargetOut.model_validate(read)
    assert (shown.kind, shown.status) == (RES, TargetStatus.BREACHED)
    assert shown.breached_at == shown.due_at == datetime(2020, 3, 2, 10, tzinfo=UTC)
    async with tenant_b.db.tenant_session(tenant_b.id) as session:
        assert await service.ticket_targets(session, ticket.id) == []


async def test_a_timer_waits_for_each_escalation_step_then_the_breach(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    escalations = [
        {"target": "resolution", "percent": 150, "notify": ["supervisors"]},
        {"target": "resolution", "percent": 50, "notify": ["assignee"]},
    ]
    await office_policy(tenant_a, {"P3": {"resolution": 8 * 60}}, escalations=escalations)
    ticket = await make_ticket(tenant_a, madrid(2026, 11, 16, 9))

    await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 11, 16, 9))

    resolution = await target(tenant_a, ticket.id, RES)
    assert await timers_of(tenant_a, resolution.id) == [madrid(2026, 11, 16, 13)]
    await track(tenant_a, ticket, SlaEvent.CHANGED, madrid(2026, 11, 16, 10), status="resolved")
    assert await timers_of(tenant_a, resolution.id) == []


# --- recomputing after configuration changes ----------------------------------------------------


async def test_a_calendar_change_moves_running_deadlines_and_their_timers(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    policy = await office_policy(tenant_a, {"P3": {"resolution": 8 * 60}})
    assert policy.calendar_id is not None
    running = await make_ticket(tenant_a, madrid(2026, 11, 20, 17))
    done = await make_ticket(tenant_a, madrid(2026, 11, 20, 17))
    for ticket in (running, done):
        await track(tenant_a, ticket, SlaEvent.CREATED, madrid(2026, 11, 20, 17))
    await track(tenant_a, done, SlaEvent.CHANGED, madrid(2026, 11, 20, 17, 30), status="resolved")

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await policies.update_calendar(
            session,
            TEST_ACTOR,
            tenant_a.tenant,
            policy.calendar_id,
            CalendarUpdate.model_validate(
                {
                    "closures": [
                        {
                            "start": "2026-11-23T00:00:00+01:00",
                            "end": "2026-11-24T00:00:00+01:00",
                            "label": "Office move",
                        }
                    ]
                }
            ),
        )
        await session.commit()

    moved = await target(tenant_a, running.id, RES)
    assert moved.due_at == madrid(2026, 11, 24, 16)
    assert await timers_of(tenant_a, moved.id) == [madrid(2026, 11, 24, 16)]
    kept = await target(tenant_a, done.id, RES)
    assert kept.due_at == madrid(2026, 11, 23, 16)


async def test_a_policy_change_recomputes_its_running_targets_with_their_priority(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    policy = await make_policy(tenant_a, {"P3": {"resolution": 60}, "P4": {"resolution": 120}})
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    urgent, calm = (
        await make_ticket(tenant_a, start),
        await make_ticket(tenant_a, start, priority="P4"),
    )
    for ticket in (urgent, calm):
        await track(tenant_a, ticket, SlaEvent.CREATED, start)

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await policies.update_policy(
            session,
            TEST_ACTOR,
            tenant_a.tenant,
            policy.id,
            PolicyUpdate.model_validate({"targets": {"P3": {"resolution": 90}}}),
        )
        await session.commit()

    assert (await target(tenant_a, urgent.id, RES)).due_at == start + 90 * timedelta(minutes=1)
    cancelled = await target(tenant_a, calm.id, RES)
    assert cancelled.status == TargetStatus.CANCELLED
    assert await timers_of(tenant_a, cancelled.id) == []


async def test_recompute_goes_through_every_batch(
    tenant_a: TenantFixture, tenant_b: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("centralita.sla.recompute.BATCH_SIZE", 2)
    policy = await make_policy(tenant_a, {"P3": {"resolution": 60}})
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    tickets = [await make_ticket(tenant_a, start) for _ in range(5)]
    for ticket in tickets:
        await track(tenant_a, ticket, SlaEvent.CREATED, start)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        row = await session.get(SlaPolicy, (tenant_a.id, policy.id))
        assert row is not None
        row.targets = {"P3": {"resolution": 30}}
        await session.flush()
        assert await recompute_deadlines(session, tenant_a.tenant, policy_id=policy.id) == 5
        await session.commit()

    for ticket in tickets:
        assert (await target(tenant_a, ticket.id, RES)).due_at == start + HOUR / 2


def test_the_vocabulary_sla_spells_out_is_the_tickets_own() -> None:
    from typing import get_args

    from centralita.interactions.models import Channel
    from centralita.sla import schemas
    from centralita.tickets.models import Priority, TicketType

    assert set(get_args(schemas.Priority)) == {p.value for p in Priority}
    assert set(get_args(schemas.TicketType)) == {t.value for t in TicketType}
    assert set(get_args(schemas.Channel)) == {c.value for c in Channel}


async def test_a_recompute_leaves_a_paused_target_paused_with_its_new_minutes(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    policy = await make_policy(tenant_a, {"P3": {"resolution": 60}})
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    ticket = await make_ticket(tenant_a, start)
    await track(tenant_a, ticket, SlaEvent.CREATED, start)
    await track(tenant_a, ticket, SlaEvent.CHANGED, start + HOUR / 4, status="pending_customer")

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await policies.update_policy(
            session,
            TEST_ACTOR,
            tenant_a.tenant,
            policy.id,
            PolicyUpdate.model_validate({"targets": {"P3": {"resolution": 120}}}),
        )
        await session.commit()

    paused = await target(tenant_a, ticket.id, RES)
    assert (paused.status, paused.target_minutes, paused.due_at) == (
        TargetStatus.PAUSED,
        120,
        None,
    )
    assert await timers_of(tenant_a, paused.id) == []
    await track(tenant_a, ticket, SlaEvent.CHANGED, start + HOUR, status="open")
    # 15 minutes ran before the pause: 105 are left from the resumption.
    resumed = await target(tenant_a, ticket.id, RES)
    assert resumed.due_at == start + HOUR + 105 * timedelta(minutes=1)
