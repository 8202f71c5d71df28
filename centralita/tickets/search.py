"""Finding tickets: filters, the built-in views, and keyset pages by last update or by due time.

Every query leads with the tenant (the session scope adds it) and filters on indexed columns
(status, assignee, team, requester). SLA conditions and the due sort read the ticket's own summary
of its targets, ``sla_due_at`` and ``sla_breached``, which the SLA code keeps current.
"""

import base64
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from centralita.customers.service import fold
from centralita.db.base import UTCDateTime, utcnow
from centralita.db.paging import DEFAULT_LIMIT, Slice, paginate
from centralita.errors import InvalidInput
from centralita.tickets.models import (
    OPEN_STATUSES,
    SEARCH_WORD_LENGTH,
    SavedView,
    Ticket,
    TicketSearchWord,
    TicketStatus,
)
from centralita.tickets.schemas import BUILTIN_VIEWS, TicketFilters, TicketSearch

BREACHING_SOON = timedelta(hours=1)
WORD = re.compile(r"\w+")
# A search names a handful of words; more only slow it down.
MAX_SEARCH_WORDS = 8
SURROGATES = range(0xD800, 0xE000)
BUILTIN_NAMES = {
    "mine": "My open tickets",
    "unassigned": "Unassigned",
    "breaching_soon": "Breaching within the hour",
}


def builtin_filters(view: str, now: datetime) -> dict[str, Any]:
    open_statuses = sorted(OPEN_STATUSES)
    if view == "mine":
        return {"assignee": "me", "status": open_statuses}
    if view == "unassigned":
        return {"assignee": "none", "status": open_statuses}
    # Not yet due, but due within the hour: those already past due have breached.
    return {"due_after": now, "due_before": now + BREACHING_SOON, "status": open_statuses}


async def effective_filters(
    session: AsyncSession, user_id: uuid.UUID | None, search: TicketSearch
) -> TicketFilters:
    """The search's filters over its view's: a parameter given replaces the view's own."""
    base: dict[str, Any] = {}
    if search.view in BUILTIN_VIEWS:
        base = builtin_filters(search.view, utcnow())
    elif search.view is not None:
        base = await _saved_view_filters(session, user_id, search.view)
    given = search.model_dump(include=search.model_fields_set - {"view"})
    return TicketFilters.model_validate({**base, **given})


async def _saved_view_filters(
    session: AsyncSession, user_id: uuid.UUID | None, view: str
) -> dict[str, Any]:
    unknown = InvalidInput.on_field("query.view", "No such view")
    try:
        view_id = uuid.UUID(view)
    except ValueError:
        raise unknown from None
    query = select(SavedView.filters).where(
        SavedView.id == view_id,
        or_(SavedView.owner_user_id.is_(None), SavedView.owner_user_id == user_id),
    )
    found = (await session.execute(query)).first()
    if found is None:
        raise unknown
    filters: dict[str, Any] = found[0]
    return filters


def _assignee(filters: TicketFilters, user_id: uuid.UUID | None) -> ColumnElement[bool] | None:
    if filters.assignee is None:
        return None
    if filters.assignee == "none":
        return Ticket.assignee_user_id.is_(None)
    if filters.assignee == "me":
        if user_id is None:
            raise InvalidInput.on_field("query.assignee", "'me' needs a signed-in user")
        return Ticket.assignee_user_id == user_id
    try:
        return Ticket.assignee_user_id == uuid.UUID(filters.assignee)
    except ValueError:
        raise InvalidInput.on_field("query.assignee", "Give a user id, me or none") from None


def words_of(text: str) -> list[str]:
    """The folded words of a text, each cut to the indexed length, in order, without repeats."""
    words = (word[:SEARCH_WORD_LENGTH] for word in WORD.findall(fold(text)))
    return list(dict.fromkeys(words))


async def index_words(
    session: AsyncSession, ticket: Ticket, reference: str, *, replacing: bool = False
) -> None:
    """Write the words search finds the ticket by: its reference, subject and description."""
    if replacing:
        await session.execute(
            delete(TicketSearchWord).where(TicketSearchWord.ticket_id == ticket.id)
        )
    session.add_all(
        TicketSearchWord(tenant_id=ticket.tenant_id, word=word, ticket_id=ticket.id)
        for word in words_of(f"{reference} {ticket.subject} {ticket.description}")
    )


def _after_prefix(word: str) -> str:
    """The least string greater than every string that starts with ``word`` (code point order)."""
    following = ord(word[-1]) + 1
    if following in SURROGATES:
        following = SURROGATES.stop
    return word[:-1] + chr(following)


def _has_word(word: str) -> ColumnElement[bool]:
    """A ticket with a word starting with ``word``; a number must be whole (``BH-7`` is not 70)."""
    indexed = TicketSearchWord.word
    matches = (
        indexed == word if word.isdigit() else and_(indexed >= word, indexed < _after_prefix(word))
    )
    return Ticket.id.in_(select(TicketSearchWord.ticket_id).where(matches))


def _tag(tag: str) -> ColumnElement[bool]:
    # Tags are a JSON list, stored as its text on both databases; a tag is found as its JSON
    # string, quotes included, so "vip" never matches "vip-gold".
    return cast(Ticket.tags, Text).contains(json.dumps(tag), autoescape=True)


def _status(statuses: list[TicketStatus]) -> ColumnElement[bool]:
    # Written out, not bound: a prepared statement's generic plan can then still prove that a
    # list of open statuses selects from the partial indexes on open tickets.
    listed: BindParameter[list[str]] = bindparam(
        "status", sorted(statuses), expanding=True, literal_execute=True
    )
    return Ticket.status.in_(listed)


def conditions(filters: TicketFilters, user_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool] | None] = [
        _status(filters.status) if filters.status else None,
        Ticket.priority.in_(filters.priority) if filters.priority else None,
        _assignee(filters, user_id),
        Ticket.team_id == filters.team if filters.team else None,
        Ticket.category_id == filters.category if filters.category else None,
        Ticket.requester_id == filters.requester if filters.requester else None,
        *(_tag(tag) for tag in filters.tags),
    ]
    if filters.breached is not None:
        # A comparison, not IS TRUE, so that the index on the flag serves it.
        found.append(Ticket.sla_breached == filters.breached)
    if filters.due_before is not None or filters.due_after is not None:
        found.extend(_due_within(filters.due_before, filters.due_after))
    found.extend(_has_word(word) for word in words_of(filters.text or "")[:MAX_SEARCH_WORDS])
    return [condition for condition in found if condition is not None]


def _due_within(before: datetime | None, after: datetime | None) -> list[ColumnElement[bool]]:
    """The ticket's nearest deadline still to meet falls in the window, and is still to come
    unless nothing has breached yet: a ticket past a breached deadline is overdue, not due (one
    past due that its timer has yet to mark breached still counts as due).

    Each branch of the OR names ``sla_breached``, so that each reads one range of the index on
    (tenant, sla_breached, sla_due_at), and the overdue breached tickets are never read."""
    due, breached = Ticket.sla_due_at, Ticket.sla_breached
    window = [or_(breached == False, and_(breached == True, due >= utcnow()))]  # noqa: E712
    if before is not None:
        window.append(due < before)
    if after is not None:
        window.append(due >= after)
    return window


def _due_cursor(due: datetime | None, ticket_id: uuid.UUID) -> str:
    raw = json.dumps([None if due is None else due.isoformat(), str(ticket_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after_due_cursor(cursor: str) -> tuple[datetime | None, uuid.UUID]:
    try:
        due, ticket_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return (None if due is None else datetime.fromisoformat(due)), uuid.UUID(ticket_id)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput.on_field("query.cursor", "Invalid or expired cursor") from None


async def _by_due(
    session: AsyncSession, query: Select[Any], cursor: str | None, limit: int
) -> Slice[Ticket]:
    """Nearest deadline first (breached ones, still to meet, before all); tickets with none last,
    as the index on (tenant, status, sla_due_at, id) keeps them (ascending, nulls last)."""
    due = Ticket.sla_due_at
    if cursor:
        after, after_id = _after_due_cursor(cursor)
        if after is None:
            query = query.where(due.is_(None), Ticket.id > after_id)
        else:
            bound = literal(after, UTCDateTime())
            query = query.where(
                or_(due > bound, and_(due == bound, Ticket.id > after_id), due.is_(None))
            )
    ordered = query.order_by(due.asc().nulls_last(), Ticket.id).limit(limit + 1)
    found = list((await session.execute(ordered)).scalars())
    tickets = found[:limit]
    if len(found) <= limit:
        return Slice(tickets, None)
    return Slice(tickets, _due_cursor(tickets[-1].sla_due_at, tickets[-1].id))


async def search_tickets(
    session: AsyncSession,
    filters: TicketFilters,
    user_id: uuid.UUID | None,
    cursor: str | None,
    limit: int = DEFAULT_LIMIT,
) -> Slice[Ticket]:
    """Tickets matching every filter: latest update first, or (``sort=due``) the nearest SLA
    deadline first."""
    query = select(Ticket).where(*conditions(filters, user_id))
    if filters.sort == "due":
        return await _by_due(session, query, cursor, limit)
    if filters.due_before is None and filters.due_after is None:
        return await paginate(
            session, query, (Ticket.updated_at, Ticket.id), cursor=cursor, limit=limit
        )
    # A due window holds few tickets, but the planner cannot tell (it would walk the tenant's
    # tickets latest first, looking for them): OFFSET 0 keeps the window a subquery, read through
    # its index, and only its tickets are sorted.
    window = aliased(Ticket, query.offset(0).subquery())
    return await paginate(
        session, select(window), (window.updated_at, window.id), cursor=cursor, limit=limit
    )
