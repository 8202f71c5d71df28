"""Suggestions for the agent: the articles that best answer the conversation in front of them.

The conversation's text (subject, what the customer wrote, a ticket's description) is the query;
internal articles count, as agents may read them. The language is the conversation's.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import InvalidInput
from centralita.interactions.models import AuthorKind, Interaction, Message
from centralita.knowledge.search import SEARCH_LOCALES, Filters, Results, search
from centralita.tickets.models import MessageKind, Ticket, TicketMessage

SUGGESTIONS = 5
RECENT_MESSAGES = 5


def _locale(language: str | None) -> str | None:
    code = (language or "")[:2]
    return code if code in SEARCH_LOCALES else None


async def _interaction_text(
    session: AsyncSession, interaction_id: uuid.UUID
) -> tuple[str, str | None]:
    interaction = (
        await session.execute(select(Interaction).where(Interaction.id == interaction_id))
    ).scalar_one_or_none()
    if interaction is None:
        raise InvalidInput.on_field("query.interaction_id", "No such interaction")
    said = await session.execute(
        select(Message.text)
        .where(Message.interaction_id == interaction_id, Message.author_kind == AuthorKind.CUSTOMER)
        .order_by(Message.created_at.desc())
        .limit(RECENT_MESSAGES)
    )
    parts = [interaction.subject or "", interaction.topic or "", *said.scalars()]
    return " ".join(parts), _locale(interaction.language)


async def _ticket_text(session: AsyncSession, ticket_id: uuid.UUID) -> str:
    ticket = (
        await session.execute(select(Ticket).where(Ticket.id == ticket_id))
    ).scalar_one_or_none()
    if ticket is None:
        raise InvalidInput.on_field("query.ticket_id", "No such ticket")
    said = await session.execute(
        select(TicketMessage.text)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.kind == MessageKind.CUSTOMER)
        .order_by(TicketMessage.created_at.desc())
        .limit(RECENT_MESSAGES)
    )
    return " ".join([ticket.subject, ticket.description, *said.scalars()])


async def suggest(
    session: AsyncSession,
    *,
    interaction_id: uuid.UUID | None = None,
    ticket_id: uuid.UUID | None = None,
    text: str | None = None,
) -> Results:
    """The five best articles for a conversation, a ticket, or a text (none given: none)."""
    parts, locale = [text or ""], None
    if interaction_id is not None:
        said, locale = await _interaction_text(session, interaction_id)
        parts.append(said)
    if ticket_id is not None:
        parts.append(await _ticket_text(session, ticket_id))
    return await search(session, " ".join(parts), Filters(locale=locale), limit=SUGGESTIONS)
