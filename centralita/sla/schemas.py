"""API shapes of business calendars and SLA policies."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from centralita.customers.models import ValueTier
from centralita.schemas import Read, Strict
from centralita.sla.business_time import WEEKDAYS, BusinessCalendar
from centralita.sla.models import TargetKind, TargetStatus

MAX_INTERVALS_PER_DAY = 8
MAX_CLOSURES = 200
MAX_CONDITION_VALUES = 50
MAX_ESCALATIONS = 20
# A target longer than a year of open time is no promise at all.
MAX_TARGET_MINUTES = 366 * 24 * 60
MAX_POSITION = 32_767  # the column is a SMALLINT

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# "24:00" only makes sense as an end; business_time refuses it as a start with a clear message.
ClockTime = Annotated[str, StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
Interval = tuple[ClockTime, ClockTime]
WeeklyHours = Annotated[
    dict[Weekday, Annotated[list[Interval], Field(max_length=MAX_INTERVALS_PER_DAY)]],
    Field(
        description='Open intervals per weekday in local time, e.g. {"mon": [["09:00", "18:00"]]}.'
        ' An interval whose end is at or before its start crosses midnight ("22:00"-"06:00");'
        ' "24:00" ends a day. A weekday left out is closed.',
        examples=[{day: [["09:00", "18:00"]] for day in WEEKDAYS[:5]}],
    ),
]
# Ticket vocabulary, spelled out here because sla sits below tickets (tickets imports sla): these
# are the values of tickets.models.Priority, TicketType and Ticket.channel; a test keeps them equal.
Priority = Literal["P1", "P2", "P3", "P4"]
TicketType = Literal["incident", "service_request", "question", "problem"]
Channel = Literal["voice", "chat", "email", "sms", "web", "callback", "task"]
Recipient = Literal["supervisors", "assignee", "team"]
Segment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Minutes = Annotated[int, Field(ge=1, le=MAX_TARGET_MINUTES)]


def _check_zone(value: str | None) -> str | None:
    if value is not None and value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


def _some_day_open(hours: dict[str, list[Interval]] | None) -> dict[str, list[Interval]] | None:
    if hours is None:
        return None
    if not any(hours.values()):
        raise ValueError("open on no day; a policy without a calendar counts around the clock")
    try:
        BusinessCalendar("UTC", hours)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    return {day: sorted(hours[day]) for day in WEEKDAYS if day in hours}


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


def _distinct(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else list(dict.fromkeys(values))


class Closure(Strict):
    """A period the tenant is closed whatever its weekly hours say (a strike, an office move)."""

    start: datetime
    end: datetime
    label: str = Field(default="", max_length=100)

    @model_validator(mode="after")
    def _aware_and_ordered(self) -> Self:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("give start and end with a time zone offset")
        if self.start >= self.end:
            raise ValueError("a closure ends after it starts")
        return self


Closures = Annotated[list[Closure], Field(max_length=MAX_CLOSURES)]
CheckedWeeklyHours = Annotated[WeeklyHours, AfterValidator(_some_day_open)]


class CalendarCreate(Strict):
    name: Name
    time_zone: str | None = Field(
        default=None, max_length=64, description="An IANA zone; the tenant's when left out"
    )
    weekly_hours: CheckedWeeklyHours
    public_holidays: bool = Field(
        default=True,
        description="Closed on the public holidays of the tenant's country and subdivision",
    )
    closures: Closures = Field(default_factory=list)

    _zone = field_validator("time_zone")(_check_zone)


class CalendarUpdate(Strict):
    """A partial change; ``weekly_hours`` and ``closures`` are replaced as a whole."""

    name: Name | None = None
    time_zone: str | None = Field(default=None, max_length=64)
    weekly_hours: CheckedWeeklyHours | None = None
    public_holidays: bool | None = None
    closures: Closures | None = None

    _zone = field_validator("time_zone")(_check_zone)
    _not_nullable = field_validator(
        "name", "time_zone", "weekly_hours", "public_holidays", "closures", mode="before"
    )(_not_null)


class CalendarOut(Read):
    id: uuid.UUID
    name: str
    time_zone: str
    weekly_hours: dict[str, list[tuple[str, str]]]
    public_holidays: bool
    closures: list[Closure]
    created_at: datetime
    updated_at: datetime


# --- policies ----------------------------------------------------------------------------------


class Conditions(Strict):
    """What a ticket must be for the policy to apply; a condition left out accepts anything."""

    priorities: list[Priority] | None = Field(default=None, min_length=1, max_length=4)
    types: list[TicketType] | None = Field(default=None, min_length=1, max_length=4)
    category_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_CONDITION_VALUES
    )
    segments: list[Segment] | None = Field(
        default=None, min_length=1, max_length=MAX_CONDITION_VALUES
    )
    value_tiers: list[ValueTier] | None = Field(default=None, min_length=1, max_length=4)
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=7)

    _unique = field_validator("*")(_distinct)


class TargetMinutes(Strict):
    first_response: Minutes | None = None
    next_response: Minutes | None = None
    resolution: Minutes | None = None


class Targets(Strict):
    """Minutes of open time per priority and target kind; a kind left out has no target."""

    P1: TargetMinutes | None = None
    P2: TargetMinutes | None = None
    P3: TargetMinutes | None = None
    P4: TargetMinutes | None = None


class EscalationStep(Strict):
    """At ``percent`` of a target's time, notify people and act on the ticket.

    100 is the deadline (the breach, which always notifies supervisors and the assignee); up to
    200 escalates further after it."""

    target: TargetKind
    percent: int = Field(ge=1, le=200)
    notify: list[Recipient] = Field(default_factory=list, max_length=3)
    raise_priority: bool = Field(
        default=False, description="Make the ticket one priority more urgent (P1 stays P1)"
    )
    reassign_team_id: uuid.UUID | None = Field(
        default=None, description="Hand the ticket to this team, clearing its assignee"
    )

    _unique = field_validator("notify")(_distinct)


def _one_step_per_instant(steps: list[EscalationStep] | None) -> list[EscalationStep] | None:
    if steps is None:
        return None
    seen: set[tuple[str, int]] = set()
    for step in steps:
        if (step.target, step.percent) in seen:
            raise ValueError(f"two escalations of {step.target} at {step.percent} %; merge them")
        seen.add((step.target, step.percent))
    return sorted(steps, key=lambda step: step.percent)


Escalations = Annotated[
    list[EscalationStep],
    Field(max_length=MAX_ESCALATIONS),
    AfterValidator(_one_step_per_instant),
]


class PolicyCreate(Strict):
    name: Name
    position: int | None = Field(
        default=None,
        ge=0,
        le=MAX_POSITION,
        description="The first active policy, by position, whose conditions match applies; "
        "after the last one when left out",
    )
    is_active: bool = True
    conditions: Conditions = Field(default_factory=Conditions)
    targets: Targets = Field(default_factory=Targets)
    calendar_id: uuid.UUID | None = Field(
        default=None, description="The business calendar; none counts around the clock"
    )
    pause_on_pending_customer: bool = True
    escalations: Escalations = Field(default_factory=list)


class PolicyUpdate(Strict):
    """A partial change; ``conditions``, ``targets`` and ``escalations`` are replaced as a whole.
    ``calendar_id`` may be set to null (around the clock)."""

    name: Name | None = None
    position: int | None = Field(default=None, ge=0, le=MAX_POSITION)
    is_active: bool | None = None
    conditions: Conditions | None = None
    targets: Targets | None = None
    calendar_id: uuid.UUID | None = None
    pause_on_pending_customer: bool | None = None
    escalations: Escalations | None = None

    _not_nullable = field_validator(
        "name",
        "position",
        "is_active",
        "conditions",
        "targets",
        "pause_on_pending_customer",
        "escalations",
        mode="before",
    )(_not_null)


class EscalationStepOut(BaseModel):
    target: TargetKind
    percent: int
    notify: list[str]
    raise_priority: bool
    reassign_team_id: uuid.UUID | None


class PolicyOut(Read):
    id: uuid.UUID
    name: str
    position: int
    is_active: bool
    conditions: dict[str, list[str]]
    targets: dict[str, dict[str, int]]
    calendar_id: uuid.UUID | None
    pause_on_pending_customer: bool
    escalations: list[EscalationStepOut]
    created_at: datetime
    updated_at: datetime


class TargetOut(Read):
    """One SLA target of a ticket, for the ticket's API: ``due_at`` is None while it is paused;
    ``breached_at`` stays set on a breached target even once it is achieved or cancelled."""

    id: uuid.UUID
    policy_id: uuid.UUID
    kind: TargetKind
    status: TargetStatus
    target_minutes: int
    started_at: datetime
    paused_seconds: int
    due_at: datetime | None
    achieved_at: datetime | None
    breached_at: datetime | None
