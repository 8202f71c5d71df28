"""Rules that run on a schedule: a durable timer per rule fires ``schedule.fired`` for it.

Each run emits the event (so it is logged, reaches webhooks, and the rule's actions run through
the usual evaluation) and schedules the next one. A change to the rule sets a new
``next_run_at``; a timer that finds another time there is stale and does nothing, so a rule never
runs on two timers at once.
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.automation.models import Rule
from centralita.automation.schemas import SCHEDULE_TRIGGER
from centralita.db.scoping import use_tenant_scope
from centralita.events.bus import Event, emit, supervisors_topic
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule

# Timer and rule times are equal but for how each database rounds them.
SAME_INSTANT = timedelta(seconds=1)


def plan_next_run(session: AsyncSession, rule: Rule, after: datetime) -> None:
    """(Re)start the rule's timer, or stop it if the rule no longer runs on a schedule."""
    if rule.trigger != SCHEDULE_TRIGGER or not rule.active or rule.every_minutes is None:
        rule.next_run_at = None
        return
    rule.next_run_at = after + timedelta(minutes=rule.every_minutes)
    schedule(session, JobKind.AUTOMATION_SCHEDULE, ref_id=rule.id, due_at=rule.next_run_at)


async def fire_scheduled_rule(session: AsyncSession, job: Job, now: datetime) -> None:
    """Job handler: the rule's run is due."""
    rule = (await session.execute(select(Rule).where(Rule.id == job.ref_id))).scalar_one_or_none()
    if (
        rule is None
        or rule.next_run_at is None
        or abs(rule.next_run_at - job.due_at) > SAME_INSTANT
    ):
        return
    await use_tenant_scope(session, rule.tenant_id)
    emit(
        session,
        Event(
            type=SCHEDULE_TRIGGER,
            tenant=rule.tenant_id,
            data={"rule_id": str(rule.id), "due_at": rule.next_run_at},
            recipients=(supervisors_topic(rule.tenant_id),),
        ),
    )
    # From now, not from the missed time: a worker that was down runs the rule once, not in a
    # burst of every run it missed.
    plan_next_run(session, rule, now)
    await session.flush()
