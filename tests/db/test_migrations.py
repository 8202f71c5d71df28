"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from centralita.all_models import metadata
from centralita.db.engine import Database


async def test_migrations_match_models(db: Database) -> None:
    def _diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_diff)

    assert differences == []
