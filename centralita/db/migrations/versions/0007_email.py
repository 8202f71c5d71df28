"""email messages and attachments; undeliverable email identities

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:57:13.164782
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import centralita.db.base
from centralita.db.rls import enable_tenant_rls

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('email_messages',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('counterpart', sa.String(length=320), nullable=False),
    sa.Column('counterpart_name', sa.String(length=200), nullable=True),
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=True),
    sa.Column('interaction_id', sa.Uuid(), nullable=True),
    sa.Column('message_ref', sa.Uuid(), nullable=True),
    sa.Column('visible_text', sa.Text(), nullable=False),
    sa.Column('full_text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('sent_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'interaction_id'], ['interactions.tenant_id', 'interactions.id'], name=op.f('fk_email_messages_tenant_id_interaction_id_interactions')),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_email_messages_tenant_id_ticket_id_tickets')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_email_messages_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_email_messages')),
    sa.UniqueConstraint('tenant_id', 'direction', 'message_id', name=op.f('uq_email_messages_tenant_id_direction_message_id'))
    )
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.create_index('ix_email_messages_counterpart', ['tenant_id', 'counterpart', 'created_at'], unique=False)
        batch_op.create_index('ix_email_messages_message_id', ['tenant_id', 'message_id'], unique=False)
        batch_op.create_index('ix_email_messages_status', ['tenant_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_email_messages_ticket', ['tenant_id', 'ticket_id', 'created_at'], unique=False)

    op.create_table('email_attachments',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email_id', sa.Uuid(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('content_id', sa.String(length=300), nullable=True),
    sa.Column('inline', sa.Boolean(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'email_id'], ['email_messages.tenant_id', 'email_messages.id'], name=op.f('fk_email_attachments_tenant_id_email_id_email_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_email_attachments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_email_attachments'))
    )
    with op.batch_alter_table('email_attachments', schema=None) as batch_op:
        batch_op.create_index('ix_email_attachments_email', ['tenant_id', 'email_id'], unique=False)

    with op.batch_alter_table('customer_identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('undeliverable_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('undeliverable_reason', sa.String(length=300), nullable=True))
    enable_tenant_rls('email_messages', 'email_attachments')



def downgrade() -> None:
    with op.batch_alter_table('customer_identities', schema=None) as batch_op:
        batch_op.drop_column('undeliverable_reason')
        batch_op.drop_column('undeliverable_at')

    with op.batch_alter_table('email_attachments', schema=None) as batch_op:
        batch_op.drop_index('ix_email_attachments_email')

    op.drop_table('email_attachments')
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_ticket')
        batch_op.drop_index('ix_email_messages_status')
        batch_op.drop_index('ix_email_messages_message_id')
        batch_op.drop_index('ix_email_messages_counterpart')

    op.drop_table('email_messages')
