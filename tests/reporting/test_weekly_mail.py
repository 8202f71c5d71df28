"""The weekly report by email: durable jobs, one message per client manager in their language,
sent over a real SMTP conversation to an aiosmtpd sink."""

import asyncio
import csv
import email
import email.policy
import io
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from sqlalchemy import select

from centralita.config import Settings
from centralita.db.engine import Database
from centralita.identity.permissions import Role
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobWorker
from centralita.reporting.mail import SmtpSender, job_handlers, next_send_time
from centralita.reporting.models import ReportDelivery
from centralita.web.report_mail import compose_weekly
from tests.conftest import TenantFixture, TenantMaker
from tests.reporting.helpers import Outcome, add_queue, clock_at, contact
from tests.web.helpers import make_user


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Sink, int]]:
    sink = Sink()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink, hostname="sink.test"), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    yield sink, port
    server.close()
    await server.wait_closed()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _worker(db: Database, port: int, at: datetime) -> JobWorker:
    sender = SmtpSender(Settings(smtp_relay_host="127.0.0.1", smtp_relay_port=port))
    return JobWorker(db, job_handlers(sender, compose_weekly), clock=lambda: at)


async def _jobs(db: Database, kind: str) -> list[Job]:
    async with db.system_session() as session:
        return list((await session.execute(select(Job).where(Job.kind == kind))).scalars())


async def _deliveries(tenant: TenantFixture) -> list[ReportDelivery]:
    async with tenant.db.tenant_session(tenant.id) as session:
        return list((await session.execute(select(ReportDelivery))).scalars())


async def test_client_managers_receive_last_weeks_report_each_in_their_language(
    app: FastAPI,
    db: Database,
    make_tenant: TenantMaker,
    smtp: tuple[Sink, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, port = smtp
    bank = await make_tenant(name="Banco Meridiano")
    rival = await make_tenant(name="Seguros Rivales")
    await add_queue(bank)
    await add_queue(rival)
    due = next_send_time(bank.tenant, datetime.now(ZoneInfo(bank.tenant.time_zone)))
    last_week = due - timedelta(days=5)
    with clock_at(monkeypatch, last_week):
        for wait in (5, 10, 50):
            await contact(bank, Outcome(answered_after=wait))
        await contact(rival, Outcome(abandoned_after=60))
    clara = await make_user(app, db, [(bank, Role.CLIENT_VIEWER)], name="Clara", locale="es")
    john = await make_user(app, db, [(bank, Role.CLIENT_VIEWER)], name="John", locale="en")
    await make_user(app, db, [(bank, Role.AGENT)], name="Agent")
    await make_user(app, db, [(rival, Role.CLIENT_VIEWER)], name="Rival viewer")
    admin = await bank.client(Role.ADMIN)

    enabled = await admin.patch(bank.url("/reports/settings"), json={"weekly_report": True})
    await admin.patch(bank.url("/reports/settings"), json={"weekly_report": True})
    (weekly,) = await _jobs(db, JobKind.REPORTING_WEEKLY)
    await _worker(db, _closed_port(), due).step()  # the week's deliveries are written
    await _worker(db, _closed_port(), due).step()  # the SMTP server is down: nothing is lost
    unsent = await _deliveries(bank)
    await _worker(db, port, due + timedelta(minutes=5)).step()  # retried once it is back
    sent = await _deliveries(bank)

    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["weekly_report"] is True
    assert weekly.ref_id == bank.id
    assert weekly.due_at == due
    assert [d.sent_at for d in unsent] == [None, None]
    assert all(d.sent_at is not None for d in sent)
    by_recipient = {tuple(rcpt): message for rcpt, message in sink.messages}
    assert set(by_recipient) == {(clara,), (john,)}
    spanish, english = by_recipient[(clara,)], by_recipient[(john,)]
    assert (
        str(spanish["Subject"]).strip().startswith("Informe semanal del servicio: Banco Meridiano")
    )
    assert str(english["Subject"]).strip().startswith("Weekly service report: Banco Meridiano")
    assert english["To"] == john
    body = english.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Contacts: 3" in text
    assert "Seguros" not in text
    (attachment, workbook) = list(english.iter_attachments())
    assert str(workbook.get_filename()).endswith(".xlsx")
    rows = list(csv.reader(io.StringIO(attachment.get_content().lstrip("\ufeff"))))
    assert rows[0][:2] == ["start", "offered"]
    assert sum(int(r[1]) for r in rows[1:]) == 3
    (following,) = await _jobs(db, JobKind.REPORTING_WEEKLY)
    assert following.due_at == due + timedelta(days=7)


async def test_turning_the_weekly_report_off_cancels_it(
    tenant_a: TenantFixture, db: Database
) -> None:
    admin = await tenant_a.client(Role.ADMIN)

    await admin.patch(tenant_a.url("/reports/settings"), json={"weekly_report": True})
    await admin.patch(tenant_a.url("/reports/settings"), json={"weekly_report": False})

    assert [j for j in await _jobs(db, JobKind.REPORTING_WEEKLY) if j.ref_id == tenant_a.id] == []
