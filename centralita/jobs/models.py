import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, utcnow


class JobKind(StrEnum):
    """Every kind of job, in one place, so each has exactly one consumer that can be found."""

    # The routing engine reconciles its memory with the database for one interaction, agent or
    # queue that changed (ref_id names it).
    ROUTING_WORK = "routing.work"
    ROUTING_AGENT = "routing.agent"
    ROUTING_QUEUE = "routing.queue"
    # An SLA target (ref_id) reaches its next escalation step or its deadline.
    SLA_ESCALATION = "sla.escalation"
    # An agent's message (ref_id) goes out through its channel's provider (email, SMS).
    CHANNEL_DELIVERY = "channel.delivery"
    # A ticket's public reply (ref_id: the ticket message) goes out by email to its requester.
    EMAIL_TICKET_REPLY = "email.ticket_reply"
    # The automatic acknowledgement of a new email ticket (ref_id: the email that opened it).
    EMAIL_ACKNOWLEDGEMENT = "email.acknowledgement"
    # The confirmation of a ticket opened on the web portal (ref_id: the ticket).
    EMAIL_CONFIRMATION = "email.confirmation"
    # A chat visitor asked for a copy of their conversation (ref_id) by email.
    CHAT_TRANSCRIPT = "chat.transcript"
    # A recorded tenant event (ref_id, in event_log) becomes one delivery per matching webhook
    # subscription; and is matched against the tenant's rules.
    WEBHOOK_FANOUT = "webhooks.fanout"
    AUTOMATION_EVENT = "automation.event"
    # One webhook delivery (ref_id) is due for its next attempt; the webhook dispatcher leases it.
    WEBHOOK_DELIVERY = "webhooks.delivery"
    # A callback (ref_id) becomes routable work when due; or lapses at its expiry.
    CALLBACK_DUE = "callbacks.due"
    CALLBACK_EXPIRY = "callbacks.expiry"
    # An outbound message (ref_id, in outbound_messages) waits for its channel to send it: the
    # channel packages consume this kind (see centralita/outbound/).
    OUTBOUND_SEND = "outbound.send"
    # A scheduled rule (ref_id) is due: it fires and schedules its next run.
    AUTOMATION_SCHEDULE = "automation.schedule"
    # A tenant's weekly report is due (ref_id: the tenant): one delivery per client manager.
    REPORTING_WEEKLY = "reporting.weekly"
    # One scheduled report email goes out (ref_id: the reporting delivery).
    REPORTING_DELIVERY = "reporting.delivery"
    # An article was inserted into a reply on a ticket (ref_id: the insertion event): check
    # whether the ticket was resolved and stayed so.
    KNOWLEDGE_RESOLUTION = "knowledge.resolution"
    # A tenant's daily purge of what outlived its retention periods (ref_id: the tenant).
    LIFECYCLE_RETENTION = "lifecycle.retention"
    # A full export of a tenant's data is written to disk (ref_id: the export).
    LIFECYCLE_EXPORT = "lifecycle.export"
    # A ready export's archive has been kept long enough and is deleted (ref_id: the export).
    LIFECYCLE_EXPORT_EXPIRY = "lifecycle.export_expiry"
    # A tenant's model is to be trained (ref_id: the nlu training run); the nlu trainer consumes
    # it (centralita/nlu/trainer.py).
    NLU_TRAINING = "nlu.training"


class Job(Base):
    """Something to do once ``due_at`` has come: a row, so a crash or a restart cannot lose it.

    Jobs belong to the platform's workers rather than to one tenant (one worker serves every
    tenant); ``ref_id`` names the row the job is about, whose tenant it belongs to.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_kind_due", "kind", "due_at"),
        # A target's pending timers are replaced whenever its deadline moves.
        Index("ix_jobs_kind_ref", "kind", "ref_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(50))
    ref_id: Mapped[uuid.UUID | None]
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
