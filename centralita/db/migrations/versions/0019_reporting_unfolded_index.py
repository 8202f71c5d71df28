"""reporting: a partial index of the facts still to fold, in place of one over every fact

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-07 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reporting_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_reporting_facts_folded')
        batch_op.create_index('ix_reporting_facts_unfolded', ['tenant_id', 'id'], unique=False, sqlite_where=sa.text('NOT folded'), postgresql_where=sa.text('NOT folded'))


def downgrade() -> None:
    with op.batch_alter_table('reporting_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_reporting_facts_unfolded', sqlite_where=sa.text('NOT folded'), postgresql_where=sa.text('NOT folded'))
        batch_op.create_index('ix_reporting_facts_folded', ['tenant_id', 'folded', 'id'], unique=False)
