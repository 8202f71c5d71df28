"""Channel addresses: which tenant owns a mailbox, a phone number or a chat widget key."""

import json
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.schemas import (
    MAX_SETTINGS_BYTES,
    SECRET_SETTINGS,
    SHOWN_SECRET,
    AddressCreate,
    AddressUpdate,
)
from centralita.customers.models import IdentityKind
from centralita.customers.service import IdentityRules, checked_identity
from centralita.errors import Conflict, InvalidInput, NotFound
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.tenancy.models import Tenant

ADDRESS_KINDS = {
    AddressChannel.EMAIL: IdentityKind.EMAIL,
    AddressChannel.VOICE: IdentityKind.PHONE,
    AddressChannel.SMS: IdentityKind.PHONE,
}


def normalised_address(channel: AddressChannel, raw: str, rules: IdentityRules) -> str:
    """The stored form of an address: lower-case email, E.164 phone, or the widget key as is."""
    kind = ADDRESS_KINDS.get(channel)
    return raw if kind is None else checked_identity(kind, raw, rules, "body.address")


def _check_settings(settings: dict[str, object] | None) -> None:
    if settings is not None and len(json.dumps(settings)) > MAX_SETTINGS_BYTES:
        raise InvalidInput.on_field("body.settings", f"at most {MAX_SETTINGS_BYTES} bytes")


async def owner_of(
    session: AsyncSession, channel: AddressChannel, address: str
) -> ChannelAddress | None:
    """The address row across all tenants; the caller's session must be system-scoped."""
    query = select(ChannelAddress).where(
        ChannelAddress.channel == channel, ChannelAddress.address == address
    )
    return (await session.execute(query)).scalar_one_or_none()


async def create_address(
    session: AsyncSession, actor: Actor, tenant: Tenant, data: AddressCreate, rules: IdentityRules
) -> ChannelAddress:
    if data.address is None:
        if data.channel != AddressChannel.CHAT:
            raise InvalidInput.on_field("body.address", f"a {data.channel} address is required")
        address = secrets.token_urlsafe(12)
    else:
        address = normalised_address(data.channel, data.address, rules)
    _check_settings(data.settings)
    row = ChannelAddress(
        tenant_id=tenant.id,
        channel=data.channel,
        address=address,
        display_name=data.display_name,
        queue=data.queue,
        settings=data.settings,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"The {data.channel} address {address} is in use", "address-taken") from None
    after = {"channel": row.channel, "address": address, "queue": row.queue}
    record_audit(
        session,
        tenant.id,
        actor,
        "channel_address.created",
        ("channel_address", row.id),
        after=after,
    )
    return row


async def list_addresses(session: AsyncSession) -> list[ChannelAddress]:
    query = select(ChannelAddress).order_by(ChannelAddress.channel, ChannelAddress.address)
    return list((await session.execute(query)).scalars())


async def get_address(session: AsyncSession, address_id: uuid.UUID) -> ChannelAddress:
    row = (
        await session.execute(select(ChannelAddress).where(ChannelAddress.id == address_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("Channel address not found")
    return row


async def update_address(
    session: AsyncSession, actor: Actor, tenant: Tenant, address_id: uuid.UUID, data: AddressUpdate
) -> ChannelAddress:
    row = await get_address(session, address_id)
    _check_settings(data.settings)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("settings") is not None:
        # The API shows a secret as "<set>": left out or sent back so, it is kept as it was.
        kept = {
            k: v
            for k, v in row.settings.items()
            if k in SECRET_SETTINGS and changes["settings"].get(k, SHOWN_SECRET) == SHOWN_SECRET
        }
        changes["settings"] = {**changes["settings"], **kept}
    before, after = apply_changes(row, changes)
    if after:
        await session.flush()
        record_audit(
            session,
            tenant.id,
            actor,
            "channel_address.updated",
            ("channel_address", row.id),
            before=before,
            after=after,
        )
    return row


async def delete_address(
    session: AsyncSession, actor: Actor, tenant: Tenant, address_id: uuid.UUID
) -> None:
    row = await get_address(session, address_id)
    await session.delete(row)
    await session.flush()
    record_audit(
        session,
        tenant.id,
        actor,
        "channel_address.deleted",
        ("channel_address", row.id),
        before={"channel": row.channel, "address": row.address},
    )
