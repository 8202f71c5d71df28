"""Rules as validated JSON: triggers, conditions and actions, with their limits."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from centralita.events.outbox import RECORDED_TYPES
from centralita.schemas import Locale, Read, Strict
from centralita.tickets.models import Priority, TicketStatus

SCHEDULE_TRIGGER = "schedule.fired"
Label = Annotated[str, Field(min_length=1, max_length=100)]
Texts = Annotated[
    dict[Locale, Annotated[str, Field(min_length=1, max_length=1000)]], Field(min_length=1)
]

Operator = Literal[
    "eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains", "exists", "not_exists"
]


class Condition(Strict):
    field: str = Field(
        pattern=r"^(event|customer|agent)(\.[a-z_][a-z0-9_]*){1,4}$",
        max_length=100,
        description="A dotted path: event.<data field>, customer.<profile field>, agent.id.",
    )
    op: Operator
    value: JsonValue = None

    @model_validator(mode="after")
    def _value_fits(self) -> "Condition":
        if self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value or len(self.value) > 100:
                raise ValueError(f"{self.op} needs a list of 1 to 100 values")
        elif self.op not in ("exists", "not_exists") and self.value is None:
            raise ValueError(f"{self.op} needs a value")
        return self


class CreateCallback(Strict):
    type: Literal["create_callback"]
    queue: Label | None = Field(default=None, description="None: the event's queue.")
    priority: int = Field(default=5, ge=0, le=9)
    due_in_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)
    expires_in_hours: int = Field(default=48, ge=1, le=24 * 30)
    reason: str = Field(min_length=1, max_length=300)


class SetPriority(Strict):
    type: Literal["set_priority"]
    priority: int = Field(ge=0, le=9)


class SetQueue(Strict):
    type: Literal["set_queue"]
    queue: Label


class TagCustomer(Strict):
    type: Literal["tag_customer"]
    tag: Label


class NotifyTeam(Strict):
    type: Literal["notify_team"]
    team_id: uuid.UUID | None = Field(default=None, description="None: the tenant's supervisors.")
    message: str = Field(min_length=1, max_length=500)


class SendMessage(Strict):
    type: Literal["send_message"]
    channel: Literal["preferred", "sms", "email", "voice"] = "preferred"
    text: Texts
    subject: Texts | None = None


class SendSurvey(Strict):
    """Invite the contact's customer to the survey that follows the contact (sampled, with a
    cool-off)."""

    type: Literal["send_survey"]


class CreateTicket(Strict):
    """Open a ticket for the event's customer."""

    type: Literal["create_ticket"]
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=5000)
    team_id: uuid.UUID | None = None
    priority: Priority | None = Field(default=None, description="None: the tenant's matrix.")
    tags: list[Label] = Field(default_factory=list, max_length=10)


class UpdateTicket(Strict):
    """Change the event's ticket."""

    type: Literal["update_ticket"]
    status: TicketStatus | None = None
    priority: Priority | None = None
    team_id: uuid.UUID | None = None
    add_tags: list[Label] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _changes_something(self) -> "UpdateTicket":
        if not (self.status or self.priority or self.team_id or self.add_tags):
            raise ValueError("say what to change: status, priority, team_id or add_tags")
        return self


class CallWebhook(Strict):
    type: Literal["call_webhook"]
    subscription_id: uuid.UUID


Action = Annotated[
    CreateCallback
    | SetPriority
    | SetQueue
    | TagCustomer
    | NotifyTeam
    | SendMessage
    | SendSurvey
    | CreateTicket
    | UpdateTicket
    | CallWebhook,
    Field(discriminator="type"),
]


class RuleDefinition(Strict):
    name: str = Field(min_length=1, max_length=100)
    trigger: str = Field(max_length=64, description="The event type the rule waits for.")
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    actions: list[Action] = Field(min_length=1, max_length=10)
    position: int = Field(default=100, ge=0, le=100_000)
    active: bool = True
    stop_processing: bool = Field(
        default=False, description="When this rule fires, later rules do not run for the event."
    )
    every_minutes: int | None = Field(
        default=None,
        ge=5,
        le=7 * 24 * 60,
        description=f"For the trigger {SCHEDULE_TRIGGER}: how often the rule runs.",
    )

    @field_validator("trigger")
    @classmethod
    def _known_trigger(cls, value: str) -> str:
        if value not in RECORDED_TYPES:
            raise ValueError(f"unknown event type {value!r}")
        return value

    @model_validator(mode="after")
    def _schedule(self) -> "RuleDefinition":
        if (self.trigger == SCHEDULE_TRIGGER) != (self.every_minutes is not None):
            raise ValueError(f"every_minutes goes with the trigger {SCHEDULE_TRIGGER}, and only")
        return self


class RuleUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    conditions: list[Condition] | None = Field(default=None, max_length=20)
    actions: list[Action] | None = Field(default=None, min_length=1, max_length=10)
    position: int | None = Field(default=None, ge=0, le=100_000)
    active: bool | None = None
    stop_processing: bool | None = None
    every_minutes: int | None = Field(default=None, ge=5, le=7 * 24 * 60)


class RuleOut(Read):
    id: uuid.UUID
    name: str
    trigger: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    position: int
    active: bool
    stop_processing: bool
    default_key: str | None
    every_minutes: int | None
    next_run_at: datetime | None
    created_at: datetime


class RuleRunOut(Read):
    id: uuid.UUID
    rule_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    succeeded: bool
    results: list[dict[str, Any]]
    error: str | None
    created_at: datetime


class DryRunMatch(Read):
    event_id: uuid.UUID
    event_type: str
    at: datetime
    actions: list[dict[str, Any]]


class DryRunOut(Read):
    events_examined: int
    matches: list[DryRunMatch]


class ApiEventIn(Strict):
    name: str = Field(
        pattern=r"^[a-z][a-z0-9_.-]*$", max_length=64, description="What happened: device.alert"
    )
    customer_id: uuid.UUID | None = None
    data: dict[str, JsonValue] = Field(default_factory=dict)
