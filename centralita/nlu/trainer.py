"""Training off the request path: ``POST .../nlu/train`` queues a :class:`TrainingRun` and a
``nlu.training`` job; the trainer claims the job, trains in a thread, and writes the run's
progress as it goes (the admin page polls it for its bar).

Training takes seconds to minutes, longer than a job worker's claiming transaction should be open
(on SQLite that transaction would hold the only write lock throughout), so the trainer is its own
consumer of its job kind, with short transactions: claiming a run also schedules a check of it
``LEASE`` later. If the process dies mid-training, that check finds the run's heartbeat stale and
trains it again; while the run is alive the check only looks again later.
"""

import asyncio
import logging
import threading
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.errors import InvalidInput
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import claim_due, schedule
from centralita.nlu import training
from centralita.nlu.classifier import OOS, NotEnoughExamples
from centralita.nlu.models import TrainingExample, TrainingRun

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
# How often a run's progress is written while it trains.
REPORT_EVERY_SECONDS = 0.5
MAX_ATTEMPTS = 3
IDLE_SECONDS = 1.0


async def queue_training(
    session: AsyncSession, tenant_id: uuid.UUID, *, threshold: float, use_embeddings: bool
) -> TrainingRun:
    """A queued run for the tenant's stored examples; 422 at once when they cannot train a model
    (fewer than two intents), rather than a run that fails later."""
    intents = await session.scalar(
        select(func.count(func.distinct(TrainingExample.intent))).where(
            TrainingExample.intent != OOS
        )
    )
    if (intents or 0) < 2:
        raise InvalidInput("Cannot train: at least two intents with examples are needed")
    run = TrainingRun(tenant_id=tenant_id, threshold=threshold, embeddings=use_embeddings)
    session.add(run)
    await session.flush()
    schedule(session, JobKind.NLU_TRAINING, ref_id=run.id)
    return run


async def list_runs(session: AsyncSession, limit: int = 20) -> list[TrainingRun]:
    query = select(TrainingRun).order_by(TrainingRun.created_at.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


class Progress:
    """The latest report of the training thread, read by the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: tuple[str, int, int] | None = None

    def report(self, step: str, done: int, total: int) -> None:
        with self._lock:
            self._latest = (step, done, total)

    def take(self) -> tuple[str, int, int] | None:
        with self._lock:
            latest, self._latest = self._latest, None
            return latest


class NluTrainer:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self) -> None:
        """Train queued runs until cancelled."""
        while True:
            try:
                worked = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("nlu trainer: a step failed; trying again")
                worked = False
            if not worked:
                await asyncio.sleep(IDLE_SECONDS)

    async def step(self, now: datetime | None = None) -> bool:
        """Claim one due training job and do it; whether there was one."""
        async with self.db.system_session() as session:
            jobs = await claim_due(session, [JobKind.NLU_TRAINING], limit=1, now=now)
            if not jobs:
                return False
            run_id = jobs[0].ref_id
            run = await session.scalar(select(TrainingRun).where(TrainingRun.id == run_id))
            moment = now or utcnow()
            if run is None or not self._should_train(run, moment):
                if run is not None and run.state == "running":
                    schedule(session, JobKind.NLU_TRAINING, ref_id=run.id, due_at=moment + LEASE)
                await session.commit()
                return True
            run.state, run.attempts, run.heartbeat_at = "running", run.attempts + 1, moment
            run.step, run.done, run.total, run.error = None, 0, 0, None
            schedule(session, JobKind.NLU_TRAINING, ref_id=run.id, due_at=moment + LEASE)
            tenant_id, claimed = run.tenant_id, run.id
            await session.commit()
        await self._train(tenant_id, claimed)
        return True

    @staticmethod
    def _should_train(run: TrainingRun, now: datetime) -> bool:
        if run.state == "queued":
            return True
        lost = run.state == "running" and (
            run.heartbeat_at is None or run.heartbeat_at < now - LEASE
        )
        if lost and run.attempts >= MAX_ATTEMPTS:
            run.state, run.error, run.finished_at = "failed", "training was interrupted", now
            return False
        return lost

    async def _train(self, tenant_id: uuid.UUID, run_id: uuid.UUID) -> None:
        async with self.db.tenant_session(tenant_id) as session:
            run = await session.get_one(TrainingRun, (tenant_id, run_id))
            threshold, use_embeddings = run.threshold, run.embeddings
            rows = await training.stored_examples(session)
        progress = Progress()
        work = asyncio.create_task(
            asyncio.to_thread(
                training.fit_measured,
                rows,
                threshold=threshold,
                use_embeddings=use_embeddings,
                report=progress.report,
            )
        )
        while not work.done():
            await asyncio.wait([work], timeout=REPORT_EVERY_SECONDS)
            await self._write_progress(tenant_id, run_id, progress.take())
        async with self.db.tenant_session(tenant_id) as session:
            run = await session.get_one(TrainingRun, (tenant_id, run_id))
            try:
                classifier, metrics = work.result()
            except NotEnoughExamples as exc:
                run.state, run.error = "failed", f"Cannot train: {exc}"
            except Exception as exc:
                log.exception("nlu trainer: run %s failed", run_id)
                run.state, run.error = "failed", f"Training failed: {type(exc).__name__}"[:500]
            else:
                version = await training.store_version(
                    session, tenant_id, rows, classifier, metrics
                )
                run.state, run.model_version = "succeeded", version.version
            run.finished_at = utcnow()
            # The lease check is no longer needed.
            await session.execute(
                delete(Job).where(Job.kind == JobKind.NLU_TRAINING, Job.ref_id == run_id)
            )
            await session.commit()

    async def _write_progress(
        self, tenant_id: uuid.UUID, run_id: uuid.UUID, latest: tuple[str, int, int] | None
    ) -> None:
        async with self.db.tenant_session(tenant_id) as session:
            run = await session.get_one(TrainingRun, (tenant_id, run_id))
            if latest is not None:
                run.step, run.done, run.total = latest
            run.heartbeat_at = utcnow()
            await session.commit()
