"""Folding facts into the 15-minute aggregates.

Facts are written on the hot path as plain inserts; folding adds them to the interval counters
later, in batches, and marks them folded in the same transaction, so each fact is counted exactly
once. A batch of unfolded facts is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and marked
folded by one ``UPDATE ... RETURNING``, so concurrent folds (two reports read at once) never take
the same fact; the counters are upserted as
``counter + delta``, so concurrent folds into one interval add up.

Every report (and every scheduled report) folds its tenant's pending facts before reading, so a
report is as current as the wallboard.
"""

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, column, select, table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.reporting.models import (
    INTERVAL_MINUTES,
    UNFOLDED,
    AgentIntervalStat,
    FactKind,
    InteractionFact,
    IntervalStat,
)
from centralita.reporting.settings import report_settings

BATCH = 5000
DEFAULT_THRESHOLD_SECONDS = 20
# Named by table: routing builds on reporting's measures, so reporting cannot import routing.
_queues = table(
    "queues",
    column("tenant_id"),
    column("name", String()),
    column("sl_threshold_seconds", Integer()),
)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_STEP = timedelta(minutes=INTERVAL_MINUTES)


def interval_start(at: datetime) -> datetime:
    """The start of the 15-minute interval holding ``at``, in UTC."""
    return _EPOCH + ((at - _EPOCH) // _STEP) * _STEP


async def _thresholds(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    query = select(_queues.c.name, _queues.c.sl_threshold_seconds).where(
        _queues.c.tenant_id == tenant_id
    )
    return dict((await session.execute(query)).all())


QUEUE_COUNTERS = (
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "short_abandoned",
    "transferred",
    "handled",
    "wait_answered_seconds",
    "handle_seconds",
)
AGENT_COUNTERS = ("handled", "handle_seconds", "transferred")

Deltas = dict[tuple[Any, ...], dict[str, float]]
FOLD_COLUMNS = (
    "id",
    "kind",
    "at",
    "anchor_at",
    "queue",
    "channel",
    "agent_user_id",
    "seconds",
)


def _add_queue_fact(deltas: Deltas, fact: Any, threshold: int, short_seconds: int) -> None:
    row = deltas[(interval_start(fact.anchor_at), fact.queue, fact.channel)]
    wait = fact.seconds or 0.0
    if fact.kind == FactKind.OFFERED:
        row["offered"] += 1
    elif fact.kind == FactKind.ANSWERED:
        row["answered"] += 1
        row["wait_answered_seconds"] += wait
        row["answered_within"] += wait <= threshold
    elif fact.kind == FactKind.ABANDONED:
        row["abandoned"] += 1
        row["short_abandoned"] += wait < short_seconds
    elif fact.kind == FactKind.TRANSFERRED:
        row["transferred"] += 1
    elif fact.kind == FactKind.HANDLED:
        row["handled"] += 1
        row["handle_seconds"] += wait


def _add_agent_fact(deltas: Deltas, fact: Any) -> None:
    if fact.agent_user_id is None or fact.kind not in (FactKind.HANDLED, FactKind.TRANSFERRED):
        return
    row = deltas[(interval_start(fact.at), fact.agent_user_id)]
    if fact.kind == FactKind.HANDLED:
        row["handled"] += 1
        row["handle_seconds"] += fact.seconds or 0.0
    else:
        row["transferred"] += 1


async def _upsert(
    session: AsyncSession,
    model: type[IntervalStat] | type[AgentIntervalStat],
    tenant_id: uuid.UUID,
    keys: tuple[str, ...],
    counters: tuple[str, ...],
    deltas: Deltas,
) -> None:
    if not deltas:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {"tenant_id": tenant_id, **dict(zip(keys, key, strict=True)), **values}
        for key, values in sorted(deltas.items())
    ]
    for row in rows:
        for name in counters:
            row.setdefault(name, 0)
    table = model.metadata.tables[model.__tablename__]
    # A core statement, compiled once and executed for every row (asyncpg pipelines them); the
    # ORM's bulk path or a multi-row VALUES would compile per row or per batch.
    statement = insert(table)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", *keys],
            set_={name: table.c[name] + statement.excluded[name] for name in counters},
        ),
        rows,
    )


async def fold_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Fold the scoped tenant's pending facts; how many were folded."""
    facts_table = InteractionFact.metadata.tables[InteractionFact.__tablename__]
    pending = (
        select(facts_table.c.id)
        .where(facts_table.c.tenant_id == tenant_id, UNFOLDED)
        .order_by(facts_table.c.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    # One statement locks a batch, marks it folded and returns it: each fact is written once,
    # and the partial index of unfolded facts keeps finding the batch cheap at any table size.
    claim = (
        update(facts_table)
        .where(facts_table.c.tenant_id == tenant_id, facts_table.c.id.in_(pending))
        .values(folded=True)
        .returning(*(facts_table.c[name] for name in FOLD_COLUMNS))
    )
    total = 0
    while True:
        facts = list((await session.execute(claim)).all())
        if not facts:
            return total
        if not total:  # read only when there is something to fold: most reads find nothing
            settings = await report_settings(session)
            thresholds = await _thresholds(session, tenant_id)
        queue_deltas: Deltas = defaultdict(lambda: defaultdict(float))
        agent_deltas: Deltas = defaultdict(lambda: defaultdict(float))
        for fact in facts:
            threshold = thresholds.get(fact.queue, DEFAULT_THRESHOLD_SECONDS)
            _add_queue_fact(queue_deltas, fact, threshold, settings.short_abandon_seconds)
            _add_agent_fact(agent_deltas, fact)
        keys = ("interval_start", "queue", "channel")
        await _upsert(session, IntervalStat, tenant_id, keys, QUEUE_COUNTERS, queue_deltas)
        agent_keys = ("interval_start", "agent_user_id")
        await _upsert(
            session, AgentIntervalStat, tenant_id, agent_keys, AGENT_COUNTERS, agent_deltas
        )
        total += len(facts)
