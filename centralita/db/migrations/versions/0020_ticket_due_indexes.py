"""tickets: indexes for open tickets by deadline and for due windows; fewer index writes

The index on (tenant, status, sla_due_at, id) gave no order over several statuses, so "open
tickets, nearest deadline first" read and sorted every open ticket: a partial index on the open
tickets gives that order. A due window ("due within the hour", breached or not) reads its range
of (tenant, sla_breached, sla_due_at). The indexes on the parent and on breached tickets become
partial: a ticket without a parent, or never breached, has no entry there, so moving its deadline
(a calendar change moves thousands) writes none.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_TICKETS = sa.text("status IN ('new', 'on_hold', 'open', 'pending_customer', 'pending_third_party')")
HAS_PARENT = sa.text('parent_id IS NOT NULL')
HAS_DEADLINE = sa.text('sla_due_at IS NOT NULL')
BREACHED = sa.text('sla_breached')


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_sla_due')
        batch_op.drop_index('ix_tickets_sla_breached')
        batch_op.drop_index('ix_tickets_parent')
        batch_op.create_index('ix_tickets_open_due', ['tenant_id', 'sla_due_at', 'id'], unique=False, sqlite_where=OPEN_TICKETS, postgresql_where=OPEN_TICKETS)
        batch_op.create_index('ix_tickets_due_window', ['tenant_id', 'sla_breached', 'sla_due_at'], unique=False, sqlite_where=HAS_DEADLINE, postgresql_where=HAS_DEADLINE)
        batch_op.create_index('ix_tickets_breached', ['tenant_id', 'updated_at', 'id'], unique=False, sqlite_where=BREACHED, postgresql_where=BREACHED)
        batch_op.create_index('ix_tickets_parent', ['tenant_id', 'parent_id'], unique=False, sqlite_where=HAS_PARENT, postgresql_where=HAS_PARENT)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_parent', sqlite_where=HAS_PARENT, postgresql_where=HAS_PARENT)
        batch_op.drop_index('ix_tickets_breached', sqlite_where=BREACHED, postgresql_where=BREACHED)
        batch_op.drop_index('ix_tickets_due_window', sqlite_where=HAS_DEADLINE, postgresql_where=HAS_DEADLINE)
        batch_op.drop_index('ix_tickets_open_due', sqlite_where=OPEN_TICKETS, postgresql_where=OPEN_TICKETS)
        batch_op.create_index('ix_tickets_parent', ['tenant_id', 'parent_id'], unique=False)
        batch_op.create_index('ix_tickets_sla_breached', ['tenant_id', 'sla_breached', 'updated_at', 'id'], unique=False)
        batch_op.create_index('ix_tickets_sla_due', ['tenant_id', 'status', 'sla_due_at', 'id'], unique=False)
