import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AnyHttpUrl, Field, TypeAdapter, field_validator

from centralita.customers.models import IdentityKind
from centralita.interactions.models import AuthorKind, Channel, Direction, InteractionState
from centralita.schemas import Read, Strict

MAX_TEXT = 20_000
MAX_HTML = 200_000
MAX_ATTACHMENTS = 20
# What self-service collected is a handful of answers, not a document store.
MAX_CONTEXT_BYTES = 16_384
LANGUAGE_PATTERN = r"^[a-z]{2}(-[A-Z]{2})?$"
Label = Annotated[str, Field(min_length=1, max_length=100)]


# A file this installation stores (an email's attachment) is linked by its own download path.
STORED_FILE_PATH = re.compile(r"^/api/v1/tenants/[a-z0-9-]+/email/attachments/[0-9a-f-]{36}$")
WEB_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


def _file_address(value: str) -> str:
    if STORED_FILE_PATH.match(value):
        return value
    return str(WEB_URL.validate_python(value))


class AttachmentIn(Strict):
    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(
        max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$", examples=["application/pdf"]
    )
    size: int = Field(ge=0)
    url: Annotated[str, AfterValidator(_file_address)] = Field(
        max_length=2000, description="an http(s) URL, or a stored email attachment's path"
    )


class MessageIn(Strict):
    author_kind: AuthorKind = AuthorKind.CUSTOMER
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    html: str | None = Field(default=None, max_length=MAX_HTML)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class IdentityIn(Strict):
    kind: IdentityKind
    value: str = Field(min_length=1, max_length=320)


class InteractionCreate(Strict):
    """New work for a customer, named by ``customer_id`` or recognised by an ``identity``."""

    channel: Channel
    direction: Direction = Direction.INBOUND
    customer_id: uuid.UUID | None = None
    identity: IdentityIn | None = None
    # Used only when the identity is new and a customer is created for it.
    customer_name: str | None = Field(default=None, min_length=1, max_length=200)
    state: InteractionState = InteractionState.QUEUED
    queue: Label | None = None
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN)
    priority: int = Field(default=5, ge=0, le=9)
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    topic: Label | None = None
    self_service_context: dict[str, Any] = Field(default_factory=dict)
    external_ref: str | None = Field(default=None, min_length=1, max_length=200)
    message: MessageIn | None = None

    @field_validator("self_service_context")
    @classmethod
    def _bounded_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, separators=(",", ":"))) > MAX_CONTEXT_BYTES:
            raise ValueError(f"must serialise to at most {MAX_CONTEXT_BYTES} bytes of JSON")
        return value


class InteractionUpdate(Strict):
    state: InteractionState | None = None
    disposition: Label | None = None
    queue: Label | None = None
    priority: int | None = Field(default=None, ge=0, le=9)
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    topic: Label | None = None


class AttachmentOut(Read):
    name: str
    content_type: str
    size: int
    url: str


class MessageOut(Read):
    id: uuid.UUID
    author_kind: AuthorKind
    author_user_id: uuid.UUID | None
    text: str
    html: str | None
    attachments: list[AttachmentOut]
    created_at: datetime


class InteractionOut(Read):
    id: uuid.UUID
    customer_id: uuid.UUID
    channel: Channel
    direction: Direction
    state: InteractionState
    queue: str | None
    language: str | None
    priority: int
    subject: str | None
    topic: str | None
    self_service_context: dict[str, Any]
    agent_user_id: uuid.UUID | None
    ticket_id: uuid.UUID | None = Field(description="The ticket this conversation is filed under")
    disposition: str | None
    external_ref: str | None
    created_at: datetime
    queued_at: datetime | None
    offered_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wrap_up_ended_at: datetime | None
    updated_at: datetime


class InteractionDetail(InteractionOut):
    messages: list[MessageOut]
