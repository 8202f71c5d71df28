"""ticket search words

Revision ID: 0015
Revises: 0007
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from centralita.db.rls import enable_tenant_rls

revision: str = '0015'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORD_LENGTH = 40


def upgrade() -> None:
    op.create_table('ticket_search_words',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('word', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name=op.f('fk_ticket_search_words_tenant_id_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_search_words_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'word', 'ticket_id', name=op.f('pk_ticket_search_words'))
    )
    op.create_index('ix_ticket_search_words_ticket', 'ticket_search_words', ['tenant_id', 'ticket_id'], unique=False)
    enable_tenant_rls('ticket_search_words')
    _index_existing_tickets()
    op.drop_column('tickets', 'search_text')


def _index_existing_tickets() -> None:
    """Words of the tickets already there, from the folded text search used until now."""
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        bind.execute(sa.text("SET LOCAL centralita.bypass_rls = 'on'"))
    tickets = bind.execute(sa.text('SELECT tenant_id, id, search_text FROM tickets'))
    words = sa.table('ticket_search_words', sa.column('tenant_id', sa.Uuid()),
                     sa.column('word'), sa.column('ticket_id', sa.Uuid()))
    rows = [
        {'tenant_id': tenant_id, 'word': word, 'ticket_id': ticket_id}
        for tenant_id, ticket_id, text in tickets
        for word in dict.fromkeys(w[:WORD_LENGTH] for w in re.findall(r'\w+', text))
    ]
    if rows:
        op.bulk_insert(words, rows)


def downgrade() -> None:
    op.add_column('tickets', sa.Column('search_text', sa.Text(), nullable=False, server_default=''))
    op.drop_index('ix_ticket_search_words_ticket', table_name='ticket_search_words')
    op.drop_table('ticket_search_words')
