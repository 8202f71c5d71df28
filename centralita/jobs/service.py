"""Schedule jobs in the caller's transaction; claim due ones so that no two workers run the same.

On PostgreSQL a claim locks its rows with ``FOR UPDATE SKIP LOCKED``: any number of workers can
claim concurrently and each job goes to one of them. SQLite has one writer at a time (every
transaction begins ``IMMEDIATE``), which gives the same guarantee. A claimed job is deleted in
the claiming transaction, so it is done exactly when that transaction commits; if the worker dies
first, the rollback leaves the job for the next claim.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.jobs.models import Job


def schedule(
    session: AsyncSession,
    kind: str,
    *,
    ref_id: uuid.UUID | None = None,
    due_at: datetime | None = None,
) -> Job:
    job = Job(kind=kind, ref_id=ref_id, due_at=due_at or utcnow())
    session.add(job)
    return job


async def claim_due(
    session: AsyncSession, kinds: Iterable[str], *, limit: int = 100, now: datetime | None = None
) -> list[Job]:
    """Due jobs of these kinds, oldest first, locked for this transaction and deleted with it."""
    query = (
        select(Job)
        .where(Job.kind.in_(list(kinds)), Job.due_at <= (now or utcnow()))
        .order_by(Job.due_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    jobs = list((await session.execute(query)).scalars())
    if jobs:
        await session.execute(delete(Job).where(Job.id.in_([job.id for job in jobs])))
    return jobs
