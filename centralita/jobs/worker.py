"""The durable-job worker: claims due jobs of the kinds it has handlers for and runs them.

Every process runs one; any number may run at once. A batch of jobs is claimed (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so each job goes to one worker), each handler runs in a savepoint of the
claiming transaction, and the commit both records the handlers' writes and deletes the jobs: a job
is done exactly when its effects are committed. A worker that dies mid-batch rolls back, leaving
the jobs for the next claim. A handler that fails has its writes undone and its job scheduled
again later, up to ``MAX_ATTEMPTS`` times.

The worker claims only the kinds it has handlers for, so it never takes another consumer's jobs
(the routing runner's, for one). Handlers get a system-scoped session and set a tenant scope
themselves once they know whose row the job names.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.db.scoping import use_system_scope
from centralita.jobs.models import Job
from centralita.jobs.service import claim_due, schedule

logger = logging.getLogger(__name__)

JobHandler = Callable[[AsyncSession, Job, datetime], Awaitable[None]]
"""Does one job in the claiming transaction at the worker's ``now``; flushes, never commits."""

BATCH_SIZE = 100
IDLE_SECONDS = 1.0
MAX_ATTEMPTS = 10
MAX_RETRY_DELAY = timedelta(hours=1)


def is_last_attempt(job: Job) -> bool:
    """Whether a failure now drops the job: a handler records then what did not happen."""
    # A job built in memory and never stored has no attempts yet: its column default is unset.
    return (job.attempts or 0) + 1 >= MAX_ATTEMPTS


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off after the ``attempts`` made so far: 2 s, 4 s, 8 s ... up to an hour."""
    return min(timedelta(seconds=2 ** (attempts + 1)), MAX_RETRY_DELAY)


class JobWorker:
    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, JobHandler],
        *,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH_SIZE,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.clock = clock
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds

    async def run(self) -> None:
        """Work until cancelled; sleep only when the last batch left nothing due."""
        while True:
            try:
                done = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("jobs: a batch failed; trying again")
                done = 0
            if done < self.batch_size:
                await asyncio.sleep(self.idle_seconds)

    async def step(self) -> int:
        """Claim one batch of due jobs, run them and commit; how many were claimed."""
        if not self.handlers:
            return 0
        async with self.db.system_session() as session:
            now = self.clock()
            jobs = await claim_due(session, self.handlers, limit=self.batch_size, now=now)
            for job in jobs:
                await self._run(session, job, now)
            await session.commit()
            return len(jobs)

    async def _run(self, session: AsyncSession, job: Job, now: datetime) -> None:
        await use_system_scope(session)
        try:
            async with session.begin_nested():
                await self.handlers[job.kind](session, job, now)
        except Exception:
            logger.exception(
                "jobs: %s for %s failed (attempt %d)", job.kind, job.ref_id, job.attempts + 1
            )
            await use_system_scope(session)
            if is_last_attempt(job):
                logger.error(
                    "jobs: %s for %s dropped after %d attempts", job.kind, job.ref_id, MAX_ATTEMPTS
                )
                return
            retry = schedule(
                session, job.kind, ref_id=job.ref_id, due_at=now + retry_delay(job.attempts)
            )
            retry.attempts = job.attempts + 1
