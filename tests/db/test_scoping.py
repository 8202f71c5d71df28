"""Tenant scoping: the session filter everywhere, and row-level security behind it on PostgreSQL."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from centralita.db.engine import Database
from centralita.db.scoping import TenantScopeError, use_tenant_scope
from centralita.events.models import AuditEntry
from centralita.events.service import SYSTEM, record_audit
from tests.conftest import TenantFixture


async def _audit(db: Database, tenant: TenantFixture, action: str) -> None:
    async with db.tenant_session(tenant.id) as session:
        record_audit(session, tenant.id, SYSTEM, action, ("test", "1"))
        await session.commit()


async def test_orm_queries_see_only_the_scoped_tenant(
    db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await _audit(db, tenant_a, "a.thing")
    await _audit(db, tenant_b, "b.thing")

    async with db.tenant_session(tenant_a.id) as session:
        actions = set((await session.execute(select(AuditEntry.action))).scalars())

    assert "a.thing" in actions
    assert "b.thing" not in actions


async def test_unscoped_session_refuses_tenant_data(db: Database) -> None:
    async with db.sessionmaker() as session:
        with pytest.raises(TenantScopeError):
            await session.execute(select(AuditEntry))


async def test_writing_another_tenants_row_is_refused(
    db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    async with db.tenant_session(tenant_a.id) as session:
        record_audit(session, tenant_b.id, SYSTEM, "smuggled", ("test", "1"))
        with pytest.raises(TenantScopeError):
            await session.flush()


async def test_rls_hides_other_tenants_even_from_raw_sql(
    backend: str, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    await _audit(db, tenant_a, "a.raw")
    await _audit(db, tenant_b, "b.raw")

    async with db.tenant_session(tenant_a.id) as session:
        rows = await session.execute(text("SELECT DISTINCT tenant_id FROM audit_log"))
        seen = {row[0] for row in rows}

    assert seen == {tenant_a.id}


async def test_rls_shows_nothing_without_a_scope(backend: str, db: Database) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    async with db.engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM audit_log"))).scalar_one()

    assert count == 0


async def test_rls_rejects_raw_insert_for_another_tenant(
    backend: str, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    async with db.tenant_session(tenant_a.id) as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(
                text(
                    "INSERT INTO audit_log (tenant_id, id, at, actor_label, action, entity_type,"
                    " entity_id) VALUES (:t, gen_random_uuid(), now(), 'x', 'x', 'x', 'x')"
                ),
                {"t": tenant_b.id},
            )


async def test_every_tenant_owned_table_has_rls(backend: str, db: Database) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    async with db.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
                " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
                " WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
            )
        )
        tables = {name: (enabled, forced) for name, enabled, forced in rows}

    assert tables, "no tenant-owned tables found"
    assert {name for name, flags in tables.items() if flags != (True, True)} == set()


async def test_application_role_is_not_a_superuser(backend: str, db: Database) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL roles")
    async with db.engine.connect() as connection:
        superuser, bypass = (
            await connection.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()

    assert (superuser, bypass) == (False, False)


async def test_counting_in_scope_counts_one_tenant(
    db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await _audit(db, tenant_b, "b.count")
    async with db.tenant_session(tenant_a.id) as session:
        count = (
            await session.execute(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "b.count")
            )
        ).scalar_one()

    assert count == 0


async def test_a_scope_undone_by_a_rolled_back_savepoint_is_set_again(
    backend: str, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    await _audit(db, tenant_a, "a.savepoint")
    await _audit(db, tenant_b, "b.savepoint")

    async with db.tenant_session(tenant_a.id) as session:
        await session.execute(text("SELECT 1"))
        savepoint = await session.begin_nested()
        await use_tenant_scope(session, tenant_b.id)
        await savepoint.rollback()
        # Rolling back the savepoint undid its settings: tenant B's must be sent again.
        await use_tenant_scope(session, tenant_b.id)
        rows = await session.execute(text("SELECT DISTINCT tenant_id FROM audit_log"))
        seen = {row[0] for row in rows}

    assert seen == {tenant_b.id}
