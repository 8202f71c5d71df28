"""Customer identity resolution: normalise what a channel knows, find the customer or create one."""

import functools
import hashlib
import hmac
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, cast

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import (
    ColumnElement,
    Executable,
    Table,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from centralita.customers.models import Customer, CustomerIdentity, IdentityKind, ValueTier
from centralita.customers.schemas import (
    CustomerCreate,
    CustomerUpdate,
    IdentityCreate,
    shown_identity_value,
)
from centralita.db.base import Base, new_id
from centralita.db.inserts import value_or_default
from centralita.db.paging import DEFAULT_LIMIT, Slice, paginate
from centralita.errors import Conflict, InvalidInput, NotFound
from centralita.events.bus import Event, emit, supervisors_topic
from centralita.events.service import Actor, apply_changes, record_audit
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
    # A scalar subquery on the identity's unique index, then the customer's primary key: an
    # index lookup whatever the planner's statistics say (a join was planned as a scan of every
    # customer of the tenant while the tables were young).
    holder = (
        select(CustomerIdentity.customer_id)
        .where(CustomerIdentity.kind == kind, CustomerIdentity.value == normalised)
        .scalar_subquery()
    )
    query = select(Customer).where(Customer.id == holder)
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

    If a concurrent transaction creates the same identity first, the unique index makes our
    insert wait for it to commit and then fail (PostgreSQL: insert nothing), and the winner's
    customer is returned instead, so one new phone number makes one customer.
    """
    name = display_name or (normalised if kind in (IdentityKind.EMAIL, IdentityKind.PHONE) else "")
    if session.get_bind().dialect.name == "postgresql":
        candidate = _new_customer(tenant_id, name)
        found = await _find_or_insert_with_identity(session, candidate, kind, normalised)
        if found is not None:
            return Resolved(found, created=found.id == candidate.id)
    else:
        existing = await find_by_identity(session, kind, normalised)
        if existing is not None:
            return Resolved(existing, created=False)
        created = await _insert_in_savepoint(
            session, _new_customer(tenant_id, name), kind, normalised
        )
        if created is not None:
            return Resolved(created, created=True)
    # Another transaction claimed the identity first; it has committed by now.
    winner = await find_by_identity(session, kind, normalised)
    if winner is None:
        raise RuntimeError(f"the {kind.value} identity was neither inserted nor found")
    return Resolved(winner, created=False)


def _new_customer(tenant_id: uuid.UUID, name: str) -> Customer:
    return Customer(tenant_id=tenant_id, id=new_id(), display_name=name, search_name=fold(name))


_customers = cast(Table, Customer.__table__)


@functools.cache
def _find_or_claim_identity_then_customer() -> Executable:
    """One statement: the identity's customer; or, if the identity is free, claim it and insert
    its customer.

    Built once (statement construction costs more CPU than running it); the customer's columns
    are bound by name, the identity's by ``identity_id``, ``kind`` and ``value``. The identity's
    link to its customer is checked at the end of the statement, when both rows exist. A claim
    that loses a race with a transaction committing the same identity returns nothing."""
    customers, identities = _customers, cast(Table, CustomerIdentity.__table__)
    tenant_id, kind, value = (
        bindparam(name, type_=identities.c[name].type) for name in ("tenant_id", "kind", "value")
    )
    holder = (
        select(identities.c.customer_id)
        .where(identities.c.tenant_id == tenant_id, identities.c.kind == kind)
        .where(identities.c.value == value)
        .cte("holder")
    )
    created_at = bindparam("created_at", type_=identities.c.created_at.type)
    identity = {
        "tenant_id": tenant_id,
        "id": bindparam("identity_id", type_=identities.c.id.type),
        "customer_id": bindparam("id", type_=identities.c.customer_id.type),
        "kind": kind,
        "value": value,
        "created_at": created_at,
        "updated_at": created_at,
    }
    identity_values = select(*identity.values()).where(~exists(select(holder.c.customer_id)))
    claimed = (
        postgresql_insert(identities)
        .from_select(list(identity), identity_values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "kind", "value"])
        .returning(identities.c.customer_id)
        .cte("claimed")
    )
    names = [column.key for column in customers.columns]
    source = select(
        *(bindparam(column.key, type_=column.type) for column in customers.columns)
    ).where(exists(select(claimed.c.customer_id)))
    inserted = (
        customers.insert().from_select(names, source).returning(*customers.columns).cte("inserted")
    )
    # A scalar subquery on the identity's unique index, then the customer's primary key: an
    # index lookup whatever the planner's statistics say.
    existing = select(*customers.columns).where(
        customers.c.tenant_id == tenant_id,
        customers.c.id == select(holder.c.customer_id).scalar_subquery(),
    )
    either = existing.union_all(select(*inserted.c))
    return select(Customer).from_statement(either)


async def _find_or_insert_with_identity(
    session: AsyncSession, customer: Customer, kind: IdentityKind, normalised: str
) -> Customer | None:
    """The identity's customer, or ``customer`` inserted with it; None when a concurrent
    transaction claimed the identity first (then nothing is inserted)."""
    params = {column.key: value_or_default(customer, column.key, column) for column in _customers.c}
    params.update(identity_id=new_id(), kind=kind.value, value=normalised)
    found = await session.execute(_find_or_claim_identity_then_customer(), params)
    return found.scalar_one_or_none()


async def _insert_in_savepoint(
    session: AsyncSession, customer: Customer, kind: IdentityKind, normalised: str
) -> Customer | None:
    """SQLite has one writer at a time, so the savepoint is the rare race's safety net."""
    try:
        async with session.begin_nested():
            session.add(customer)
            await session.flush()
            session.add(
                CustomerIdentity(
                    tenant_id=customer.tenant_id,
                    customer_id=customer.id,
                    kind=kind,
                    value=normalised,
                )
            )
    except IntegrityError:
        return None
    return customer


# Profile fields a merge fills on the survivor when it has none of its own.
FILLED_ON_MERGE = (
    "preferred_name",
    "title",
    "language",
    "time_zone",
    "segment",
    "preferred_channel",
)


def _identity_label(kind: IdentityKind, normalised: str) -> str:
    return f"this {kind.value}" if kind == IdentityKind.PIN else f"the {kind.value} {normalised}"


def _identity_audit(identity: CustomerIdentity) -> dict[str, str]:
    return {"kind": identity.kind, "value": shown_identity_value(identity.kind, identity.value)}


async def _holder(
    session: AsyncSession, kind: IdentityKind, normalised: str
) -> CustomerIdentity | None:
    query = select(CustomerIdentity).where(
        CustomerIdentity.kind == kind, CustomerIdentity.value == normalised
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _refuse_taken(
    session: AsyncSession, kind: IdentityKind, normalised: str, owner: uuid.UUID | None
) -> CustomerIdentity | None:
    """The identity if ``owner`` already holds it; a 409 naming the holder if another does."""
    held = await _holder(session, kind, normalised)
    if held is None or held.customer_id == owner:
        return held
    raise Conflict(
        f"{_identity_label(kind, normalised).capitalize()} already belongs to customer "
        f"{held.customer_id}",
        "identity-taken",
    )


async def _insert_identities(
    session: AsyncSession, customer: Customer, identities: list[tuple[IdentityKind, str]]
) -> list[CustomerIdentity]:
    """Add identities in a savepoint, so losing a race to another request is a 409, not a 500."""
    rows = [
        CustomerIdentity(tenant_id=customer.tenant_id, customer_id=customer.id, kind=k, value=v)
        for k, v in identities
    ]
    try:
        async with session.begin_nested():
            session.add_all(rows)
    except IntegrityError:
        for kind, value in identities:
            await _refuse_taken(session, kind, value, customer.id)
        raise
    return rows


async def create_customer(
    session: AsyncSession,
    actor: Actor,
    tenant_id: uuid.UUID,
    rules: IdentityRules,
    data: CustomerCreate,
) -> Customer:
    """A new profile with its identities; an identity another customer holds makes it a 409."""
    identities: dict[tuple[IdentityKind, str], None] = {}
    for index, given in enumerate(data.identities):
        field = f"body.identities.{index}.value"
        identities[(given.kind, checked_identity(given.kind, given.value, rules, field))] = None
    for kind, value in identities:
        await _refuse_taken(session, kind, value, None)
    profile = data.model_dump(exclude={"identities"})
    customer = Customer(tenant_id=tenant_id, search_name=fold(data.display_name), **profile)
    session.add(customer)
    await session.flush()
    rows = await _insert_identities(session, customer, list(identities))
    record_audit(
        session,
        tenant_id,
        actor,
        "customer.created",
        ("customer", customer.id),
        None,
        {**profile, "identities": [_identity_audit(row) for row in rows]},
    )
    await session.flush()
    return customer


async def get_customer(session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    """A customer of the scoped tenant; a merged one is still found, with ``merged_into_id``."""
    customer = (
        await session.execute(select(Customer).where(Customer.id == customer_id))
    ).scalar_one_or_none()
    if customer is None:
        raise NotFound("Customer not found")
    return customer


async def _live_customer(session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    customer = await get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict(
            f"Customer {customer.id} was merged into {customer.merged_into_id}; change that one",
            "customer-merged",
        )
    return customer


async def list_identities(session: AsyncSession, customer_id: uuid.UUID) -> list[CustomerIdentity]:
    query = (
        select(CustomerIdentity)
        .where(CustomerIdentity.customer_id == customer_id)
        .order_by(CustomerIdentity.created_at, CustomerIdentity.id)
    )
    return list((await session.execute(query)).scalars())


async def update_customer(
    session: AsyncSession, actor: Actor, customer_id: uuid.UUID, data: CustomerUpdate
) -> Customer:
    customer = await _live_customer(session, customer_id)
    sent = data.model_dump(exclude_unset=True)
    before, changes = apply_changes(customer, sent)
    if "display_name" in changes:
        customer.search_name = fold(customer.display_name)
    if changes:
        record_audit(
            session,
            customer.tenant_id,
            actor,
            "customer.updated",
            ("customer", customer.id),
            before,
            changes,
        )
        emit(
            session,
            Event(
                type="customer.updated",
                tenant=customer.tenant_id,
                data={"customer_id": customer.id, "changed": sorted(changes)},
                recipients=(supervisors_topic(customer.tenant_id),),
            ),
        )
    await session.flush()
    return customer


async def add_identity(
    session: AsyncSession,
    actor: Actor,
    rules: IdentityRules,
    customer_id: uuid.UUID,
    data: IdentityCreate,
) -> CustomerIdentity:
    """Attach an identity; one the customer already holds is returned as it is."""
    customer = await _live_customer(session, customer_id)
    normalised = checked_identity(data.kind, data.value, rules, "body.value")
    held = await _refuse_taken(session, data.kind, normalised, customer.id)
    if held is not None:
        return held
    (identity,) = await _insert_identities(session, customer, [(data.kind, normalised)])
    record_audit(
        session,
        customer.tenant_id,
        actor,
        "customer.identity_added",
        ("customer", customer.id),
        None,
        _identity_audit(identity),
    )
    await session.flush()
    return identity


async def remove_identity(
    session: AsyncSession, actor: Actor, customer_id: uuid.UUID, identity_id: uuid.UUID
) -> None:
    customer = await get_customer(session, customer_id)
    query = select(CustomerIdentity).where(
        CustomerIdentity.id == identity_id, CustomerIdentity.customer_id == customer.id
    )
    identity = (await session.execute(query)).scalar_one_or_none()
    if identity is None:
        raise NotFound("Identity not found")
    record_audit(
        session,
        customer.tenant_id,
        actor,
        "customer.identity_removed",
        ("customer", customer.id),
        _identity_audit(identity),
        None,
    )
    await session.delete(identity)
    await session.flush()


def _identity_matches(rules: IdentityRules, q: str) -> list[ColumnElement[bool]]:
    """Conditions on an identity row for each way ``q`` may name one."""
    matches: list[ColumnElement[bool]] = [
        CustomerIdentity.kind.in_((IdentityKind.CHAT, IdentityKind.CRM))
        & (CustomerIdentity.value == q)
    ]
    for kind in (IdentityKind.EMAIL, IdentityKind.PHONE):
        try:
            normalised = normalise_identity(kind, q, rules)
        except ValueError:
            continue
        matches.append((CustomerIdentity.kind == kind) & (CustomerIdentity.value == normalised))
    if "@" in q:
        matches.append(
            (CustomerIdentity.kind == IdentityKind.EMAIL)
            & CustomerIdentity.value.contains(q.lower(), autoescape=True)
        )
    return matches


async def search_customers(
    session: AsyncSession,
    rules: IdentityRules,
    q: str | None,
    cursor: str | None,
    limit: int = DEFAULT_LIMIT,
) -> Slice[Customer]:
    """Live customers in name order, those matching ``q`` by name, email, phone, chat or CRM id.

    A phone matches in any common format ("+34 600 12 34 56", "600123456", "0034600123456"),
    local numbers being read in the tenant's country.
    """
    query = select(Customer).where(Customer.merged_into_id.is_(None))
    text = (q or "").strip()
    if text:
        held = (
            select(CustomerIdentity.id)
            .where(
                CustomerIdentity.tenant_id == Customer.tenant_id,
                CustomerIdentity.customer_id == Customer.id,
                or_(*_identity_matches(rules, text)),
            )
            .exists()
        )
        query = query.where(or_(Customer.search_name.contains(fold(text), autoescape=True), held))
    return await paginate(
        session,
        query,
        (Customer.search_name, Customer.id),
        cursor=cursor,
        limit=limit,
        descending=False,
    )


def _customer_links() -> list[tuple[type[Any], InstrumentedAttribute[Any]]]:
    """Every mapped column that points at a customer through a ``(tenant_id, x)`` foreign key.

    Found from the metadata rather than listed, so the history other domains attach to a customer
    (interactions, tickets, surveys...) follows a merge without this module knowing those tables.
    Mapped classes are used, not bare tables, so the tenant scope filters the updates.
    """
    customers = Customer.__table__
    links = []
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        if mapper.inherits is not None or not isinstance(table, Table):
            continue
        for constraint in table.foreign_key_constraints:
            if constraint.referred_table is not customers or len(constraint.elements) != 2:
                continue
            targets = {fk.column.name: fk.parent for fk in constraint.elements}
            if set(targets) != {"tenant_id", "id"} or targets["tenant_id"].name != "tenant_id":
                continue
            attribute = mapper.get_property_by_column(targets["id"]).key
            links.append((mapper.class_, getattr(mapper.class_, attribute)))
    return links


async def _lock_pair(
    session: AsyncSession, survivor_id: uuid.UUID, source_id: uuid.UUID
) -> dict[uuid.UUID, Customer]:
    """Both customers, locked in id order so two crossing merges cannot deadlock."""
    query = (
        select(Customer)
        .where(Customer.id.in_((survivor_id, source_id)))
        .order_by(Customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {c.id: c for c in (await session.execute(query)).scalars()}


def _absorb_profile(survivor: Customer, source: Customer) -> dict[str, Any]:
    """The survivor's profile completed from the source's; returns the new values changed."""
    changes: dict[str, Any] = {}
    for name in FILLED_ON_MERGE:
        if getattr(survivor, name) is None and getattr(source, name) is not None:
            changes[name] = getattr(source, name)
    if ValueTier(source.value_tier).rank > ValueTier(survivor.value_tier).rank:
        changes["value_tier"] = source.value_tier
    # Each profile accumulated the value of the contacts it was given, so together they sum.
    if source.lifetime_value:
        changes["lifetime_value"] = survivor.lifetime_value + source.lifetime_value
    tags = list(dict.fromkeys([*survivor.tags, *source.tags]))
    if tags != survivor.tags:
        changes["tags"] = tags
    attributes = {**source.attributes, **survivor.attributes}
    if attributes != survivor.attributes:
        changes["attributes"] = attributes
    return changes


async def merge_customers(
    session: AsyncSession, actor: Actor, survivor_id: uuid.UUID, source_id: uuid.UUID
) -> Customer:
    """Fold the source customer into the survivor: its identities and its whole history move,
    its profile completes the survivor's, and it stays behind marked ``merged_into_id``."""
    if survivor_id == source_id:
        raise InvalidInput.on_field("body.source_id", "A customer cannot be merged into itself")
    pair = await _lock_pair(session, survivor_id, source_id)
    if survivor_id not in pair:
        raise NotFound("Customer not found")
    if source_id not in pair:
        raise InvalidInput.on_field("body.source_id", "No such customer")
    survivor, source = pair[survivor_id], pair[source_id]
    for customer in (survivor, source):
        if customer.merged_into_id is not None:
            raise Conflict(
                f"Customer {customer.id} was already merged into {customer.merged_into_id}",
                "customer-merged",
            )
    moved: dict[str, int] = {}
    for model, column in _customer_links():
        result = await session.execute(
            update(model)
            .where(column == source.id)
            .values({column.key: survivor.id})
            .execution_options(synchronize_session="fetch")
        )
        rowcount = getattr(result, "rowcount", 0)
        if rowcount:
            moved[model.__tablename__] = rowcount
    changes = _absorb_profile(survivor, source)
    before = {name: getattr(survivor, name) for name in changes}
    for name, value in changes.items():
        setattr(survivor, name, value)
    source.merged_into_id = survivor.id
    record_audit(
        session,
        survivor.tenant_id,
        actor,
        "customer.merged",
        ("customer", survivor.id),
        {"source_id": source.id, **before},
        {"source_id": source.id, **changes, "moved": moved},
    )
    await session.flush()
    return survivor
