import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

from centralita.campaigns.hours import WEEKDAYS, minutes_of
from centralita.campaigns.models import (
    CampaignStatus,
    ConsentSource,
    ContactChannel,
    ContactStatus,
)
from centralita.customers.models import ValueTier
from centralita.schemas import Read, Strict

MAX_TEMPLATE = 1600
DEFAULT_HOURS: dict[str, list[list[str]]] = {
    day: [["09:00", "21:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")
}


def _clock(value: str) -> str:
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2 or not (0 <= minutes_of(value) <= 24 * 60):
            raise ValueError
        if int(minutes) >= 60:
            raise ValueError
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day such as 09:00") from None
    return value


class Segment(Strict):
    """Customers of the tenant that match every criterion given (an empty one matches all)."""

    segment: str | None = Field(default=None, max_length=50)
    value_tiers: list[ValueTier] = Field(default_factory=list, max_length=4)
    tags: list[str] = Field(default_factory=list, max_length=20)
    languages: list[str] = Field(default_factory=list, max_length=10)


class CampaignCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    segment: Segment | None = Field(
        default=None, description="Target a customer segment; without it, upload a CSV."
    )
    templates: dict[ContactChannel, dict[str, str]] = Field(
        description='Text per channel and language, e.g. {"sms": {"es": "Hola {name}"}}; '
        "{name} and the CSV's columns are filled in. voice: the script an agent reads on a "
        "call; voice_msg: what an automated call says, in the customer's language."
    )
    subjects: dict[str, str] = Field(default_factory=dict, description="Email subject per language")
    channels: list[ContactChannel] = Field(
        default_factory=lambda: [ContactChannel.SMS, ContactChannel.EMAIL], max_length=3
    )
    fallback_language: str = Field(default="es", min_length=2, max_length=5)
    allowed_hours: dict[str, list[list[str]]] = Field(default_factory=lambda: dict(DEFAULT_HOURS))
    quiet_hours: list[str] | None = Field(default=None, min_length=2, max_length=2)
    frequency_cap: int = Field(default=3, ge=1, le=100)
    frequency_days: int = Field(default=7, ge=1, le=90)
    pace_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    voice_queue: str | None = Field(default=None, min_length=1, max_length=100)
    starts_at: datetime | None = None

    @field_validator("templates")
    @classmethod
    def _templates(
        cls, value: dict[ContactChannel, dict[str, str]]
    ) -> dict[ContactChannel, dict[str, str]]:
        if not value:
            raise ValueError("give a template for at least one channel")
        for channel, texts in value.items():
            if not texts:
                raise ValueError(f"the {channel.value} template has no language")
            for language, text in texts.items():
                if not (2 <= len(language) <= 5) or not text.strip() or len(text) > MAX_TEMPLATE:
                    raise ValueError(
                        f"the {channel.value} text in {language!r} is empty or too long"
                    )
        return value

    @field_validator("allowed_hours")
    @classmethod
    def _hours(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        for day, openings in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday (mon..sun)")
            for opening in openings:
                if len(opening) != 2 or minutes_of(_clock(opening[0])) >= minutes_of(
                    _clock(opening[1])
                ):
                    raise ValueError(f"{opening} is not an opening such as ['09:00', '21:00']")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_clock(v) for v in value]

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (or Z for UTC)")
        return value

    @model_validator(mode="after")
    def _voice_needs_queue(self) -> "CampaignCreate":
        if ContactChannel.VOICE in self.channels and self.voice_queue is None:
            raise ValueError("a campaign that calls customers needs a voice_queue for its agents")
        return self


class CampaignOut(Read):
    id: uuid.UUID
    name: str
    status: CampaignStatus
    segment_query: dict[str, Any] | None
    templates: dict[str, Any]
    subjects: dict[str, Any]
    channels: list[str]
    fallback_language: str
    allowed_hours: dict[str, Any]
    quiet_hours: list[str] | None
    frequency_cap: int
    frequency_days: int
    pace_per_minute: int | None
    voice_queue: str | None
    starts_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None = Field(
        description="When every contact had its outcome (sent, delivered, failed, skipped ...)"
    )
    created_at: datetime


class ImportOut(Read):
    id: uuid.UUID
    campaign_id: uuid.UUID
    filename: str
    total_bytes: int
    read_bytes: int
    rows_read: int
    rows_imported: int
    rows_rejected: int
    finished: bool
    row_errors: list[dict[str, Any]]
    row_notes: list[dict[str, Any]]
    detail: str | None
    created_at: datetime


class ContactOut(Read):
    id: uuid.UUID
    customer_id: uuid.UUID
    status: ContactStatus
    channel: str | None
    to_address: str | None
    reason: str | None
    error: str | None
    attempts: int
    due_at: datetime
    sent_at: datetime | None


class ResultsOut(Strict):
    campaign: CampaignOut
    totals: dict[str, int]
    skipped_by_reason: dict[str, int]
    contacts: list[ContactOut]
    next_cursor: str | None = None


class ConsentIn(Strict):
    channel: ContactChannel
    granted: bool
    detail: str | None = Field(default=None, max_length=300)

    @field_validator("channel")
    @classmethod
    def _one_consent_for_calls(cls, value: ContactChannel) -> ContactChannel:
        if value == ContactChannel.VOICE_MESSAGE:
            raise ValueError("automated calls follow the consent for voice: record that one")
        return value


class ConsentOut(Read):
    customer_id: uuid.UUID
    channel: ContactChannel
    granted: bool
    source: ConsentSource
    detail: str | None
    changed_at: datetime
