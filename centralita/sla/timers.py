"""What an SLA target's timer does when it fires: mark the steps now due, in order, once each.

The handler of ``JobKind.SLA_ESCALATION`` (in tickets, which acts on the ticket) calls these in
the transaction that claimed the job. Whatever the job says, the target's own row decides: a job
for a target that was achieved, paused or moved fires nothing, and the counter
``escalations_fired`` makes a step fire once however many jobs (or workers) reach it. A timer that
fell due while no worker ran fires every step missed since, in order, when one runs again.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.sla.deadlines import (
    Calendars,
    Step,
    deadline,
    escalation_steps,
    is_counting,
    refresh,
    step_instant,
)
from centralita.sla.models import SlaPolicy, SlaTarget, TargetKind, TargetStatus
from centralita.sla.urgency import refresh_ticket_urgency
from centralita.tenancy.models import Tenant

# A timer that finds its ticket busy in another transaction waits this long and tries again.
RETRY_DELAY = timedelta(seconds=2)


@dataclass(frozen=True)
class TargetRef:
    tenant_id: uuid.UUID
    ticket_id: uuid.UUID
    target_id: uuid.UUID


@dataclass(frozen=True)
class FiredStep:
    """A step that fell due, for the caller to act on: notify, raise the priority, reassign."""

    kind: TargetKind
    step: Step
    due_at: datetime  # the target's deadline


async def find_target(session: AsyncSession, target_id: uuid.UUID) -> TargetRef | None:
    """Whose target a job names; in a system-scoped session, since jobs belong to no tenant."""
    query = select(SlaTarget.tenant_id, SlaTarget.ticket_id).where(SlaTarget.id == target_id)
    row = (await session.execute(query)).one_or_none()
    return None if row is None else TargetRef(row.tenant_id, row.ticket_id, target_id)


async def fire_due_steps(
    session: AsyncSession, tenant: Tenant, ref: TargetRef, now: datetime
) -> list[FiredStep] | None:
    """Mark the target's steps due by ``now`` as fired (the breach among them) and set its next
    timer; the fired steps, in order. None if another transaction holds the ticket's targets:
    nothing changed, call :func:`retry_later`.

    Never waits for a lock: a worker that waited on a ticket's targets while holding claimed jobs
    could deadlock with a request that holds the targets and deletes those jobs.
    """
    locked = await _lock_targets_without_waiting(session, ref.ticket_id)
    if locked is None:
        return None
    target = locked.get(ref.target_id)
    if target is None or not is_counting(target):
        return []
    policy = await session.get(SlaPolicy, (target.tenant_id, target.policy_id))
    assert policy is not None  # a foreign key keeps it
    calendar = await Calendars(session, tenant).of(policy)
    steps = escalation_steps(policy, target.kind)
    fired: list[FiredStep] = []
    while target.escalations_fired < len(steps):
        step = steps[target.escalations_fired]
        minutes, paused = target.target_minutes, target.paused_seconds
        if step_instant(calendar, target.started_at, minutes, paused, step.percent) > now:
            break
        if step.breach and target.status == TargetStatus.ACTIVE:
            target.status = TargetStatus.BREACHED
            target.breached_at = deadline(calendar, target)
        target.escalations_fired += 1
        fired.append(FiredStep(TargetKind(target.kind), step, deadline(calendar, target)))
    await refresh(session, calendar, policy, target)
    await refresh_ticket_urgency(session, ref.tenant_id, [ref.ticket_id])
    return fired


def retry_later(session: AsyncSession, target_id: uuid.UUID, now: datetime) -> None:
    schedule(session, JobKind.SLA_ESCALATION, ref_id=target_id, due_at=now + RETRY_DELAY)


async def _lock_targets_without_waiting(
    session: AsyncSession, ticket_id: uuid.UUID
) -> dict[uuid.UUID, SlaTarget] | None:
    """Every target of the ticket, locked; None if another transaction holds any of them."""
    locked = list(
        (
            await session.execute(
                select(SlaTarget)
                .where(SlaTarget.ticket_id == ticket_id)
                .order_by(SlaTarget.id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    total = (
        await session.execute(
            select(func.count()).select_from(SlaTarget).where(SlaTarget.ticket_id == ticket_id)
        )
    ).scalar_one()
    if len(locked) < total:
        return None
    return {target.id: target for target in locked}
