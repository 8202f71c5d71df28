"""A flush of new rows in one statement on PostgreSQL, for hot paths that only insert.

A unit-of-work flush writes one statement per table and keeps bookkeeping per object; for a
request that creates half a dozen rows in four tables, that costs more CPU than the database spends
on them. :func:`flush_inserts` writes the same rows in one statement (a data-modifying CTE per row,
whose foreign keys PostgreSQL checks at the end of the statement, when every row exists) and then
attaches the objects to the session as if a flush had written them. The listeners a flush runs
first (tenant stamping and checks, the recording of emitted events) run here too, so what is
written is exactly what a flush would write; anything this does not cover is an ordinary flush.
"""

import functools
from typing import Any, cast

from sqlalchemy import (
    CTE,
    Column,
    ColumnDefault,
    ColumnElement,
    Executable,
    Table,
    bindparam,
    insert,
    inspect,
    literal,
)
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.unitofwork import UOWTransaction

from centralita.db.queued_rows import take_queued

# Statement shapes are few (one per code path that uses this); the bound keeps a bug from growing.
MAX_SHAPES = 256


def _plain(mapper: Mapper[Any]) -> bool:
    """One table, no relationships or insert hooks: a row is just its column values."""
    return (
        isinstance(mapper.local_table, Table)
        and mapper.inherits is None
        and not mapper.relationships
        and mapper.version_id_col is None
        and not mapper.dispatch.before_insert
        and not mapper.dispatch.after_insert
    )


@functools.cache
def _columns(mapper: Mapper[Any]) -> tuple[tuple[str, Column[Any]], ...]:
    """Attribute name and column of every column the INSERT names (generated keys aside)."""
    table = cast(Table, mapper.local_table)
    return tuple(
        (mapper.get_property_by_column(column).key, column)
        for column in table.columns
        if column is not table.autoincrement_column
    )


def value_or_default(obj: object, key: str, column: Column[Any]) -> Any:
    """What a flush would write: the value set, else the column's Python-side default."""
    value = getattr(obj, key)
    default = column.default
    if value is not None or not isinstance(default, ColumnDefault):
        return value
    return default.arg(None) if default.is_callable else default.arg


@functools.lru_cache(maxsize=MAX_SHAPES)
def _statement(tables: tuple[Table, ...]) -> Executable:
    """One INSERT per row as a CTE; the statement returns the generated keys, in row order.

    Built once per shape (statement construction costs more CPU than running it); row ``i``'s
    values are bound as ``r{i}_{column}``."""
    rows: list[CTE] = []
    generated: list[ColumnElement[Any]] = []
    for i, table in enumerate(tables):
        key = table.autoincrement_column
        row = insert(table).values(
            {
                column.key: bindparam(f"r{i}_{column.key}", type_=column.type)
                for column in table.columns
                if column is not key
            }
        )
        if key is not None:
            row = row.returning(key)
        cte = row.cte(f"new_row_{i}")
        rows.append(cte)
        if key is not None:
            generated.append(sql_select(cte.c[key.key]).scalar_subquery())
    return sql_select(*generated or [literal(1)]).add_cte(*rows)


async def flush_inserts(session: AsyncSession) -> None:
    """``session.flush()``, in one statement on PostgreSQL when every change is a new row."""
    sync = session.sync_session
    if session.get_bind().dialect.name != "postgresql" or sync.dirty or sync.deleted:
        await session.flush()
        return
    # What a flush runs first, so both ways write the same rows.
    sync.dispatch.before_flush(sync, UOWTransaction(sync), None)
    new = list(sync.new)
    if not new:
        return
    mappers = [inspect(obj).mapper for obj in new]
    if not all(_plain(mapper) for mapper in mappers):
        await session.flush()
        return
    params: dict[str, Any] = {}
    for i, (obj, mapper) in enumerate(zip(new, mappers, strict=True)):
        for key, column in _columns(mapper):
            value = value_or_default(obj, key, column)
            if value is None and (column.server_default or column.type.should_evaluate_none):
                # The database fills it in (a flush reads it back), or a flush would leave the
                # column out (SQL NULL) where binding None would write JSON null.
                await session.flush()
                return
            setattr(obj, key, value)
            params[f"r{i}_{column.key}"] = value
    tables = [cast(Table, mapper.local_table) for mapper in mappers]
    # Rows queued on the session (reporting facts) go in the same statement, after the objects
    # they may refer to, as an ordinary flush would write them just after its own.
    for model, rows in take_queued(sync).items():
        for row in rows:
            i = len(tables)
            tables.append(model.__table__)
            params.update({f"r{i}_{key}": value for key, value in row.items()})
    connection = await session.connection()
    keys = iter((await connection.execute(_statement(tuple(tables)), params)).one())
    for obj, mapper in zip(new, mappers, strict=True):
        generated = cast(Table, mapper.local_table).autoincrement_column
        if generated is not None:
            setattr(obj, mapper.get_property_by_column(generated).key, next(keys))
    # What a flush does last: the rows become persistent and unchanged (commit writes nothing),
    # and written in this transaction, so a rollback forgets them as it forgets flushed rows.
    sync._register_persistent({inspect(obj) for obj in new})
