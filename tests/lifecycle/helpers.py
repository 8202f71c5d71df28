"""The lifecycle tests' world: real emails over SMTP, backdated rows, jobs run by a worker."""

import io
import json
import uuid
import zipfile
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from centralita.channels.email.models import EmailRecord
from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.identity.permissions import Role
from centralita.interactions.models import Message
from centralita.jobs.worker import JobHandler, JobWorker
from centralita.lifecycle import service as lifecycle
from centralita.lifecycle.export import export_handlers
from tests.channels.email.conftest import Listener, add_mailbox, unique_address
from tests.conftest import TenantFixture


def lifecycle_worker(db: Database, export_dir: Path, now: datetime | None = None) -> JobWorker:
    handlers: dict[str, JobHandler] = {**lifecycle.JOB_HANDLERS, **export_handlers(export_dir)}
    return JobWorker(db, handlers, clock=lambda: now or utcnow())


def email_with_attachment(box: str, sender: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = box
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@example.com>"
    message.set_content(body)
    message.add_attachment(
        f"{subject} invoice".encode(), maintype="text", subtype="plain", filename="invoice.txt"
    )
    return message


async def receive_email(
    listener: Listener, tenant: TenantFixture, sender: str, subject: str, body: str
) -> EmailRecord:
    """An email with one attachment through a real SMTP conversation; its stored record."""
    box = unique_address()
    await add_mailbox(tenant, box)
    await listener.send(email_with_attachment(box, sender, subject, body), [box], sender)
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(EmailRecord).where(EmailRecord.mailbox == box)
        return (await session.execute(query)).scalar_one()


async def backdate(tenant: TenantFixture, model: Any, ids: list[uuid.UUID], days: int) -> None:
    async with tenant.db.tenant_session(tenant.id) as session:
        await session.execute(
            update(model)
            .where(model.id.in_(ids))
            .values(created_at=utcnow() - timedelta(days=days))
        )
        await session.commit()


async def messages_of(tenant: TenantFixture, interaction_id: uuid.UUID) -> list[Message]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(Message).where(Message.interaction_id == interaction_id)
        return list((await session.execute(query)).scalars())


def read_archive(content: bytes) -> tuple[dict[str, list[dict[str, Any]]], dict[str, bytes]]:
    """The rows of every table in an export, and its other files by name."""
    tables: dict[str, list[dict[str, Any]]] = {}
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            if name.endswith(".jsonl"):
                tables[name.removesuffix(".jsonl")] = [
                    json.loads(line) for line in data.decode().splitlines()
                ]
            else:
                files[name] = data
    return tables, files


def report_days(tenant: TenantFixture) -> dict[str, str]:
    today = datetime.now(ZoneInfo(tenant.tenant.time_zone)).date()
    return {"date_from": (today - timedelta(days=1)).isoformat(), "date_to": today.isoformat()}


async def reports(tenant: TenantFixture) -> dict[str, Any]:
    http = await tenant.client(Role.SUPERVISOR)
    days = report_days(tenant)
    return {
        name: (await http.get(tenant.url(f"/reports/{name}"), params=days)).json()
        for name in ("queues", "fcr", "reasons", "agents")
    }


async def export_ready(tenant: TenantFixture, settings: Settings) -> dict[str, object]:
    http = await tenant.client(Role.ADMIN)
    requested = await http.post(tenant.url("/exports"))
    assert requested.status_code == 202, requested.text
    export_id = requested.json()["id"]
    worker = lifecycle_worker(tenant.db, settings.export_dir)
    for _ in range(5):
        await worker.step()
        status = (await http.get(tenant.url(f"/exports/{export_id}"))).json()
        if status["status"] != "pending":
            break
    assert status["status"] == "ready", status
    return dict(status)
