"""The agent scorecard: QA score, AHT against the target and FCR, weighted as the tenant chooses,
per week or month, several periods back so the trend shows.

A part without data in a period (no evaluation, no contact) is left out and the other weights
count in proportion, so an agent is never marked down for what was not measured. CSAT, schedule
schedule adherence join as parts once surveys and schedules record them: until then the scorecard
lists them as not measured.
"""

import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.errors import NotFound
from centralita.events.service import Actor, record_audit
from centralita.identity.models import Membership
from centralita.quality.models import QaEvaluation, ScorecardSettings
from centralita.quality.schemas import (
    Scorecard,
    ScorecardPeriod,
    ScorecardSettingsOut,
    ScorecardSettingsUpdate,
)
from centralita.reporting.agent_time import agent_time
from centralita.reporting.fold import fold_tenant
from centralita.reporting.models import AgentIntervalStat, FactKind, InteractionFact
from centralita.reporting.settings import report_settings
from centralita.tenancy.models import Tenant

NOT_MEASURED = ["csat", "adherence"]


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"


async def scorecard_settings(session: AsyncSession) -> ScorecardSettingsOut:
    found = (await session.execute(select(ScorecardSettings))).scalar_one_or_none()
    if found is None:
        return ScorecardSettingsOut(
            qa_weight=0.5,
            aht_weight=0.25,
            fcr_weight=0.25,
            aht_target_seconds=300,
            occupancy_weight=0.0,
            occupancy_target=0.85,
        )
    return ScorecardSettingsOut.model_validate(found)


async def update_scorecard_settings(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, data: ScorecardSettingsUpdate
) -> ScorecardSettingsOut:
    before = await scorecard_settings(session)
    found = (await session.execute(select(ScorecardSettings))).scalar_one_or_none()
    if found is None:
        found = ScorecardSettings(tenant_id=tenant_id, **before.model_dump())
        session.add(found)
    for name, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(found, name, value)
    await session.flush()
    after = ScorecardSettingsOut.model_validate(found)
    entity = ("qa_scorecard_settings", tenant_id)
    record_audit(
        session, tenant_id, actor, "qa.scorecard_updated", entity, before.model_dump(),
        after.model_dump(),
    )  # fmt: skip
    return after


def periods(kind: PeriodKind, day: date, count: int) -> list[tuple[date, date]]:
    """``count`` whole weeks (Monday to Sunday) or months ending with the one holding ``day``."""
    spans = []
    if kind == PeriodKind.WEEK:
        monday = day - timedelta(days=day.weekday())
        for back in range(count - 1, -1, -1):
            first = monday - timedelta(weeks=back)
            spans.append((first, first + timedelta(days=6)))
        return spans
    year, month = day.year, day.month
    for back in range(count - 1, -1, -1):
        y, m = divmod(year * 12 + month - 1 - back, 12)
        first = date(y, m + 1, 1)
        after = date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1)
        spans.append((first, after - timedelta(days=1)))
    return spans


def _weighted(parts: list[tuple[float | None, float]]) -> float | None:
    measured = [(value, weight) for value, weight in parts if value is not None and weight > 0]
    total = sum(weight for _, weight in measured)
    return sum(value * weight for value, weight in measured) / total if total else None


async def _agent_fcr(
    session: AsyncSession, agent_id: uuid.UUID, start: datetime, end: datetime, days: int
) -> tuple[int, int]:
    """(contacts the agent finished, those not followed by a repeat within ``days``)."""
    window = timedelta(days=days)
    handled = await session.execute(
        select(InteractionFact.customer_id, InteractionFact.topic, InteractionFact.at).where(
            InteractionFact.kind == FactKind.HANDLED,
            InteractionFact.agent_user_id == agent_id,
            InteractionFact.at >= start,
            InteractionFact.at < end,
        )
    )
    finished = handled.all()
    if not finished:
        return 0, 0
    customers = {customer for customer, _, _ in finished}
    offered = await session.execute(
        select(InteractionFact.customer_id, InteractionFact.topic, InteractionFact.at).where(
            InteractionFact.kind == FactKind.OFFERED,
            InteractionFact.customer_id.in_(customers),
            InteractionFact.at >= start,
            InteractionFact.at < end + window,
        )
    )
    arrivals: dict[tuple[object, str | None], list[datetime]] = defaultdict(list)
    for customer, topic, at in offered.all():
        arrivals[(customer, topic)].append(at)
    resolved = sum(
        not any(at < later <= at + window for later in arrivals[(customer, topic)])
        for customer, topic, at in finished
    )
    return len(finished), resolved


async def scorecard(
    session: AsyncSession,
    tenant: Tenant,
    agent_id: uuid.UUID,
    kind: PeriodKind,
    day: date,
    count: int,
) -> Scorecard:
    member = await session.execute(select(Membership).where(Membership.user_id == agent_id))
    if member.first() is None:
        # Someone of another tenant is unknown here, like an id that never existed.
        raise NotFound("Agent not found")
    await fold_tenant(session, tenant.id)
    weights = await scorecard_settings(session)
    fcr_days = (await report_settings(session)).fcr_days
    zone = ZoneInfo(tenant.time_zone)
    rows = []
    for first, last in periods(kind, day, count):
        start = datetime.combine(first, time.min, zone)
        end = datetime.combine(last + timedelta(days=1), time.min, zone)
        qa = await session.execute(
            select(QaEvaluation.score).where(
                QaEvaluation.agent_user_id == agent_id,
                QaEvaluation.created_at >= start,
                QaEvaluation.created_at < end,
            )
        )
        qa_scores = list(qa.scalars())
        work = await session.execute(
            select(AgentIntervalStat).where(
                AgentIntervalStat.agent_user_id == agent_id,
                AgentIntervalStat.interval_start >= start,
                AgentIntervalStat.interval_start < end,
            )
        )
        handled = handle = 0.0
        for stat in work.scalars():
            handled += stat.handled
            handle += stat.handle_seconds
        aht = handle / handled if handled else None
        contacts, resolved = await _agent_fcr(session, agent_id, start, end, fcr_days)
        qa_score = sum(qa_scores) / len(qa_scores) if qa_scores else None
        aht_score = min(1.0, weights.aht_target_seconds / aht) if aht else None
        fcr = resolved / contacts if contacts else None
        occupancy = (await agent_time(session, tenant.id, agent_id, start, end, utcnow())).occupancy
        target = weights.occupancy_target
        occupancy_score = (
            max(0.0, 1 - abs(occupancy - target) / target) if occupancy is not None else None
        )
        rows.append(
            ScorecardPeriod(
                date_from=first,
                date_to=last,
                qa_score=qa_score,
                evaluations=len(qa_scores),
                aht_seconds=aht,
                aht_score=aht_score,
                fcr_rate=fcr,
                contacts=contacts,
                occupancy=occupancy,
                occupancy_score=occupancy_score,
                total=_weighted(
                    [
                        (qa_score, weights.qa_weight),
                        (aht_score, weights.aht_weight),
                        (fcr, weights.fcr_weight),
                        (occupancy_score, weights.occupancy_weight),
                    ]
                ),
            )
        )
    return Scorecard(
        agent_user_id=agent_id, periods=rows, weights=weights, not_measured=NOT_MEASURED
    )
