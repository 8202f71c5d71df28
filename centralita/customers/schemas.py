import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self
from zoneinfo import available_timezones

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from centralita.customers.models import IdentityKind, ValueTier
from centralita.schemas import Read, Strict

PIN_MASK = "••••"
MAX_IDENTITIES = 20
MAX_TAGS = 50
MAX_ATTRIBUTES = 50

Channel = Literal["voice", "chat", "email", "sms", "web"]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
AttributeKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
AttributeValue = Annotated[str, StringConstraints(max_length=1000)] | bool | int | float | None
# BCP 47 language with an optional region: "es", "en", "ast", "pt-BR".
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z]{2})?$")]


def shown_identity_value(kind: IdentityKind, value: str) -> str:
    """What may leave the service for an identity: a PIN is only ever shown as set."""
    return PIN_MASK if kind == IdentityKind.PIN else value


def _check_zone(value: str | None) -> str | None:
    if value is not None and value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


def _canonical_language(value: str | None) -> str | None:
    if value is None:
        return None
    primary, _, region = value.partition("-")
    return f"{primary.lower()}-{region.upper()}" if region else primary.lower()


def _unique_tags(tags: list[str] | None) -> list[str] | None:
    return None if tags is None else list(dict.fromkeys(tags))


class IdentityCreate(Strict):
    kind: IdentityKind
    value: str = Field(min_length=1, max_length=320)


class CustomerCreate(Strict):
    display_name: str = Field(min_length=1, max_length=200)
    preferred_name: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=50)
    language: LanguageTag | None = Field(default=None, max_length=5)
    time_zone: str | None = Field(default=None, max_length=64)
    segment: str | None = Field(default=None, max_length=50)
    value_tier: ValueTier = ValueTier.STANDARD
    lifetime_value: Decimal = Field(default=Decimal(0), ge=0, max_digits=14, decimal_places=2)
    preferred_channel: Channel | None = None
    consent_email: bool = False
    consent_sms: bool = False
    consent_marketing: bool = False
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict, max_length=MAX_ATTRIBUTES
    )
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    identities: list[IdentityCreate] = Field(default_factory=list, max_length=MAX_IDENTITIES)

    _zone = field_validator("time_zone")(_check_zone)
    _language = field_validator("language")(_canonical_language)
    _tags = field_validator("tags")(_unique_tags)


# Columns that cannot hold NULL: an explicit null in a PATCH is an error, not "clear the value".
_NOT_NULLABLE = (
    "display_name",
    "value_tier",
    "lifetime_value",
    "consent_email",
    "consent_sms",
    "consent_marketing",
    "attributes",
    "tags",
)


class CustomerUpdate(Strict):
    """A partial change: only the fields sent are changed; ``attributes`` and ``tags`` are
    replaced as a whole."""

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    preferred_name: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=50)
    language: LanguageTag | None = Field(default=None, max_length=5)
    time_zone: str | None = Field(default=None, max_length=64)
    segment: str | None = Field(default=None, max_length=50)
    value_tier: ValueTier | None = None
    lifetime_value: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    preferred_channel: Channel | None = None
    consent_email: bool | None = None
    consent_sms: bool | None = None
    consent_marketing: bool | None = None
    attributes: dict[AttributeKey, AttributeValue] | None = Field(
        default=None, max_length=MAX_ATTRIBUTES
    )
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)

    _zone = field_validator("time_zone")(_check_zone)
    _language = field_validator("language")(_canonical_language)
    _tags = field_validator("tags")(_unique_tags)

    @field_validator(*_NOT_NULLABLE, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not set to null")
        return value


class MergeRequest(Strict):
    """Merge the customer ``source_id`` into the customer named in the path, which survives."""

    source_id: uuid.UUID


class CustomerSearch(BaseModel):
    q: str | None = Field(
        default=None,
        max_length=200,
        description="A name (accents and case ignored), an email, a phone in any common format, "
        "or a chat or CRM id",
    )


class IdentityOut(Read):
    id: uuid.UUID
    customer_id: uuid.UUID
    kind: IdentityKind
    value: str
    created_at: datetime
    undeliverable_at: datetime | None = Field(
        default=None, description="When mail to this address bounced for good (email only)"
    )
    undeliverable_reason: str | None = None

    @model_validator(mode="after")
    def _hide_pin(self) -> Self:
        self.value = shown_identity_value(self.kind, self.value)
        return self


class CustomerOut(Read):
    id: uuid.UUID
    display_name: str
    preferred_name: str | None
    title: str | None
    language: str | None
    time_zone: str | None
    segment: str | None
    value_tier: ValueTier
    lifetime_value: Decimal
    preferred_channel: str | None
    consent_email: bool
    consent_sms: bool
    consent_marketing: bool
    attributes: dict[str, Any]
    tags: list[str]
    merged_into_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class CustomerDetail(CustomerOut):
    identities: list[IdentityOut]
