"""Rules: their configuration, the evaluation of recorded events, the log, and the dry-run.

Each recorded event gets an ``automation.event`` job (written with the event, see
``events/outbox.py``). Its handler builds the evaluation context (the event, the customer it
names, the agent), runs each firing rule's actions in a savepoint, and logs the run. Events the
actions emit remember which rules caused them, so a rule never fires on its own consequences and
a chain of rules stops after :data:`MAX_CHAIN` links.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.automation.actions import Firing, perform
from centralita.automation.defaults import DEFAULT_RULES
from centralita.automation.engine import (
    CompiledRule,
    Context,
    RuleSet,
    compile_condition,
    equality_values,
)
from centralita.automation.models import AutomationSetup, Rule, RuleRun
from centralita.automation.schedule import plan_next_run
from centralita.automation.schemas import (
    SCHEDULE_TRIGGER,
    Action,
    ApiEventIn,
    RuleDefinition,
    RuleUpdate,
)
from centralita.config import Settings
from centralita.customers.models import Customer
from centralita.db.base import new_id, utcnow
from centralita.db.paging import Slice, paginate
from centralita.db.scoping import use_tenant_scope
from centralita.errors import DomainError, InvalidInput, NotFound
from centralita.events.bus import Event, emit, supervisors_topic
from centralita.events.models import EventRecord
from centralita.events.outbox import caused_by
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.jobs.models import Job
from centralita.jobs.worker import JobHandler
from centralita.surveys.service import SurveyLinks
from centralita.webhooks.service import get_subscription

MAX_CHAIN = 3
DRY_RUN_WINDOW = timedelta(days=1)
DRY_RUN_LIMIT = 5000
ACTIONS = TypeAdapter(list[Action])


def compiled(rule: Rule) -> CompiledRule:
    return CompiledRule(
        id=str(rule.id),
        trigger=rule.trigger,
        position=rule.position,
        predicates=tuple(
            compile_condition(c["field"], c["op"], c.get("value")) for c in rule.conditions
        ),
        stop_processing=rule.stop_processing,
        accepts={
            c["field"]: accepted
            for c in rule.conditions
            if (accepted := equality_values(c["op"], c.get("value"))) is not None
        },
    )


def _stored(definition: RuleDefinition | RuleUpdate) -> dict[str, Any]:
    """The columns a definition sets: all of a new rule's, only the sent ones of a change."""
    partial = isinstance(definition, RuleUpdate)
    return definition.model_dump(mode="json", exclude_unset=partial, exclude_none=True)


async def _check_references(session: AsyncSession, rule: Rule) -> None:
    """Actions may only name the tenant's own webhook subscriptions."""
    for index, action in enumerate(rule.actions):
        if action["type"] == "call_webhook":
            try:
                await get_subscription(session, uuid.UUID(action["subscription_id"]))
            except NotFound:
                raise InvalidInput.on_field(
                    f"body.actions.{index}.subscription_id", "No such webhook subscription"
                ) from None


async def create_rule(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: RuleDefinition
) -> Rule:
    rule = Rule(tenant_id=tenant_id, id=new_id(), **_stored(data))
    await _check_references(session, rule)
    plan_next_run(session, rule, utcnow())
    session.add(rule)
    await session.flush()
    record_audit(session, tenant_id, actor, "rule.created", ("rule", rule.id), None, _stored(data))
    await _rules_changed(session, tenant_id)
    return rule


async def list_rules(session: AsyncSession, tenant_id: uuid.UUID) -> list[Rule]:
    """In evaluation order. The tenant's default rules appear from the first look on."""
    await ensure_default_rules(session, tenant_id)
    query = select(Rule).order_by(Rule.trigger, Rule.position, Rule.id)
    return list((await session.execute(query)).scalars())


async def get_rule(session: AsyncSession, rule_id: uuid.UUID) -> Rule:
    rule = (await session.execute(select(Rule).where(Rule.id == rule_id))).scalar_one_or_none()
    if rule is None:
        raise NotFound("Rule not found")
    return rule


async def update_rule(
    session: AsyncSession, actor: Actor, rule_id: uuid.UUID, data: RuleUpdate
) -> Rule:
    rule = await get_rule(session, rule_id)
    before, after = apply_changes(rule, _stored(data))
    if (rule.trigger == SCHEDULE_TRIGGER) != (rule.every_minutes is not None):
        raise InvalidInput.on_field(
            "body.every_minutes", f"only rules on {SCHEDULE_TRIGGER} run every so many minutes"
        )
    await _check_references(session, rule)
    if after.keys() & {"every_minutes", "active"}:
        plan_next_run(session, rule, utcnow())
    if after:
        record_audit(
            session, rule.tenant_id, actor, "rule.updated", ("rule", rule.id), before, after
        )
        await _rules_changed(session, rule.tenant_id)
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, actor: Actor, rule_id: uuid.UUID) -> None:
    rule = await get_rule(session, rule_id)
    record_audit(
        session, rule.tenant_id, actor, "rule.deleted", ("rule", rule.id), {"name": rule.name}
    )
    await session.delete(rule)
    await session.flush()
    await _rules_changed(session, rule.tenant_id)


async def runs_page(
    session: AsyncSession, rule_id: uuid.UUID, cursor: str | None, limit: int
) -> Slice[RuleRun]:
    """The rule's execution log, newest first."""
    await get_rule(session, rule_id)
    query = select(RuleRun).where(RuleRun.rule_id == rule_id)
    return await paginate(
        session, query, (RuleRun.created_at, RuleRun.id), cursor=cursor, limit=limit
    )


async def ensure_default_rules(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Seed the tenant's default rules once (later the tenant owns them: edit, switch off);
    the version of the tenant's rule set."""
    query = select(AutomationSetup.rules_version).where(AutomationSetup.tenant_id == tenant_id)
    version = (await session.execute(query)).scalar_one_or_none()
    if version is not None:
        return version
    try:
        # Two processes may seed at once: the loser's savepoint is undone, the winner's rules stay.
        async with session.begin_nested():
            session.add(
                AutomationSetup(tenant_id=tenant_id, defaults_seeded_at=utcnow(), rules_version=1)
            )
            for key, definition in DEFAULT_RULES.items():
                session.add(
                    Rule(tenant_id=tenant_id, id=new_id(), default_key=key, **_stored(definition))
                )
    except IntegrityError:
        return (await session.execute(query)).scalar_one()
    return 1


async def _rules_changed(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    await ensure_default_rules(session, tenant_id)
    await session.execute(
        update(AutomationSetup)
        .where(AutomationSetup.tenant_id == tenant_id)
        .values(rules_version=AutomationSetup.rules_version + 1)
    )


def customer_view(customer: Customer | None) -> dict[str, Any]:
    if customer is None:
        return {}
    return {
        "id": str(customer.id),
        "value_tier": customer.value_tier,
        "segment": customer.segment,
        "language": customer.language,
        "tags": list(customer.tags),
        "preferred_channel": customer.preferred_channel,
        "lifetime_value": float(customer.lifetime_value or Decimal(0)),
        "consent_sms": customer.consent_sms,
        "consent_email": customer.consent_email,
        "attributes": customer.attributes,
    }


def context_of(record: EventRecord, customer: Customer | None) -> Context:
    return {
        "event": {"type": record.type, **record.data},
        "customer": customer_view(customer),
        "agent": {"id": record.data.get("agent_id")},
    }


def customer_id_of(data: dict[str, Any]) -> uuid.UUID | None:
    value = data.get("customer_id") or data.get("requester_id")
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def _customers(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, Customer]:
    if not ids:
        return {}
    query = select(Customer).where(Customer.id.in_(ids))
    return {c.id: c for c in (await session.execute(query)).scalars()}


@dataclass(frozen=True)
class ActiveRules:
    """A tenant's active rules for one trigger at one version, compiled."""

    version: int
    ruleset: RuleSet
    actions: dict[str, list[dict[str, Any]]]


class RuleCache:
    """Compiled rule sets by tenant and trigger, kept while the tenant's rules do not change."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.entries: dict[tuple[uuid.UUID, str], ActiveRules] = {}

    async def active(
        self, session: AsyncSession, tenant_id: uuid.UUID, trigger: str, version: int
    ) -> ActiveRules:
        key = (tenant_id, trigger)
        cached = self.entries.get(key)
        if cached is not None and cached.version == version:
            return cached
        query = select(Rule).where(Rule.trigger == trigger, Rule.active.is_(True))
        rules = list((await session.execute(query)).scalars())
        loaded = ActiveRules(
            version,
            RuleSet(compiled(rule) for rule in rules),
            {str(rule.id): rule.actions for rule in rules},
        )
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[key] = loaded
        return loaded


def evaluator(settings: Settings, rng: random.Random | None = None) -> JobHandler:
    """The ``automation.event`` job handler; survey links are signed with the settings' key."""
    links = SurveyLinks(settings.secret_key, settings.public_url)
    draw = rng or random.Random()
    cache = RuleCache()

    async def handle(session: AsyncSession, job: Job, now: datetime) -> None:
        await evaluate_event(session, job, now, links, draw, cache)

    return handle


async def evaluate_event(
    session: AsyncSession,
    job: Job,
    now: datetime,
    links: SurveyLinks,
    rng: random.Random,
    cache: RuleCache,
) -> None:
    """Run the tenant's rules on one recorded event."""
    query = select(EventRecord).where(EventRecord.id == job.ref_id)
    record = (await session.execute(query)).scalar_one_or_none()
    if record is None:
        return
    await use_tenant_scope(session, record.tenant_id)
    version = await ensure_default_rules(session, record.tenant_id)
    if len(record.caused_by) >= MAX_CHAIN:
        return
    active = await cache.active(session, record.tenant_id, record.type, version)
    customer_id = customer_id_of(record.data)
    customer = None
    if customer_id is not None:
        customer = (await _customers(session, {customer_id})).get(customer_id)
    context = context_of(record, customer)
    skip = set(record.caused_by)
    if record.type == SCHEDULE_TRIGGER:
        # A scheduled run is its own rule's alone.
        skip.update(rule_id for rule_id in active.actions if rule_id != record.data.get("rule_id"))
    fired = active.ruleset.matching(record.type, context, skip=frozenset(skip))
    if not fired:
        return
    already = set(
        (
            await session.execute(select(RuleRun.rule_id).where(RuleRun.event_id == record.id))
        ).scalars()
    )
    for rule in fired:
        rule_id = uuid.UUID(rule.id)
        if rule_id not in already:
            firing = Firing(rule_id, record, customer, now, links, rng)
            await _run(session, active.actions[rule.id], firing)


async def _run(session: AsyncSession, actions: list[dict[str, Any]], firing: Firing) -> None:
    results: list[dict[str, Any]] = []
    error = None
    chain = [*firing.record.caused_by, str(firing.rule_id)]
    # Earlier events are written first, so only the actions' own carry this rule in their chain.
    await session.flush()
    try:
        with caused_by(session.sync_session, chain):
            async with session.begin_nested():
                for action in ACTIONS.validate_python(actions):
                    results.append(await perform(session, firing, action))
    except DomainError as exc:
        # The rule's changes are undone together; the log says why.
        results, error = [], str(exc)[:300]
    session.add(
        RuleRun(
            tenant_id=firing.record.tenant_id,
            id=new_id(),
            rule_id=firing.rule_id,
            event_id=firing.record.id,
            event_type=firing.record.type,
            succeeded=error is None,
            results=results,
            error=error,
        )
    )
    await session.flush()


async def dry_run(
    session: AsyncSession, definition: RuleDefinition, now: datetime | None = None
) -> tuple[int, list[tuple[EventRecord, list[dict[str, Any]]]]]:
    """What the rule would have done on the last day's events of its trigger; changes nothing."""
    now = now or utcnow()
    rule = Rule(id=new_id(), **_stored(definition))
    query = (
        select(EventRecord)
        .where(EventRecord.type == rule.trigger, EventRecord.at >= now - DRY_RUN_WINDOW)
        .order_by(EventRecord.at.desc())
        .limit(DRY_RUN_LIMIT)
    )
    records = list((await session.execute(query)).scalars())
    customers = await _customers(session, {i for r in records if (i := customer_id_of(r.data))})
    check = compiled(rule)
    matches = []
    for record in records:
        customer_id = customer_id_of(record.data)
        customer = customers.get(customer_id) if customer_id else None
        if check.matches(context_of(record, customer)):
            matches.append((record, rule.actions))
    return len(records), matches


def receive_api_event(session: AsyncSession, tenant_id: uuid.UUID, data: ApiEventIn) -> Event:
    """An event another system reports (a device alert, an order shipped) for rules to act on."""
    event = Event(
        type="api_event.received",
        tenant=tenant_id,
        data={**data.data, "name": data.name, "customer_id": data.customer_id},
        recipients=(supervisors_topic(tenant_id),),
    )
    emit(session, event)
    return event
