"""Customer identity resolution: normalise what a channel knows, find the customer or create one."""

import hashlib
import hmac
import unicodedata
import uuid
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer, CustomerIdentity, IdentityKind
from centralita.errors import InvalidInput
from centralita.tenancy.models import Tenant

MAX_CHAT_ID = 128
MAX_CRM_ID = 128


@dataclass(frozen=True)
class IdentityRules:
    """What normalising an identity needs to know: the tenant's country for local phone numbers,
    and the key that turns a PIN into a keyed hash (a PIN is never stored in clear)."""

    default_region: str
    pin_key: str

    @classmethod
    def for_tenant(cls, tenant: Tenant, pin_key: str) -> "IdentityRules":
        return cls(tenant.country, f"{pin_key}:{tenant.id}")


def fold(text: str) -> str:
    """Lower case without accents: the form names are searched in."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def normalise_phone(raw: str, default_region: str) -> str:
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized.lower()


def normalise_identity(kind: IdentityKind, raw: str, rules: IdentityRules) -> str:
    """The stored form of an identity; raises ValueError with a readable reason when invalid."""
    value = raw.strip()
    if kind is IdentityKind.EMAIL:
        return normalise_email(value)
    if kind is IdentityKind.PHONE:
        return normalise_phone(value, rules.default_region)
    if kind is IdentityKind.PIN:
        if not (value.isdigit() and 4 <= len(value) <= 12):
            raise ValueError("a PIN is 4 to 12 digits")
        return hmac.new(rules.pin_key.encode(), value.encode(), hashlib.sha256).hexdigest()
    limit = MAX_CHAT_ID if kind is IdentityKind.CHAT else MAX_CRM_ID
    if not value or len(value) > limit:
        raise ValueError(f"a {kind.value} id is 1 to {limit} characters")
    return value


def checked_identity(kind: IdentityKind, raw: str, rules: IdentityRules, field: str) -> str:
    """:func:`normalise_identity`, with a failure reported as a 422 on ``field``."""
    try:
        return normalise_identity(kind, raw, rules)
    except ValueError as exc:
        raise InvalidInput.on_field(field, str(exc)) from None


async def find_by_identity(
    session: AsyncSession, kind: IdentityKind, normalised: str
) -> Customer | None:
    """The live customer holding an identity (following merges), in the scoped tenant."""
    query = (
        select(Customer)
        .join(
            CustomerIdentity,
            (CustomerIdentity.tenant_id == Customer.tenant_id)
            & (CustomerIdentity.customer_id == Customer.id),
        )
        .where(CustomerIdentity.kind == kind, CustomerIdentity.value == normalised)
    )
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True)
class Resolved:
    customer: Customer
    created: bool


async def find_or_create(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    kind: IdentityKind,
    normalised: str,
    display_name: str | None = None,
) -> Resolved:
    """The customer with this identity, created if new; safe when two requests race.

    The insert runs in a savepoint: if a concurrent transaction created the same identity first,
    the unique index makes ours fail (on PostgreSQL after waiting for the other to commit) and the
    winner's customer is returned instead, so one new phone number makes one customer.
    """
    existing = await find_by_identity(session, kind, normalised)
    if existing is not None:
        return Resolved(existing, created=False)
    name = display_name or (normalised if kind in (IdentityKind.EMAIL, IdentityKind.PHONE) else "")
    customer = Customer(tenant_id=tenant_id, display_name=name, search_name=fold(name))
    try:
        async with session.begin_nested():
            session.add(customer)
            await session.flush()
            session.add(
                CustomerIdentity(
                    tenant_id=tenant_id, customer_id=customer.id, kind=kind, value=normalised
                )
            )
    except IntegrityError:
        winner = await find_by_identity(session, kind, normalised)
        if winner is None:
            raise
        return Resolved(winner, created=False)
    return Resolved(customer, created=True)
