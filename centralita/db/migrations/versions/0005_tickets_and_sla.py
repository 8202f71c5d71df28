"""tickets and sla

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import centralita.db.base
from centralita.db.rls import enable_tenant_rls

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('business_calendars',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('weekly_hours', sa.JSON(), nullable=False),
    sa.Column('public_holidays', sa.Boolean(), nullable=False),
    sa.Column('closures', sa.JSON(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_business_calendars_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_business_calendars')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_business_calendars_tenant_id_name'))
    )
    op.create_table('teams',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_teams_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_teams')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_teams_tenant_id_name'))
    )
    op.create_table('ticket_categories',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'parent_id'], ['ticket_categories.tenant_id', 'ticket_categories.id'], name=op.f('fk_ticket_categories_tenant_id_parent_id_ticket_categories')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_categories_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_ticket_categories')),
    sa.UniqueConstraint('tenant_id', 'parent_id', 'name', name=op.f('uq_ticket_categories_tenant_id_parent_id_name'))
    )
    op.create_table('ticket_custom_fields',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('label', sa.JSON(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_custom_fields_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_ticket_custom_fields')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_ticket_custom_fields_tenant_id_key'))
    )
    op.create_table('ticket_settings',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('prefix', sa.String(length=10), nullable=False),
    sa.Column('next_number', sa.Integer(), nullable=False),
    sa.Column('priority_matrix', sa.JSON(), nullable=False),
    sa.Column('reopen_days', sa.Integer(), nullable=False),
    sa.CheckConstraint('next_number > 0', name=op.f('ck_ticket_settings_next_number')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_settings_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_ticket_settings'))
    )
    op.create_table('ticket_views',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('owner_user_id', sa.Uuid(), nullable=True),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], name=op.f('fk_ticket_views_owner_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_views_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_ticket_views'))
    )
    op.create_table('sla_policies',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('calendar_id', sa.Uuid(), nullable=True),
    sa.Column('pause_on_pending_customer', sa.Boolean(), nullable=False),
    sa.Column('escalations', sa.JSON(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'calendar_id'], ['business_calendars.tenant_id', 'business_calendars.id'], name=op.f('fk_sla_policies_tenant_id_calendar_id_business_calendars')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sla_policies_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_sla_policies_tenant_id_name'))
    )
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.create_index('ix_sla_policies_position', ['tenant_id', 'position'], unique=False)

    op.create_table('team_members',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'team_id'], ['teams.tenant_id', 'teams.id'], name=op.f('fk_team_members_tenant_id_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_team_members_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_team_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'team_id', 'user_id', name=op.f('pk_team_members'))
    )
    op.create_table('ticket_templates',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=True),
    sa.Column('category_id', sa.Uuid(), nullable=True),
    sa.Column('impact', sa.String(length=10), nullable=True),
    sa.Column('urgency', sa.String(length=10), nullable=True),
    sa.Column('subject', sa.JSON(), nullable=False),
    sa.Column('custom_fields', sa.JSON(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('macros', sa.JSON(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'category_id'], ['ticket_categories.tenant_id', 'ticket_categories.id'], name=op.f('fk_ticket_templates_tenant_id_category_id_ticket_categories')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_templates_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_ticket_templates')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_ticket_templates_tenant_id_name'))
    )
    op.create_table('tickets',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('requester_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('assignee_user_id', sa.Uuid(), nullable=True),
    sa.Column('category_id', sa.Uuid(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('custom_fields', sa.JSON(), nullable=False),
    sa.Column('impact', sa.String(length=10), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('priority', sa.String(length=2), nullable=False),
    sa.Column('priority_overridden', sa.Boolean(), nullable=False),
    sa.Column('is_major', sa.Boolean(), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('merged_into_id', sa.Uuid(), nullable=True),
    sa.Column('first_responded_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status_changed_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('sla_due_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sla_breached', sa.Boolean(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_user_id'], ['users.id'], name=op.f('fk_tickets_assignee_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id', 'category_id'], ['ticket_categories.tenant_id', 'ticket_categories.id'], name=op.f('fk_tickets_tenant_id_category_id_ticket_categories')),
    sa.ForeignKeyConstraint(['tenant_id', 'merged_into_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_tickets_tenant_id_merged_into_id_tickets')),
    sa.ForeignKeyConstraint(['tenant_id', 'parent_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_tickets_tenant_id_parent_id_tickets')),
    sa.ForeignKeyConstraint(['tenant_id', 'requester_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_tickets_tenant_id_requester_id_customers')),
    sa.ForeignKeyConstraint(['tenant_id', 'team_id'], ['teams.tenant_id', 'teams.id'], name=op.f('fk_tickets_tenant_id_team_id_teams')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tickets_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('tenant_id', 'number', name=op.f('uq_tickets_tenant_id_number'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_assignee_status', ['tenant_id', 'assignee_user_id', 'status'], unique=False)
        batch_op.create_index('ix_tickets_parent', ['tenant_id', 'parent_id'], unique=False)
        batch_op.create_index('ix_tickets_requester', ['tenant_id', 'requester_id'], unique=False)
        batch_op.create_index('ix_tickets_sla_breached', ['tenant_id', 'sla_breached', 'updated_at', 'id'], unique=False)
        batch_op.create_index('ix_tickets_sla_due', ['tenant_id', 'status', 'sla_due_at', 'id'], unique=False)
        batch_op.create_index('ix_tickets_status_priority', ['tenant_id', 'status', 'priority'], unique=False)
        batch_op.create_index('ix_tickets_team_status', ['tenant_id', 'team_id', 'status'], unique=False)
        batch_op.create_index('ix_tickets_updated', ['tenant_id', 'updated_at'], unique=False)

    op.create_table('sla_targets',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('target_minutes', sa.Integer(), nullable=False),
    sa.Column('started_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paused_seconds', sa.Integer(), nullable=False),
    sa.Column('paused_since', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('achieved_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('breached_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalations_fired', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'policy_id'], ['sla_policies.tenant_id', 'sla_policies.id'], name=op.f('fk_sla_targets_tenant_id_policy_id_sla_policies')),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_sla_targets_tenant_id_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sla_targets_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_sla_targets'))
    )
    with op.batch_alter_table('sla_targets', schema=None) as batch_op:
        batch_op.create_index('ix_sla_targets_id', ['id'], unique=False)
        batch_op.create_index('ix_sla_targets_status_due', ['tenant_id', 'status', 'due_at'], unique=False)
        batch_op.create_index('ix_sla_targets_ticket', ['tenant_id', 'ticket_id', 'kind'], unique=False)

    op.create_table('ticket_followers',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_ticket_followers_tenant_id_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_followers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ticket_followers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'ticket_id', 'user_id', name=op.f('pk_ticket_followers'))
    )
    op.create_table('ticket_links',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('other_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('ticket_id < other_id', name=op.f('ck_ticket_links_ordered')),
    sa.ForeignKeyConstraint(['tenant_id', 'other_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_ticket_links_tenant_id_other_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_ticket_links_tenant_id_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_links_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'ticket_id', 'other_id', name=op.f('pk_ticket_links'))
    )
    with op.batch_alter_table('ticket_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_links_other_id'), ['other_id'], unique=False)

    op.create_table('ticket_messages',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('author_user_id', sa.Uuid(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_user_id'], ['users.id'], name=op.f('fk_ticket_messages_author_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_ticket_messages_tenant_id_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_messages_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_ticket_messages'))
    )
    with op.batch_alter_table('ticket_messages', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_messages_ticket_created', ['tenant_id', 'ticket_id', 'created_at'], unique=False)

    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ticket_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_interactions_tenant_id_ticket_id_tickets'), 'tickets', ['tenant_id', 'ticket_id'], ['tenant_id', 'id'])
        batch_op.create_index('ix_interactions_ticket', ['tenant_id', 'ticket_id'], unique=False)
    enable_tenant_rls(
        "ticket_settings", "teams", "team_members", "ticket_categories", "ticket_custom_fields",
        "tickets", "ticket_messages", "ticket_followers", "ticket_links", "ticket_templates",
        "ticket_views", "business_calendars", "sla_policies", "sla_targets",
    )


def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_ticket')
        batch_op.drop_constraint(batch_op.f('fk_interactions_tenant_id_ticket_id_tickets'), type_='foreignkey')
        batch_op.drop_column('ticket_id')

    with op.batch_alter_table('ticket_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_messages_ticket_created')

    op.drop_table('ticket_messages')
    with op.batch_alter_table('ticket_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_links_other_id'))

    op.drop_table('ticket_links')
    op.drop_table('ticket_followers')
    with op.batch_alter_table('sla_targets', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_targets_id')
        batch_op.drop_index('ix_sla_targets_ticket')
        batch_op.drop_index('ix_sla_targets_status_due')

    op.drop_table('sla_targets')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_updated')
        batch_op.drop_index('ix_tickets_team_status')
        batch_op.drop_index('ix_tickets_status_priority')
        batch_op.drop_index('ix_tickets_sla_due')
        batch_op.drop_index('ix_tickets_sla_breached')
        batch_op.drop_index('ix_tickets_requester')
        batch_op.drop_index('ix_tickets_parent')
        batch_op.drop_index('ix_tickets_assignee_status')

    op.drop_table('tickets')
    op.drop_table('ticket_templates')
    op.drop_table('team_members')
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_policies_position')

    op.drop_table('sla_policies')
    op.drop_table('ticket_views')
    op.drop_table('ticket_settings')
    op.drop_table('ticket_custom_fields')
    op.drop_table('ticket_categories')
    op.drop_table('teams')
    op.drop_table('business_calendars')
