"""channels and intent routes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:47:14.721955
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import centralita.db.base
from centralita.db.rls import enable_tenant_rls

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('channel_addresses',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('queue', sa.String(length=100), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_channel_addresses_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_channel_addresses')),
    sa.UniqueConstraint('channel', 'address', name=op.f('uq_channel_addresses_channel_address'))
    )
    op.create_table('nlu_intent_routes',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('intent', sa.String(length=100), nullable=False),
    sa.Column('queue', sa.String(length=100), nullable=True),
    sa.Column('self_service', sa.String(length=100), nullable=True),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_nlu_intent_routes_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_nlu_intent_routes')),
    sa.UniqueConstraint('tenant_id', 'intent', name=op.f('uq_nlu_intent_routes_tenant_id_intent'))
    )
    op.create_table('channel_receipts',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('provider_ref', sa.String(length=300), nullable=False),
    sa.Column('interaction_id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'interaction_id'], ['interactions.tenant_id', 'interactions.id'], name=op.f('fk_channel_receipts_tenant_id_interaction_id_interactions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_channel_receipts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'channel', 'provider_ref', name=op.f('pk_channel_receipts'))
    )
    enable_tenant_rls('channel_addresses', 'nlu_intent_routes', 'channel_receipts')


def downgrade() -> None:
    op.drop_table('channel_receipts')
    op.drop_table('nlu_intent_routes')
    op.drop_table('channel_addresses')
