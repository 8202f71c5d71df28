"""The routing runner: the one process that feeds the engine and writes its decisions.

Exactly one process routes at a time. On PostgreSQL it is the one holding an advisory lock on a
connection of its own; the others keep trying, so when the leader dies (its connection and lock
go with it) another takes over within ``LEADERSHIP_RETRY_SECONDS`` and routes the waiting work.
SQLite serves one process, which is always the leader.

The engine's memory is a cache of the database: it is rebuilt from the tables when a process
becomes leader, and kept current by routing jobs (``JobKind.ROUTING_*``) that every change to an
interaction, agent or queue schedules in its own transaction. Each loop claims the due jobs,
reconciles the engine with the rows they name, lets the engine decide (and run its timers), and
writes every decision in that same transaction through ``routing.work``, where the database's
constraints have the last word. A decision the database refuses is withdrawn from the engine and
the rows involved are read again a moment later. If a loop fails as a whole, the engine is thrown
away and rebuilt: nothing the engine believes is ever more than a rebuild away from the truth.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from centralita.db.engine import Database, is_sqlite
from centralita.db.scoping import use_tenant_scope
from centralita.errors import Conflict
from centralita.events.bus import Event, emit, supervisors_topic
from centralita.jobs.models import JobKind
from centralita.jobs.service import claim_due, schedule
from centralita.routing.engine import Clock, Decision, Engine, RoutingError
from centralita.routing.loading import EngineSession, Routing, StaleDecision
from centralita.routing.stats import queue_statistics
from centralita.tenancy.service import list_tenants

logger = logging.getLogger(__name__)

# Any constant shared by every process serves as the lock key.
ADVISORY_LOCK_KEY = 0x63656E7472616C  # "central"
LEADERSHIP_RETRY_SECONDS = 2.0
LOOP_SECONDS = 0.1
JOBS_PER_LOOP = 500
RESYNC_DELAY = timedelta(seconds=1)
STATS_EVERY_SECONDS = 2.0
ROUTING_JOBS = (JobKind.ROUTING_WORK, JobKind.ROUTING_AGENT, JobKind.ROUTING_QUEUE)


def to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Leadership:
    """The PostgreSQL advisory lock that makes one process the router."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if is_sqlite(str(self._db.engine.url)):
            return True
        connection = await self._db.engine.connect()
        try:
            locked = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
            await connection.commit()
        except BaseException:
            await connection.close()
            raise
        if not locked:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def still_held(self) -> bool:
        """Whether the lock's connection is alive; if it died, so did the lock."""
        if self._connection is None:
            return True
        try:
            await self._connection.execute(text("SELECT 1"))
            await self._connection.commit()
        except (OSError, SQLAlchemyError):
            logger.warning("routing: lost the leadership connection")
            return False
        return True

    async def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None


class RoutingRunner:
    def __init__(self, db: Database, clock: Clock = time.time) -> None:
        self.db = db
        self.clock = clock
        self.routing: Routing | None = None
        self.leading = asyncio.Event()
        self._last_stats = 0.0

    async def run(self) -> None:
        """Route while leader; wait for the leadership otherwise. Runs until cancelled."""
        leadership = Leadership(self.db)
        while True:
            try:
                if await leadership.acquire():
                    logger.info("routing: this process is the router")
                    await self._lead(leadership)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("routing: the router failed; starting again")
            finally:
                self.leading.clear()
                self.routing = None
                await leadership.release()
            await asyncio.sleep(LEADERSHIP_RETRY_SECONDS)

    async def _lead(self, leadership: Leadership) -> None:
        await self.rebuild()
        self.leading.set()
        next_statistics = 0.0
        while await leadership.still_held():
            try:
                await self.step()
            except Exception:
                logger.exception("routing: a routing step failed; rebuilding from the database")
                await self.rebuild()
            if time.monotonic() >= next_statistics:
                await self.publish_statistics()
                next_statistics = time.monotonic() + STATS_EVERY_SECONDS
            await asyncio.sleep(LOOP_SECONDS)

    async def publish_statistics(self) -> None:
        """Every tenant's queue statistics to its supervisors' screens, wherever they are served."""
        async with self.db.system_session() as session:
            for tenant in await list_tenants(session):
                await use_tenant_scope(session, tenant.id)
                queues = await queue_statistics(session, tenant)
                if not queues:
                    continue
                emit(
                    session,
                    Event(
                        type="queue.stats_updated",
                        tenant=tenant.id,
                        data={"queues": [queue.model_dump(mode="json") for queue in queues]},
                        recipients=(supervisors_topic(tenant.id),),
                    ),
                )
            await session.commit()

    async def rebuild(self) -> None:
        self.routing = Routing(Engine(self.clock))
        async with self.db.system_session() as session:
            loaded = EngineSession(session, self.routing)
            await self._persist(loaded, await loaded.load_everything())
            await session.commit()

    async def step(self) -> None:
        """One loop: reconcile what changed, run due timers, write the decisions."""
        assert self.routing is not None
        async with self.db.system_session() as session:
            loaded = EngineSession(session, self.routing)
            decisions: list[Decision] = []
            for job in await claim_due(session, ROUTING_JOBS, limit=JOBS_PER_LOOP):
                if job.ref_id is None:
                    continue
                decisions += await loaded.reconcile(JobKind(job.kind), job.ref_id)
            decisions += loaded.engine.tick()
            await self._persist(loaded, decisions)
            await session.commit()

    async def _persist(self, loaded: EngineSession, decisions: list[Decision]) -> None:
        pending = deque(decisions)
        while pending:
            decision = pending.popleft()
            try:
                async with loaded.session.begin_nested():
                    await loaded.write(decision)
            except (Conflict, RoutingError, StaleDecision) as refused:
                logger.info("routing: %s refused (%s); reading it again", decision.kind, refused)
                pending.extend(self._forget(loaded, decision))

    def _forget(self, loaded: EngineSession, decision: Decision) -> list[Decision]:
        """Undo a refused decision in memory and have its rows read again shortly."""
        due = to_datetime(self.clock()) + RESYNC_DELAY
        session = loaded.session
        schedule(session, JobKind.ROUTING_AGENT, ref_id=decision.agent_id, due_at=due)
        if decision.work_id is None:
            return []
        schedule(
            session,
            JobKind.ROUTING_WORK,
            ref_id=decision.work_id,
            due_at=due,
        )
        try:
            return loaded.engine.withdraw(decision.work_id)
        except RoutingError:
            return []
