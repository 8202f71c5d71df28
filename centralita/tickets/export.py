"""CSV export of a ticket search, streamed page by page.

RFC 4180 through the csv module (quoted where needed, CRLF line ends). A cell that a spreadsheet
would read as a formula (starting with =, +, -, @, a tab or a carriage return) gets a leading
apostrophe, so a subject typed by a customer can never run in the reader's spreadsheet.
"""

import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer
from centralita.tickets.catalog import display_names, list_categories
from centralita.tickets.models import Team, Ticket
from centralita.tickets.schemas import TicketFilters
from centralita.tickets.search import search_tickets
from centralita.tickets.settings import reference

BATCH = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER = (
    "number",
    "subject",
    "type",
    "status",
    "priority",
    "requester",
    "assignee",
    "team",
    "category",
    "tags",
    "channel",
    "created_at",
    "updated_at",
    "first_responded_at",
    "resolved_at",
    "closed_at",
)


def neutralise(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _lines(rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([neutralise(_text(value)) for value in row] for row in rows)
    return buffer.getvalue()


async def _customer_names(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    query = select(Customer.id, Customer.display_name).where(Customer.id.in_(ids))
    return dict((await session.execute(query)).all())


async def csv_chunks(
    sessions: Callable[[], AsyncSession],
    prefix: str,
    filters: TicketFilters,
    user_id: uuid.UUID | None,
) -> AsyncIterator[str]:
    """The export as text chunks: a byte-order mark (so spreadsheets read it as UTF-8), the
    header, then the matching tickets in the search's order.

    Each page is read in a short transaction of its own from ``sessions``, so a slow download
    holds no transaction (nor, on SQLite, the write lock) open; the keyset keeps pages apart.
    """
    async with sessions() as session:
        teams = dict((await session.execute(select(Team.id, Team.name))).all())
        categories = {view.category.id: view.path for view in await list_categories(session)}
    yield "\ufeff" + _lines([HEADER])
    cursor = None
    while True:
        async with sessions() as session:
            page = await search_tickets(session, filters, user_id, cursor, BATCH)
            customers = await _customer_names(session, {t.requester_id for t in page.items})
            agents = await display_names(
                session, {t.assignee_user_id for t in page.items if t.assignee_user_id}
            )
        yield _lines(_row(t, prefix, customers, agents, teams, categories) for t in page.items)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _row(
    ticket: Ticket,
    prefix: str,
    customers: dict[uuid.UUID, str],
    agents: dict[uuid.UUID, str],
    teams: dict[uuid.UUID, str],
    categories: dict[uuid.UUID, str],
) -> list[Any]:
    return [
        reference(prefix, ticket.number),
        ticket.subject,
        ticket.type,
        ticket.status,
        ticket.priority,
        customers.get(ticket.requester_id),
        agents.get(ticket.assignee_user_id) if ticket.assignee_user_id else None,
        teams.get(ticket.team_id) if ticket.team_id else None,
        categories.get(ticket.category_id) if ticket.category_id else None,
        ", ".join(ticket.tags),
        ticket.channel,
        ticket.created_at,
        ticket.updated_at,
        ticket.first_responded_at,
        ticket.resolved_at,
        ticket.closed_at,
    ]
