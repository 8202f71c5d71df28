"""``Idempotency-Key`` for POSTs that create work: one key, one effect, the same answer on retries.

The key is claimed (``INSERT ... ON CONFLICT DO NOTHING``) in the same transaction that does the
work. A concurrent request with the same key waits on the claim until the first commits
(PostgreSQL's unique index; SQLite serialises writers), then replays the stored response. A
failed request rolls its claim back with everything else, so the client may retry it.
"""

import functools
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Executable, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.api.models import IdempotencyRecord
from centralita.errors import DomainError, InvalidInput

MAX_KEY_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"


class KeyReused(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request body",
            422,
            "Idempotency key reused",
            "idempotency-key-reused",
        )


def _fingerprint(body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _stored(session: AsyncSession, operation: str, key: str) -> IdempotencyRecord:
    query = select(IdempotencyRecord).where(
        IdempotencyRecord.operation == operation, IdempotencyRecord.key == key
    )
    return (await session.execute(query)).scalar_one()


@functools.cache
def _claim(dialect: str) -> Executable:
    """The claim statement, built once per dialect: building it costs more CPU than running it."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, IdempotencyRecord.__table__)
    return (
        insert(table)
        .values(
            tenant_id=bindparam("tenant_id"),
            operation=bindparam("operation"),
            key=bindparam("key"),
            request_hash=bindparam("request_hash"),
        )
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )


async def _reserve(
    session: AsyncSession, tenant_id: uuid.UUID, operation: str, key: str, fingerprint: str
) -> bool:
    """Claim the key in one statement; False when another request holds it (and has committed)."""
    claim = _claim(session.get_bind().dialect.name)
    params = {
        "tenant_id": tenant_id,
        "operation": operation,
        "key": key,
        "request_hash": fingerprint,
    }
    return (await (await session.connection()).execute(claim, params)).first() is not None


@functools.cache
def _record_response() -> Executable:
    """The first response, stored with its claim; built once, and a plain UPDATE of the table
    (the ORM's would look for the record among the session's objects first)."""
    table = cast(Table, IdempotencyRecord.__table__)
    return (
        update(table)
        .where(
            table.c.tenant_id == bindparam("claim_tenant_id"),
            table.c.operation == bindparam("claim_operation"),
            table.c.key == bindparam("claim_key"),
        )
        .values(
            status_code=bindparam("status", type_=table.c.status_code.type),
            response_body=bindparam("body", type_=table.c.response_body.type),
        )
    )


def _replay(record: IdempotencyRecord, fingerprint: str) -> JSONResponse:
    if record.request_hash != fingerprint:
        raise KeyReused()
    return JSONResponse(
        record.response_body, status_code=record.status_code or 200, headers={REPLAY_HEADER: "true"}
    )


async def run_once(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    operation: str,
    key: str | None,
    body: BaseModel,
    create: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run ``create`` (returning status and a JSON-able body) at most once per key and tenant."""
    if key is None:
        status, payload = await create()
        return JSONResponse(payload, status_code=status)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput.on_field(
            "header.Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} characters"
        )
    fingerprint = _fingerprint(body)
    if not await _reserve(session, tenant_id, operation, key, fingerprint):
        return _replay(await _stored(session, operation, key), fingerprint)
    status, payload = await create()
    params = {
        "claim_tenant_id": tenant_id,
        "claim_operation": operation,
        "claim_key": key,
        "status": status,
        "body": payload,
    }
    await (await session.connection()).execute(_record_response(), params)
    return JSONResponse(payload, status_code=status)
