"""nlu: training examples, model versions, skills of intent routes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:57:51.079953
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import centralita.db.base
from centralita.db.rls import enable_tenant_rls

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('nlu_examples',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('intent', sa.String(length=100), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_nlu_examples_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_nlu_examples'))
    )
    with op.batch_alter_table('nlu_examples', schema=None) as batch_op:
        batch_op.create_index('ix_nlu_examples_tenant_id_intent', ['tenant_id', 'intent'], unique=False)

    op.create_table('nlu_models',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('blob', sa.LargeBinary(), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=False),
    sa.Column('embeddings', sa.Boolean(), nullable=False),
    sa.Column('n_examples', sa.Integer(), nullable=False),
    sa.Column('examples_by_intent', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('train_seconds', sa.Double(), nullable=False),
    sa.Column('trained_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_nlu_models_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_nlu_models')),
    sa.UniqueConstraint('tenant_id', 'version', name=op.f('uq_nlu_models_tenant_id_version'))
    )
    with op.batch_alter_table('nlu_intent_routes', schema=None) as batch_op:
        # Routes made before skills existed need none.
        batch_op.add_column(
            sa.Column('skills', sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    enable_tenant_rls('nlu_examples', 'nlu_models')


def downgrade() -> None:
    with op.batch_alter_table('nlu_intent_routes', schema=None) as batch_op:
        batch_op.drop_column('skills')

    op.drop_table('nlu_models')
    with op.batch_alter_table('nlu_examples', schema=None) as batch_op:
        batch_op.drop_index('ix_nlu_examples_tenant_id_intent')

    op.drop_table('nlu_examples')
