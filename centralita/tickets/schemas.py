"""Tickets as the API shows them: creating, changing, messages, links, searches and bulk changes."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from centralita.interactions.models import Channel
from centralita.schemas import Locale, Read, Strict
from centralita.sla.models import TargetKind, TargetStatus
from centralita.tickets.models import (
    Level,
    MessageKind,
    Priority,
    TicketStatus,
    TicketType,
)

MAX_TEXT = 20_000
MAX_HTML = 200_000
MAX_TAGS = 50
MAX_FOLLOWERS = 50
MAX_CUSTOM_FIELDS = 50
MAX_MACROS = 50
MAX_BULK = 500
MAX_CHILDREN = 500

Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Description = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


def not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


def unique_items(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else list(dict.fromkeys(values))


class MacroRender(Strict):
    template_id: uuid.UUID
    index: int = Field(ge=0, lt=MAX_MACROS, description="The macro's position in the template")
    locale: Locale | None = Field(
        default=None, description="Default: the requester's language, else the tenant's"
    )


class RenderedMacro(BaseModel):
    name: str
    locale: str
    text: str


# --- tickets -----------------------------------------------------------------------------------


class TicketCreate(Strict):
    """A new ticket; what is left out comes from ``template_id`` when given, else the defaults."""

    requester_id: uuid.UUID
    template_id: uuid.UUID | None = None
    type: TicketType | None = None
    subject: Subject | None = None
    description: Description = ""
    channel: Channel = Field(
        default=Channel.TASK, description="Where the ticket came from; task: made by hand"
    )
    team_id: uuid.UUID | None = None
    assignee_user_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    followers: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_FOLLOWERS)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    custom_fields: dict[str, Any] = Field(default_factory=dict, max_length=MAX_CUSTOM_FIELDS)
    impact: Level | None = None
    urgency: Level | None = None
    priority: Priority | None = Field(
        default=None, description="Chosen by hand; left out, the tenant's matrix decides"
    )
    parent_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "The requester's conversation this ticket is about: it is filed under the ticket and,"
            " while it is still open, it is the ticket's work, so no second work item is queued"
        ),
    )

    _lists = field_validator("followers", "tags")(unique_items)


# Columns that cannot hold NULL: an explicit null is an error, not "clear the value".
_NOT_NULLABLE_TICKET = (
    "type",
    "status",
    "subject",
    "description",
    "tags",
    "custom_fields",
    "impact",
    "urgency",
    "followers",
    "is_major",
)


class TicketUpdate(Strict):
    """A partial change. ``tags`` and ``followers`` are replaced as a whole; ``custom_fields``
    sets the keys sent (null clears one); ``priority`` null hands it back to the matrix."""

    type: TicketType | None = None
    status: TicketStatus | None = None
    subject: Subject | None = None
    description: Description | None = None
    team_id: uuid.UUID | None = None
    assignee_user_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    followers: list[uuid.UUID] | None = Field(default=None, max_length=MAX_FOLLOWERS)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    custom_fields: dict[str, Any] | None = Field(default=None, max_length=MAX_CUSTOM_FIELDS)
    impact: Level | None = None
    urgency: Level | None = None
    priority: Priority | None = None
    parent_id: uuid.UUID | None = None
    is_major: bool | None = None

    _required = field_validator(*_NOT_NULLABLE_TICKET, mode="before")(not_null)
    _lists = field_validator("followers", "tags")(unique_items)


class SlaTargetOut(Read):
    kind: TargetKind
    status: TargetStatus
    due_at: datetime | None
    achieved_at: datetime | None
    breached_at: datetime | None


class TicketRef(BaseModel):
    id: uuid.UUID
    reference: str
    subject: str
    status: TicketStatus


class TicketOut(BaseModel):
    id: uuid.UUID
    number: int
    reference: str = Field(description="The number as people quote it, e.g. BP-1042")
    type: TicketType
    status: TicketStatus
    subject: str
    description: str
    requester_id: uuid.UUID
    team_id: uuid.UUID | None
    assignee_user_id: uuid.UUID | None
    category_id: uuid.UUID | None
    channel: str
    tags: list[str]
    custom_fields: dict[str, Any]
    impact: Level
    urgency: Level
    priority: Priority
    priority_overridden: bool
    is_major: bool
    parent_id: uuid.UUID | None
    merged_into_id: uuid.UUID | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    status_changed_at: datetime
    created_at: datetime
    updated_at: datetime


class TicketDetail(TicketOut):
    followers: list[uuid.UUID]
    sla_targets: list[SlaTargetOut]
    related: list[TicketRef]
    children: list[TicketRef]


AuthoredKind = Literal[MessageKind.PUBLIC, MessageKind.INTERNAL, MessageKind.CUSTOMER]


class MessageCreate(Strict):
    """A public reply, an internal note, or what the customer wrote (which may reopen the
    ticket, or open a follow-up linked to it)."""

    kind: AuthoredKind
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    html: Annotated[str, StringConstraints(max_length=MAX_HTML)] | None = None


class MessageOut(Read):
    id: uuid.UUID
    ticket_id: uuid.UUID
    kind: MessageKind
    author_user_id: uuid.UUID | None
    text: str
    html: str | None
    created_at: datetime


class HistoryEntry(BaseModel):
    """A change (from the audit log) or a message, in the order they happened."""

    at: datetime
    entry: Literal["change", "message"]
    action: str | None = None
    actor_label: str | None = None
    actor_user_id: uuid.UUID | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    message: MessageOut | None = None


# --- merge, links, major incidents -------------------------------------------------------------


class MergeIn(Strict):
    """Merge the duplicate ``source_id`` into the ticket named in the path, which survives."""

    source_id: uuid.UUID


class LinkIn(Strict):
    other_id: uuid.UUID


class ConversationIn(Strict):
    """A conversation (an interaction) to file under the ticket named in the path."""

    interaction_id: uuid.UUID


class ChildrenIn(Strict):
    ticket_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_CHILDREN)

    _ids = field_validator("ticket_ids")(unique_items)


class MajorUpdateIn(Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    html: Annotated[str, StringConstraints(max_length=MAX_HTML)] | None = None


class MajorUpdateOut(BaseModel):
    message: MessageOut
    updated_ticket_ids: list[uuid.UUID]


# --- search, views, bulk -----------------------------------------------------------------------

BUILTIN_VIEWS = ("mine", "unassigned", "breaching_soon")
Sort = Literal["updated", "due"]


class TicketFilters(BaseModel):
    """What a search or a saved view selects; every condition given must hold."""

    status: list[TicketStatus] = Field(default_factory=list, max_length=len(TicketStatus))
    priority: list[Priority] = Field(default_factory=list, max_length=len(Priority))
    assignee: str | None = Field(
        default=None, pattern=r"^(me|none|[0-9a-fA-F-]{32,36})$", description="id, me or none"
    )
    team: uuid.UUID | None = None
    category: uuid.UUID | None = None
    requester: uuid.UUID | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    breached: bool | None = Field(default=None, description="Has (or has no) breached target")
    due_before: datetime | None = Field(
        default=None, description="A running SLA target falls due before this time"
    )
    due_after: datetime | None = Field(
        default=None, description="A running SLA target falls due at or after this time"
    )
    text: str | None = Field(default=None, max_length=200)
    sort: Sort = "updated"

    @field_validator("due_before", "due_after")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2025-01-31T18:00:00Z")
        return value


class StoredFilters(TicketFilters, Strict):
    """Filters a saved view keeps: unknown keys are refused."""


class TicketSearch(TicketFilters):
    view: str | None = Field(
        default=None,
        max_length=36,
        description=f"A saved view's id, or one of {', '.join(BUILTIN_VIEWS)}; the other "
        "parameters given refine it",
    )


class ViewCreate(Strict):
    name: Name
    filters: StoredFilters = Field(default_factory=StoredFilters)
    shared: bool = Field(default=False, description="Seen by the whole tenant (supervisors)")
    position: int = Field(default=0, ge=0, le=1000)


class ViewUpdate(Strict):
    name: Name | None = None
    filters: StoredFilters | None = None
    position: int | None = Field(default=None, ge=0, le=1000)

    _required = field_validator("name", "filters", "position", mode="before")(not_null)


class ViewOut(BaseModel):
    id: str
    name: str
    builtin: bool
    shared: bool
    filters: dict[str, Any]
    position: int


class BulkChanges(Strict):
    """The same change for every ticket; ``assignee_user_id`` or ``team_id`` null unassigns."""

    status: TicketStatus | None = None
    assignee_user_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    priority: Priority | None = None
    tags_add: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    tags_remove: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)

    _status = field_validator("status", "priority", mode="before")(not_null)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("name at least one change")
        return self


class BulkUpdate(Strict):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BULK)
    changes: BulkChanges

    _ids = field_validator("ids")(unique_items)


class BulkResult(BaseModel):
    updated: int
    items: list[TicketOut]
