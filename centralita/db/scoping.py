"""The one place where tenant scoping is enforced.

A session is in one of three modes, kept in ``session.info``:

* **tenant**: every ORM query on a :class:`TenantScoped` model is filtered to that tenant, new rows
  get that tenant, and a row of another tenant cannot be flushed;
* **system**: no filter, for platform work that legitimately spans tenants (login, the demo, the
  routing engine rebuilding its state);
* **unset**: touching any tenant-owned model raises :class:`TenantScopeError`, so a forgotten scope
  fails loudly instead of leaking.

On PostgreSQL the mode is also copied into the transaction (``centralita.tenant_id`` and
``centralita.bypass_rls``), where row-level security policies enforce it a second time.
"""

import uuid
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria

from centralita.db.base import TenantScoped

TENANT_KEY = "centralita.tenant_id"
SYSTEM_KEY = "centralita.system"
TENANT_GUC = "centralita.tenant_id"
BYPASS_GUC = "centralita.bypass_rls"
APPLIED_KEY = "centralita.applied_scope"
"""``session.info``: the scope the open transaction's settings carry, so none is sent twice."""


class TenantScopeError(RuntimeError):
    """Tenant-owned data was touched without a tenant (or explicit system) scope."""


def use_tenant_scope_sync(session: AsyncSession | Session, tenant_id: uuid.UUID) -> None:
    info = session.info
    info[TENANT_KEY] = tenant_id
    info[SYSTEM_KEY] = False


def use_system_scope_sync(session: AsyncSession | Session) -> None:
    info = session.info
    info[TENANT_KEY] = None
    info[SYSTEM_KEY] = True


async def use_tenant_scope(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Switch a session to one tenant, also inside an already open transaction."""
    use_tenant_scope_sync(session, tenant_id)
    await _apply_to_open_transaction(session)


async def use_system_scope(session: AsyncSession) -> None:
    use_system_scope_sync(session)
    await _apply_to_open_transaction(session)


async def _apply_to_open_transaction(session: AsyncSession) -> None:
    bind = session.bind
    if session.in_transaction() and bind is not None and bind.dialect.name == "postgresql":
        # A transaction may be open without a connection yet: then taking one begins it, and
        # ``_copy_scope_into_transaction`` already sends the new scope.
        connection = await session.connection()
        if session.info.get(APPLIED_KEY) != _scope(session.info):
            await connection.execute(*_rls_settings_statement(session.info))


def _scope(info: dict[str, Any]) -> tuple[Any, bool]:
    return info.get(TENANT_KEY), bool(info.get(SYSTEM_KEY))


def _rls_settings_statement(info: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    info[APPLIED_KEY] = _scope(info)
    tenant = info.get(TENANT_KEY)
    return (
        text(
            "SELECT set_config(:tenant_guc, :tenant, true), set_config(:bypass_guc, :bypass, true)"
        ),
        {
            "tenant_guc": TENANT_GUC,
            "tenant": str(tenant) if tenant else "",
            "bypass_guc": BYPASS_GUC,
            "bypass": "on" if info.get(SYSTEM_KEY) else "off",
        },
    )


@event.listens_for(Session, "after_begin")
def _copy_scope_into_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    # A savepoint lives inside a transaction that already carries the settings.
    if connection.dialect.name == "postgresql" and not transaction.nested:
        connection.execute(*_rls_settings_statement(session.info))


@event.listens_for(Session, "after_transaction_end")
def _forget_applied_scope(session: Session, transaction: SessionTransaction) -> None:
    # Rolling back to a savepoint undoes the settings made inside it, and a new transaction
    # starts without any: either way the next scope must be sent again.
    session.info.pop(APPLIED_KEY, None)


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantScoped) for mapper in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _filter_to_tenant(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.session.info.get(SYSTEM_KEY):
        return
    tenant_id = state.session.info.get(TENANT_KEY)
    if tenant_id is None:
        if _touches_tenant_data(state):
            raise TenantScopeError("tenant-owned data queried without a tenant scope")
        return
    if state.is_from_statement:
        # A statement given whole names its tenant itself: loader criteria would not change its
        # SQL, only cost a cache key of the whole statement on every run.
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_and_check_tenant(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(SYSTEM_KEY):
        return
    tenant_id = session.info.get(TENANT_KEY)
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        if tenant_id is None:
            raise TenantScopeError("tenant-owned row written without a tenant scope")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantScopeError("row of another tenant written in a tenant-scoped session")
