"""A tenant's whole data as one zip archive, for handover to the tenant or to another platform.

A request writes a ``lifecycle_exports`` row and a ``lifecycle.export`` job; the job, in the
worker, streams every tenant-owned table into ``<table>.jsonl`` (one JSON object per row, read in
batches so a large tenant never sits in memory) and every email's original form into
``emails/<id>.eml``, then renames the finished file into place: a half-written archive is never
offered. All tables are read in one snapshot, so the archive is consistent with itself. A
``lifecycle.export_expiry`` job, scheduled with the ready archive, deletes it after ``KEEP_FOR``.
The rows are read in the tenant's scope, so the session filter and, on PostgreSQL, row-level
security both keep other tenants' rows out.

Left out on purpose: credentials (API token hashes, webhook signing secrets, provider tokens in
channel settings), replayable responses of idempotency keys, and binary columns (an email
attachment's bytes are inside its ``.eml``; a trained model can be trained again).
"""

import asyncio
import contextlib
import json
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from pydantic_core import to_jsonable_python
from sqlalchemy import LargeBinary, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapper

from centralita.channels.email.models import EmailRecord
from centralita.db.base import Base, TenantScoped
from centralita.db.scoping import use_tenant_scope, use_tenant_scope_sync
from centralita.errors import Conflict, NotFound
from centralita.events.service import SYSTEM, Actor, record_audit
from centralita.identity.models import Membership, User
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.jobs.worker import JobHandler
from centralita.lifecycle.models import ExportStatus, TenantExport
from centralita.tenancy.models import Tenant

ROWS_PER_READ = 1000
# A ready archive is deleted after this: it holds all of a tenant's personal data, and a
# handover is downloaded in days. A new export can be requested at any time.
KEEP_FOR = timedelta(days=7)
EXCLUDED_TABLES = frozenset({"api_tokens", "idempotency_keys", "lifecycle_exports"})
SECRET_COLUMNS = frozenset({("webhook_subscriptions", "secret")})
# Provider credentials kept inside a channel address's settings.
SECRET_SETTINGS = frozenset({"auth_token"})
USER_COLUMNS = ("id", "email", "display_name", "locale", "is_active", "created_at")


def table_name(model: type[Any]) -> str:
    return str(model.__tablename__)


def tenant_models() -> list[type[TenantScoped]]:
    """Every tenant-owned model that goes into an export, in table-name order."""
    found = [
        mapper.class_
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantScoped)
        and table_name(mapper.class_) not in EXCLUDED_TABLES
    ]
    return sorted(found, key=table_name)


def _exported_columns(mapper: Mapper[Any]) -> list[str]:
    table = table_name(mapper.class_)
    return [
        attribute.key
        for attribute in mapper.column_attrs
        if not isinstance(attribute.columns[0].type, LargeBinary)
        and (table, attribute.columns[0].name) not in SECRET_COLUMNS
    ]


def _row(values: Any, table: str) -> dict[str, Any]:
    row = dict(values._mapping)
    if table == "channel_addresses" and isinstance(row.get("settings"), dict):
        row["settings"] = {k: v for k, v in row["settings"].items() if k not in SECRET_SETTINGS}
    return row


def _json_lines(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(to_jsonable_python(row), ensure_ascii=False).encode() + b"\n" for row in rows
    )


def _batches(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def request_export(session: AsyncSession, tenant_id: uuid.UUID, actor: Actor) -> TenantExport:
    """Ask for an export; one at a time per tenant, so a double click does not write two."""
    pending = select(TenantExport.id).where(TenantExport.status == ExportStatus.PENDING)
    if (await session.execute(pending)).first() is not None:
        raise Conflict("An export of this tenant is already being prepared", "export-pending")
    export = TenantExport(
        tenant_id=tenant_id,
        status=ExportStatus.PENDING,
        requested_by_user_id=actor.user_id,
        requested_by=actor.label,
        counts={},
    )
    session.add(export)
    await session.flush()
    schedule(session, JobKind.LIFECYCLE_EXPORT, ref_id=export.id)
    record_audit(session, tenant_id, actor, "lifecycle.export_requested", ("export", export.id))
    return export


async def get_export(session: AsyncSession, export_id: uuid.UUID) -> TenantExport:
    export = (
        await session.execute(select(TenantExport).where(TenantExport.id == export_id))
    ).scalar_one_or_none()
    if export is None:
        raise NotFound("Export not found")
    return export


async def list_exports(session: AsyncSession, limit: int = 50) -> list[TenantExport]:
    query = select(TenantExport).order_by(TenantExport.created_at.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


def archive_path(directory: Path, export: TenantExport) -> Path:
    """Where a ready export's archive is; NotFound while it is not ready."""
    if export.status != ExportStatus.READY or export.file_name is None:
        raise Conflict(f"The export is {export.status}, not ready", "export-not-ready")
    path = directory / str(export.tenant_id) / export.file_name
    if not path.is_file():
        raise NotFound("The export's archive is no longer on disk")
    return path


async def _write(target: IO[bytes], data: bytes) -> None:
    # Compressing is CPU work: off the event loop, so requests keep being served meanwhile.
    await asyncio.to_thread(target.write, data)


async def _write_table(
    session: AsyncSession, archive: zipfile.ZipFile, model: type[TenantScoped]
) -> int:
    mapper: Mapper[Any] = model.__mapper__  # type: ignore[attr-defined]
    table = table_name(model)
    columns = _exported_columns(mapper)
    count = 0
    query = (
        select(*(getattr(model, name) for name in columns))
        .order_by(*mapper.primary_key)
        .execution_options(yield_per=ROWS_PER_READ)
    )
    with archive.open(f"{table}.jsonl", "w", force_zip64=True) as target:
        result = await session.stream(query)
        async for chunk in result.partitions(ROWS_PER_READ):
            await _write(target, _json_lines([_row(values, table) for values in chunk]))
            count += len(chunk)
    return count


async def _write_users(session: AsyncSession, archive: zipfile.ZipFile) -> int:
    """The tenant's members as people (no password hashes): memberships name them by id."""
    query = (
        select(*(getattr(User, name) for name in USER_COLUMNS))
        .join(Membership, Membership.user_id == User.id)
        .order_by(User.id)
    )
    rows = [dict(row._mapping) for row in (await session.execute(query)).all()]
    with archive.open("users.jsonl", "w", force_zip64=True) as target:
        for batch in _batches(rows, ROWS_PER_READ):
            await _write(target, _json_lines(batch))
    return len(rows)


async def _write_emails(session: AsyncSession, archive: zipfile.ZipFile) -> int:
    count = 0
    query = (
        select(EmailRecord.id, EmailRecord.raw)
        .where(EmailRecord.size > 0)
        .order_by(EmailRecord.id)
        .execution_options(yield_per=100)
    )
    result = await session.stream(query)
    async for chunk in result.partitions(100):
        for email_id, raw in chunk:
            if raw:
                with archive.open(f"emails/{email_id}.eml", "w", force_zip64=True) as target:
                    await _write(target, raw)
                count += 1
    return count


async def write_archive(
    session: AsyncSession, tenant: Tenant, export: TenantExport, path: Path
) -> dict[str, int]:
    """Write the tenant's archive at ``path``; the rows written per table."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        tenant_row = {
            name: getattr(tenant, name) for name in (c.key for c in Tenant.__mapper__.column_attrs)
        }
        archive.writestr(
            "manifest.json",
            json.dumps(
                to_jsonable_python(
                    {"format": "centralita-export/1", "export_id": export.id, "tenant": tenant_row}
                ),
                indent=2,
            ),
        )
        counts["users"] = await _write_users(session, archive)
        for model in tenant_models():
            counts[table_name(model)] = await _write_table(session, archive, model)
        counts["emails_eml"] = await _write_emails(session, archive)
    return counts


@contextlib.asynccontextmanager
async def _snapshot(session: AsyncSession, tenant_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """A session reading the tenant as of one instant, for the whole archive.

    On PostgreSQL, a connection of its own in one ``REPEATABLE READ, READ ONLY`` transaction: a
    ticket written while the export runs is in every table or in none, and the job's own
    transaction keeps its isolation. On SQLite the job's transaction already is one snapshot
    (it holds the write lock, so nothing changes under it).
    """
    bind = session.bind
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
        yield session
        return
    frozen = bind.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    async with AsyncSession(frozen) as reader:
        use_tenant_scope_sync(reader, tenant_id)
        yield reader


def export_handlers(directory: Path) -> dict[str, JobHandler]:
    """The export job, and the one that deletes its archive when it has been kept long enough."""
    return {
        JobKind.LIFECYCLE_EXPORT: _export_handler(directory),
        JobKind.LIFECYCLE_EXPORT_EXPIRY: _expiry_handler(directory),
    }


def _expiry_handler(directory: Path) -> JobHandler:
    async def expire_export(session: AsyncSession, job: Job, now: datetime) -> None:
        """The ``lifecycle.export_expiry`` job: delete a ready archive, mark the export expired."""
        found = await session.execute(select(TenantExport).where(TenantExport.id == job.ref_id))
        export = found.scalar_one_or_none()
        if export is None or export.status != ExportStatus.READY or export.file_name is None:
            return
        path = directory / str(export.tenant_id) / export.file_name
        await asyncio.to_thread(path.unlink, missing_ok=True)
        export.status = ExportStatus.EXPIRED
        export.file_name = None
        await session.flush()
        record_audit(
            session,
            export.tenant_id,
            SYSTEM,
            "lifecycle.export_expired",
            ("export", export.id),
        )

    return expire_export


def _export_handler(directory: Path) -> JobHandler:
    async def run_export(session: AsyncSession, job: Job, now: datetime) -> None:
        """The ``lifecycle.export`` job: write the archive, then mark the export ready."""
        found = await session.execute(select(TenantExport).where(TenantExport.id == job.ref_id))
        export = found.scalar_one_or_none()
        if export is None or export.status != ExportStatus.PENDING:
            return
        tenant = await session.get(Tenant, export.tenant_id)
        assert tenant is not None
        await use_tenant_scope(session, tenant.id)
        folder = directory / str(tenant.id)
        final_name = f"{tenant.slug}-{now:%Y%m%d-%H%M%S}-{export.id}.zip"
        partial = folder / f"{final_name}.part"
        try:
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            async with _snapshot(session, tenant.id) as reader:
                counts = await write_archive(reader, tenant, export, partial)
            partial.replace(folder / final_name)
        except OSError as exc:
            with contextlib.suppress(OSError):  # the folder itself may be what failed
                partial.unlink(missing_ok=True)
            export.status = ExportStatus.FAILED
            export.error = f"Could not write the archive: {exc.strerror or exc}"[:300]
            export.finished_at = now
            await session.flush()
            return
        export.status = ExportStatus.READY
        export.file_name = final_name
        export.size_bytes = (folder / final_name).stat().st_size
        export.counts = counts
        export.finished_at = now
        await session.flush()
        schedule(session, JobKind.LIFECYCLE_EXPORT_EXPIRY, ref_id=export.id, due_at=now + KEEP_FOR)

    return run_export
