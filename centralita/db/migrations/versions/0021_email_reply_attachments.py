"""email: agents' reply attachments, stored with their interaction message before sending

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("email_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_ref", sa.Uuid(), nullable=True))
        batch_op.alter_column("email_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_email_attachments_tenant_id_message_ref_interaction_messages"),
            "interaction_messages",
            ["tenant_id", "message_ref"],
            ["tenant_id", "id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_email_attachments_message", ["tenant_id", "message_ref"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM email_attachments WHERE email_id IS NULL")
    with op.batch_alter_table("email_attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_email_attachments_message")
        batch_op.drop_constraint(
            batch_op.f("fk_email_attachments_tenant_id_message_ref_interaction_messages"),
            type_="foreignkey",
        )
        batch_op.alter_column("email_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("message_ref")
