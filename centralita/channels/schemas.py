"""API shapes of channel addresses."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from centralita.channels.models import AddressChannel
from centralita.schemas import Read, Strict

MAX_SETTINGS_BYTES = 16_384


class AddressCreate(Strict):
    channel: AddressChannel
    address: str | None = Field(
        default=None,
        min_length=1,
        max_length=320,
        description="A mailbox for email, a phone number for voice and SMS (any common format; "
        "stored in E.164). Left out for chat, a widget key is generated.",
        examples=["ayuda@bancohorizonte.example"],
    )
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    queue: str | None = Field(default=None, min_length=1, max_length=100)
    settings: dict[str, Any] = Field(default_factory=dict)


class AddressUpdate(Strict):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    queue: str | None = Field(default=None, min_length=1, max_length=100)
    settings: dict[str, Any] | None = None


# Settings that configure an address but never leave the API (a provider's auth token).
SECRET_SETTINGS = frozenset({"auth_token"})
SHOWN_SECRET = "<set>"  # noqa: S105 - what is shown instead of a secret


class AddressOut(Read):
    id: uuid.UUID
    channel: AddressChannel
    address: str
    display_name: str | None
    queue: str | None
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @field_validator("settings")
    @classmethod
    def _without_secrets(cls, settings: dict[str, Any]) -> dict[str, Any]:
        return {k: (SHOWN_SECRET if k in SECRET_SETTINGS else v) for k, v in settings.items()}
