"""``Idempotency-Key`` for POSTs that create work: one key, one effect, the same answer on retries.

The key is reserved in the same transaction that does the work. A concurrent request with the
same key blocks on the reservation until the first commits (PostgreSQL's unique index; SQLite
serialises writers), then replays the stored response. A failed request rolls its reservation back
with everything else, so the client may retry it.
"""

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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


async def _stored(session: AsyncSession, operation: str, key: str) -> IdempotencyRecord | None:
    query = select(IdempotencyRecord).where(
        IdempotencyRecord.operation == operation, IdempotencyRecord.key == key
    )
    return (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()


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
    record = await _stored(session, operation, key)
    if record is not None:
        return _replay(record, fingerprint)
    record = IdempotencyRecord(
        tenant_id=tenant_id, operation=operation, key=key, request_hash=fingerprint
    )
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        winner = await _stored(session, operation, key)
        if winner is None:  # pragma: no cover - the unique violation proves a committed row
            raise
        return _replay(winner, fingerprint)
    status, payload = await create()
    record.status_code = status
    record.response_body = payload
    await session.flush()
    return JSONResponse(payload, status_code=status)
