"""Campaigns: definitions, targets from a segment, start and pause, the dispatch decisions, results.

Dispatch is a two-step hand-over so that a killed dispatcher sends nothing twice:

1. :func:`claim_contacts` locks due contacts (``FOR UPDATE SKIP LOCKED``: concurrent dispatchers
   take disjoint rows), decides each one — the customer's hours, frequency cap, pacing, the first
   consented channel — and marks the ones to send ``sending`` with a lease; the caller commits.
2. The caller sends each outside any transaction with :func:`idempotency_key` (the contact's id,
   so a repeat is recognised by the provider) and records the outcome with
   :func:`record_outcomes`. A dispatcher that dies in between leaves its contacts ``sending``;
   once the lease lapses another claims them and sends them again under the same key.
"""

import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.callbacks.models import CallbackSource
from centralita.callbacks.schemas import CallbackCreate
from centralita.callbacks.service import create_callback
from centralita.campaigns.consent import decisions_of, profile_consent
from centralita.campaigns.hours import next_contact_time
from centralita.campaigns.models import (
    Campaign,
    CampaignContact,
    CampaignStatus,
    ContactChannel,
    ContactStatus,
)
from centralita.campaigns.schemas import CampaignCreate
from centralita.customers.models import Customer, CustomerIdentity, IdentityKind
from centralita.db.base import new_id, utcnow
from centralita.db.paging import Slice, paginate
from centralita.errors import Conflict, NotFound
from centralita.events.bus import Event, emit, supervisors_topic
from centralita.events.service import Actor, record_audit
from centralita.outbound.delivery import Report, ending_of
from centralita.tenancy.models import Tenant

ADDRESS_KIND = {
    ContactChannel.SMS: IdentityKind.PHONE,
    ContactChannel.VOICE: IdentityKind.PHONE,
    ContactChannel.VOICE_MESSAGE: IdentityKind.PHONE,
    ContactChannel.EMAIL: IdentityKind.EMAIL,
}
# Whose consent a channel needs: an automated call is a call, so one "no calls" stops both.
CONSENT_CHANNEL = {ContactChannel.VOICE_MESSAGE: ContactChannel.VOICE}
LEASE = timedelta(minutes=2)
DISPATCH = Actor(label="campaigns")
# A campaign template names its values as {name}: the customer's name or a column of the CSV.
TEMPLATE_FIELD = re.compile(r"\{(\w+)\}")
# Statuses that count against the frequency cap: messages that went or are going out.
REACHED = (ContactStatus.SENDING, ContactStatus.SENT, ContactStatus.DELIVERED)


# --- definitions -------------------------------------------------------------------------------


async def create_campaign(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: CampaignCreate
) -> Campaign:
    fields = data.model_dump(mode="json")
    campaign = Campaign(
        tenant_id=tenant_id,
        id=new_id(),
        name=data.name,
        status=CampaignStatus.DRAFT,
        segment_query=fields["segment"],
        templates=fields["templates"],
        subjects=fields["subjects"],
        channels=fields["channels"],
        fallback_language=data.fallback_language,
        allowed_hours=fields["allowed_hours"],
        quiet_hours=fields["quiet_hours"],
        frequency_cap=data.frequency_cap,
        frequency_days=data.frequency_days,
        pace_per_minute=data.pace_per_minute,
        voice_queue=data.voice_queue,
        starts_at=data.starts_at,
    )
    session.add(campaign)
    await session.flush()
    record_audit(
        session,
        tenant_id,
        actor,
        "campaign.created",
        ("campaign", campaign.id),
        after={"name": campaign.name},
    )
    return campaign


async def get_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, *, lock: bool = False
) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        query = query.with_for_update()
    campaign = (await session.execute(query)).scalar_one_or_none()
    if campaign is None:
        raise NotFound("No such campaign")
    return campaign


async def list_campaigns(session: AsyncSession) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(200)
    return list((await session.execute(query)).scalars())


def segment_filter(segment: Mapping[str, Any]) -> list[Any]:
    conditions: list[Any] = [Customer.merged_into_id.is_(None)]
    if segment.get("segment"):
        conditions.append(Customer.segment == segment["segment"])
    if segment.get("value_tiers"):
        conditions.append(Customer.value_tier.in_(segment["value_tiers"]))
    if segment.get("languages"):
        conditions.append(Customer.language.in_(segment["languages"]))
    return conditions


INSERT_CHUNK = 5000


async def _add_segment_targets(session: AsyncSession, campaign: Campaign, due_at: datetime) -> int:
    """One queued contact per matching customer not already in the campaign."""
    segment = campaign.segment_query or {}
    tags = set(segment.get("tags") or [])
    already = select(CampaignContact.customer_id).where(CampaignContact.campaign_id == campaign.id)
    query = select(Customer.id, Customer.tags).where(
        *segment_filter(segment), Customer.id.not_in(already)
    )
    # Tags are a JSON list, compared here so that both databases agree.
    ids = [cid for cid, have in (await session.execute(query)).all() if tags <= set(have or [])]
    for start in range(0, len(ids), INSERT_CHUNK):
        rows = [
            {
                "tenant_id": campaign.tenant_id,
                "id": new_id(),
                "campaign_id": campaign.id,
                "customer_id": customer_id,
                "status": ContactStatus.QUEUED,
                "due_at": due_at,
                "variables": {},
                "attempts": 0,
            }
            for customer_id in ids[start : start + INSERT_CHUNK]
        ]
        await session.execute(insert(CampaignContact), rows)
    return len(ids)


async def start_campaign(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    """Running from now (or from ``starts_at``): a segment campaign takes its targets now."""
    campaign = await get_campaign(session, campaign_id, lock=True)
    if campaign.status == CampaignStatus.RUNNING:
        return campaign
    if campaign.status == CampaignStatus.FINISHED:
        raise Conflict("This campaign has finished", "campaign-finished")
    now = utcnow()
    due_at = max(campaign.starts_at or now, now)
    if campaign.status == CampaignStatus.DRAFT:
        if campaign.segment_query is not None:
            await _add_segment_targets(session, campaign, due_at)
        else:
            await session.execute(
                update(CampaignContact)
                .where(CampaignContact.campaign_id == campaign.id)
                .values(due_at=due_at)
            )
        count = await session.scalar(
            select(func.count()).where(CampaignContact.campaign_id == campaign.id)
        )
        if not count:
            raise Conflict("This campaign has nobody to reach yet", "campaign-empty")
        campaign.started_at = now
    campaign.status = CampaignStatus.RUNNING
    record_audit(session, campaign.tenant_id, actor, "campaign.started", ("campaign", campaign.id))
    await session.flush()
    return campaign


async def pause_campaign(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    """No contact is claimed while paused; ones already being sent finish."""
    campaign = await get_campaign(session, campaign_id, lock=True)
    if campaign.status != CampaignStatus.RUNNING:
        raise Conflict("Only a running campaign can be paused", "campaign-not-running")
    campaign.status = CampaignStatus.PAUSED
    record_audit(session, campaign.tenant_id, actor, "campaign.paused", ("campaign", campaign.id))
    await session.flush()
    return campaign


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    campaign: Campaign
    totals: dict[str, int]
    skipped_by_reason: dict[str, int]
    contacts: Slice[CampaignContact]


async def results(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    *,
    status: ContactStatus | None,
    cursor: str | None,
    limit: int,
) -> Results:
    campaign = await get_campaign(session, campaign_id)
    by_status = select(CampaignContact.status, func.count()).where(
        CampaignContact.campaign_id == campaign.id
    )
    totals = {str(s): 0 for s in ContactStatus}
    for key, count in (await session.execute(by_status.group_by(CampaignContact.status))).all():
        totals[str(key)] = int(count)
    totals["total"] = sum(totals.values())
    by_reason = (
        select(CampaignContact.reason, func.count())
        .where(
            CampaignContact.campaign_id == campaign.id,
            CampaignContact.status.in_([ContactStatus.SKIPPED, ContactStatus.OPTED_OUT]),
        )
        .group_by(CampaignContact.reason)
    )
    reasons = {str(r): int(c) for r, c in (await session.execute(by_reason)).all()}
    query = select(CampaignContact).where(CampaignContact.campaign_id == campaign.id)
    if status is not None:
        query = query.where(CampaignContact.status == status)
    page = await paginate(
        session,
        query,
        [CampaignContact.created_at, CampaignContact.id],
        cursor=cursor,
        limit=limit,
        descending=False,
    )
    return Results(campaign, totals, reasons, page)


# --- dispatch ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """One message a dispatcher is to send now, with what the send needs."""

    contact_id: uuid.UUID
    tenant_id: uuid.UUID
    campaign_id: uuid.UUID
    customer_id: uuid.UUID
    channel: ContactChannel
    to_address: str
    language: str
    body: str
    subject: str | None
    attempts: int


@dataclass(frozen=True)
class Claimed:
    """A claimed batch: how many contacts were decided, and the messages to send now."""

    contacts: int
    sends: list[Send]


def idempotency_key(contact_id: uuid.UUID) -> str:
    """The same for every attempt at one contact, so the provider recognises a repeat."""
    return f"campaign-contact-{contact_id}"


def render(template: str, variables: Mapping[str, Any]) -> str:
    """``{name}`` and the like replaced by the contact's values; unknown ones left as written."""
    return TEMPLATE_FIELD.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


def _language(customer: Customer, texts: Mapping[str, str], campaign: Campaign, hint: Any) -> str:
    for candidate in (customer.language, hint, campaign.fallback_language):
        if isinstance(candidate, str) and candidate in texts:
            return candidate
    return next(iter(texts))


@dataclass
class _Facts:
    """What the decisions on a batch read, loaded with one query per table."""

    campaigns: dict[uuid.UUID, Campaign]
    customers: dict[uuid.UUID, Customer]
    tenants: dict[uuid.UUID, Tenant]
    addresses: dict[tuple[uuid.UUID, str], str]
    decisions: dict[tuple[uuid.UUID, str], bool]
    recent: Counter[uuid.UUID]


async def _facts(
    session: AsyncSession, contacts: Sequence[CampaignContact], now: datetime
) -> _Facts:
    campaign_ids = sorted({c.campaign_id for c in contacts})
    customer_ids = list({c.customer_id for c in contacts})
    # Every lookup names the tenants too: the indexes lead with tenant_id.
    tenant_ids = list({c.tenant_id for c in contacts})
    # Campaign rows are locked (in id order, so dispatchers cannot deadlock) for their pacing.
    locked = (
        select(Campaign)
        .where(Campaign.tenant_id.in_(tenant_ids), Campaign.id.in_(campaign_ids))
        .order_by(Campaign.id)
    )
    campaigns = {c.id: c for c in (await session.execute(locked.with_for_update())).scalars()}
    customer_rows = await session.execute(
        select(Customer).where(Customer.tenant_id.in_(tenant_ids), Customer.id.in_(customer_ids))
    )
    customers = {c.id: c for c in customer_rows.scalars()}
    tenant_rows = await session.execute(select(Tenant).where(Tenant.id.in_(tenant_ids)))
    tenants = {t.id: t for t in tenant_rows.scalars()}
    identities = await session.execute(
        select(
            CustomerIdentity.customer_id,
            CustomerIdentity.kind,
            CustomerIdentity.value,
            CustomerIdentity.created_at,
            CustomerIdentity.undeliverable_at,
        ).where(
            CustomerIdentity.tenant_id.in_(tenant_ids),
            CustomerIdentity.customer_id.in_(customer_ids),
        )
    )
    # The oldest deliverable address of each kind, chosen here: with the kind or an ORDER BY in
    # the query the planner scanned every identity of the tenant instead of the batch's.
    addresses: dict[tuple[uuid.UUID, str], str] = {}
    for customer_id, kind, value, _, bounced in sorted(identities.all(), key=lambda r: r[3]):
        if bounced is None and kind in (IdentityKind.PHONE, IdentityKind.EMAIL):
            addresses.setdefault((customer_id, str(kind)), value)
    longest = max((c.frequency_days for c in campaigns.values()), default=7)
    recent_rows = await session.execute(
        select(CampaignContact.customer_id).where(
            CampaignContact.tenant_id.in_(tenant_ids),
            CampaignContact.customer_id.in_(customer_ids),
            CampaignContact.sent_at >= now - timedelta(days=longest),
            CampaignContact.status.in_(REACHED),
        )
    )
    recent: Counter[uuid.UUID] = Counter(customer_id for (customer_id,) in recent_rows.all())
    decisions = await decisions_of(session, tenant_ids, customer_ids)
    return _Facts(campaigns, customers, tenants, addresses, decisions, recent)


def _channels(campaign: Campaign, customer: Customer) -> list[ContactChannel]:
    """The preferred channels first when the campaign may use them (a customer who prefers
    calls prefers an automated call too), then the campaign's order."""
    usable = [ContactChannel(c) for c in campaign.channels if c in campaign.templates]
    preferred = customer.preferred_channel
    first = [c for c in usable if preferred in (c, CONSENT_CHANNEL.get(c))]
    return [*first, *(c for c in usable if c not in first)]


def _choose(
    facts: _Facts, campaign: Campaign, customer: Customer
) -> tuple[ContactChannel | None, str]:
    """The channel and address to use, or (None, why not): "opted_out" when an explicit
    withdrawal stopped a channel the customer could otherwise be reached on."""
    reasons: list[str] = []
    for channel in _channels(campaign, customer):
        address = facts.addresses.get((customer.id, str(ADDRESS_KIND[channel])))
        if address is None:
            reasons.append("no_address")
            continue
        consent = CONSENT_CHANNEL.get(channel, channel)
        decided = facts.decisions.get((customer.id, str(consent)))
        if decided is False:
            reasons.append("opted_out")
            continue
        if decided is None and not profile_consent(customer, consent):
            reasons.append("no_consent")
            continue
        return channel, address
    for reason in ("opted_out", "no_consent", "no_address"):
        if reason in reasons:
            return None, reason
    return None, "no_channel"


def _pace_allowance(campaign: Campaign, now: datetime) -> int | None:
    """How many more contacts this minute; None when the campaign is not paced."""
    if campaign.pace_per_minute is None:
        return None
    if campaign.pace_window is None or now - campaign.pace_window >= timedelta(minutes=1):
        campaign.pace_window, campaign.pace_count = now, 0
    return max(campaign.pace_per_minute - campaign.pace_count, 0)


async def claim_contacts(
    session: AsyncSession, now: datetime, *, limit: int, lease: timedelta = LEASE
) -> Claimed:
    """Decide a batch of due contacts (system scope) and return the messages to send now.

    Skipped and opted-out contacts get their result; ones outside the customer's hours or past
    the campaign's pace wait (a later ``due_at``); voice contacts become callbacks for an agent
    here, in the same transaction. The caller commits before sending.
    """
    running = select(Campaign.id).where(Campaign.status == CampaignStatus.RUNNING)
    # Driven by the partial index on due_at (which also gives the order): a join with the
    # campaigns let the planner walk a whole campaign's contacts and sort them on every claim.
    query = (
        select(CampaignContact)
        .where(
            CampaignContact.status.in_([ContactStatus.QUEUED, ContactStatus.SENDING]),
            CampaignContact.due_at <= now,
            CampaignContact.campaign_id.in_(running),
        )
        .order_by(CampaignContact.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=CampaignContact)
    )
    contacts = list((await session.execute(query)).scalars())
    if not contacts:
        return Claimed(0, [])
    facts = await _facts(session, contacts, now)
    sends: list[Send] = []
    leased: dict[tuple[ContactChannel, bool], list[CampaignContact]] = defaultdict(list)
    for contact in contacts:
        campaign = facts.campaigns[contact.campaign_id]
        if contact.status == ContactStatus.SENDING and contact.channel:
            # A lapsed lease: the dispatcher before may have sent it. Send again under the same
            # key without deciding anew (it already counted against the cap and the pace).
            channel = ContactChannel(contact.channel)
            address = facts.addresses.get((contact.customer_id, str(ADDRESS_KIND[channel])))
            if address is None:
                contact.status, contact.reason = ContactStatus.FAILED, "no_address"
                continue
            sends.append(_send_of(facts, campaign, contact, channel, address))
            leased[(channel, True)].append(contact)
            continue
        sending = await _decide(session, facts, campaign, contact, now)
        if sending is not None:
            sends.append(sending)
            leased[(sending.channel, False)].append(contact)
    await session.flush()
    # The leases in one statement per channel: the batch's hot path costs a few round trips.
    for (channel, renewed), rows in leased.items():
        values: dict[str, Any] = {
            "status": ContactStatus.SENDING,
            "channel": channel,
            "due_at": now + lease,
            "attempts": CampaignContact.attempts + 1,
            "reason": None,
        }
        if not renewed:
            values["sent_at"] = now
        await session.execute(
            update(CampaignContact)
            .where(
                CampaignContact.tenant_id.in_({c.tenant_id for c in rows}),
                CampaignContact.id.in_([c.id for c in rows]),
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
    return Claimed(len(contacts), sends)


async def _decide(
    session: AsyncSession,
    facts: _Facts,
    campaign: Campaign,
    contact: CampaignContact,
    now: datetime,
) -> Send | None:
    """The decision on one contact: a message to send (leased by the caller), or the result
    written on the contact (skipped, opted out, waiting, a callback created)."""
    customer = facts.customers[contact.customer_id]
    tenant = facts.tenants[campaign.tenant_id]
    channel, found = _choose(facts, campaign, customer)
    if channel is None:
        contact.status = ContactStatus.OPTED_OUT if found == "opted_out" else ContactStatus.SKIPPED
        contact.reason = found
        return None
    opens = next_contact_time(
        now, customer.time_zone or tenant.time_zone, campaign.allowed_hours, campaign.quiet_hours
    )
    if opens is None:
        contact.status, contact.reason = ContactStatus.SKIPPED, "no_allowed_hours"
        return None
    if opens > now:
        contact.due_at, contact.reason = opens, "waiting_for_hours"
        return None
    if facts.recent[customer.id] >= campaign.frequency_cap:
        contact.status, contact.reason = ContactStatus.SKIPPED, "frequency_cap"
        return None
    allowance = _pace_allowance(campaign, now)
    if allowance is not None:
        if allowance == 0:
            assert campaign.pace_window is not None  # set by _pace_allowance
            contact.due_at, contact.reason = campaign.pace_window + timedelta(minutes=1), "paced"
            return None
        campaign.pace_count += 1
    facts.recent[customer.id] += 1
    if channel == ContactChannel.VOICE:
        contact.channel, contact.to_address, contact.reason = channel, found, None
        contact.sent_at, contact.attempts = now, contact.attempts + 1
        await _callback(session, campaign, contact, customer, found)
        return None
    return _send_of(facts, campaign, contact, channel, found)


def _send_of(
    facts: _Facts,
    campaign: Campaign,
    contact: CampaignContact,
    channel: ContactChannel,
    address: str,
) -> Send:
    customer = facts.customers[contact.customer_id]
    texts: Mapping[str, str] = campaign.templates[str(channel)]
    language = _language(customer, texts, campaign, contact.variables.get("language"))
    variables = {"name": customer.preferred_name or customer.display_name, **contact.variables}
    subject = None
    if channel == ContactChannel.EMAIL:
        subject = render(campaign.subjects.get(language) or campaign.name, variables)
    return Send(
        contact_id=contact.id,
        tenant_id=contact.tenant_id,
        campaign_id=campaign.id,
        customer_id=customer.id,
        channel=channel,
        to_address=address,
        language=language,
        body=render(texts[language], variables),
        subject=subject,
        attempts=contact.attempts + 1,
    )


async def _callback(
    session: AsyncSession,
    campaign: Campaign,
    contact: CampaignContact,
    customer: Customer,
    phone: str,
) -> None:
    """A call by an agent: a callback on the campaign's queue, carrying the script to read."""
    texts: Mapping[str, str] = campaign.templates[ContactChannel.VOICE]
    language = _language(customer, texts, campaign, contact.variables.get("language"))
    variables = {"name": customer.preferred_name or customer.display_name, **contact.variables}
    callback = await create_callback(
        session,
        campaign.tenant_id,
        CallbackCreate(
            customer_id=customer.id, phone=phone, queue=campaign.voice_queue, reason=campaign.name
        ),
        source=CallbackSource.CAMPAIGN,
        context={"campaign_id": str(campaign.id), "script": render(texts[language], variables)},
    )
    contact.status, contact.provider_ref = ContactStatus.SENT, str(callback.id)


@dataclass(frozen=True)
class Outcome:
    contact_id: uuid.UUID
    tenant_id: uuid.UUID
    to_address: str
    provider_ref: str | None = None
    error: str | None = None
    # A refusal that trying again cannot fix (a wrong number): the contact fails for good.
    final: bool = True


async def record_outcomes(
    session: AsyncSession, outcomes: Sequence[Outcome], now: datetime, *, retry_in: timedelta
) -> None:
    """Results of sends, in one statement; a send that may succeed later waits ``retry_in``."""
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        row: dict[str, Any] = {
            "tenant_id": outcome.tenant_id,
            "id": outcome.contact_id,
            "to_address": outcome.to_address,
        }
        if outcome.error is None:
            row |= {"status": ContactStatus.SENT, "provider_ref": outcome.provider_ref}
        elif outcome.final:
            row |= {"status": ContactStatus.FAILED, "error": outcome.error[:300], "sent_at": None}
        else:
            row |= {"error": outcome.error[:300], "due_at": now + retry_in}
        rows.append(row)
    if rows:
        # Only contacts still being sent: a delivery report may have arrived before the outcome.
        await session.execute(
            update(CampaignContact)
            .where(CampaignContact.status == ContactStatus.SENDING)
            .execution_options(synchronize_session=None),
            rows,
        )


# --- the end of a campaign ---------------------------------------------------------------------

OPEN = (ContactStatus.QUEUED, ContactStatus.SENDING)


def campaign_event(kind: str, campaign: Campaign) -> Event:
    return Event(
        type=kind,
        tenant=campaign.tenant_id,
        data={
            "campaign_id": campaign.id,
            "name": campaign.name,
            "status": campaign.status,
            "started_at": campaign.started_at,
            "finished_at": campaign.finished_at,
        },
        recipients=(supervisors_topic(campaign.tenant_id),),
    )


async def finish_campaigns(session: AsyncSession, now: datetime) -> list[Campaign]:
    """Running campaigns (of any tenant) none of whose contacts is left to decide or to send
    become ``finished``; results may still be refined by the provider's delivery reports."""
    still_open = (
        select(CampaignContact.id)
        .where(
            CampaignContact.tenant_id == Campaign.tenant_id,
            CampaignContact.campaign_id == Campaign.id,
            CampaignContact.status.in_(OPEN),
        )
        .exists()
    )
    query = (
        select(Campaign)
        .where(Campaign.status == CampaignStatus.RUNNING, ~still_open)
        .order_by(Campaign.id)
        .with_for_update(skip_locked=True)
    )
    finished = list((await session.execute(query)).scalars())
    for campaign in finished:
        campaign.status, campaign.finished_at = CampaignStatus.FINISHED, now
        record_audit(
            session, campaign.tenant_id, DISPATCH, "campaign.finished", ("campaign", campaign.id)
        )
        emit(session, campaign_event("campaign.finished", campaign))
    await session.flush()
    return finished


# --- the provider's delivery reports -----------------------------------------------------------

# Once delivered or failed a contact stays so: a late "sent" or a repeat changes nothing.
FINAL_CONTACT = (ContactStatus.DELIVERED, ContactStatus.FAILED)


async def record_delivery_report(
    session: AsyncSession, contact_id: uuid.UUID, report: Report
) -> CampaignContact | None:
    """Apply a status callback to the (scoped tenant's) contact it names; None when it names no
    contact of ours, or another message. Repeats and late, out-of-order reports change nothing."""
    query = select(CampaignContact).where(CampaignContact.id == contact_id).with_for_update()
    contact = (await session.execute(query)).scalar_one_or_none()
    if contact is None or contact.provider_ref not in (None, report.sid):
        return None
    call = contact.channel == ContactChannel.VOICE_MESSAGE
    ending = ending_of(report, call=call)
    if ending is None or contact.status not in (ContactStatus.SENDING, ContactStatus.SENT):
        return contact
    contact.provider_ref, contact.reason, contact.error = report.sid, ending.reason, ending.error
    if ending.delivered:
        contact.status = ContactStatus.DELIVERED
    else:
        # It never reached the customer, so it does not count against the frequency cap.
        contact.status, contact.sent_at = ContactStatus.FAILED, None
    await session.flush()
    return contact
