"""What a tenant sets up for its tickets: the staff who may work them, teams, the category tree;
and the small helpers the ticket services share for checking and recording changes."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import Conflict, FieldError, InvalidInput, NotFound
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.identity.models import Membership, User
from centralita.identity.permissions import Role
from centralita.tickets.models import (
    Category,
    Team,
    TeamMember,
    Ticket,
    TicketTemplate,
)
from centralita.tickets.setup_schemas import CategoryCreate, CategoryUpdate, TeamCreate, TeamUpdate

# Who works tickets: a client viewer reads reports, never tickets.
STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT})
# Deeper than any real category tree; stops a walk up a corrupted one.
MAX_DEPTH = 100


def invalid(errors: list[FieldError]) -> InvalidInput:
    return InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors)


def refuse_invalid(errors: list[FieldError]) -> None:
    if errors:
        raise invalid(errors)


async def flush_unique(session: AsyncSession, what: str) -> None:
    """Flush rows whose unique key is a name: a violation (also from a racing request) is a 409."""
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"A {what} with this name already exists", "name-taken") from None


# --- staff -------------------------------------------------------------------------------------


async def active_staff(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``user_ids`` who are active staff of the scoped tenant; another tenant's user is
    unknown here like any other id."""
    wanted = set(user_ids)
    if not wanted:
        return set()
    query = (
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.user_id.in_(wanted), Membership.role.in_(STAFF_ROLES), User.is_active)
    )
    return set((await session.execute(query)).scalars())


async def staff_list_errors(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], field: str
) -> list[FieldError]:
    """An error at ``<field>.<index>`` for each id that is not active staff of the tenant."""
    staff = await active_staff(session, user_ids)
    return [
        FieldError(f"{field}.{index}", "No such agent in this tenant")
        for index, user_id in enumerate(user_ids)
        if user_id not in staff
    ]


async def display_names(session: AsyncSession, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    query = select(User.id, User.display_name).where(User.id.in_(user_ids))
    return dict((await session.execute(query)).all())


# --- teams -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamView:
    team: Team
    member_ids: list[uuid.UUID]


async def _members(session: AsyncSession, team_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    query = (
        select(TeamMember.team_id, TeamMember.user_id)
        .where(TeamMember.team_id.in_(team_ids))
        .order_by(TeamMember.user_id)
    )
    members: dict[uuid.UUID, list[Any]] = {team_id: [] for team_id in team_ids}
    for team_id, user_id in (await session.execute(query)).all():
        members[team_id].append(user_id)
    return members


async def list_teams(session: AsyncSession) -> list[TeamView]:
    teams = list((await session.execute(select(Team).order_by(Team.name))).scalars())
    members = await _members(session, [team.id for team in teams])
    return [TeamView(team, members[team.id]) for team in teams]


async def _team(session: AsyncSession, team_id: uuid.UUID) -> Team:
    team = (await session.execute(select(Team).where(Team.id == team_id))).scalar_one_or_none()
    if team is None:
        raise NotFound("Team not found")
    return team


async def get_team(session: AsyncSession, team_id: uuid.UUID) -> TeamView:
    team = await _team(session, team_id)
    return TeamView(team, (await _members(session, [team.id]))[team.id])


async def team_exists(session: AsyncSession, team_id: uuid.UUID) -> bool:
    return (await session.execute(select(Team.id).where(Team.id == team_id))).first() is not None


async def create_team(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: TeamCreate
) -> TeamView:
    refuse_invalid(await staff_list_errors(session, data.member_ids, "body.member_ids"))
    team = Team(tenant_id=tenant_id, name=data.name, description=data.description)
    session.add(team)
    await flush_unique(session, "team")
    session.add_all(TeamMember(team_id=team.id, user_id=user_id) for user_id in data.member_ids)
    record_audit(
        session, tenant_id, actor, "team.created", ("team", team.id), None, data.model_dump()
    )
    await session.flush()
    return TeamView(team, sorted(data.member_ids))


async def update_team(
    session: AsyncSession, actor: Actor, team_id: uuid.UUID, data: TeamUpdate
) -> TeamView:
    team = await _team(session, team_id)
    before, after = apply_changes(team, data.model_dump(exclude_unset=True))
    if after:
        await flush_unique(session, "team")
        record_audit(
            session, team.tenant_id, actor, "team.updated", ("team", team.id), before, after
        )
        await session.flush()
    return await get_team(session, team.id)


async def set_team_members(
    session: AsyncSession, actor: Actor, team_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> TeamView:
    view = await get_team(session, team_id)
    refuse_invalid(await staff_list_errors(session, user_ids, "body.user_ids"))
    if set(view.member_ids) != set(user_ids):
        await session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
        session.add_all(TeamMember(team_id=team_id, user_id=user_id) for user_id in user_ids)
        record_audit(
            session,
            view.team.tenant_id,
            actor,
            "team.members_changed",
            ("team", team_id),
            {"member_ids": view.member_ids},
            {"member_ids": sorted(user_ids)},
        )
        await session.flush()
    return await get_team(session, team_id)


async def _in_use(session: AsyncSession, column: Any, value: uuid.UUID) -> bool:
    return (
        await session.execute(select(Ticket.id).where(column == value).limit(1))
    ).first() is not None


async def delete_team(session: AsyncSession, actor: Actor, team_id: uuid.UUID) -> None:
    team = await _team(session, team_id)
    if await _in_use(session, Ticket.team_id, team.id):
        raise Conflict("Tickets are assigned to this team; move them first", "team-in-use")
    record_audit(
        session, team.tenant_id, actor, "team.deleted", ("team", team.id), {"name": team.name}
    )
    await session.delete(team)
    await session.flush()


# --- categories --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryView:
    category: Category
    path: str


def _paths(categories: list[Category]) -> dict[uuid.UUID, str]:
    by_id = {category.id: category for category in categories}
    paths: dict[uuid.UUID, str] = {}
    for category in categories:
        names: list[str] = []
        node: Category | None = category
        depth = 0
        while node is not None and depth < MAX_DEPTH:
            names.append(node.name)
            node = by_id.get(node.parent_id) if node.parent_id else None
            depth += 1
        paths[category.id] = " / ".join(reversed(names))
    return paths


async def list_categories(session: AsyncSession) -> list[CategoryView]:
    """The whole tree, flat, in path order (each parent before its children)."""
    categories = list((await session.execute(select(Category))).scalars())
    paths = _paths(categories)
    views = [CategoryView(category, paths[category.id]) for category in categories]
    return sorted(views, key=lambda view: view.path.casefold())


async def _category(session: AsyncSession, category_id: uuid.UUID) -> Category:
    query = select(Category).where(Category.id == category_id)
    category = (await session.execute(query)).scalar_one_or_none()
    if category is None:
        raise NotFound("Category not found")
    return category


async def get_category(session: AsyncSession, category_id: uuid.UUID) -> CategoryView:
    await _category(session, category_id)
    return next(view for view in await list_categories(session) if view.category.id == category_id)


async def category_exists(session: AsyncSession, category_id: uuid.UUID) -> bool:
    query = select(Category.id).where(Category.id == category_id)
    return (await session.execute(query)).first() is not None


async def _refuse_sibling_named(
    session: AsyncSession, name: str, parent_id: uuid.UUID | None, own_id: uuid.UUID | None
) -> None:
    # Checked by hand as well: the unique index treats two NULL parents as different.
    query = select(Category.id).where(
        Category.name == name,
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id,
        Category.id != own_id if own_id else Category.id.is_not(None),
    )
    if (await session.execute(query)).first() is not None:
        raise Conflict(f"A category named {name!r} already exists there", "name-taken")


async def _parent_errors(
    session: AsyncSession, parent_id: uuid.UUID | None, child_id: uuid.UUID | None
) -> list[FieldError]:
    """A parent that does not exist, or that lies under the category itself (a loop)."""
    node_id, depth = parent_id, 0
    while node_id is not None and depth < MAX_DEPTH:
        if node_id == child_id:
            return [FieldError("body.parent_id", "A category cannot sit under itself")]
        query = select(Category.parent_id).where(Category.id == node_id)
        found = (await session.execute(query)).first()
        if found is None:
            return [FieldError("body.parent_id", "No such category")]
        node_id, depth = found[0], depth + 1
    return []


async def create_category(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: CategoryCreate
) -> CategoryView:
    refuse_invalid(await _parent_errors(session, data.parent_id, None))
    await _refuse_sibling_named(session, data.name, data.parent_id, None)
    category = Category(tenant_id=tenant_id, name=data.name, parent_id=data.parent_id)
    session.add(category)
    await flush_unique(session, "category")
    record_audit(
        session,
        tenant_id,
        actor,
        "category.created",
        ("category", category.id),
        None,
        data.model_dump(),
    )
    await session.flush()
    return await get_category(session, category.id)


async def update_category(
    session: AsyncSession, actor: Actor, category_id: uuid.UUID, data: CategoryUpdate
) -> CategoryView:
    category = await _category(session, category_id)
    sent = data.model_dump(exclude_unset=True)
    if "parent_id" in sent:
        refuse_invalid(await _parent_errors(session, sent["parent_id"], category.id))
    name, parent_id = sent.get("name", category.name), sent.get("parent_id", category.parent_id)
    await _refuse_sibling_named(session, name, parent_id, category.id)
    before, after = apply_changes(category, sent)
    if after:
        await flush_unique(session, "category")
        record_audit(
            session,
            category.tenant_id,
            actor,
            "category.updated",
            ("category", category.id),
            before,
            after,
        )
        await session.flush()
    return await get_category(session, category.id)


async def delete_category(session: AsyncSession, actor: Actor, category_id: uuid.UUID) -> None:
    category = await _category(session, category_id)
    children = select(Category.id).where(Category.parent_id == category.id).limit(1)
    templates = select(TicketTemplate.id).where(TicketTemplate.category_id == category.id)
    if (
        (await session.execute(children)).first() is not None
        or await _in_use(session, Ticket.category_id, category.id)
        or (await session.execute(templates.limit(1))).first() is not None
    ):
        raise Conflict(
            "The category has subcategories, tickets or templates; move them first",
            "category-in-use",
        )
    record_audit(
        session,
        category.tenant_id,
        actor,
        "category.deleted",
        ("category", category.id),
        {"name": category.name, "parent_id": category.parent_id},
    )
    await session.delete(category)
    await session.flush()
