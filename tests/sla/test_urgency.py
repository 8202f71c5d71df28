"""A ticket's SLA summary on its row (``sla_due_at``, ``sla_breached``) follows its targets.

Search sorts and filters on these columns, so every writer of targets must keep them current: the
clock on each ticket event, the timers on a breach, the bulk recompute after a calendar change.
"""

import uuid
from datetime import datetime

from sqlalchemy import select

from centralita.sla import policies, service
from centralita.sla.models import TargetKind, TargetStatus
from centralita.sla.schemas import CalendarUpdate
from centralita.sla.service import SlaEvent
from centralita.tickets.models import Ticket
from tests.conftest import TEST_ACTOR, TenantFixture
from tests.sla.test_service import madrid, make_ticket, office_policy, target, track
from tests.sla.test_timers import worker_at

FR, RES = TargetKind.FIRST_RESPONSE, TargetKind.RESOLUTION


async def summary(tenant: TenantFixture, ticket_id: uuid.UUID) -> tuple[datetime | None, bool]:
    """The ticket's summary as stored, checked against what ``earliest_due`` reads."""
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(Ticket.sla_due_at, Ticket.sla_breached).where(Ticket.id == ticket_id)
        due, breached = (await session.execute(query)).one()
        assert due == await service.earliest_due(session, ticket_id)
    return due, breached


async def test_a_tickets_due_time_and_breach_follow_its_targets(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    # Long past (like the timer tests), so the worker below claims no other test's timers.
    policy = await office_policy(tenant_a, {"P3": {"first_response": 60, "resolution": 8 * 60}})
    assert policy.calendar_id is not None
    created = madrid(2001, 3, 5, 9)  # a Monday
    ticket = await make_ticket(tenant_a, created)
    other = await make_ticket(tenant_a, created)
    assert await summary(tenant_a, ticket.id) == (None, False)

    # Created: the first response is the nearest deadline.
    await track(tenant_a, ticket, SlaEvent.CREATED, created)
    assert await summary(tenant_a, ticket.id) == (madrid(2001, 3, 5, 10), False)
    # An agent's reply achieves it: the resolution's deadline is next.
    await track(tenant_a, ticket, SlaEvent.AGENT_REPLIED, madrid(2001, 3, 5, 9, 30))
    assert await summary(tenant_a, ticket.id) == (madrid(2001, 3, 5, 17), False)
    # A ticket resolved at once has no deadline left to meet, and never breached.
    await track(tenant_a, other, SlaEvent.CREATED, created)
    await track(tenant_a, other, SlaEvent.CHANGED, created, status="resolved")
    assert await summary(tenant_a, other.id) == (None, False)

    # A calendar change moves the deadline, through the bulk recompute.
    closure = {"start": "2001-03-05T12:00:00+01:00", "end": "2001-03-05T14:00:00+01:00"}
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await policies.update_calendar(
            session,
            TEST_ACTOR,
            tenant_a.tenant,
            policy.calendar_id,
            CalendarUpdate.model_validate({"closures": [closure]}),
        )
        await session.commit()
    assert (await target(tenant_a, ticket.id, RES)).due_at == madrid(2001, 3, 6, 10)
    assert await summary(tenant_a, ticket.id) == (madrid(2001, 3, 6, 10), False)

    # Its timer breaches it: flagged, and the breached deadline (still to meet) stays the nearest.
    await worker_at(tenant_a.db, madrid(2001, 3, 6, 11)).step()
    assert (await target(tenant_a, ticket.id, RES)).status == TargetStatus.BREACHED
    assert await summary(tenant_a, ticket.id) == (madrid(2001, 3, 6, 10), True)

    # Resolved: nothing left to meet, and the breach stands.
    await track(tenant_a, ticket, SlaEvent.CHANGED, madrid(2001, 3, 6, 12), status="resolved")
    assert await summary(tenant_a, ticket.id) == (None, True)
    # Reopened: the resolution target runs again, breached, with its past deadline.
    await track(tenant_a, ticket, SlaEvent.CHANGED, madrid(2001, 3, 6, 13), status="open")
    due, breached = await summary(tenant_a, ticket.id)
    assert breached
    assert due is not None
    assert due < madrid(2001, 3, 6, 13)
