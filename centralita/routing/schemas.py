import uuid
from datetime import datetime
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator

from centralita.identity.permissions import Role
from centralita.interactions.models import Channel
from centralita.routing.calendar import minutes_of
from centralita.routing.engine import Presence
from centralita.schemas import Locale, Read, Strict

MAX_QUEUE_SKILLS = 20
MAX_AGENT_SKILLS = 100
MAX_OVERFLOW_STEPS = 5
MAX_OVERFLOW_QUEUES = 10
MAX_OPENINGS_PER_DAY = 6
MAX_LANGUAGES = 10
# No wait a queue measures, overflows after or offers a callback at is longer than a week.
MAX_WAIT_SECONDS = 7 * 24 * 3600

# It is what an interaction's ``queue`` field names, so it reads well in a URL or a log.
QueueName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]
SkillName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=300)]
SkillLevel = Annotated[int, Field(ge=1, le=5)]
WaitSeconds = Annotated[int, Field(ge=1, le=MAX_WAIT_SECONDS)]
# ISO 639-1, as interactions carry it ("es", "en", "ca").
LanguageCode = Annotated[str, StringConstraints(to_lower=True, pattern=r"^[A-Za-z]{2}$")]


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# --- skills ----------------------------------------------------------------------------------


class SkillCreate(Strict):
    name: SkillName
    description: Description | None = None


class SkillUpdate(Strict):
    name: SkillName | None = None
    description: Description | None = None

    _name = field_validator("name", mode="before")(_not_null)


class SkillOut(Read):
    id: uuid.UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


# --- business hours --------------------------------------------------------------------------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]


def _ends_after_start(opening: tuple[str, str]) -> tuple[str, str]:
    start, end = opening
    if minutes_of(start) >= minutes_of(end):
        raise ValueError(f"opens at {start} but closes at {end}; an opening ends after it starts")
    return opening


def _in_order_without_overlap(openings: list[tuple[str, str]]) -> list[tuple[str, str]]:
    ordered = sorted(openings, key=lambda opening: minutes_of(opening[0]))
    for (_, previous_end), (start, _) in pairwise(ordered):
        if minutes_of(start) < minutes_of(previous_end):
            raise ValueError(f"the opening at {start} overlaps one that closes at {previous_end}")
    return ordered


def _opens_some_day(hours: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
    if hours and not any(hours.values()):
        raise ValueError("opens on no day; send {} for a queue that is always open")
    return hours


Opening = Annotated[tuple[ClockTime, ClockTime], AfterValidator(_ends_after_start)]
DayOpenings = Annotated[
    list[Opening], Field(max_length=MAX_OPENINGS_PER_DAY), AfterValidator(_in_order_without_overlap)
]
BusinessHours = Annotated[
    dict[Weekday, DayOpenings],
    AfterValidator(_opens_some_day),
    Field(
        description='Openings per weekday in the tenant\'s time zone, e.g. {"mon": [["08:00", '
        '"20:00"]]}. A weekday left out is closed, and so is every public holiday of the '
        "tenant's country and region; {} means always open, holidays included.",
        examples=[{"mon": [["08:00", "14:00"], ["15:00", "20:00"]], "sat": [["09:00", "13:00"]]}],
    ),
]


# --- queues ----------------------------------------------------------------------------------


class RequiredSkillIn(Strict):
    skill_id: uuid.UUID
    min_level: SkillLevel = 1


class OverflowStepIn(Strict):
    """After ``after_seconds`` of waiting, widen who may take the work."""

    after_seconds: WaitSeconds
    min_level: SkillLevel | None = Field(
        default=None, description="Every required skill is relaxed to this level"
    )
    extra_queue_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_OVERFLOW_QUEUES,
        description="Agents who may take work of these queues may take this work too",
    )

    _unique_queues = field_validator("extra_queue_ids")(_unique)


SL_DEFAULTS = (
    "Default 80 % within 20 s; for a queue serving only email, web and task work (answered in "
    "hours, not seconds) 90 % within 4 h."
)


class QueueCreate(Strict):
    name: QueueName = Field(description="What an interaction's `queue` field names")
    description: Description | None = None
    channels: set[Channel] = Field(min_length=1, max_length=len(Channel))
    language: Locale | None = None
    priority: int = Field(default=0, ge=0, le=9, description="0 to 9, higher is served first")
    sl_target_percent: int | None = Field(default=None, ge=1, le=100, description=SL_DEFAULTS)
    sl_threshold_seconds: WaitSeconds | None = Field(default=None, description=SL_DEFAULTS)
    skills: list[RequiredSkillIn] = Field(default_factory=list, max_length=MAX_QUEUE_SKILLS)
    overflow: list[OverflowStepIn] = Field(default_factory=list, max_length=MAX_OVERFLOW_STEPS)
    offer_timeout_seconds: int = Field(default=15, ge=1, le=600)
    auto_accept: bool = Field(
        default=False,
        description="Work goes straight to the agent without an offer to accept; only for a "
        "queue serving only email, web and task work",
    )
    callback_threshold_seconds: WaitSeconds | None = Field(
        default=None, description="Above this estimated wait a caller is offered a callback"
    )
    business_hours: BusinessHours = Field(default_factory=dict)
    is_default: bool = Field(
        default=False,
        description="Work on a channel with no queue named goes to the channel's default queue. "
        "Making a queue the default takes the flag from any other default queue sharing a channel",
    )


# Columns that cannot hold NULL: an explicit null in a PATCH is an error, not "clear the value".
_QUEUE_NOT_NULLABLE = (
    "name",
    "channels",
    "priority",
    "sl_target_percent",
    "sl_threshold_seconds",
    "skills",
    "overflow",
    "offer_timeout_seconds",
    "auto_accept",
    "business_hours",
    "is_default",
)


class QueueUpdate(Strict):
    """A partial change: only the fields sent change; ``skills``, ``overflow`` and
    ``business_hours`` are replaced as a whole."""

    name: QueueName | None = None
    description: Description | None = None
    channels: set[Channel] | None = Field(default=None, min_length=1, max_length=len(Channel))
    language: Locale | None = None
    priority: int | None = Field(default=None, ge=0, le=9)
    sl_target_percent: int | None = Field(default=None, ge=1, le=100)
    sl_threshold_seconds: WaitSeconds | None = None
    skills: list[RequiredSkillIn] | None = Field(default=None, max_length=MAX_QUEUE_SKILLS)
    overflow: list[OverflowStepIn] | None = Field(default=None, max_length=MAX_OVERFLOW_STEPS)
    offer_timeout_seconds: int | None = Field(default=None, ge=1, le=600)
    auto_accept: bool | None = None
    callback_threshold_seconds: WaitSeconds | None = None
    business_hours: BusinessHours | None = None
    is_default: bool | None = None

    _not_nullable = field_validator(*_QUEUE_NOT_NULLABLE, mode="before")(_not_null)


class RequiredSkillOut(BaseModel):
    skill_id: uuid.UUID
    name: str
    min_level: int


class OverflowStepOut(BaseModel):
    after_seconds: int
    min_level: int | None
    extra_queue_ids: list[uuid.UUID]


class QueueOut(Read):
    id: uuid.UUID
    name: str
    description: str | None
    channels: list[Channel]
    language: str | None
    priority: int
    sl_target_percent: int
    sl_threshold_seconds: int
    overflow: list[OverflowStepOut]
    offer_timeout_seconds: int
    auto_accept: bool
    callback_threshold_seconds: int | None
    business_hours: dict[str, list[tuple[str, str]]]
    is_default: bool
    created_at: datetime
    updated_at: datetime


class QueueDetail(QueueOut):
    skills: list[RequiredSkillOut]


# --- agents ----------------------------------------------------------------------------------


class CapacityIn(Strict):
    """How much work of each kind the agent may hold at once (a call is always exclusive)."""

    voice: int = Field(ge=0, le=1)
    chat: int = Field(ge=0, le=20)
    email: int = Field(ge=0, le=50)
    sms: int = Field(ge=0, le=50)
    task: int = Field(ge=0, le=50)


class AgentSkillIn(Strict):
    skill_id: uuid.UUID
    level: SkillLevel


class AgentUpdate(Strict):
    """An agent's whole routing profile. Languages, capacity, occupancy cap and wrap-up time are
    shared by every tenant the agent serves; ``skills`` are this tenant's only."""

    languages: list[LanguageCode] = Field(max_length=MAX_LANGUAGES)
    capacity: CapacityIn
    occupancy_cap: float = Field(
        ge=0.1, le=1.0, description="The share of time the agent may be busy, 0.1 to 1"
    )
    wrap_up_seconds: int = Field(ge=0, le=3600)
    skills: list[AgentSkillIn] = Field(max_length=MAX_AGENT_SKILLS)

    _unique_languages = field_validator("languages")(_unique)


class AgentSkillOut(BaseModel):
    skill_id: uuid.UUID
    name: str
    level: int


class PerLoadOut(BaseModel):
    voice: int
    chat: int
    email: int
    sms: int
    task: int


class AgentOut(BaseModel):
    user_id: uuid.UUID
    display_name: str
    role: Role
    presence: Presence
    presence_reason: str | None
    languages: list[str]
    capacity: PerLoadOut
    load: PerLoadOut = Field(description="The work the agent holds now, across every tenant")
    occupancy_cap: float
    wrap_up_seconds: int
    skills: list[AgentSkillOut] = Field(description="The agent's skills in this tenant")


# --- presence and work in hand -----------------------------------------------------------------


class PresenceIn(Strict):
    presence: Presence = Field(description="available, away or offline; busy follows from load")
    reason: str | None = Field(
        default=None, max_length=50, description="Required when away: why (break, lunch, ...)"
    )


class PresenceOut(BaseModel):
    user_id: uuid.UUID
    presence: Presence
    presence_reason: str | None
    presence_changed_at: datetime


class TransferIn(Strict):
    """Exactly one target: a queue of the same tenant or a colleague who serves it."""

    queue_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    note: str | None = Field(default=None, min_length=1, max_length=2000)


class OfferToIn(Strict):
    agent_id: uuid.UUID = Field(description="A signed-in agent who serves this tenant")


class WrapUpIn(Strict):
    disposition: str = Field(min_length=1, max_length=100)
    notes: str | None = Field(default=None, min_length=1, max_length=4000)


class HeldWorkOut(BaseModel):
    """A piece of work an agent holds: offered to them, being handled, or in wrap-up."""

    tenant_slug: str
    interaction_id: uuid.UUID
    customer_id: uuid.UUID
    channel: Channel
    queue: str | None
    subject: str | None
    state: str
    offered_at: datetime
    expires_at: datetime | None
    answered_at: datetime | None


class MyWorkOut(PresenceOut):
    work: list[HeldWorkOut]


class QueueAvailability(BaseModel):
    """What to tell a customer before they wait: IVR prompts and the chat widget read this."""

    queue_id: uuid.UUID
    open: bool
    next_opening: datetime | None = Field(description="When a closed queue opens next")
    estimated_wait_seconds: float | None
    offer_callback: bool = Field(
        description="Closed, or the estimated wait is above the queue's callback threshold"
    )


class PositionOut(BaseModel):
    position: int = Field(description="1 is next; 0 when the work no longer waits")
    estimated_wait_seconds: float | None


# --- live statistics ---------------------------------------------------------------------------


class AgentsByState(BaseModel):
    available: int = 0
    busy: int = 0
    away: int = 0
    wrap_up: int = 0
    offline: int = 0


class WindowStats(BaseModel):
    """The measures of KPI.md over one interval (the last 30 minutes, or today)."""

    offered: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    short_abandoned: int
    service_level: float | None = Field(
        description="0-1; answered within T / (answered + abandoned − short abandons)"
    )
    asa_seconds: float | None
    abandonment_rate: float | None


class QueueStats(BaseModel):
    queue_id: uuid.UUID
    name: str
    sl_target_percent: int
    sl_threshold_seconds: int
    waiting: int
    longest_wait_seconds: float
    estimated_wait_seconds: float | None
    agents: AgentsByState
    last_30_minutes: WindowStats
    today: WindowStats
