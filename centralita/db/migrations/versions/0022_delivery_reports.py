"""campaigns: when a campaign finished, and an index of its contacts still to send

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import centralita.db.base

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('queued', 'sending')"


def upgrade() -> None:
    op.add_column(
        'campaigns',
        sa.Column('finished_at', centralita.db.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(
        'ix_campaign_contacts_open',
        'campaign_contacts',
        ['tenant_id', 'campaign_id'],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_campaign_contacts_open',
        table_name='campaign_contacts',
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.drop_column('campaigns', 'finished_at')
