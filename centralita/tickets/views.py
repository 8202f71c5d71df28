"""Saved ticket views: an agent's own, or shared with the whole tenant by a supervisor."""

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import Forbidden, InvalidInput, NotFound
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.tickets.models import SavedView
from centralita.tickets.schemas import ViewCreate, ViewUpdate


def _visible_to(user_id: uuid.UUID | None) -> Any:
    return or_(SavedView.owner_user_id.is_(None), SavedView.owner_user_id == user_id)


async def list_views(session: AsyncSession, user_id: uuid.UUID | None) -> list[SavedView]:
    """The caller's own views and the shared ones, in their chosen order."""
    query = (
        select(SavedView)
        .where(_visible_to(user_id))
        .order_by(SavedView.position, SavedView.name, SavedView.id)
    )
    return list((await session.execute(query)).scalars())


async def get_view(
    session: AsyncSession, user_id: uuid.UUID | None, view_id: uuid.UUID
) -> SavedView:
    """A view the caller may see; another agent's personal view is not found, like any other."""
    query = select(SavedView).where(SavedView.id == view_id, _visible_to(user_id))
    view = (await session.execute(query)).scalar_one_or_none()
    if view is None:
        raise NotFound("View not found")
    return view


def _refuse_shared_change(view_shared: bool, may_share: bool) -> None:
    if view_shared and not may_share:
        raise Forbidden("Only supervisors change the views shared with the whole tenant")


async def create_view(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: ViewCreate, may_share: bool
) -> SavedView:
    _refuse_shared_change(data.shared, may_share)
    if not data.shared and actor.user_id is None:
        raise InvalidInput.on_field("body.shared", "An API token has no views of its own; share it")
    filters = data.filters.model_dump(mode="json", exclude_defaults=True)
    view = SavedView(
        tenant_id=tenant_id,
        name=data.name,
        owner_user_id=None if data.shared else actor.user_id,
        filters=filters,
        position=data.position,
    )
    session.add(view)
    await session.flush()
    record_audit(
        session,
        tenant_id,
        actor,
        "ticket_view.created",
        ("ticket_view", view.id),
        None,
        {"name": data.name, "shared": data.shared, "filters": filters},
    )
    return view


async def update_view(
    session: AsyncSession,
    actor: Actor,
    view_id: uuid.UUID,
    data: ViewUpdate,
    may_share: bool,
) -> SavedView:
    view = await get_view(session, actor.user_id, view_id)
    _refuse_shared_change(view.owner_user_id is None, may_share)
    sent = data.model_dump(exclude_unset=True)
    if data.filters is not None:
        sent["filters"] = data.filters.model_dump(mode="json", exclude_defaults=True)
    before, after = apply_changes(view, sent)
    if after:
        record_audit(
            session,
            view.tenant_id,
            actor,
            "ticket_view.updated",
            ("ticket_view", view.id),
            before,
            after,
        )
        await session.flush()
    return view


async def delete_view(
    session: AsyncSession, actor: Actor, view_id: uuid.UUID, may_share: bool
) -> None:
    view = await get_view(session, actor.user_id, view_id)
    _refuse_shared_change(view.owner_user_id is None, may_share)
    record_audit(
        session,
        view.tenant_id,
        actor,
        "ticket_view.deleted",
        ("ticket_view", view.id),
        {"name": view.name, "filters": view.filters},
    )
    await session.delete(view)
    await session.flush()
