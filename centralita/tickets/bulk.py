"""One change to many tickets at once: all of them take it, or none does."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import DomainError, FieldError, InvalidInput
from centralita.tickets.catalog import refuse_invalid
from centralita.tickets.desk import Desk
from centralita.tickets.fields import missing_required, required_fields
from centralita.tickets.lifecycle import lock_tickets, refuse_closed
from centralita.tickets.models import Ticket, TicketStatus
from centralita.tickets.schemas import BulkUpdate
from centralita.tickets.service import change_ticket, link_errors


def _tags(ticket: Ticket, added: list[str], removed: list[str]) -> list[str]:
    return [tag for tag in dict.fromkeys([*ticket.tags, *added]) if tag not in removed]


async def bulk_update(session: AsyncSession, desk: Desk, data: BulkUpdate) -> list[Ticket]:
    """Apply the change to every ticket listed; if any cannot take it, the whole request fails
    with one error per refused ticket (``body.ids.<index>``) and nothing is changed."""
    changes = data.changes
    sent = changes.model_dump(exclude_unset=True, exclude={"tags_add", "tags_remove"})
    refuse_invalid(await link_errors(session, None, sent, at="body.changes"))
    resolving = sent.get("status") == TicketStatus.RESOLVED
    required = await required_fields(session) if resolving else []
    tickets = await lock_tickets(session, data.ids)
    errors: list[FieldError] = []
    for index, ticket_id in enumerate(data.ids):
        field = f"body.ids.{index}"
        ticket = tickets.get(ticket_id)
        if ticket is None:
            errors.append(FieldError(field, "No such ticket"))
            continue
        per_ticket: dict[str, Any] = dict(sent)
        if changes.tags_add or changes.tags_remove:
            per_ticket["tags"] = _tags(ticket, changes.tags_add, changes.tags_remove)
        missing = missing_required(required, ticket.custom_fields)
        if missing and ticket.status != TicketStatus.RESOLVED:
            keys = ", ".join(error.field.rsplit(".", 1)[-1] for error in missing)
            errors.append(FieldError(field, f"{desk.reference(ticket)}: fill in {keys} first"))
            continue
        try:
            refuse_closed(desk, ticket)
            await change_ticket(session, desk, ticket, per_ticket)
        except DomainError as exc:
            errors.append(FieldError(field, f"{desk.reference(ticket)}: {exc.detail}"))
    if errors:
        # Raising rolls back the request's transaction: the tickets already changed revert too.
        raise InvalidInput(
            f"No ticket was changed: {len(errors)} of {len(data.ids)} cannot take the change",
            errors,
        )
    return [tickets[ticket_id] for ticket_id in data.ids]
