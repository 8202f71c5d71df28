"""Deadlines and escalation timers of SLA targets, counted in their policy's business time.

A running target is due at ``add_business_time(calendar, started_at, target + paused)``, where
``paused`` is the open time it spent paused so far. Its escalation steps fall at fractions of the
same amount: a step at 75 % of an 8-hour target is due once 6 hours (plus the paused time) of open
time have passed. The deadline itself is a step at 100 %, the breach.

Each running target has at most one durable job (``JobKind.SLA_ESCALATION``, ``ref_id`` = the
target), due at its next step; every change to a target deletes its pending job and schedules the
next one, in the transaction of the change.
"""

import json
import uuid
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import holidays
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.sla import business_time
from centralita.sla.models import BusinessCalendar, SlaPolicy, SlaTarget, TargetStatus
from centralita.tenancy.models import Tenant

# Statuses whose clock still matters: a breached target runs on until it is achieved, for the
# escalations past its deadline.
RUNNING = (TargetStatus.ACTIVE, TargetStatus.PAUSED, TargetStatus.BREACHED)
BREACH_PERCENT = 100
BREACH_RECIPIENTS = frozenset({"supervisors", "assignee"})
CALENDAR_CACHE_SIZE = 256
SECOND = timedelta(seconds=1)


def is_open(target: SlaTarget) -> bool:
    """Not finished: neither achieved nor cancelled."""
    return target.status in RUNNING and target.achieved_at is None


def is_counting(target: SlaTarget) -> bool:
    """Open and not paused: its clock runs and it has a deadline."""
    return is_open(target) and target.status != TargetStatus.PAUSED


@dataclass(frozen=True)
class Step:
    """One escalation step of a target: when (in percent of its time) and what to do."""

    percent: int
    breach: bool
    notify: frozenset[str]
    raise_priority: bool = False
    reassign_team_id: uuid.UUID | None = None


def escalation_steps(policy: SlaPolicy, kind: str) -> tuple[Step, ...]:
    """The policy's steps for a kind of target, by percent, with the breach among them.

    A configured step at 100 % is the breach step: its actions apply at the breach, and its
    recipients hear of the breach along with the supervisors and the assignee, who always do.
    """
    steps = [
        Step(
            percent=int(entry["percent"]),
            breach=int(entry["percent"]) == BREACH_PERCENT,
            notify=frozenset(entry.get("notify", ())),
            raise_priority=bool(entry.get("raise_priority")),
            reassign_team_id=_uuid_or_none(entry.get("reassign_team_id")),
        )
        for entry in policy.escalations
        if entry["target"] == kind
    ]
    breach = next((step for step in steps if step.breach), None)
    if breach is None:
        steps.append(Step(BREACH_PERCENT, breach=True, notify=BREACH_RECIPIENTS))
    else:
        steps[steps.index(breach)] = Step(
            BREACH_PERCENT,
            breach=True,
            notify=breach.notify | BREACH_RECIPIENTS,
            raise_priority=breach.raise_priority,
            reassign_team_id=breach.reassign_team_id,
        )
    return tuple(sorted(steps, key=lambda step: step.percent))


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def target_minutes(policy: SlaPolicy, priority: str, kind: str) -> int | None:
    """The policy's minutes for a kind of target at a priority, None when it sets none."""
    minutes = policy.targets.get(priority, {}).get(kind)
    return None if minutes is None else int(minutes)


# --- calendars -------------------------------------------------------------------------------

_calendars: OrderedDict[tuple[Any, ...], business_time.BusinessCalendar] = OrderedDict()


def business_calendar(
    row: BusinessCalendar | None, tenant: Tenant
) -> business_time.BusinessCalendar:
    """The business-time calendar of a row (around the clock for none), built once per content.

    A built calendar caches the open time of every day it is asked about, so reusing it across
    requests is what makes deadlines cheap; the key is the content, so an edit builds a new one.
    """
    if row is None:
        return business_time.ALWAYS_OPEN
    key = (
        row.time_zone,
        json.dumps(row.weekly_hours, sort_keys=True),
        json.dumps(row.closures, sort_keys=True),
        (tenant.country, tenant.subdivision) if row.public_holidays else None,
    )
    calendar = _calendars.get(key)
    if calendar is None:
        calendar = business_time.BusinessCalendar(
            row.time_zone,
            {
                day: [tuple(interval) for interval in row.weekly_hours[day]]
                for day in row.weekly_hours
            },
            _public_holidays(tenant) if row.public_holidays else frozenset[date](),
            [
                (datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"]))
                for c in row.closures
            ],
        )
        _calendars[key] = calendar
        if len(_calendars) > CALENDAR_CACHE_SIZE:
            _calendars.popitem(last=False)
    else:
        _calendars.move_to_end(key)
    return calendar


def _public_holidays(tenant: Tenant) -> holidays.HolidayBase:
    return holidays.country_holidays(tenant.country, subdiv=tenant.subdivision)


class Calendars:
    """The calendars of one tenant's policies, each row read once per unit of work."""

    def __init__(self, session: AsyncSession, tenant: Tenant) -> None:
        self._session = session
        self._tenant = tenant
        self._rows: dict[uuid.UUID, BusinessCalendar | None] = {}

    async def of(self, policy: SlaPolicy) -> business_time.BusinessCalendar:
        calendar_id = policy.calendar_id
        if calendar_id is None:
            return business_time.ALWAYS_OPEN
        if calendar_id not in self._rows:
            self._rows[calendar_id] = await self._session.get(
                BusinessCalendar,
                (
                    self._tenant.id,
                    calendar_id,
                ),
            )
        return business_calendar(self._rows[calendar_id], self._tenant)


# --- instants --------------------------------------------------------------------------------


def step_instant(
    calendar: business_time.BusinessCalendar,
    started_at: datetime,
    minutes: int,
    paused_seconds: int,
    percent: int,
) -> datetime:
    """When ``percent`` of a target's time will have run, its paused time aside."""
    amount = timedelta(minutes=minutes) * percent / BREACH_PERCENT + paused_seconds * SECOND
    return business_time.add_business_time(calendar, started_at, amount)


def deadline(calendar: business_time.BusinessCalendar, target: SlaTarget) -> datetime:
    return step_instant(
        calendar, target.started_at, target.target_minutes, target.paused_seconds, BREACH_PERCENT
    )


def next_step_due(
    calendar: business_time.BusinessCalendar, steps: tuple[Step, ...], target: SlaTarget
) -> datetime | None:
    """When the target's next escalation step falls due; None if none is left or it is paused."""
    if not is_counting(target) or target.escalations_fired >= len(steps):
        return None
    step = steps[target.escalations_fired]
    return step_instant(
        calendar, target.started_at, target.target_minutes, target.paused_seconds, step.percent
    )


def paused_seconds_between(
    calendar: business_time.BusinessCalendar, since: datetime, until: datetime
) -> int:
    """The open time in [since, until), in whole seconds, that a pause adds to a target."""
    return round(business_time.business_time_between(calendar, since, until) / SECOND)


def mark_overdue(targets: Iterable[SlaTarget], now: datetime) -> None:
    """Breach the counting targets whose deadline has passed: the timer may not have fired yet.

    Only the status changes here; the breach step (its notifications and actions) still fires
    from the timer, once, whoever marks the status first.
    """
    for target in targets:
        if (
            target.status == TargetStatus.ACTIVE
            and target.due_at is not None
            and target.due_at <= now
        ):
            target.status = TargetStatus.BREACHED
            target.breached_at = target.due_at


# --- timers ----------------------------------------------------------------------------------


async def cancel_timers(session: AsyncSession, target_ids: Collection[uuid.UUID]) -> None:
    """Delete the pending escalation jobs of these targets."""
    if target_ids:
        await session.execute(
            delete(Job)
            .where(Job.kind == JobKind.SLA_ESCALATION, Job.ref_id.in_(list(target_ids)))
            .execution_options(synchronize_session=False)
        )


def set_deadline(calendar: business_time.BusinessCalendar, target: SlaTarget) -> None:
    """A paused target has no deadline (its clock stands still); any other has one, a finished
    target the one reports compare with ``achieved_at``."""
    target.due_at = None if target.status == TargetStatus.PAUSED else deadline(calendar, target)


def schedule_next_step(
    session: AsyncSession,
    calendar: business_time.BusinessCalendar,
    policy: SlaPolicy,
    target: SlaTarget,
) -> None:
    """The target's timer for its next step, if it has one; its old timers must be cancelled."""
    due = next_step_due(calendar, escalation_steps(policy, target.kind), target)
    if due is not None:
        schedule(session, JobKind.SLA_ESCALATION, ref_id=target.id, due_at=due)


async def refresh(
    session: AsyncSession,
    calendar: business_time.BusinessCalendar,
    policy: SlaPolicy,
    target: SlaTarget,
) -> None:
    """Recompute the target's deadline and replace its timer after a change to it."""
    set_deadline(calendar, target)
    await cancel_timers(session, [target.id])
    schedule_next_step(session, calendar, policy, target)
