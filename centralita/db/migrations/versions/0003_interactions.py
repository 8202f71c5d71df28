"""interactions

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import centralita.db.base
from centralita.db.rls import enable_tenant_rls

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('interactions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('queue', sa.String(length=100), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('topic', sa.String(length=100), nullable=True),
    sa.Column('self_service_context', sa.JSON(), nullable=False),
    sa.Column('queued_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('offered_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wrap_up_ended_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('agent_user_id', sa.Uuid(), nullable=True),
    sa.Column('disposition', sa.String(length=100), nullable=True),
    sa.Column('external_ref', sa.String(length=200), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_user_id'], ['users.id'], name=op.f('fk_interactions_agent_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_interactions_tenant_id_customer_id_customers')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_interactions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_interactions')),
    sa.UniqueConstraint('tenant_id', 'channel', 'external_ref', name=op.f('uq_interactions_tenant_id_channel_external_ref'))
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_interactions_customer_created', ['tenant_id', 'customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_interactions_state', ['tenant_id', 'state'], unique=False)

    op.create_table('interaction_messages',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('interaction_id', sa.Uuid(), nullable=False),
    sa.Column('author_kind', sa.String(length=10), nullable=False),
    sa.Column('author_user_id', sa.Uuid(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_user_id'], ['users.id'], name=op.f('fk_interaction_messages_author_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id', 'interaction_id'], ['interactions.tenant_id', 'interactions.id'], name=op.f('fk_interaction_messages_tenant_id_interaction_id_interactions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_interaction_messages_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_interaction_messages'))
    )
    with op.batch_alter_table('interaction_messages', schema=None) as batch_op:
        batch_op.create_index('ix_interaction_messages_interaction_created', ['tenant_id', 'interaction_id', 'created_at'], unique=False)

    enable_tenant_rls("interactions", "interaction_messages")


def downgrade() -> None:
    with op.batch_alter_table('interaction_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_interaction_messages_interaction_created')

    op.drop_table('interaction_messages')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_state')
        batch_op.drop_index('ix_interactions_customer_created')
        batch_op.drop_index('ix_interactions_created')

    op.drop_table('interactions')
