"""Retention: each tenant's periods, and the daily purge of what outlived them.

Setting a period schedules a ``lifecycle.retention`` job for the tenant; each run purges in
batches what is older than the periods, records the counts in the audit log, and schedules the
next run: tomorrow, or right away while a backlog remains (so one run never holds a transaction
for long). A purge only removes what is past its period, so running it twice changes nothing.

Reporting facts and aggregates are never touched: they hold the numbers, not the conversations.
Emails keep their rows (threading and duplicate detection look Message-IDs up) and lose their raw
form, full text and attachments.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, Select, String, cast, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.email.models import EmailAttachment, EmailRecord
from centralita.db.scoping import use_tenant_scope
from centralita.events.service import SYSTEM, Actor, record_audit
from centralita.interactions.models import Channel, Interaction, Message
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.jobs.worker import JobHandler
from centralita.lifecycle.export import list_exports
from centralita.lifecycle.models import RetentionPolicy
from centralita.lifecycle.schemas import RetentionUpdate
from centralita.tenancy.models import Tenant
from centralita.tickets.models import Ticket, TicketMessage, TicketStatus

PURGE_EVERY = timedelta(days=1)
PURGE_BATCH = 1000
# Batches per table in one run; more waits for the next run, scheduled at once.
BATCHES_PER_RUN = 20
PERIODS = ("conversations_days", "recordings_days", "emails_days")


async def retention_policy(session: AsyncSession) -> RetentionPolicy:
    """The scoped tenant's periods; an unsaved row keeping everything forever when never set."""
    found = (await session.execute(select(RetentionPolicy))).scalar_one_or_none()
    return found if found is not None else RetentionPolicy()


def _snapshot(policy: RetentionPolicy) -> dict[str, int | None]:
    return {name: getattr(policy, name) for name in PERIODS}


def _any_period(policy: RetentionPolicy) -> bool:
    return any(getattr(policy, name) is not None for name in PERIODS)


async def set_retention(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, data: RetentionUpdate, now: datetime
) -> RetentionPolicy:
    query = select(RetentionPolicy).with_for_update()
    policy = (await session.execute(query)).scalar_one_or_none()
    if policy is None:
        policy = RetentionPolicy(tenant_id=tenant_id)
        session.add(policy)
    before = _snapshot(policy)
    for name in PERIODS:
        setattr(policy, name, getattr(data, name))
    await session.flush()
    record_audit(
        session,
        tenant_id,
        actor,
        "lifecycle.retention_updated",
        ("retention", tenant_id),
        before,
        _snapshot(policy),
    )
    await _keep_purge_scheduled(session, tenant_id, _any_period(policy), now)
    return policy


async def _keep_purge_scheduled(
    session: AsyncSession, tenant_id: uuid.UUID, wanted: bool, now: datetime
) -> None:
    """One pending purge job while any period is set, none otherwise."""
    mine = (Job.kind == JobKind.LIFECYCLE_RETENTION, Job.ref_id == tenant_id)
    scheduled = (await session.execute(select(Job.id).where(*mine))).first() is not None
    if wanted and not scheduled:
        schedule(session, JobKind.LIFECYCLE_RETENTION, ref_id=tenant_id, due_at=now)
    elif not wanted and scheduled:
        await session.execute(delete(Job).where(*mine))


@dataclass
class PurgeResult:
    counts: dict[str, int] = field(default_factory=dict)
    # Something past its period is still there: the run stopped at its batch limit.
    backlog: bool = False

    def add(self, name: str, count: int) -> None:
        if count:
            self.counts[name] = self.counts.get(name, 0) + count


async def _in_batches(
    session: AsyncSession,
    result: PurgeResult,
    name: str,
    pick: Select[Any],
    apply: Callable[[list[uuid.UUID]], Executable],
    batch: int,
) -> None:
    """Apply a change to the rows ``pick`` finds, ``batch`` ids at a time, up to the run's limit."""
    for _ in range(BATCHES_PER_RUN):
        ids = list((await session.execute(pick.limit(batch))).scalars())
        if ids:
            await session.execute(apply(ids).execution_options(synchronize_session=False))
            result.add(name, len(ids))
        if len(ids) < batch:
            return
    result.backlog = True


async def purge_expired(
    session: AsyncSession, policy: RetentionPolicy, now: datetime, *, batch: int = PURGE_BATCH
) -> PurgeResult:
    """Remove, in the scoped tenant, what is older than each period set."""
    result = PurgeResult()
    if policy.recordings_days is not None:
        cutoff = now - timedelta(days=policy.recordings_days)
        voice = select(Interaction.id).where(Interaction.channel == Channel.VOICE)
        await _in_batches(
            session,
            result,
            "recording_links",
            select(Message.id)
            .where(
                Message.created_at < cutoff,
                Message.interaction_id.in_(voice),
                cast(Message.attachments, String) != "[]",
            )
            .order_by(Message.id),
            lambda ids: update(Message).where(Message.id.in_(ids)).values(attachments=[]),
            batch,
        )
    if policy.conversations_days is not None:
        cutoff = now - timedelta(days=policy.conversations_days)
        await _in_batches(
            session,
            result,
            "interaction_messages",
            select(Message.id).where(Message.created_at < cutoff).order_by(Message.id),
            lambda ids: delete(Message).where(Message.id.in_(ids)),
            batch,
        )
        # A ticket's thread goes once the ticket is closed for good: one still being worked (or
        # resolved, which can reopen) keeps its history, however old its first messages are.
        closed = select(Ticket.id).where(Ticket.status == TicketStatus.CLOSED)
        await _in_batches(
            session,
            result,
            "ticket_messages",
            select(TicketMessage.id)
            .where(TicketMessage.created_at < cutoff, TicketMessage.ticket_id.in_(closed))
            .order_by(TicketMessage.id),
            lambda ids: delete(TicketMessage).where(TicketMessage.id.in_(ids)),
            batch,
        )
    if policy.emails_days is not None:
        cutoff = now - timedelta(days=policy.emails_days)
        old_emails = select(EmailRecord.id).where(EmailRecord.created_at < cutoff)
        await _in_batches(
            session,
            result,
            "email_attachments",
            select(EmailAttachment.id)
            .where(EmailAttachment.email_id.in_(old_emails))
            .order_by(EmailAttachment.id),
            lambda ids: delete(EmailAttachment).where(EmailAttachment.id.in_(ids)),
            batch,
        )
        await _in_batches(
            session,
            result,
            "email_raw_messages",
            select(EmailRecord.id)
            .where(EmailRecord.created_at < cutoff, EmailRecord.size > 0)
            .order_by(EmailRecord.id),
            lambda ids: (
                update(EmailRecord)
                .where(EmailRecord.id.in_(ids))
                .values(raw=b"", size=0, full_text="", html=None)
            ),
            batch,
        )
    return result


async def run_purge(
    session: AsyncSession, tenant_id: uuid.UUID, now: datetime, *, batch: int = PURGE_BATCH
) -> PurgeResult | None:
    """One purge run for a tenant (already scoped), audited; None when no period is set."""
    policy = (await session.execute(select(RetentionPolicy).with_for_update())).scalar_one_or_none()
    if policy is None or not _any_period(policy):
        return None
    result = await purge_expired(session, policy, now, batch=batch)
    policy.last_purge_at = now
    if result.counts:
        record_audit(
            session,
            tenant_id,
            SYSTEM,
            "lifecycle.retention_purged",
            ("retention", tenant_id),
            _snapshot(policy),
            {"removed": result.counts, "backlog": result.backlog},
        )
    await session.flush()
    return result


async def retention_job(session: AsyncSession, job: Job, now: datetime) -> None:
    """The ``lifecycle.retention`` job: purge one tenant, then schedule its next run."""
    tenant = await session.get(Tenant, job.ref_id)
    if tenant is None:
        return
    await use_tenant_scope(session, tenant.id)
    result = await run_purge(session, tenant.id, now)
    if result is None:
        return
    due = now if result.backlog else now + PURGE_EVERY
    schedule(session, JobKind.LIFECYCLE_RETENTION, ref_id=tenant.id, due_at=due)


async def admin_section(session: AsyncSession) -> dict[str, Any]:
    """What the administration's data section shows: the periods and the latest exports."""
    return {
        "retention": await retention_policy(session),
        "exports": await list_exports(session, limit=10),
    }


JOB_HANDLERS: dict[str, JobHandler] = {JobKind.LIFECYCLE_RETENTION: retention_job}
