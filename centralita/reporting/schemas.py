import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from centralita.schemas import Read, Strict


class Granularity(StrEnum):
    INTERVAL = "interval"  # 15 minutes
    HOUR = "hour"
    DAY = "day"


class ReportSettingsOut(Read):
    short_abandon_seconds: int
    fcr_days: int
    cost_per_agent_hour: float | None
    currency: str
    show_agent_names_to_clients: bool
    weekly_report: bool


class ReportSettingsUpdate(Strict):
    short_abandon_seconds: int | None = Field(default=None, ge=0, le=120)
    fcr_days: int | None = Field(default=None, ge=1, le=90)
    cost_per_agent_hour: float | None = Field(default=None, ge=0, le=100000)
    currency: str | None = Field(default=None, pattern="^[A-Z]{3}$")
    show_agent_names_to_clients: bool | None = None
    weekly_report: bool | None = None


class Period(Read):
    """The days a report covers, inclusive, in the tenant's time zone."""

    date_from: date
    date_to: date
    time_zone: str


class QueueRow(Read):
    """Queue measures over one slice (an interval, a queue, a channel, or the whole period)."""

    offered: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    short_abandoned: int
    transferred: int
    handled: int
    service_level: float | None
    asa_seconds: float | None
    abandonment_rate: float | None
    aht_seconds: float | None


class IntervalRow(QueueRow):
    start: datetime  # in the tenant's time zone


class SliceRow(QueueRow):
    queue: str
    channel: str


class QueueReport(Read):
    period: Period
    definition: str
    note: str | None
    rows: list[IntervalRow]
    total: QueueRow


class SliceReport(Read):
    period: Period
    definition: str
    note: str | None
    rows: list[SliceRow]
    total: QueueRow


class AgentRow(Read):
    agent_user_id: uuid.UUID
    agent_name: str | None
    handled: int
    aht_seconds: float | None
    handle_hours: float
    transfers: int
    contacts_per_handle_hour: float | None
    occupancy: float | None
    utilisation: float | None


class AgentReport(Read):
    period: Period
    note: str | None
    rows: list[AgentRow]


class ReasonRow(Read):
    topic: str
    contacts: int
    previous_contacts: int
    change: float | None  # relative to the previous period of the same length


class ReasonReport(Read):
    period: Period
    note: str | None
    rows: list[ReasonRow]


class FcrReport(Read):
    period: Period
    window_days: int
    contacts: int
    resolved_first_time: int
    repeat_contacts: int
    fcr_rate: float | None
    note: str | None


class CostReport(Read):
    period: Period
    currency: str
    cost_per_agent_hour: float | None
    handle_hours: float
    contacts: int
    cost_per_contact: float | None
    note: str | None


class Comparison(Read):
    current: Period
    previous: Period
    current_total: QueueRow
    previous_total: QueueRow


class SlaRow(Read):
    policy: str
    priority: str
    kind: str
    met: int
    breached: int
    compliance: float | None


class SlaReport(Read):
    period: Period
    note: str | None
    rows: list[SlaRow]
    met: int
    breached: int
    compliance: float | None
