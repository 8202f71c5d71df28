"""The SLA clock of a ticket: which policy applies, its targets, their deadlines and timers.

The tickets service calls :func:`track_ticket` after each change that matters to an SLA, in the
transaction of that change; the routing engine asks :func:`earliest_due` for the urgency of a
ticket's work.

The rules:

- The first active policy, by position, whose conditions all match the ticket applies; if it sets
  no minutes for the ticket's priority and a kind of target, the ticket has no target of that kind.
- ``CREATED`` starts the first-response and resolution targets at the ticket's creation.
  ``AGENT_REPLIED`` achieves the running first- or next-response target. ``CUSTOMER_REPLIED``
  starts a next-response target, unless a response target is already running.
- ``CHANGED``: a new priority, type, category (anything the conditions look at) selects the policy
  again; running targets move to it, keep their start and take its minutes for the ticket's
  priority, or are cancelled if it sets none. Waiting for the customer pauses the running targets
  if the policy says so; leaving that status resumes them, the open time spent paused added to
  their time. Resolving or closing achieves the resolution target and cancels response targets.
  Reopening resumes the same resolution target, no longer achieved: the open time the ticket spent
  resolved counts as paused, so the target measures the time the ticket was being worked on.
- ``MERGED`` cancels every running target.
- A target past its deadline is breached (``breached_at`` = the deadline), by its timer or as soon
  as anything reads or changes it. A breach stands even if a later change moves the deadline; a
  breached target that is cancelled keeps its ``breached_at``. A breached target is not paused.
- Finished targets (achieved, breached, cancelled) are kept for reports.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import new_id, utcnow
from centralita.sla import business_time
from centralita.sla.deadlines import (
    BREACH_PERCENT,
    Calendars,
    cancel_timers,
    escalation_steps,
    is_open,
    mark_overdue,
    paused_seconds_between,
    schedule_next_step,
    set_deadline,
    step_instant,
    target_minutes,
)
from centralita.sla.models import SlaPolicy, SlaTarget, TargetKind, TargetStatus
from centralita.sla.urgency import URGENT, refresh_ticket_urgency
from centralita.tenancy.models import Tenant

RESPONSES = (TargetKind.FIRST_RESPONSE, TargetKind.NEXT_RESPONSE)
FINISHED_TICKET = frozenset({"resolved", "closed"})
PENDING_CUSTOMER = "pending_customer"


@dataclass(frozen=True)
class SlaSubject:
    """What SLA policies look at in a ticket (``segment`` and ``value_tier`` are its
    requester's)."""

    tenant_id: uuid.UUID
    ticket_id: uuid.UUID
    priority: str
    type: str
    category_id: uuid.UUID | None
    segment: str | None
    value_tier: str
    channel: str
    status: str
    created_at: datetime


class SlaEvent(StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    AGENT_REPLIED = "agent_replied"
    CUSTOMER_REPLIED = "customer_replied"
    MERGED = "merged"


def matches(policy: SlaPolicy, subject: SlaSubject) -> bool:
    """Whether the ticket meets every condition the policy sets."""
    category = None if subject.category_id is None else str(subject.category_id)
    values = {
        "priorities": subject.priority,
        "types": subject.type,
        "category_ids": category,
        "segments": subject.segment,
        "value_tiers": subject.value_tier,
        "channels": subject.channel,
    }
    return all(
        not accepted or values.get(name) in accepted for name, accepted in policy.conditions.items()
    )


async def policies_by_position(session: AsyncSession) -> list[SlaPolicy]:
    """The scoped tenant's policies, in the order they are tried."""
    query = select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.created_at, SlaPolicy.id)
    return list((await session.execute(query)).scalars())


async def track_ticket(
    session: AsyncSession, tenant: Tenant, subject: SlaSubject, event: SlaEvent, now: datetime
) -> None:
    """Start, pause, resume, achieve or cancel the ticket's targets after ``event`` at ``now``."""
    targets = await _locked_targets(session, subject.ticket_id)
    policies = await policies_by_position(session)
    chosen = next((p for p in policies if p.is_active and matches(p, subject)), None)
    clock = _TicketClock(session, tenant, subject, now, chosen, policies, targets)
    mark_overdue(targets, now)
    if event is SlaEvent.MERGED:
        for target in clock.running():
            await clock.finish(target, TargetStatus.CANCELLED)
    else:
        await clock.follow(event)
    await clock.save()
    await refresh_ticket_urgency(session, subject.tenant_id, [subject.ticket_id])


async def ticket_targets(session: AsyncSession, ticket_id: uuid.UUID) -> list[SlaTarget]:
    """Every target the ticket has had, oldest first; those past due read as breached."""
    query = select(SlaTarget).where(SlaTarget.ticket_id == ticket_id).order_by(SlaTarget.id)
    targets = list((await session.execute(query)).scalars())
    now = utcnow()
    overdue = [t for t in targets if t.status == TargetStatus.ACTIVE and _past(t, now)]
    mark_overdue(targets, now)
    if overdue:
        # Should the session commit, the ticket's summary must show the breach stored with it.
        await refresh_ticket_urgency(session, overdue[0].tenant_id, [ticket_id])
    return targets


def _past(target: SlaTarget, now: datetime) -> bool:
    return target.due_at is not None and target.due_at <= now


async def earliest_due(session: AsyncSession, ticket_id: uuid.UUID) -> datetime | None:
    """The nearest deadline among the ticket's counting targets: the urgency of its work.

    A breached target that is not yet achieved counts (with its past deadline: most urgent); a
    paused one does not. The ticket's ``sla_due_at`` (:mod:`centralita.sla.urgency`) holds the
    same, kept as targets change; this reads the targets themselves.
    """
    query = select(func.min(SlaTarget.due_at)).where(
        SlaTarget.ticket_id == ticket_id,
        SlaTarget.status.in_(URGENT),
        SlaTarget.achieved_at.is_(None),
    )
    due: datetime | None = (await session.execute(query)).scalar_one()
    return due


async def _locked_targets(session: AsyncSession, ticket_id: uuid.UUID) -> list[SlaTarget]:
    # Locked in id order, as every writer of targets locks them, so two writers cannot deadlock.
    query = (
        select(SlaTarget)
        .where(SlaTarget.ticket_id == ticket_id)
        .order_by(SlaTarget.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(query)).scalars())


class _TicketClock:
    """One ticket's targets while an event is applied to them; :meth:`save` writes timers."""

    def __init__(
        self,
        session: AsyncSession,
        tenant: Tenant,
        subject: SlaSubject,
        now: datetime,
        policy: SlaPolicy | None,
        policies: list[SlaPolicy],
        targets: list[SlaTarget],
    ) -> None:
        self.session = session
        self.subject = subject
        self.now = now
        self.policy = policy
        self.policies = {policy.id: policy for policy in policies}
        self.targets = targets
        self.calendars = Calendars(session, tenant)
        self.changed: dict[uuid.UUID, SlaTarget] = {}
        self.moved: set[uuid.UUID] = set()  # switched to another policy by this event

    def running(self, *kinds: TargetKind) -> list[SlaTarget]:
        return [t for t in self.targets if is_open(t) and (not kinds or t.kind in kinds)]

    async def follow(self, event: SlaEvent) -> None:
        status = self.subject.status
        working = status not in FINISHED_TICKET
        if event is SlaEvent.CREATED and not self.targets:
            self.start(TargetKind.FIRST_RESPONSE, self.subject.created_at)
        if working:
            await self.reopen_resolution()
        await self.follow_policy()
        # Also when a ticket first comes under a policy that sets a resolution target.
        if not self.ever(TargetKind.RESOLUTION):
            self.start(TargetKind.RESOLUTION, self.subject.created_at)
        if event is SlaEvent.AGENT_REPLIED:
            for target in self.running(*RESPONSES):
                await self.finish(target, TargetStatus.ACHIEVED)
        if event is SlaEvent.CUSTOMER_REPLIED and working and not self.running(*RESPONSES):
            self.start(TargetKind.NEXT_RESPONSE, self.now)
        if not working:
            for target in self.running():
                done = target.kind == TargetKind.RESOLUTION
                await self.finish(target, TargetStatus.ACHIEVED if done else TargetStatus.CANCELLED)
        elif status == PENDING_CUSTOMER and self.policy and self.policy.pause_on_pending_customer:
            for target in self.running():
                self.pause(target)
        else:
            for target in self.running():
                await self.resume(target)

    def ever(self, kind: TargetKind) -> bool:
        """Whether the ticket has a target of this kind that is running or was achieved."""
        return any(t.kind == kind and t.status != TargetStatus.CANCELLED for t in self.targets)

    def touch(self, target: SlaTarget) -> None:
        self.changed[target.id] = target

    def start(self, kind: TargetKind, started_at: datetime) -> None:
        if self.policy is None:
            return
        minutes = target_minutes(self.policy, self.subject.priority, kind)
        if minutes is None:
            return
        target = SlaTarget(
            id=new_id(),
            tenant_id=self.subject.tenant_id,
            ticket_id=self.subject.ticket_id,
            policy_id=self.policy.id,
            kind=kind,
            status=TargetStatus.ACTIVE,
            target_minutes=minutes,
            started_at=started_at,
            paused_seconds=0,
            escalations_fired=0,
        )
        self.session.add(target)
        self.targets.append(target)
        self.touch(target)

    async def follow_policy(self) -> None:
        """Move the running targets to the policy that applies now, with its minutes."""
        for target in self.running():
            minutes = None
            if self.policy is not None:
                minutes = target_minutes(self.policy, self.subject.priority, target.kind)
            if self.policy is None or minutes is None:
                await self.finish(target, TargetStatus.CANCELLED)
                continue
            if target.policy_id != self.policy.id:
                target.policy_id = self.policy.id
                self.moved.add(target.id)
                self.touch(target)
            if target.target_minutes != minutes:
                target.target_minutes = minutes
                self.touch(target)

    async def reopen_resolution(self) -> None:
        """A resolved ticket came back: its resolution target runs again."""
        resolutions = [t for t in self.targets if t.kind == TargetKind.RESOLUTION]
        if not resolutions or is_open(resolutions[-1]) or resolutions[-1].achieved_at is None:
            return
        target = resolutions[-1]
        assert target.achieved_at is not None
        calendar = await self._calendar_of(target)
        target.paused_seconds += paused_seconds_between(calendar, target.achieved_at, self.now)
        target.achieved_at = None
        target.status = TargetStatus.ACTIVE if target.breached_at is None else TargetStatus.BREACHED
        self.touch(target)

    def pause(self, target: SlaTarget) -> None:
        if target.status == TargetStatus.ACTIVE:
            target.status = TargetStatus.PAUSED
            target.paused_since = self.now
            self.touch(target)

    async def resume(self, target: SlaTarget) -> None:
        if target.status != TargetStatus.PAUSED or target.paused_since is None:
            return
        calendar = await self._calendar_of(target)
        target.paused_seconds += paused_seconds_between(calendar, target.paused_since, self.now)
        target.paused_since = None
        target.status = TargetStatus.ACTIVE
        self.touch(target)

    async def finish(self, target: SlaTarget, status: TargetStatus) -> None:
        """Achieve or cancel; a breached target stays breached when achieved late.

        A paused target resumes first, so that its final deadline counts the pause."""
        await self.resume(target)
        if status == TargetStatus.ACHIEVED:
            target.achieved_at = self.now
            if target.status == TargetStatus.BREACHED:
                status = TargetStatus.BREACHED
        target.status = status
        target.paused_since = None
        self.touch(target)

    async def _calendar_of(self, target: SlaTarget) -> business_time.BusinessCalendar:
        return await self.calendars.of(self.policies[target.policy_id])

    async def save(self) -> None:
        """New deadlines and timers for every target this event changed."""
        await cancel_timers(self.session, list(self.changed))
        for target in self.changed.values():
            policy = self.policies[target.policy_id]
            calendar = await self.calendars.of(policy)
            if target.id in self.moved:
                # Steps of the new policy that fell before now are not fired after the fact;
                # its breach (and what follows) still is.
                target.escalations_fired = sum(
                    1
                    for step in escalation_steps(policy, target.kind)
                    if step.percent < BREACH_PERCENT
                    and step_instant(
                        calendar,
                        target.started_at,
                        target.target_minutes,
                        target.paused_seconds,
                        step.percent,
                    )
                    <= self.now
                )
            set_deadline(calendar, target)
            schedule_next_step(self.session, calendar, policy, target)
