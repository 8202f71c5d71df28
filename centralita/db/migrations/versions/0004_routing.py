"""routing

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import centralita.db.base
from centralita.db.rls import enable_tenant_rls

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('ref_id', sa.Uuid(), nullable=True),
    sa.Column('due_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_kind_due', ['kind', 'due_at'], unique=False)
        batch_op.create_index('ix_jobs_kind_ref', ['kind', 'ref_id'], unique=False)

    op.create_table('agent_profiles',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('presence', sa.String(length=10), nullable=False),
    sa.Column('presence_reason', sa.String(length=50), nullable=True),
    sa.Column('presence_changed_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('occupancy_cap', sa.Double(), nullable=False),
    sa.Column('wrap_up_seconds', sa.Integer(), nullable=False),
    sa.Column('capacity_voice', sa.SmallInteger(), nullable=False),
    sa.Column('capacity_chat', sa.SmallInteger(), nullable=False),
    sa.Column('capacity_email', sa.SmallInteger(), nullable=False),
    sa.Column('capacity_sms', sa.SmallInteger(), nullable=False),
    sa.Column('capacity_task', sa.SmallInteger(), nullable=False),
    sa.Column('load_voice', sa.SmallInteger(), nullable=False),
    sa.Column('load_chat', sa.SmallInteger(), nullable=False),
    sa.Column('load_email', sa.SmallInteger(), nullable=False),
    sa.Column('load_sms', sa.SmallInteger(), nullable=False),
    sa.Column('load_task', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity_voice BETWEEN 0 AND 1', name=op.f('ck_agent_profiles_voice_single')),
    sa.CheckConstraint('load_chat >= 0 AND load_chat <= capacity_chat', name=op.f('ck_agent_profiles_chat')),
    sa.CheckConstraint('load_email >= 0 AND load_email <= capacity_email', name=op.f('ck_agent_profiles_email')),
    sa.CheckConstraint('load_sms >= 0 AND load_sms <= capacity_sms', name=op.f('ck_agent_profiles_sms')),
    sa.CheckConstraint('load_task >= 0 AND load_task <= capacity_task', name=op.f('ck_agent_profiles_task')),
    sa.CheckConstraint('load_voice = 0 OR load_chat + load_email + load_sms + load_task = 0', name=op.f('ck_agent_profiles_voice_exclusive')),
    sa.CheckConstraint('load_voice >= 0 AND load_voice <= capacity_voice', name=op.f('ck_agent_profiles_voice')),
    sa.CheckConstraint('occupancy_cap > 0 AND occupancy_cap <= 1', name=op.f('ck_agent_profiles_occupancy')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_agent_profiles'))
    )
    op.create_table('queues',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('sl_target_percent', sa.SmallInteger(), nullable=False),
    sa.Column('sl_threshold_seconds', sa.Integer(), nullable=False),
    sa.Column('overflow', sa.JSON(), nullable=False),
    sa.Column('offer_timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('auto_accept', sa.Boolean(), nullable=False),
    sa.Column('callback_threshold_seconds', sa.Integer(), nullable=True),
    sa.Column('business_hours', sa.JSON(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('offer_timeout_seconds > 0', name=op.f('ck_queues_offer_timeout_seconds')),
    sa.CheckConstraint('sl_target_percent BETWEEN 1 AND 100', name=op.f('ck_queues_sl_target_percent')),
    sa.CheckConstraint('sl_threshold_seconds > 0', name=op.f('ck_queues_sl_threshold_seconds')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_queues_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_queues')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_queues_tenant_id_name'))
    )
    op.create_table('skills',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_skills_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_skills')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_skills_tenant_id_name'))
    )
    op.create_table('agent_skills',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('skill_id', sa.Uuid(), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.CheckConstraint('level BETWEEN 1 AND 5', name=op.f('ck_agent_skills_level')),
    sa.ForeignKeyConstraint(['tenant_id', 'skill_id'], ['skills.tenant_id', 'skills.id'], name=op.f('fk_agent_skills_tenant_id_skill_id_skills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_agent_skills_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_skills_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'user_id', 'skill_id', name=op.f('pk_agent_skills'))
    )
    with op.batch_alter_table('agent_skills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_skills_user_id'), ['user_id'], unique=False)

    op.create_table('queue_skills',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('queue_id', sa.Uuid(), nullable=False),
    sa.Column('skill_id', sa.Uuid(), nullable=False),
    sa.Column('min_level', sa.SmallInteger(), nullable=False),
    sa.CheckConstraint('min_level BETWEEN 1 AND 5', name=op.f('ck_queue_skills_min_level')),
    sa.ForeignKeyConstraint(['tenant_id', 'queue_id'], ['queues.tenant_id', 'queues.id'], name=op.f('fk_queue_skills_tenant_id_queue_id_queues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'skill_id'], ['skills.tenant_id', 'skills.id'], name=op.f('fk_queue_skills_tenant_id_skill_id_skills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_queue_skills_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'queue_id', 'skill_id', name=op.f('pk_queue_skills'))
    )
    op.create_table('assignments',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('interaction_id', sa.Uuid(), nullable=False),
    sa.Column('agent_user_id', sa.Uuid(), nullable=False),
    sa.Column('queue_id', sa.Uuid(), nullable=True),
    sa.Column('load', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('offered_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', centralita.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_user_id'], ['users.id'], name=op.f('fk_assignments_agent_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'interaction_id'], ['interactions.tenant_id', 'interactions.id'], name=op.f('fk_assignments_tenant_id_interaction_id_interactions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_assignments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_assignments'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_live_agent', ['agent_user_id'], unique=False, sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))
        batch_op.create_index('ix_assignments_tenant_offered', ['tenant_id', 'offered_at'], unique=False)
        batch_op.create_index('ux_assignments_live_interaction', ['tenant_id', 'interaction_id'], unique=True, sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))
    enable_tenant_rls("skills", "queues", "queue_skills", "agent_skills", "assignments")


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ux_assignments_live_interaction', sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))
        batch_op.drop_index('ix_assignments_tenant_offered')
        batch_op.drop_index('ix_assignments_live_agent', sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))

    op.drop_table('assignments')
    op.drop_table('queue_skills')
    with op.batch_alter_table('agent_skills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_skills_user_id'))

    op.drop_table('agent_skills')
    op.drop_table('skills')
    op.drop_table('queues')
    op.drop_table('agent_profiles')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_kind_ref')
        batch_op.drop_index('ix_jobs_kind_due')

    op.drop_table('jobs')
