"""knowledge: search reads its postings and its article count from indexes alone

Postings are stored in term order with every column a search reads: SQLite rebuilds the table
``WITHOUT ROWID`` (rows kept in primary-key order, so one term's postings are read together);
PostgreSQL's primary key includes the other columns, so a search is an index-only scan. Rows are
kept as they are. Articles get an index by language and state, for the count of published
articles that rarity is computed from.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIMARY_KEY = "pk_knowledge_postings"
KEY = "tenant_id, term, article_id"


def _rebuild_sqlite_postings(with_rowid: bool) -> None:
    with op.batch_alter_table(
        "knowledge_postings", recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
    ):
        pass


def upgrade() -> None:
    op.create_index(
        "ix_knowledge_articles_locale_state",
        "knowledge_articles",
        ["tenant_id", "locale", "state"],
        unique=False,
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_postings(with_rowid=False)
        return
    op.execute(
        f"ALTER TABLE knowledge_postings DROP CONSTRAINT {PRIMARY_KEY}, "
        f"ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY ({KEY}) "
        "INCLUDE (locale, is_public, category_id, weight)"
    )


def downgrade() -> None:
    op.drop_index("ix_knowledge_articles_locale_state", table_name="knowledge_articles")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_postings(with_rowid=True)
        return
    op.execute(
        f"ALTER TABLE knowledge_postings DROP CONSTRAINT {PRIMARY_KEY}, "
        f"ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY ({KEY})"
    )
