"""nlu: training runs, trained off the request path with their progress

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import centralita.db.base
from centralita.db.rls import enable_tenant_rls

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('nlu_training_runs',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=False),
    sa.Column('embeddings', sa.Boolean(), nullable=False),
    sa.Column('step', sa.String(length=30), nullable=True),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('heartbeat_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_nlu_training_runs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_nlu_training_runs'))
    )
    enable_tenant_rls('nlu_training_runs')


def downgrade() -> None:
    op.drop_table('nlu_training_runs')
