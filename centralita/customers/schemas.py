import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from centralita.customers.models import IdentityKind, ValueTier
from centralita.schemas import Read


class IdentityOut(Read):
    id: uuid.UUID
    kind: IdentityKind
    # A PIN is shown as "set", never as its hash.
    value: str
    created_at: datetime


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
