"""Scheduled reports by email: the weekly job, the deliveries it writes, and the SMTP sender.

Every Monday at 07:00 in the tenant's zone the ``reporting.weekly`` job writes one delivery per
active client manager, each with its own ``reporting.delivery`` job, and schedules the next week.
A delivery job composes the message (the composer is given, since the text is translated where
pages are) and hands it to a :class:`MailSender`; a failure leaves the delivery unsent and the job
is retried. Each recipient gets a message of their own, so no one sees the others' addresses.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import Protocol
from zoneinfo import ZoneInfo

import aiosmtplib
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.config import Settings
from centralita.db.base import new_id
from centralita.db.scoping import use_tenant_scope
from centralita.identity.models import Membership, User
from centralita.identity.permissions import Role
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.jobs.worker import JobHandler
from centralita.reporting.models import ReportDelivery
from centralita.reporting.service import Window
from centralita.reporting.settings import report_settings
from centralita.tenancy.models import Tenant

SEND_AT = time(7, 0)


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    """Sends through the platform's SMTP relay (``CENTRALITA_SMTP_RELAY_*``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.settings.reports_from
        await aiosmtplib.send(
            message,
            hostname=self.settings.smtp_relay_host,
            port=self.settings.smtp_relay_port,
            username=self.settings.smtp_relay_username,
            password=self.settings.smtp_relay_password,
            start_tls=self.settings.smtp_relay_starttls,
            timeout=30,
        )


Composer = Callable[[AsyncSession, Tenant, ReportDelivery], Awaitable[EmailMessage]]
"""Builds the message of one delivery, in the scoped tenant's session."""


def next_send_time(tenant: Tenant, now: datetime) -> datetime:
    """The next Monday 07:00 in the tenant's zone strictly after ``now``."""
    zone = ZoneInfo(tenant.time_zone)
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    due = datetime.combine(monday, SEND_AT, zone)
    return due if due > now else datetime.combine(monday + timedelta(days=7), SEND_AT, zone)


async def set_weekly(session: AsyncSession, tenant: Tenant, enabled: bool, now: datetime) -> None:
    """Start or stop the tenant's weekly report; starting twice schedules it once."""
    pending = select(Job.id).where(Job.kind == JobKind.REPORTING_WEEKLY, Job.ref_id == tenant.id)
    scheduled = (await session.execute(pending)).first() is not None
    if enabled and not scheduled:
        schedule(
            session, JobKind.REPORTING_WEEKLY, ref_id=tenant.id, due_at=next_send_time(tenant, now)
        )
    elif not enabled and scheduled:
        await session.execute(
            delete(Job).where(Job.kind == JobKind.REPORTING_WEEKLY, Job.ref_id == tenant.id)
        )


async def client_managers(session: AsyncSession) -> list[User]:
    query = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role == Role.CLIENT_VIEWER, User.is_active.is_(True))
        .order_by(User.email)
    )
    return list((await session.execute(query)).scalars())


async def weekly(session: AsyncSession, job: Job, now: datetime) -> None:
    """The ``reporting.weekly`` job: last week's deliveries, and next week's job."""
    tenant = await session.get(Tenant, job.ref_id)
    if tenant is None or not tenant.is_active:
        return
    await use_tenant_scope(session, tenant.id)
    if not (await report_settings(session)).weekly_report:
        return
    last_monday = now.astimezone(ZoneInfo(tenant.time_zone)).date()
    last_monday -= timedelta(days=last_monday.weekday() + 7)
    for user in await client_managers(session):
        delivery = ReportDelivery(
            tenant_id=tenant.id,
            id=new_id(),
            user_id=user.id,
            email=user.email,
            locale=user.locale,
            date_from=last_monday,
            date_to=last_monday + timedelta(days=6),
        )
        session.add(delivery)
        schedule(session, JobKind.REPORTING_DELIVERY, ref_id=delivery.id, due_at=now)
    schedule(
        session, JobKind.REPORTING_WEEKLY, ref_id=tenant.id, due_at=next_send_time(tenant, now)
    )
    await session.flush()


def job_handlers(sender: MailSender, compose: Composer) -> dict[str, JobHandler]:
    """The handlers of the reporting jobs, for the worker of every process."""
    return {
        JobKind.REPORTING_WEEKLY: weekly,
        JobKind.REPORTING_DELIVERY: delivery_handler(sender, compose),
    }


def delivery_handler(sender: MailSender, compose: Composer) -> JobHandler:
    async def deliver(session: AsyncSession, job: Job, now: datetime) -> None:
        """The ``reporting.delivery`` job: compose and send one report, once."""
        found = await session.execute(select(ReportDelivery).where(ReportDelivery.id == job.ref_id))
        delivery = found.scalar_one_or_none()
        if delivery is None or delivery.sent_at is not None:
            return
        tenant = await session.get(Tenant, delivery.tenant_id)
        assert tenant is not None  # deliveries go with their tenant (ON DELETE CASCADE)
        await use_tenant_scope(session, tenant.id)
        message = await compose(session, tenant, delivery)
        message["To"] = delivery.email
        await sender.send(message)
        delivery.sent_at = now
        await session.flush()

    return deliver


def delivery_window(tenant: Tenant, delivery: ReportDelivery) -> Window:
    return Window(tenant, delivery.date_from, delivery.date_to)
