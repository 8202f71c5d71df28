"""Demand from the tenant's own interactions: the forecast of coming days, its accuracy on the
last week of history, and the intraday re-forecast of today from the morning's actuals.

Contacts are counted where they entered a queue (``queued_at``, or their creation when they
never queued), in the tenant's time zone; handle time runs from the answer to the end of
wrap-up (or of the contact). The forecaster is ``wfm.forecast``; the holidays are the tenant's
country's and region's.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import InvalidInput
from centralita.interactions.models import Interaction
from centralita.routing.calendar import tenant_holidays
from centralita.tenancy.models import Tenant
from centralita.wfm import forecast, schemas, service
from centralita.wfm.service import MINUTES_PER_DAY, local_moment

# The accuracy shown beside a forecast: the model's forecast of the last week of history.
BACKTEST_DAYS = 7


async def forecast_contacts(
    session: AsyncSession, tenant: Tenant, request: schemas.ForecastRequest
) -> schemas.ForecastOut:
    """Contacts and AHT per interval for the coming days, from the tenant's own history."""
    zone = ZoneInfo(tenant.time_zone)
    history, contacts = await _history(
        session,
        request,
        tenant,
        request.start - timedelta(days=request.history_days),
        request.history_days,
    )
    past = list(history.values())
    days = [request.start + timedelta(days=n) for n in range(request.days)]
    holidays = tenant_holidays(tenant)
    try:
        predicted = forecast.forecast(past, days, holidays)
        tested = forecast.forecast(
            past[:-BACKTEST_DAYS], [d.day for d in past[-BACKTEST_DAYS:]], holidays
        )
    except ValueError as exc:
        raise InvalidInput.on_field("body", str(exc)) from None
    return schemas.ForecastOut(
        queue=request.queue,
        channel=request.channel,
        interval_minutes=request.interval_minutes,
        history_contacts=contacts,
        days=[
            schemas.DayForecastOut(
                day=f.day,
                holiday=f.day in holidays,
                contacts=sum(f.contacts),
                intervals=[
                    schemas.IntervalForecastOut(
                        starts_at=local_moment(f.day, i * request.interval_minutes, zone),
                        contacts=value,
                        aht_s=aht,
                    )
                    for i, (value, aht) in enumerate(zip(f.contacts, f.aht_seconds, strict=True))
                ],
                staffing=_staffing(f, request),
            )
            for f in predicted
        ],
        accuracy=[
            schemas.DayAccuracyOut(
                day=t.day,
                forecast_contacts=sum(t.contacts),
                actual_contacts=sum(history[t.day].contacts),
                wape=forecast.wape(t.contacts, history[t.day].contacts),
            )
            for t in tested
        ],
        note=None if contacts else "no contacts in the history: the forecast is zero",
    )


def _staffing(
    day: forecast.DayForecast, request: schemas.ForecastRequest
) -> list[schemas.IntervalStaffingOut] | None:
    if request.staffing is None:
        return None
    loads = [
        schemas.IntervalLoad(calls=calls, aht_s=request.default_aht_s if aht is None else aht)
        for calls, aht in zip(day.contacts, day.aht_seconds, strict=True)
    ]
    needed = service.staffing(
        schemas.StaffingRequest(
            interval_minutes=request.interval_minutes, intervals=loads, target=request.staffing
        )
    )
    return needed.intervals


async def intraday(
    session: AsyncSession, tenant: Tenant, request: schemas.IntradayRequest, now: datetime
) -> schemas.IntradayOut:
    """Today as planned from the history, as it has run so far, and the rest re-forecast."""
    zone = ZoneInfo(tenant.time_zone)
    today = now.astimezone(zone).date()
    window = request.history_days + 1
    history, _ = await _history(
        session, request, tenant, today - timedelta(days=request.history_days), window
    )
    past = [history[today - timedelta(days=n)] for n in range(request.history_days, 0, -1)]
    try:
        [plan] = forecast.forecast(past, [today], tenant_holidays(tenant))
    except ValueError as exc:
        raise InvalidInput.on_field("body", str(exc)) from None
    starts = [
        local_moment(today, i * request.interval_minutes, zone) for i in range(len(plan.contacts))
    ]
    step = timedelta(minutes=request.interval_minutes)
    elapsed = sum(start + step <= now for start in starts)
    actual = list(history[today].contacts[:elapsed])
    revised = forecast.reforecast(plan.contacts, actual)
    return schemas.IntradayOut(
        day=today,
        elapsed_intervals=elapsed,
        planned_contacts=sum(plan.contacts),
        revised_contacts=sum(revised),
        intervals=[
            schemas.IntradayIntervalOut(
                starts_at=start,
                planned=planned,
                actual=actual[i] if i < elapsed else None,
                revised=revised[i],
            )
            for i, (start, planned) in enumerate(zip(starts, plan.contacts, strict=True))
        ],
    )


async def _history(
    session: AsyncSession,
    request: schemas.ForecastRequest | schemas.IntradayRequest,
    tenant: Tenant,
    first: date,
    days: int,
) -> tuple[dict[date, forecast.DayHistory], int]:
    """Each day's contacts, handled contacts and handle seconds per interval, and the count."""
    zone = ZoneInfo(tenant.time_zone)
    width = MINUTES_PER_DAY // request.interval_minutes
    counts = {
        first + timedelta(days=n): ([0.0] * width, [0.0] * width, [0.0] * width)
        for n in range(days)
    }
    arrived = func.coalesce(Interaction.queued_at, Interaction.created_at)
    query = select(
        arrived, Interaction.answered_at, Interaction.wrap_up_ended_at, Interaction.ended_at
    ).where(
        arrived >= local_moment(first, 0, zone),
        arrived < local_moment(first + timedelta(days=days), 0, zone),
    )
    if request.queue is not None:
        query = query.where(Interaction.queue == request.queue)
    if request.channel is not None:
        query = query.where(Interaction.channel == request.channel)
    total = 0
    for at, answered, wrapped, ended in (await session.execute(query)).all():
        local = _utc(at).astimezone(zone)
        contacts, handled, seconds = counts[local.date()]
        index = (local.hour * 60 + local.minute) // request.interval_minutes
        contacts[index] += 1
        total += 1
        finished = wrapped or ended
        if answered is not None and finished is not None:
            handled[index] += 1
            seconds[index] += (finished - answered).total_seconds()
    return {day: forecast.DayHistory(day, *values) for day, values in counts.items()}, total


def _utc(at: datetime) -> datetime:
    # coalesce() loses the column type, so SQLite hands back a naive UTC timestamp.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
