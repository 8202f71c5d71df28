import uuid
from datetime import datetime

from pydantic import EmailStr, Field

from centralita.identity.permissions import Role
from centralita.schemas import Locale, Read, Strict


class MembershipOut(Read):
    tenant_id: uuid.UUID
    role: Role


class MeOut(Read):
    id: uuid.UUID | None
    label: str
    is_platform_admin: bool
    memberships: list[MembershipOut]


class MemberCreate(Strict):
    """Give a person a role in the tenant; creates their user when the email is new."""

    email: EmailStr = Field(max_length=254)
    role: Role
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    password: str | None = Field(default=None, min_length=10, max_length=200)
    locale: Locale = "es"


class MemberOut(Read):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: Role
    created_at: datetime


class ApiTokenCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    role: Role


class ApiTokenOut(Read):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenIssued(ApiTokenOut):
    token: str = Field(description="The secret. Shown once: store it now.")
