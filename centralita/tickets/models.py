import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, TenantScoped, utcnow


class TicketType(StrEnum):
    INCIDENT = "incident"
    SERVICE_REQUEST = "service_request"
    QUESTION = "question"
    PROBLEM = "problem"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"
    PENDING_THIRD_PARTY = "pending_third_party"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


S = TicketStatus
_WORKING = frozenset({S.OPEN, S.PENDING_CUSTOMER, S.PENDING_THIRD_PARTY, S.ON_HOLD})

# The one table of allowed moves. Resolved work reopens (a customer reply does it too, within the
# tenant's reopen window) or closes for good; closed is final.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.NEW: _WORKING | {S.RESOLVED},
    S.OPEN: (_WORKING - {S.OPEN}) | {S.RESOLVED},
    S.PENDING_CUSTOMER: (_WORKING - {S.PENDING_CUSTOMER}) | {S.RESOLVED},
    S.PENDING_THIRD_PARTY: (_WORKING - {S.PENDING_THIRD_PARTY}) | {S.RESOLVED},
    S.ON_HOLD: (_WORKING - {S.ON_HOLD}) | {S.RESOLVED},
    S.RESOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),
}
OPEN_STATUSES = frozenset(TicketStatus) - {S.RESOLVED, S.CLOSED}
# The open tickets, as partial indexes name them; a query whose status list is written out
# (search renders it so) uses such an index, even in a prepared statement's generic plan.
OPEN_TICKETS = text(
    "status IN (" + ", ".join(f"'{status.value}'" for status in sorted(OPEN_STATUSES)) + ")"
)
HAS_PARENT = text("parent_id IS NOT NULL")
HAS_DEADLINE = text("sla_due_at IS NOT NULL")
BREACHED = text("sla_breached")


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Level(StrEnum):
    """Impact and urgency, each high, medium or low."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# ITIL's usual matrix; a tenant may set its own in TicketSettings.priority_matrix.
DEFAULT_PRIORITY_MATRIX: dict[str, dict[str, str]] = {
    Level.HIGH: {Level.HIGH: Priority.P1, Level.MEDIUM: Priority.P2, Level.LOW: Priority.P3},
    Level.MEDIUM: {Level.HIGH: Priority.P2, Level.MEDIUM: Priority.P3, Level.LOW: Priority.P4},
    Level.LOW: {Level.HIGH: Priority.P3, Level.MEDIUM: Priority.P4, Level.LOW: Priority.P4},
}


class FieldKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


class MessageKind(StrEnum):
    PUBLIC = "public"  # an agent's reply the requester sees
    INTERNAL = "internal"  # an agent's note, never shown to the requester
    CUSTOMER = "customer"  # the requester wrote
    SYSTEM = "system"  # e.g. a major incident update or a merge notice


class TicketSettings(TenantScoped, Base):
    """One row per tenant: the number prefix and sequence, the priority matrix, reopening."""

    __tablename__ = "ticket_settings"
    __table_args__ = (CheckConstraint("next_number > 0", name="next_number"),)

    prefix: Mapped[str] = mapped_column(String(10))
    # Taken with a row lock in the creating transaction, so numbers have no gaps or repeats.
    next_number: Mapped[int] = mapped_column(default=1)
    priority_matrix: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A customer reply reopens a resolved ticket within this many days; later it opens a new one.
    reopen_days: Mapped[int] = mapped_column(default=7)


class Team(TenantEntity, Base):
    """A group tickets are assigned to: first line, tier 2, or the client's own staff."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(300))


class TeamMember(TenantScoped, Base):
    __tablename__ = "team_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"], ondelete="CASCADE"
        ),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class Category(TenantEntity, Base):
    """A node of the tenant's category tree."""

    __tablename__ = "ticket_categories"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "parent_id"], ["ticket_categories.tenant_id", "ticket_categories.id"]
        ),
        UniqueConstraint("tenant_id", "parent_id", "name"),
    )

    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[uuid.UUID | None]


class CustomField(TenantEntity, Base):
    """A typed field the tenant adds to its tickets; values live in ``Ticket.custom_fields``."""

    __tablename__ = "ticket_custom_fields"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(50))
    # The label in each of the tenant's languages, keyed by locale.
    label: Mapped[dict[str, Any]] = mapped_column(default=dict)
    kind: Mapped[FieldKind] = mapped_column(String(10))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)


class Ticket(TenantEntity, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        ForeignKeyConstraint(
            ["tenant_id", "requester_id"], ["customers.tenant_id", "customers.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "category_id"], ["ticket_categories.tenant_id", "ticket_categories.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "merged_into_id"], ["tickets.tenant_id", "tickets.id"]),
        ForeignKeyConstraint(["tenant_id", "parent_id"], ["tickets.tenant_id", "tickets.id"]),
        Index("ix_tickets_status_priority", "tenant_id", "status", "priority"),
        Index("ix_tickets_assignee_status", "tenant_id", "assignee_user_id", "status"),
        Index("ix_tickets_team_status", "tenant_id", "team_id", "status"),
        Index("ix_tickets_requester", "tenant_id", "requester_id"),
        # Partial where most tickets have nothing to index, so that updating them (a deadline
        # moved by a calendar change, say) writes no entry there.
        Index(
            "ix_tickets_parent",
            "tenant_id",
            "parent_id",
            sqlite_where=HAS_PARENT,
            postgresql_where=HAS_PARENT,
        ),
        Index("ix_tickets_updated", "tenant_id", "updated_at"),
        # Search by due time and the breached filter (sla keeps both columns current): open
        # tickets nearest deadline first, a due window (breached or not, see search._due_within),
        # and breached tickets latest first.
        Index(
            "ix_tickets_open_due",
            "tenant_id",
            "sla_due_at",
            "id",
            sqlite_where=OPEN_TICKETS,
            postgresql_where=OPEN_TICKETS,
        ),
        Index(
            "ix_tickets_due_window",
            "tenant_id",
            "sla_breached",
            "sla_due_at",
            sqlite_where=HAS_DEADLINE,
            postgresql_where=HAS_DEADLINE,
        ),
        Index(
            "ix_tickets_breached",
            "tenant_id",
            "updated_at",
            "id",
            sqlite_where=BREACHED,
            postgresql_where=BREACHED,
        ),
    )

    number: Mapped[int]
    type: Mapped[TicketType] = mapped_column(String(20))
    status: Mapped[TicketStatus] = mapped_column(String(20), default=TicketStatus.NEW)
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[uuid.UUID]
    team_id: Mapped[uuid.UUID | None]
    assignee_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    category_id: Mapped[uuid.UUID | None]
    # The channel the ticket came in on (interactions.models.Channel values).
    channel: Mapped[str] = mapped_column(String(10), default="web")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    impact: Mapped[Level] = mapped_column(String(10), default=Level.MEDIUM)
    urgency: Mapped[Level] = mapped_column(String(10), default=Level.MEDIUM)
    priority: Mapped[Priority] = mapped_column(String(2))
    # Set when someone chose the priority by hand; the matrix then no longer decides it.
    priority_overridden: Mapped[bool] = mapped_column(default=False)
    is_major: Mapped[bool] = mapped_column(default=False)
    parent_id: Mapped[uuid.UUID | None]
    merged_into_id: Mapped[uuid.UUID | None]
    first_responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Kept by the SLA code (sla.urgency.refresh_ticket_urgency) whenever targets change: the
    # nearest deadline still to meet (sla.service.earliest_due), and whether any target breached.
    sla_due_at: Mapped[datetime | None]
    sla_breached: Mapped[bool] = mapped_column(default=False)


class TicketMessage(TenantEntity, Base):
    __tablename__ = "ticket_messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"], ondelete="CASCADE"
        ),
        Index("ix_ticket_messages_ticket_created", "tenant_id", "ticket_id", "created_at"),
    )

    ticket_id: Mapped[uuid.UUID]
    kind: Mapped[MessageKind] = mapped_column(String(10))
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    # Sanitised before it is stored (interactions.service.sanitise_html).
    html: Mapped[str | None] = mapped_column(Text)


SEARCH_WORD_LENGTH = 40


class TicketSearchWord(TenantScoped, Base):
    """A word of a ticket's reference, subject or description, folded (lower case, no accents).

    Text search looks words up by prefix, a range on this primary key. Under PostgreSQL's
    row-level security an index serves only leakproof operators, and ``LIKE`` and full-text
    matching are not; text comparisons are. The C collation makes the prefix range bytewise.
    """

    __tablename__ = "ticket_search_words"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"], ondelete="CASCADE"
        ),
        Index("ix_ticket_search_words_ticket", "tenant_id", "ticket_id"),
    )

    word: Mapped[str] = mapped_column(
        String(SEARCH_WORD_LENGTH).with_variant(
            String(SEARCH_WORD_LENGTH, collation="C"), "postgresql"
        ),
        primary_key=True,
    )
    ticket_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class TicketFollower(TenantScoped, Base):
    __tablename__ = "ticket_followers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"], ondelete="CASCADE"
        ),
    )

    ticket_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class TicketLink(TenantScoped, Base):
    """Two related tickets; stored once, with the smaller id first."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "other_id"], ["tickets.tenant_id", "tickets.id"], ondelete="CASCADE"
        ),
        CheckConstraint("ticket_id < other_id", name="ordered"),
    )

    ticket_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    other_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)


class TicketTemplate(TenantEntity, Base):
    """An incident model: prefilled fields, a checklist and reply macros in the tenant's
    languages."""

    __tablename__ = "ticket_templates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        ForeignKeyConstraint(
            ["tenant_id", "category_id"], ["ticket_categories.tenant_id", "ticket_categories.id"]
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[TicketType | None] = mapped_column(String(20))
    category_id: Mapped[uuid.UUID | None]
    impact: Mapped[Level | None] = mapped_column(String(10))
    urgency: Mapped[Level | None] = mapped_column(String(10))
    subject: Mapped[dict[str, Any]] = mapped_column(default=dict)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checklist: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Each macro: a name and a body per locale; bodies take {{placeholders}}.
    macros: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class SavedView(TenantEntity, Base):
    """A named ticket search; ``owner_user_id`` None means shared with the whole tenant."""

    __tablename__ = "ticket_views"

    name: Mapped[str] = mapped_column(String(100))
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
