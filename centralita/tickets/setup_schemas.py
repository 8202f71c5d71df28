"""What a tenant sets up for its tickets, as the API shows it: settings, teams, categories, custom
fields and templates."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from centralita.schemas import Locale, Read, Strict
from centralita.tickets.models import FieldKind, Level, Priority, TicketType
from centralita.tickets.schemas import (
    MAX_CUSTOM_FIELDS,
    MAX_MACROS,
    MAX_TEXT,
    Name,
    Subject,
    not_null,
    unique_items,
)

MAX_CHOICES = 100
MAX_CHECKLIST = 50
MAX_TEAM_MEMBERS = 500

FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
Prefix = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{0,9}$")]
LocaleText = dict[Locale, Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]]
# Impact, then urgency, to a priority.
PriorityMatrix = dict[Level, dict[Level, Priority]]


# --- settings ----------------------------------------------------------------------------------


class SettingsUpdate(Strict):
    """``prefix`` may change only until the first ticket is numbered, so printed numbers stay
    true."""

    prefix: Prefix | None = None
    priority_matrix: PriorityMatrix | None = None
    reopen_days: int | None = Field(default=None, ge=0, le=365)

    _required = field_validator("prefix", "priority_matrix", "reopen_days", mode="before")(not_null)

    @field_validator("priority_matrix")
    @classmethod
    def _complete(cls, matrix: PriorityMatrix | None) -> PriorityMatrix | None:
        if matrix is not None and any(
            set(matrix.get(impact, {})) != set(Level) for impact in Level
        ):
            raise ValueError("give a priority for every impact and urgency (high, medium, low)")
        return matrix


class SettingsOut(BaseModel):
    prefix: str
    next_number: int
    priority_matrix: dict[str, dict[str, str]]
    reopen_days: int


# --- teams, categories, custom fields ----------------------------------------------------------


class TeamCreate(Strict):
    name: Name
    description: Annotated[str, StringConstraints(max_length=300)] | None = None
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_TEAM_MEMBERS)

    _members = field_validator("member_ids")(unique_items)


class TeamUpdate(Strict):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=300)] | None = None

    _name = field_validator("name", mode="before")(not_null)


class TeamMembers(Strict):
    user_ids: list[uuid.UUID] = Field(max_length=MAX_TEAM_MEMBERS)

    _members = field_validator("user_ids")(unique_items)


class TeamOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    member_ids: list[uuid.UUID]
    created_at: datetime


class CategoryCreate(Strict):
    name: Name
    parent_id: uuid.UUID | None = None


class CategoryUpdate(Strict):
    name: Name | None = None
    parent_id: uuid.UUID | None = None

    _name = field_validator("name", mode="before")(not_null)


class CategoryOut(BaseModel):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    # Names from the root down, e.g. "Tarjetas / Bloqueo".
    path: str


def _choices_fit_kind(kind: FieldKind | None, choices: list[str] | None) -> None:
    if kind == FieldKind.CHOICE and not choices:
        raise ValueError("a choice field needs its choices")
    if kind is not None and kind != FieldKind.CHOICE and choices:
        raise ValueError("only a choice field takes choices")


class CustomFieldCreate(Strict):
    key: FieldKey
    label: dict[Locale, Name] = Field(default_factory=dict)
    kind: FieldKind
    choices: list[Name] = Field(default_factory=list, max_length=MAX_CHOICES)
    required: bool = False

    _choices = field_validator("choices")(unique_items)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        _choices_fit_kind(self.kind, self.choices)
        return self


class CustomFieldUpdate(Strict):
    """The key and the kind stay: values already stored were checked against them."""

    label: dict[Locale, Name] | None = None
    choices: list[Name] | None = Field(default=None, max_length=MAX_CHOICES)
    required: bool | None = None

    _required = field_validator("label", "choices", "required", mode="before")(not_null)
    _choices = field_validator("choices")(unique_items)


class CustomFieldOut(Read):
    id: uuid.UUID
    key: str
    label: dict[str, str]
    kind: FieldKind
    choices: list[str]
    required: bool


# --- templates ---------------------------------------------------------------------------------


class MacroIn(Strict):
    name: Name
    # Placeholders: {{customer.preferred_name}}, {{customer.display_name}}, {{ticket.number}},
    # {{ticket.subject}}, {{agent.display_name}}.
    body: LocaleText = Field(min_length=1)


class TemplateCreate(Strict):
    name: Name
    type: TicketType | None = None
    category_id: uuid.UUID | None = None
    impact: Level | None = None
    urgency: Level | None = None
    subject: dict[Locale, Subject] = Field(default_factory=dict)
    custom_fields: dict[str, Any] = Field(default_factory=dict, max_length=MAX_CUSTOM_FIELDS)
    checklist: list[Subject] = Field(default_factory=list, max_length=MAX_CHECKLIST)
    macros: list[MacroIn] = Field(default_factory=list, max_length=MAX_MACROS)


class TemplateUpdate(Strict):
    name: Name | None = None
    type: TicketType | None = None
    category_id: uuid.UUID | None = None
    impact: Level | None = None
    urgency: Level | None = None
    subject: dict[Locale, Subject] | None = None
    custom_fields: dict[str, Any] | None = Field(default=None, max_length=MAX_CUSTOM_FIELDS)
    checklist: list[Subject] | None = Field(default=None, max_length=MAX_CHECKLIST)
    macros: list[MacroIn] | None = Field(default=None, max_length=MAX_MACROS)

    _required = field_validator(
        "name", "subject", "custom_fields", "checklist", "macros", mode="before"
    )(not_null)


class TemplateOut(Read):
    id: uuid.UUID
    name: str
    type: TicketType | None
    category_id: uuid.UUID | None
    impact: Level | None
    urgency: Level | None
    subject: dict[str, str]
    custom_fields: dict[str, Any]
    checklist: list[str]
    macros: list[dict[str, Any]]
