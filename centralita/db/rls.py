"""Row-level security on PostgreSQL: the second wall behind the session's tenant filter.

Every tenant-owned table gets a policy that shows and accepts only rows of the transaction's tenant
(``centralita.tenant_id``), unless the transaction declared system scope. ``FORCE`` applies it to
the table's owner too, since the application connects as the role that owns the schema.
"""

from alembic import op

POLICY = "tenant_isolation"
CONDITION = (
    "current_setting('centralita.bypass_rls', true) = 'on' "
    "OR tenant_id = NULLIF(current_setting('centralita.tenant_id', true), '')::uuid"
)


def enable_tenant_rls(*tables: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {POLICY} ON {table} USING ({CONDITION}) WITH CHECK ({CONDITION})"
        )
