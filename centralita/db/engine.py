"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from centralita.db import scoping

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_RECYCLE_S = 1800


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and ``BEGIN IMMEDIATE``.

    pysqlite begins transactions lazily and a read lock upgraded to a write lock fails at once
    with "database is locked" when another connection writes; taking the write lock at BEGIN makes
    concurrent transactions wait (up to the busy timeout) instead of failing.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
        _prepare_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per request; a connection the server dropped is
    # discarded on its first error, and recycling keeps them from going stale behind proxies.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=POOL_RECYCLE_S,
        # Names the process in pg_stat_activity, so an operator (or a test) can tell which
        # process holds the routing lock.
        connect_args={"server_settings": {"application_name": f"centralita-{os.getpid()}"}},
    )


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    def system_session(self) -> AsyncSession:
        """A session that may see every tenant: for platform work (login, demo, the engine)."""
        session = self.sessionmaker()
        scoping.use_system_scope_sync(session)
        return session

    def tenant_session(self, tenant_id: Any) -> AsyncSession:
        session = self.sessionmaker()
        scoping.use_tenant_scope_sync(session, tenant_id)
        return session

    async def dispose(self) -> None:
        await self.engine.dispose()


def open_database(url: str, pool_size: int = 10) -> Database:
    engine = create_engine(url, pool_size)
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False))
