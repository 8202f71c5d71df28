"""Append-only rows (reporting facts) written by plain Core INSERTs at the session's next flush.

A fact is written on the hot path with every change it describes. As an ORM object it would cost
more than the change itself: instrumented construction, a place in the identity map and a turn
through the unit of work, for a row nothing reads back in the transaction. Queued here as a plain
row instead, it is written by the next flush, after the flush's own statements, together with the
other rows queued since the last one: one INSERT per table, executed for every row (asyncpg
pipelines them).

The rows join the transaction of the change they go with: a flush writes them in the open
transaction (or savepoint), a rollback takes them back with it, and rows queued inside a savepoint
that rolls back before they were flushed are dropped. Queue them beside the ORM change they
describe, so the flush that writes the change writes them: a savepoint opened after the change
flushes both first.
"""

import uuid
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, insert
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from centralita.db.base import TenantScoped
from centralita.db.scoping import SYSTEM_KEY, TENANT_KEY, TenantScopeError

PENDING_KEY = "centralita.db.pending_inserts"
MARKS_KEY = "centralita.db.pending_insert_marks"
"""``session.info`` entries: the rows to insert, in order; for each open savepoint, how many of
them were queued before it began."""

Row = Mapping[str, Any]
Pending = list[tuple[type[Any], Row]]


def insert_at_flush(session: AsyncSession | Session, model: type[Any], rows: Iterable[Row]) -> None:
    """Queue ``rows`` of ``model``'s table (every column given, the same keys in each row)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    queued = [(model, row) for row in rows]
    if queued:
        sync.info.setdefault(PENDING_KEY, []).extend(queued)


@cache
def _insert(table: Table) -> Insert:
    return insert(table)


def _check_tenant(session: Session, rows: list[Row]) -> None:
    """The check a flush makes of tenant-owned ORM rows (``db.scoping``), for these rows."""
    if session.info.get(SYSTEM_KEY):
        return
    tenant_id: uuid.UUID | None = session.info.get(TENANT_KEY)
    if tenant_id is None:
        raise TenantScopeError("tenant-owned row written without a tenant scope")
    if any(row["tenant_id"] != tenant_id for row in rows):
        raise TenantScopeError("row of another tenant written in a tenant-scoped session")


def take_queued(session: Session) -> dict[type[Any], list[Row]]:
    """The rows queued so far, by model, checked; the caller writes them now, in the current
    transaction or savepoint, and from then on they share its fate."""
    pending: Pending | None = session.info.get(PENDING_KEY)
    if not pending:
        return {}
    by_model: dict[type[Any], list[Row]] = {}
    for model, row in pending:
        by_model.setdefault(model, []).append(row)
    for model, rows in by_model.items():
        if issubclass(model, TenantScoped):
            _check_tenant(session, rows)
    pending.clear()
    marks: dict[SessionTransaction, int] = session.info.get(MARKS_KEY, {})
    for savepoint in marks:
        marks[savepoint] = 0
    return by_model


def _write_pending(session: Session) -> None:
    queued = take_queued(session)
    if queued:
        connection = session.connection()
        for model, rows in queued.items():
            connection.execute(_insert(model.__table__), rows)


@orm_event.listens_for(Session, "after_flush")
def _insert_after_flush(session: Session, _context: Any) -> None:
    # After the flush's own statements, so a row the same flush inserts (a new tenant, a new
    # user) exists before a fact refers to it.
    _write_pending(session)


@orm_event.listens_for(Session, "before_commit")
def _insert_before_commit(session: Session) -> None:
    # A commit with something to flush writes the rows after it; one with nothing does not
    # flush, so they are written here.
    if session.info.get(PENDING_KEY) and not (session.new or session.dirty or session.deleted):
        _write_pending(session)


@orm_event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        pending: Pending | None = session.info.get(PENDING_KEY)
        session.info.setdefault(MARKS_KEY, {})[transaction] = len(pending) if pending else 0


@orm_event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    # Called while the transaction that rolled back is still current: a savepoint drops only the
    # rows queued inside it, the outermost transaction drops them all.
    pending: Pending | None = session.info.get(PENDING_KEY)
    if not pending:
        return
    savepoint = session.get_nested_transaction()
    marks: dict[SessionTransaction, int] = session.info.get(MARKS_KEY, {})
    del pending[marks.get(savepoint, 0) if savepoint is not None else 0 :]


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.get(MARKS_KEY, {}).pop(transaction, None)
    elif transaction.parent is None:
        # Also a session closed without commit: its rows must not leak into the next one.
        session.info.pop(PENDING_KEY, None)
        session.info.pop(MARKS_KEY, None)
