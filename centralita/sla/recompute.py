"""New deadlines for every running target of a calendar or a policy that changed, in bulk.

A calendar edit may move the deadlines of every open ticket of a tenant at once, so this works on
plain rows (no ORM objects) in batches taken in id order: after one DELETE of all the old timers,
per batch one read, one UPDATE of the targets whose values changed, one INSERT of the new
timers and one UPDATE of those targets' tickets (their ``sla_due_at`` and ``sla_breached``). On
PostgreSQL the targets' UPDATE and the INSERT each send the batch as arrays in one small
statement; elsewhere they run once per row.

Targets keep their start, paused time and escalation progress; their minutes follow the policy's
for their ticket's current priority, and a target the policy no longer sets is cancelled.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.selectable import TableValuedAlias

from centralita.db.base import utcnow
from centralita.jobs.models import Job, JobKind
from centralita.sla import business_time
from centralita.sla.deadlines import (
    BREACH_PERCENT,
    RUNNING,
    Calendars,
    Step,
    escalation_steps,
    step_instant,
    target_minutes,
)
from centralita.sla.models import SlaPolicy, SlaTarget, TargetKind, TargetStatus
from centralita.sla.ticket_tables import tickets
from centralita.sla.urgency import refresh_urgency_on
from centralita.tenancy.models import Tenant

BATCH_SIZE = 2000

TargetRow = Row[*tuple[Any, ...]]

_targets = cast(Table, SlaTarget.__table__)
_jobs = cast(Table, Job.__table__)
# What a recompute writes of a target, in the order of the tuples it builds.
_WRITTEN = ("id", "status", "target_minutes", "due_at", "paused_since", "escalations_fired")
_TIMER = ("ref_id", "due_at")
_READ = (
    "id",
    "policy_id",
    "kind",
    "status",
    "target_minutes",
    "due_at",
    "started_at",
    "paused_seconds",
    "paused_since",
    "escalations_fired",
)


class _Governing:
    """What a target's new deadline depends on: its policy, calendar and escalation steps."""

    def __init__(self, policy: SlaPolicy, calendar: business_time.BusinessCalendar) -> None:
        self.policy = policy
        self.calendar = calendar
        self.steps: dict[str, tuple[Step, ...]] = {
            kind: escalation_steps(policy, kind) for kind in TargetKind
        }


async def recompute_deadlines(
    session: AsyncSession,
    tenant: Tenant,
    *,
    calendar_id: uuid.UUID | None = None,
    policy_id: uuid.UUID | None = None,
) -> int:
    """Recompute the running targets of the policies using a calendar, or of one policy; how many.

    Call it in the transaction that changed the calendar or policy, after the change is flushed.
    Targets already loaded in the session are not refreshed.
    """
    if (calendar_id is None) == (policy_id is None):
        raise ValueError("give a calendar_id or a policy_id")
    governed = [
        policy
        for policy in (await session.execute(select(SlaPolicy))).scalars()
        if policy.id == policy_id or (calendar_id is not None and policy.calendar_id == calendar_id)
    ]
    if not governed:
        return 0
    calendars = Calendars(session, tenant)
    by_policy = {policy.id: _Governing(policy, await calendars.of(policy)) for policy in governed}
    # Core statements, which the session's tenant filter does not see: they name the tenant.
    running = and_(
        _targets.c.tenant_id == tenant.id,
        _targets.c.policy_id.in_(list(by_policy)),
        _targets.c.status.in_(RUNNING),
        _targets.c.achieved_at.is_(None),
    )
    connection = await session.connection()
    # Lock every running target first, in id order like every writer of targets (so none
    # deadlocks with another), so that no timer is added behind this recompute's back; and drop
    # all their timers in one statement, where a delete per batch would scan the jobs each time.
    locked = select(_targets.c.id).where(running).order_by(_targets.c.id).with_for_update()
    await connection.execute(
        delete(_jobs).where(_jobs.c.kind == JobKind.SLA_ESCALATION, _jobs.c.ref_id.in_(locked))
    )
    recomputed = 0
    after: uuid.UUID | None = None
    while rows := await _running_targets(connection, running, after):
        changes, timers = _recompute(by_policy, rows)
        await _write(connection, tenant.id, changes, timers)
        if changes:
            changed = {change[0] for change in changes}
            touched = {row.ticket_id for row in rows if row.id in changed}
            await refresh_urgency_on(connection, tenant.id, sorted(touched))
        recomputed += len(rows)
        after = rows[-1].id
    return recomputed


async def _running_targets(
    connection: AsyncConnection, running: ColumnElement[bool], after: uuid.UUID | None
) -> Sequence[TargetRow]:
    query = (
        select(*(_targets.c[name] for name in _READ), _targets.c.ticket_id, tickets.c.priority)
        .join(
            tickets,
            and_(tickets.c.tenant_id == _targets.c.tenant_id, tickets.c.id == _targets.c.ticket_id),
        )
        .where(running)
        .order_by(_targets.c.id)
        .limit(BATCH_SIZE)
    )
    if after is not None:
        query = query.where(_targets.c.id > after)
    return (await connection.execute(query)).all()


def _recompute(
    by_policy: dict[uuid.UUID, _Governing], rows: Sequence[TargetRow]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The batch's new target values (as ``_WRITTEN``) and timers (as ``_TIMER``)."""
    changes: list[tuple[Any, ...]] = []
    timers: list[tuple[Any, ...]] = []
    for row in rows:
        governing = by_policy[row.policy_id]
        minutes = target_minutes(governing.policy, row.priority, row.kind)
        before = (
            row.id,
            row.status,
            row.target_minutes,
            row.due_at,
            row.paused_since,
            row.escalations_fired,
        )
        if minutes is None:
            after = (row.id, TargetStatus.CANCELLED, *before[2:4], None, row.escalations_fired)
        elif row.status == TargetStatus.PAUSED:
            after = (row.id, row.status, minutes, None, row.paused_since, row.escalations_fired)
        else:
            steps = governing.steps[row.kind]
            fired = min(row.escalations_fired, len(steps))
            due_at = _instant(governing, row, minutes, BREACH_PERCENT)
            after = (row.id, row.status, minutes, due_at, None, fired)
            if fired < len(steps) and steps[fired].percent == BREACH_PERCENT:
                timers.append((row.id, due_at))
            elif fired < len(steps):
                timers.append((row.id, _instant(governing, row, minutes, steps[fired].percent)))
        # Often most targets keep their deadline: a closure next month moves only a few.
        if after != before:
            changes.append(after)
    return changes, timers


def _instant(governing: _Governing, row: TargetRow, minutes: int, percent: int) -> datetime:
    return step_instant(governing.calendar, row.started_at, minutes, row.paused_seconds, percent)


async def _write(
    connection: AsyncConnection,
    tenant_id: uuid.UUID,
    changes: list[tuple[Any, ...]],
    timers: list[tuple[Any, ...]],
) -> None:
    now = utcnow()
    postgresql = connection.dialect.name == "postgresql"
    if changes:
        # The id range keeps the database to the batch's stretch of the primary key whatever plan
        # it picks, so a recompute reads each target once, not once per batch.
        in_batch = and_(
            _targets.c.tenant_id == tenant_id,
            _targets.c.id.between(changes[0][0], changes[-1][0]),
        )
        if postgresql:
            new = _unnest(_targets, _WRITTEN, changes, "new")
            await connection.execute(
                update(_targets)
                .where(in_batch, _targets.c.id == new.c.id)
                .values({**{name: new.c[name] for name in _WRITTEN[1:]}, "updated_at": now})
            )
        else:
            await connection.execute(
                update(_targets)
                .where(in_batch, _targets.c.id == bindparam("target"))
                .values({**{n: bindparam(f"new_{n}") for n in _WRITTEN[1:]}, "updated_at": now}),
                [
                    {"target": change[0]}
                    | {
                        f"new_{name}": value
                        for name, value in zip(_WRITTEN[1:], change[1:], strict=True)
                    }
                    for change in changes
                ],
            )
    if timers and postgresql:
        timer = _unnest(_jobs, _TIMER, timers, "timer")
        await connection.execute(
            insert(_jobs).from_select(
                ["kind", "ref_id", "due_at", "attempts", "created_at"],
                select(
                    literal(JobKind.SLA_ESCALATION.value),
                    timer.c.ref_id,
                    timer.c.due_at,
                    literal(0),
                    literal(now, _jobs.c.created_at.type),
                ),
            )
        )
    elif timers:
        await connection.execute(
            insert(_jobs),
            [{"kind": JobKind.SLA_ESCALATION, "ref_id": ref, "due_at": due} for ref, due in timers],
        )


def _unnest(
    table: Table, names: tuple[str, ...], rows: list[tuple[Any, ...]], alias: str
) -> TableValuedAlias:
    """``unnest(array, ...) AS alias(names)``: rows sent as one array per column."""
    arrays = (
        bindparam(f"{alias}_{name}", [row[i] for row in rows], type_=ARRAY(table.c[name].type))
        for i, name in enumerate(names)
    )
    return func.unnest(*arrays).table_valued(*names).render_derived(name=alias)
