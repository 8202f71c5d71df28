"""API shapes of workforce management: staffing, forecasts, schedules and adherence."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from centralita.schemas import Read, Strict
from centralita.wfm.models import ScheduleStatus
from centralita.wfm.staffing import Binding

IntervalMinutes = Literal[15, 30, 60]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Share = Annotated[float, Field(gt=0, lt=1)]
Seconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]
# A week of 15-minute intervals is the longest series any request carries.
WEEK_OF_INTERVALS = 7 * 96


class Target(Strict):
    service_level: Share = 0.8
    threshold_s: Annotated[float, Field(ge=0, le=3600)] = 20.0
    asa_s: Seconds | None = None
    max_occupancy: Annotated[float, Field(gt=0, le=1)] = 1.0
    shrinkage: Annotated[float, Field(ge=0, lt=1)] = 0.0
    patience_s: Seconds | None = None


class IntervalLoad(Strict):
    calls: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
    aht_s: Seconds


class StaffingRequest(Strict):
    interval_minutes: IntervalMinutes = 15
    intervals: Annotated[list[IntervalLoad], Field(min_length=1, max_length=WEEK_OF_INTERVALS)]
    target: Target = Target()


class IntervalStaffingOut(Strict):
    load_erlangs: float
    agents: int
    scheduled_agents: int
    binding: Binding


class StaffingOut(Strict):
    intervals: list[IntervalStaffingOut]
    peak_agents: int
    agent_hours: float


class ForecastRequest(Strict):
    queue: Name | None = None
    channel: Annotated[str, StringConstraints(max_length=10)] | None = None
    start: date
    days: Annotated[int, Field(ge=1, le=31)] = 7
    # At least two weeks: the last one is forecast from those before to show the accuracy.
    history_days: Annotated[int, Field(ge=14, le=366)] = 56
    interval_minutes: IntervalMinutes = 30
    # With a target, each forecast day also gets the agents it needs per interval.
    staffing: Target | None = None
    # The AHT to staff an interval with when its history has contacts but none handled.
    default_aht_s: Seconds = 180.0


class IntradayRequest(Strict):
    queue: Name | None = None
    channel: Annotated[str, StringConstraints(max_length=10)] | None = None
    history_days: Annotated[int, Field(ge=7, le=366)] = 56
    interval_minutes: IntervalMinutes = 30


class IntradayIntervalOut(Strict):
    starts_at: datetime
    planned: float
    # None for the intervals still to come
    actual: float | None
    revised: float


class IntradayOut(Strict):
    day: date
    elapsed_intervals: int
    planned_contacts: float
    revised_contacts: float
    intervals: list[IntradayIntervalOut]


class IntervalForecastOut(Strict):
    starts_at: datetime
    contacts: float
    aht_s: float | None


class DayForecastOut(Strict):
    day: date
    holiday: bool
    contacts: float
    intervals: list[IntervalForecastOut]
    # per interval, when the request gave a staffing target
    staffing: list[IntervalStaffingOut] | None = None


class DayAccuracyOut(Strict):
    day: date
    forecast_contacts: float
    actual_contacts: float
    # None when nothing happened that day (no volume to weigh the error by)
    wape: float | None


class ForecastOut(Strict):
    queue: str | None
    channel: str | None
    interval_minutes: int
    history_contacts: int
    days: list[DayForecastOut]
    # The model's own forecast of the last week of history, against what happened.
    accuracy: list[DayAccuracyOut]
    note: str | None


class ShiftTemplateIn(Strict):
    name: Name
    length_minutes: Annotated[int, Field(ge=15, le=720)]
    start_times: Annotated[
        list[Annotated[int, Field(ge=0, lt=1440)]], Field(min_length=1, max_length=96)
    ]
    break_minutes: Annotated[int, Field(ge=0, le=120)] = 0
    break_after_minutes: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] = (0, 0)


class AgentContractIn(Strict):
    user_id: uuid.UUID
    skills: Annotated[list[Name], Field(min_length=1, max_length=20)]
    min_hours: Annotated[float, Field(ge=0, le=80)] = 0.0
    max_hours: Annotated[float, Field(gt=0, le=80)] = 40.0
    max_days: Annotated[int, Field(ge=1, le=7)] = 5
    days_off: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(max_length=7)] = []


class ScheduleCreate(Strict):
    name: Name
    week_start: date
    interval_minutes: IntervalMinutes = 30
    # skill -> agents needed in each interval of the week from Monday 00:00
    requirement: Annotated[
        dict[
            Name,
            Annotated[
                list[Annotated[float, Field(ge=0, le=10_000)]], Field(max_length=WEEK_OF_INTERVALS)
            ],
        ],
        Field(min_length=1, max_length=20),
    ]
    templates: Annotated[list[ShiftTemplateIn], Field(min_length=1, max_length=10)]
    agents: Annotated[list[AgentContractIn], Field(min_length=1, max_length=200)]


class ShiftOut(Read):
    id: uuid.UUID
    agent_user_id: uuid.UUID
    template: str
    starts_at: datetime
    ends_at: datetime
    break_starts_at: datetime | None
    break_ends_at: datetime | None


class ScheduleSummaryOut(Read):
    id: uuid.UUID
    name: str
    week_start: date
    interval_minutes: int
    status: ScheduleStatus
    published_at: datetime | None
    required_hours: float
    agent_hours: float
    short_hours: float
    unassigned_hours: float


class ScheduleOut(ScheduleSummaryOut):
    shifts: list[ShiftOut]


class AgentAdherenceOut(Strict):
    agent_user_id: uuid.UUID
    scheduled: Literal["working", "break", "off"]
    presence: str
    adherent: bool


class AdherenceOut(Strict):
    at: datetime
    agents: list[AgentAdherenceOut]
    # Share of the schedule's agents whose state matches it now; None when nobody is scheduled.
    adherence: float | None
