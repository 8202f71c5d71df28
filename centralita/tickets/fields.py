"""Typed custom fields: the tenant's definitions, and checking the values tickets hold."""

import math
import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import Conflict, FieldError, NotFound
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.tickets.catalog import refuse_invalid
from centralita.tickets.models import CustomField, FieldKind
from centralita.tickets.setup_schemas import CustomFieldCreate, CustomFieldUpdate

MAX_TEXT_VALUE = 1000


async def list_fields(session: AsyncSession) -> list[CustomField]:
    return list((await session.execute(select(CustomField).order_by(CustomField.key))).scalars())


async def get_field(session: AsyncSession, field_id: uuid.UUID) -> CustomField:
    query = select(CustomField).where(CustomField.id == field_id)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound("Custom field not found")
    return found


async def create_field(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: CustomFieldCreate
) -> CustomField:
    values = data.model_dump()
    definition = CustomField(tenant_id=tenant_id, **values)
    session.add(definition)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"A custom field {data.key!r} already exists", "field-exists") from None
    record_audit(
        session,
        tenant_id,
        actor,
        "custom_field.created",
        ("custom_field", definition.id),
        None,
        values,
    )
    await session.flush()
    return definition


async def update_field(
    session: AsyncSession, actor: Actor, field_id: uuid.UUID, data: CustomFieldUpdate
) -> CustomField:
    definition = await get_field(session, field_id)
    sent = data.model_dump(exclude_unset=True)
    if definition.kind == FieldKind.CHOICE and sent.get("choices") == []:
        refuse_invalid([FieldError("body.choices", "a choice field needs its choices")])
    if definition.kind != FieldKind.CHOICE and sent.get("choices"):
        refuse_invalid([FieldError("body.choices", "only a choice field takes choices")])
    before, after = apply_changes(definition, sent)
    if after:
        record_audit(
            session,
            definition.tenant_id,
            actor,
            "custom_field.updated",
            ("custom_field", definition.id),
            before,
            after,
        )
        await session.flush()
    return definition


async def delete_field(session: AsyncSession, actor: Actor, field_id: uuid.UUID) -> None:
    """Delete a definition; values tickets already hold for it stay, as they were recorded."""
    definition = await get_field(session, field_id)
    record_audit(
        session,
        definition.tenant_id,
        actor,
        "custom_field.deleted",
        ("custom_field", definition.id),
        {"key": definition.key, "kind": definition.kind},
    )
    await session.delete(definition)
    await session.flush()


def _checked_value(definition: CustomField, value: Any) -> Any:
    """The stored form of a value for this field; raises ValueError saying what is expected."""
    kind = FieldKind(definition.kind)
    if kind == FieldKind.TEXT:
        if not isinstance(value, str) or len(value) > MAX_TEXT_VALUE:
            raise ValueError(f"expected text of at most {MAX_TEXT_VALUE} characters")
        return value
    if kind == FieldKind.NUMBER:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError("expected a number")
        return value
    if kind == FieldKind.DATE:
        if not isinstance(value, str):
            raise ValueError("expected an ISO date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("expected an ISO date (YYYY-MM-DD)") from None
    if not isinstance(value, str) or value not in definition.choices:
        raise ValueError(f"expected one of: {', '.join(definition.choices)}")
    return value


async def _definitions(session: AsyncSession) -> dict[str, CustomField]:
    return {definition.key: definition for definition in await list_fields(session)}


async def checked_custom_fields(
    session: AsyncSession,
    current: dict[str, Any],
    sent: dict[str, Any],
    field: str = "body.custom_fields",
) -> tuple[dict[str, Any], list[FieldError]]:
    """``current`` with the ``sent`` values set (null clears one), each checked against its
    definition; the errors name ``<field>.<key>``."""
    if not sent:
        return dict(current), []
    definitions = await _definitions(session)
    values, errors = dict(current), []
    for key, value in sent.items():
        definition = definitions.get(key)
        if definition is None:
            errors.append(FieldError(f"{field}.{key}", "Unknown custom field"))
        elif value is None:
            values.pop(key, None)
        else:
            try:
                values[key] = _checked_value(definition, value)
            except ValueError as exc:
                errors.append(FieldError(f"{field}.{key}", str(exc)))
    return values, errors


async def required_fields(session: AsyncSession) -> list[str]:
    return [key for key, definition in (await _definitions(session)).items() if definition.required]


def missing_required(
    required: list[str], values: dict[str, Any], field: str = "body.custom_fields"
) -> list[FieldError]:
    """Required fields without a value. They are asked for when a ticket is resolved, not when
    it is opened: a customer's email cannot fill them in."""
    return [
        FieldError(f"{field}.{key}", "Required before the ticket is resolved")
        for key in required
        if values.get(key) is None
    ]


async def known_custom_fields(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """The values whose field is still defined."""
    definitions = await _definitions(session)
    return {key: value for key, value in values.items() if key in definitions}
