"""What an SLA escalation does to a ticket: tell people, raise its priority, hand it to a team.

The job worker runs :func:`escalate` for each due ``JobKind.SLA_ESCALATION`` job, in the claiming
transaction. The SLA package decides which steps are due and counts them fired; this module acts
on the ticket. It takes the ticket's lock without waiting: a ticket busy in another transaction
has its timer tried again a moment later, so a worker never waits for a lock while it holds
claimed jobs (a request holding the ticket could be waiting to delete those very jobs).
"""

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer
from centralita.db.scoping import use_tenant_scope
from centralita.events.bus import Event, emit, supervisors_topic, user_topic
from centralita.events.service import Actor, record_audit
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobHandler
from centralita.sla import timers
from centralita.sla.service import SlaEvent, SlaSubject, track_ticket
from centralita.tenancy.models import Tenant
from centralita.tickets.models import Priority, Team, TeamMember, Ticket

logger = logging.getLogger(__name__)

SLA_ACTOR = Actor(label="sla")
MORE_URGENT = {Priority.P4: Priority.P3, Priority.P3: Priority.P2, Priority.P2: Priority.P1}


async def escalate(session: AsyncSession, job: Job, now: datetime) -> None:
    """Act on the SLA steps of the job's target that are due by ``now``, in order, once each."""
    if job.ref_id is None:
        return
    ref = await timers.find_target(session, job.ref_id)
    if ref is None:
        return  # the ticket was deleted, and its targets with it
    await use_tenant_scope(session, ref.tenant_id)
    tenant = await session.get(Tenant, ref.tenant_id)
    ticket = await _lock_ticket_without_waiting(session, ref.ticket_id)
    if tenant is None or ticket is None:
        if tenant is not None:
            timers.retry_later(session, ref.target_id, now)
        return
    fired = await timers.fire_due_steps(session, tenant, ref, now)
    if fired is None:
        timers.retry_later(session, ref.target_id, now)
        return
    raised = False
    for due in fired:
        raised |= await _act(session, ticket, due, now)
    if raised:
        # A more urgent priority has its own targets: the clock follows, as for any change.
        await track_ticket(session, tenant, await _subject(session, ticket), SlaEvent.CHANGED, now)


JOB_HANDLERS: dict[str, JobHandler] = {JobKind.SLA_ESCALATION: escalate}


async def _lock_ticket_without_waiting(
    session: AsyncSession, ticket_id: uuid.UUID
) -> Ticket | None:
    """The ticket, locked; None if another transaction holds it (or, rarely, it is gone)."""
    query = (
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _act(session: AsyncSession, ticket: Ticket, due: timers.FiredStep, now: datetime) -> bool:
    """Apply one step to the ticket and announce it; whether its priority was raised."""
    step = due.step
    previous_assignee = ticket.assignee_user_id
    raised = step.raise_priority and _raise_priority(session, ticket)
    if step.reassign_team_id is not None:
        await _reassign(session, ticket, step.reassign_team_id)
    recipients = await _recipients(session, ticket, step.notify, previous_assignee)
    if recipients:
        emit(
            session,
            Event(
                type="ticket.sla_breached" if step.breach else "ticket.sla_escalated",
                tenant=ticket.tenant_id,
                data={
                    "ticket_id": ticket.id,
                    "number": ticket.number,
                    "subject": ticket.subject,
                    "target": due.kind,
                    "percent": step.percent,
                    "due_at": due.due_at,
                    "priority": ticket.priority,
                    "team_id": ticket.team_id,
                    "assignee_user_id": ticket.assignee_user_id,
                },
                recipients=tuple(sorted(recipients)),
                at=now,
            ),
        )
    return raised


def _raise_priority(session: AsyncSession, ticket: Ticket) -> bool:
    raised = MORE_URGENT.get(Priority(ticket.priority))
    if raised is None:
        return False  # P1 is as urgent as it gets
    _audit(session, ticket, "ticket.priority_raised", priority=(ticket.priority, raised))
    ticket.priority = raised
    ticket.priority_overridden = True
    return True


async def _reassign(session: AsyncSession, ticket: Ticket, team_id: uuid.UUID) -> None:
    if ticket.team_id == team_id:
        return
    if await session.get(Team, (ticket.tenant_id, team_id)) is None:
        # The policy was saved with a team that has been deleted since.
        logger.warning("sla: escalation of ticket %s names a deleted team %s", ticket.id, team_id)
        return
    _audit(
        session,
        ticket,
        "ticket.team_reassigned",
        team_id=(ticket.team_id, team_id),
        assignee_user_id=(ticket.assignee_user_id, None),
    )
    ticket.team_id = team_id
    ticket.assignee_user_id = None


def _audit(session: AsyncSession, ticket: Ticket, action: str, **changes: tuple[Any, Any]) -> None:
    record_audit(
        session,
        ticket.tenant_id,
        SLA_ACTOR,
        action,
        ("ticket", ticket.id),
        before={name: old for name, (old, _) in changes.items()},
        after={name: new for name, (_, new) in changes.items()},
    )


async def _recipients(
    session: AsyncSession,
    ticket: Ticket,
    notify: frozenset[str],
    previous_assignee: uuid.UUID | None,
) -> set[str]:
    """Topics for the step's recipients; an assignee the step took the ticket from is told too."""
    topics: set[str] = set()
    if "supervisors" in notify:
        topics.add(supervisors_topic(ticket.tenant_id))
    if "assignee" in notify:
        topics |= {user_topic(u) for u in (previous_assignee, ticket.assignee_user_id) if u}
    if "team" in notify and ticket.team_id is not None:
        members = await session.execute(
            select(TeamMember.user_id).where(TeamMember.team_id == ticket.team_id)
        )
        topics |= {user_topic(user_id) for user_id in members.scalars()}
    return topics


async def _subject(session: AsyncSession, ticket: Ticket) -> SlaSubject:
    await session.flush()
    customer = await session.get(Customer, (ticket.tenant_id, ticket.requester_id))
    return SlaSubject(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        priority=ticket.priority,
        type=ticket.type,
        category_id=ticket.category_id,
        segment=customer.segment if customer else None,
        value_tier=customer.value_tier if customer else "standard",
        channel=ticket.channel,
        status=ticket.status,
        created_at=ticket.created_at,
    )
