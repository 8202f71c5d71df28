"""Ticket search, SLA recompute and SLA timers at contact-center scale on PostgreSQL.

Creates a throw-away database owned by an ordinary role (so row-level security applies to what is
measured, as in production) and seeds it with COPY: 10 tenants, each with 2,000 customers, agents
and a supervisor, three teams, a small category tree, a business calendar (Europe/Madrid, Monday
to Friday 09:00-18:00, Madrid's public holidays), one SLA policy on it (first response and
resolution for P1-P4, escalations at 75 % and 100 %) and 20,000 tickets: half of them open
(recent ones, mostly), with the SLA targets, deadlines and timer jobs the SLA code would have
given them (computed with its own calendar code). The seed runs as the superuser, with foreign-key
triggers off, because it only loads rows that are consistent by construction, and ends with
VACUUM ANALYZE.

Then, as the application role:

- filtered search: ``search_tickets`` in a tenant-scoped session per query, as a request runs it,
  over a mix of filters (open by priority, an agent's queue, team and category, breached, due
  within the hour, a word, a tag, sorted by update or by due time); p50/p95/p99, and per kind;
- timers: makes ``--timers`` targets overdue (their start moved back a month, their timer job due
  now) and runs the real ``JobWorker`` with the ``SLA_ESCALATION`` handler until every one has
  fired, once with one worker and once with two on the same loop; breaches per second, and a check
  that each breach fired exactly once (one ``ticket.sla_breached`` event, the target breached with
  every step counted, no timer left);
- recompute: every tenant's calendar gets summer hours through ``update_calendar`` (the service the
  API uses, which runs ``recompute_deadlines`` in the same transaction), one committed transaction
  a tenant; the time for all the open tickets' running targets.

Alongside wall times it reports CPU times, which load on a shared machine hardly changes: this
process's, and the server backends' (from ``/proc/<pid>/schedstat``, when the server runs on this
machine), per search kind, per breach and for the recompute; and the load average.

Prints one JSON object. ``--explain`` prints EXPLAIN ANALYZE of one query of each search kind to
standard error.

    .venv/bin/python bench/tickets.py [--tickets 200000] [--tenants 10] [--queries 500]
        [--timers 1000] [--seed 7] [--explain]
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from centralita.customers.service import fold
from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.db.engine import Database, open_database
from centralita.events.bus import Event, LocalBus, attach, wait_for_published
from centralita.events.service import Actor
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobWorker
from centralita.sla import business_time
from centralita.sla.deadlines import RUNNING, business_calendar, escalation_steps, step_instant
from centralita.sla.models import BusinessCalendar, SlaPolicy, SlaTarget, TargetKind, TargetStatus
from centralita.sla.policies import update_calendar
from centralita.sla.schemas import CalendarUpdate
from centralita.tenancy.models import Tenant
from centralita.tickets.escalations import JOB_HANDLERS
from centralita.tickets.models import DEFAULT_PRIORITY_MATRIX, OPEN_STATUSES, TicketStatus
from centralita.tickets.schemas import TicketFilters
from centralita.tickets.search import search_tickets, words_of

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
BENCH_ACTOR = Actor(label="bench")

CUSTOMERS_PER_TENANT = 2_000
AGENTS_PER_TENANT = 8
TEAMS = ("Primera línea", "Segundo nivel", "Fraude")
CATEGORIES = {
    "Tarjetas": ("Bloqueo", "Cargos no reconocidos"),
    "Cuentas": ("Transferencias", "Comisiones"),
    "Canales digitales": ("App", "Bizum"),
}
OFFICE_HOURS = [("09:00", "18:00")]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
SUMMER_HOURS = {
    **{day: [("08:00", "15:00")] for day in ("mon", "tue", "wed", "thu")},
    "fri": [("08:00", "14:00")],
}
# Business minutes: first response and resolution by priority.
POLICY_TARGETS = {
    "P1": {"first_response": 30, "resolution": 240},
    "P2": {"first_response": 60, "resolution": 480},
    "P3": {"first_response": 240, "resolution": 1440},
    "P4": {"first_response": 480, "resolution": 2880},
}
POLICY_ESCALATIONS = [
    {"target": kind, "percent": percent, "notify": notify}
    | {"raise_priority": False, "reassign_team_id": None}
    for kind in ("first_response", "resolution")
    for percent, notify in ((75, ["assignee"]), (100, ["supervisors", "team"]))
]
# Share of all tickets in each status: half open, as a busy service desk's backlog.
STATUS_SHARES = {
    TicketStatus.NEW: 0.08,
    TicketStatus.OPEN: 0.22,
    TicketStatus.PENDING_CUSTOMER: 0.08,
    TicketStatus.PENDING_THIRD_PARTY: 0.06,
    TicketStatus.ON_HOLD: 0.06,
    TicketStatus.RESOLVED: 0.15,
    TicketStatus.CLOSED: 0.35,
}
LEVELS = ("high", "medium", "low")
LEVEL_WEIGHTS = (1, 3, 2)
TYPES = ("incident", "service_request", "question", "problem")
TYPE_WEIGHTS = (5, 3, 3, 1)
CHANNELS = ("email", "web", "voice", "chat")
TAGS = ("vip", "fraude", "urgente", "app", "oficina", "reclamacion", "bizum", "hipoteca")
SUBJECTS = (
    "No puedo acceder a la app",
    "Cargo duplicado en la tarjeta",
    "Bloqueo de tarjeta por robo",
    "Consulta sobre la hipoteca",
    "Transferencia no recibida",
    "Cambio de domicilio",
    "Error al enviar un Bizum",
    "Reclamación de comisión de mantenimiento",
    "Solicitud de certificado de titularidad",
    "Cargo no reconocido en comercio online",
    "Aumento del límite de la tarjeta",
    "Recibo devuelto",
    "Cita en oficina",
    "Problema con la firma digital",
    "Duda sobre el extracto mensual",
    "Alta de nuevo titular",
)
DESCRIPTIONS = (
    "El cliente llama indicando que",
    "Según el correo recibido,",
    "Escribe desde el formulario web:",
    "Comenta en el chat que",
)
SEARCH_WORDS = ("bizum", "hipoteca", "comision", "domicilio", "certificado", "extracto")
OPEN_MEAN_AGE = timedelta(days=4)
HISTORY = timedelta(days=60)
COPY_CHUNK = 50_000
SEARCH_WARM_UP = 40
EXPLAIN_KINDS_MAX_ROWS = 60


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- the database ------------------------------------------------------------------------------


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _create_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE):
            # Another bench may create the role at the same moment.
            with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                await conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        await conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    finally:
        await conn.close()


def _superuser_dsn(name: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


# --- seeding -----------------------------------------------------------------------------------


@dataclass
class TimerCandidate:
    tenant_id: uuid.UUID
    target_id: uuid.UUID
    ticket_id: uuid.UUID
    minutes: int


@dataclass
class TenantSeed:
    id: uuid.UUID
    slug: str
    prefix: str
    calendar_id: uuid.UUID
    policy_id: uuid.UUID
    agents: list[uuid.UUID]
    teams: list[uuid.UUID]
    categories: list[uuid.UUID]
    tickets: int = 0
    open_tickets: int = 0
    # Active resolution targets with steps still to fire, one a ticket: overdue timers to be.
    timer_candidates: list[TimerCandidate] = field(default_factory=list)


@dataclass
class Rows:
    """Records for COPY, by table, in the column order of ``COLUMNS``."""

    by_table: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, *record: Any) -> None:
        self.by_table.setdefault(table, []).append(record)


COLUMNS: dict[str, tuple[str, ...]] = {
    "tenants": (
        "id",
        "slug",
        "name",
        "default_locale",
        "time_zone",
        "country",
        "subdivision",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "users": (
        "id",
        "email",
        "display_name",
        "password_hash",
        "locale",
        "is_platform_admin",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "memberships": ("tenant_id", "user_id", "role", "created_at"),
    "customers": (
        "tenant_id",
        "id",
        "display_name",
        "value_tier",
        "lifetime_value",
        "consent_email",
        "consent_sms",
        "consent_marketing",
        "attributes",
        "tags",
        "search_name",
        "created_at",
        "updated_at",
    ),
    "teams": ("tenant_id", "id", "name", "created_at", "updated_at"),
    "team_members": ("tenant_id", "team_id", "user_id"),
    "ticket_categories": ("tenant_id", "id", "name", "parent_id", "created_at", "updated_at"),
    "ticket_settings": ("tenant_id", "prefix", "next_number", "priority_matrix", "reopen_days"),
    "business_calendars": (
        "tenant_id",
        "id",
        "name",
        "time_zone",
        "weekly_hours",
        "public_holidays",
        "closures",
        "created_at",
        "updated_at",
    ),
    "sla_policies": (
        "tenant_id",
        "id",
        "name",
        "position",
        "is_active",
        "conditions",
        "targets",
        "calendar_id",
        "pause_on_pending_customer",
        "escalations",
        "created_at",
        "updated_at",
    ),
    "tickets": (
        "tenant_id",
        "id",
        "number",
        "type",
        "status",
        "subject",
        "description",
        "requester_id",
        "team_id",
        "assignee_user_id",
        "category_id",
        "channel",
        "tags",
        "custom_fields",
        "impact",
        "urgency",
        "priority",
        "priority_overridden",
        "is_major",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "status_changed_at",
        "sla_due_at",
        "sla_breached",
        "created_at",
        "updated_at",
    ),
    "ticket_search_words": ("tenant_id", "word", "ticket_id"),
    "sla_targets": (
        "tenant_id",
        "id",
        "ticket_id",
        "policy_id",
        "kind",
        "status",
        "target_minutes",
        "started_at",
        "paused_seconds",
        "paused_since",
        "due_at",
        "achieved_at",
        "breached_at",
        "escalations_fired",
        "created_at",
        "updated_at",
    ),
    "jobs": ("kind", "ref_id", "due_at", "attempts", "created_at"),
}


def _calendar(tenant: TenantSeed, hours: dict[str, Any]) -> business_time.BusinessCalendar:
    """The calendar the SLA code builds for the row, from its own cache."""
    row = BusinessCalendar(
        time_zone="Europe/Madrid", weekly_hours=hours, public_holidays=True, closures=[]
    )
    return business_calendar(row, Tenant(id=tenant.id, country="ES", subdivision="MD"))


def _policy() -> SlaPolicy:
    return SlaPolicy(targets=POLICY_TARGETS, escalations=POLICY_ESCALATIONS)


def _status_list(count: int, rng: random.Random) -> list[TicketStatus]:
    statuses: list[TicketStatus] = []
    for status, share in STATUS_SHARES.items():
        statuses += [status] * round(count * share)
    statuses = (statuses + [TicketStatus.OPEN] * count)[:count]
    rng.shuffle(statuses)
    return statuses


class TargetMaker:
    """A ticket's SLA targets and timer as the SLA code would have left them at ``now``."""

    def __init__(self, tenant: TenantSeed, rows: Rows, now: datetime) -> None:
        self.tenant = tenant
        self.rows = rows
        self.now = now
        self.calendar = _calendar(tenant, dict.fromkeys(WEEKDAYS, OFFICE_HOURS))
        self.steps = len(escalation_steps(_policy(), TargetKind.RESOLUTION))
        self.first_step = escalation_steps(_policy(), TargetKind.RESOLUTION)[0].percent
        # Each ticket's SLA summary, as sla.urgency keeps it: nearest deadline still to meet, and
        # whether a target breached.
        self.due: dict[uuid.UUID, datetime] = {}
        self.breached: set[uuid.UUID] = set()

    def _instant(self, started: datetime, minutes: int, percent: int = 100) -> datetime:
        return step_instant(self.calendar, started, minutes, 0, percent)

    def _add(
        self,
        ticket_id: uuid.UUID,
        kind: str,
        status: str,
        minutes: int,
        started: datetime,
        *,
        paused_since: datetime | None = None,
        due: datetime | None = None,
        achieved: datetime | None = None,
        breached: datetime | None = None,
        fired: int = 0,
    ) -> uuid.UUID:
        target_id = new_id()
        updated = max(x for x in (started, paused_since, achieved, breached) if x is not None)
        counting = status in (TargetStatus.ACTIVE, TargetStatus.BREACHED) and achieved is None
        if counting and due is not None:
            self.due[ticket_id] = min(due, self.due.get(ticket_id, due))
        if breached is not None:
            self.breached.add(ticket_id)
        self.rows.add(
            "sla_targets",
            self.tenant.id,
            target_id,
            ticket_id,
            self.tenant.policy_id,
            kind,
            status,
            minutes,
            started,
            0,
            paused_since,
            due,
            achieved,
            breached,
            fired,
            started,
            min(updated, self.now),
        )
        return target_id

    def finished(
        self, ticket_id: uuid.UUID, kind: str, minutes: int, started: datetime, achieved: datetime
    ) -> None:
        due = self._instant(started, minutes)
        late = achieved > due
        self._add(
            ticket_id,
            kind,
            TargetStatus.BREACHED if late else TargetStatus.ACHIEVED,
            minutes,
            started,
            due=due,
            achieved=achieved,
            breached=due if late else None,
            fired=self.steps if late else 0,
        )

    def running(
        self,
        ticket_id: uuid.UUID,
        kind: str,
        minutes: int,
        started: datetime,
        paused_since: datetime | None,
    ) -> None:
        due = self._instant(started, minutes)
        until = paused_since or self.now
        if due <= until:
            self._add(
                ticket_id,
                kind,
                TargetStatus.BREACHED,
                minutes,
                started,
                due=due,
                breached=due,
                fired=self.steps,
            )
            return
        first = self._instant(started, minutes, self.first_step)
        fired = int(first <= until)
        if paused_since is not None:
            self._add(
                ticket_id,
                kind,
                TargetStatus.PAUSED,
                minutes,
                started,
                paused_since=paused_since,
                fired=fired,
            )
            return
        target_id = self._add(
            ticket_id, kind, TargetStatus.ACTIVE, minutes, started, due=due, fired=fired
        )
        self.rows.add(
            "jobs", JobKind.SLA_ESCALATION.value, target_id, due if fired else first, 0, self.now
        )
        if kind == TargetKind.RESOLUTION:
            self.tenant.timer_candidates.append(
                TimerCandidate(self.tenant.id, target_id, ticket_id, minutes)
            )


def _seed_tenant(n: int, tickets: int, rng: random.Random, now: datetime, rows: Rows) -> TenantSeed:
    slug = f"bench-{n}"
    tenant = TenantSeed(
        id=new_id(),
        slug=slug,
        prefix=f"T{n}",
        calendar_id=new_id(),
        policy_id=new_id(),
        agents=[new_id() for _ in range(AGENTS_PER_TENANT)],
        teams=[new_id() for _ in TEAMS],
        categories=[],
        tickets=tickets,
    )
    created = now - HISTORY - timedelta(days=30)
    rows.add(
        "tenants",
        tenant.id,
        slug,
        f"Banco {n}",
        "es",
        "Europe/Madrid",
        "ES",
        "MD",
        True,
        created,
        created,
    )
    supervisor = new_id()
    for index, user_id in enumerate([*tenant.agents, supervisor]):
        role = "supervisor" if user_id == supervisor else "agent"
        rows.add(
            "users",
            user_id,
            f"{role}{index}@{slug}.example",
            f"{role.title()} {index} ({slug})",
            "!",
            "es",
            False,
            True,
            created,
            created,
        )
        rows.add("memberships", tenant.id, user_id, role, created)
    team_of_agent = {}
    for index, (team_id, name) in enumerate(zip(tenant.teams, TEAMS, strict=True)):
        rows.add("teams", tenant.id, team_id, name, created, created)
        for agent in tenant.agents[index :: len(TEAMS)]:
            rows.add("team_members", tenant.id, team_id, agent)
            team_of_agent[agent] = team_id
    for parent, children in CATEGORIES.items():
        parent_id = new_id()
        rows.add("ticket_categories", tenant.id, parent_id, parent, None, created, created)
        for child in children:
            child_id = new_id()
            rows.add("ticket_categories", tenant.id, child_id, child, parent_id, created, created)
            tenant.categories.append(child_id)
    rows.add("ticket_settings", tenant.id, tenant.prefix, tickets + 1, "{}", 7)
    hours = json.dumps(dict.fromkeys(WEEKDAYS, OFFICE_HOURS))
    rows.add(
        "business_calendars",
        tenant.id,
        tenant.calendar_id,
        "Oficinas Madrid",
        "Europe/Madrid",
        hours,
        True,
        "[]",
        created,
        created,
    )
    rows.add(
        "sla_policies",
        tenant.id,
        tenant.policy_id,
        "Estándar",
        0,
        True,
        "{}",
        json.dumps(POLICY_TARGETS),
        tenant.calendar_id,
        True,
        json.dumps(POLICY_ESCALATIONS),
        created,
        created,
    )
    customers = []
    for index in range(CUSTOMERS_PER_TENANT):
        customer_id = new_id()
        customers.append(customer_id)
        name = f"Cliente {index} de {slug}"
        rows.add(
            "customers",
            tenant.id,
            customer_id,
            name,
            "standard",
            Decimal(0),
            False,
            False,
            False,
            "{}",
            "[]",
            fold(name),
            created,
            created,
        )
    _seed_tickets(tenant, customers, team_of_agent, rng, now, rows)
    return tenant


def _seed_tickets(
    tenant: TenantSeed,
    customers: list[uuid.UUID],
    team_of_agent: dict[uuid.UUID, uuid.UUID],
    rng: random.Random,
    now: datetime,
    rows: Rows,
) -> None:
    targets = TargetMaker(tenant, rows, now)
    statuses = _status_list(tenant.tickets, rng)
    ages = [
        min(HISTORY, timedelta(seconds=rng.expovariate(1 / OPEN_MEAN_AGE.total_seconds())))
        if status in OPEN_STATUSES
        else timedelta(seconds=rng.uniform(3600, HISTORY.total_seconds()))
        for status in statuses
    ]
    # Numbers follow creation, as the tenant's sequence gave them.
    order = sorted(range(tenant.tickets), key=lambda i: ages[i], reverse=True)
    for number, i in enumerate(order, start=1):
        status, created = statuses[i], now - ages[i]
        ticket_id = new_id()
        impact, urgency = rng.choices(LEVELS, LEVEL_WEIGHTS, k=2)
        priority = DEFAULT_PRIORITY_MATRIX[impact][urgency]
        minutes = POLICY_TARGETS[priority]
        assignee = None
        if status != TicketStatus.NEW and rng.random() < 0.9:
            assignee = rng.choice(tenant.agents)
        team = team_of_agent[assignee] if assignee else rng.choice([*tenant.teams, None])
        subject = rng.choice(SUBJECTS)
        description = f"{rng.choice(DESCRIPTIONS)} {subject.lower()}."
        tags = rng.sample(TAGS, rng.choices((0, 1, 2), (5, 4, 1))[0])
        responded = resolved = closed = None
        age = now - created
        if status in OPEN_STATUSES:
            tenant.open_tickets += 1
            if status != TicketStatus.NEW and (
                status == TicketStatus.PENDING_CUSTOMER or rng.random() < 0.75
            ):
                responded = created + min(age, timedelta(hours=48)) * rng.random()
            paused = None
            if status == TicketStatus.PENDING_CUSTOMER:
                paused = now - (now - (responded or created)) * rng.random()
            updated = paused or created + age * rng.random()
            updated = max(updated, responded or created)
            if responded is None:
                targets.running(
                    ticket_id, TargetKind.FIRST_RESPONSE, minutes["first_response"], created, paused
                )
            else:
                targets.finished(
                    ticket_id,
                    TargetKind.FIRST_RESPONSE,
                    minutes["first_response"],
                    created,
                    responded,
                )
            targets.running(
                ticket_id, TargetKind.RESOLUTION, minutes["resolution"], created, paused
            )
        else:
            resolved = min(
                now, created + timedelta(hours=rng.expovariate(1 / 30)) + timedelta(minutes=20)
            )
            responded = created + (resolved - created) * rng.uniform(0.05, 0.5)
            if status == TicketStatus.CLOSED:
                closed = min(now, resolved + timedelta(days=3))
            updated = closed or resolved
            targets.finished(
                ticket_id, TargetKind.RESOLUTION, minutes["resolution"], created, resolved
            )
        reference = f"{tenant.prefix}-{number}"
        rows.add(
            "tickets",
            tenant.id,
            ticket_id,
            number,
            rng.choices(TYPES, TYPE_WEIGHTS)[0],
            status,
            subject,
            description,
            rng.choice(customers),
            team,
            assignee,
            rng.choice([*tenant.categories, None]),
            rng.choice(CHANNELS),
            json.dumps(tags),
            "{}",
            impact,
            urgency,
            priority,
            False,
            False,
            responded,
            resolved,
            closed,
            updated,
            targets.due.get(ticket_id),
            ticket_id in targets.breached,
            created,
            updated,
        )
        for word in words_of(f"{reference} {subject} {description}"):
            rows.add("ticket_search_words", tenant.id, word, ticket_id)


async def _copy(conn: asyncpg.Connection, rows: Rows) -> None:
    for table, columns in COLUMNS.items():
        records = rows.by_table.get(table, [])
        for start in range(0, len(records), COPY_CHUNK):
            await conn.copy_records_to_table(
                table, records=records[start : start + COPY_CHUNK], columns=columns
            )


async def _seed(name: str, tenants: int, tickets: int, seed: int) -> list[TenantSeed]:
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    rows = Rows()
    per_tenant = [tickets // tenants + (1 if n < tickets % tenants else 0) for n in range(tenants)]
    seeds = [_seed_tenant(n, count, rng, now, rows) for n, count in enumerate(per_tenant)]
    conn = await asyncpg.connect(_superuser_dsn(name), timeout=5)
    try:
        # Rows consistent by construction: no per-row foreign-key triggers.
        await conn.execute("SET session_replication_role = replica")
        async with conn.transaction():
            await _copy(conn, rows)
        await conn.execute("RESET session_replication_role")
        # As autovacuum would have left a database that grew to this size: statistics, and the
        # visibility map that lets index-only scans skip the table.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return seeds


# --- search ------------------------------------------------------------------------------------

SearchCase = tuple[str, uuid.UUID, TicketFilters]


def _search_cases(seeds: list[TenantSeed], count: int, rng: random.Random) -> list[SearchCase]:
    open_statuses = sorted(OPEN_STATUSES)

    def make(kind: str, tenant: TenantSeed) -> TicketFilters:
        now = utcnow()
        agent = str(rng.choice(tenant.agents))
        every: dict[str, dict[str, Any]] = {
            "open_by_priority": {"status": open_statuses, "priority": ["P1", "P2"]},
            "agent_open": {"assignee": agent, "status": open_statuses},
            "team_category": {
                "team": rng.choice(tenant.teams),
                "category": rng.choice(tenant.categories),
            },
            "breached_open": {"breached": True, "status": open_statuses},
            "due_within_hour": {"due_before": now + timedelta(hours=1)},
            "breaching_soon_by_due": {
                "due_after": now,
                "due_before": now + timedelta(hours=1),
                "status": open_statuses,
                "sort": "due",
            },
            "word": {"text": rng.choice(SEARCH_WORDS)},
            "reference": {"text": f"{tenant.prefix}-{rng.randint(1, tenant.tickets)}"},
            "tag_open": {"tags": [rng.choice(TAGS)], "status": open_statuses},
            "open_by_due": {"status": open_statuses, "sort": "due"},
            "agent_by_due": {"assignee": agent, "status": open_statuses, "sort": "due"},
        }
        return TicketFilters.model_validate(every[kind])

    kinds = [
        "open_by_priority",
        "agent_open",
        "team_category",
        "breached_open",
        "due_within_hour",
        "breaching_soon_by_due",
        "word",
        "reference",
        "tag_open",
        "open_by_due",
        "agent_by_due",
    ]
    cases = []
    for n in range(count):
        tenant = rng.choice(seeds)
        kind = kinds[n % len(kinds)]
        cases.append((kind, tenant.id, make(kind, tenant)))
    rng.shuffle(cases)
    return cases


@dataclass
class SearchTimes:
    """One kind of search: wall time and CPU time (this process's, and the server backend's)."""

    wall_ms: list[float] = field(default_factory=list)
    client_cpu_ms: list[float] = field(default_factory=list)
    server_cpu_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | None]:
        server = self.server_cpu_ms
        return {
            "p50_ms": round(statistics.median(self.wall_ms), 2),
            "p99_ms": round(_percentile(self.wall_ms, 0.99), 2),
            "client_cpu_ms": round(statistics.mean(self.client_cpu_ms), 2),
            "server_cpu_ms": round(statistics.mean(server), 2) if server else None,
        }


def _backend_ran_ms(pid: int) -> float | None:
    """CPU time a server backend has run, from ``/proc/<pid>/schedstat``; None unless the server
    runs on this machine. Load on a shared machine stretches wall times, hardly CPU times."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        return None


class BackendClock:
    """Each backend's CPU time since its last reading: a request's BEGIN, tenant settings and
    query, and the end of the request before it on the same connection."""

    def __init__(self) -> None:
        self._last: dict[int, float] = {}

    def since_last(self, pid: int) -> float | None:
        ran = _backend_ran_ms(pid)
        if ran is None:
            return None
        last = self._last.get(pid)
        self._last[pid] = ran
        return None if last is None else ran - last


async def _database_backends_ms(name: str) -> dict[int, float] | None:
    """CPU time so far of each backend connected to the bench database, by process id."""
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
        )
    finally:
        await conn.close()
    readings = {pid: _backend_ran_ms(pid) for (pid,) in pids}
    ran = {pid: ms for pid, ms in readings.items() if ms is not None}
    return ran if len(ran) == len(readings) else None


class ServerCpu:
    """The server CPU time a phase of the bench took: its database's backends, before and after
    (a backend that connected during the phase counts whole)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._before: dict[int, float] | None = None

    async def start(self) -> None:
        self._before = await _database_backends_ms(self.name)

    async def ms(self) -> float | None:
        after = await _database_backends_ms(self.name)
        if self._before is None or after is None:
            return None
        return sum(ms - self._before.get(pid, 0.0) for pid, ms in after.items())


async def _search_once(
    db: Database, case: SearchCase, clock: BackendClock, into: SearchTimes
) -> None:
    _kind, tenant_id, filters = case
    started, cpu_started = time.perf_counter(), time.process_time()
    async with db.tenant_session(tenant_id) as session:
        await search_tickets(session, filters, None, None)
        raw = await (await session.connection()).get_raw_connection()
        pid = raw.driver_connection.get_server_pid()  # type: ignore[union-attr]
    into.wall_ms.append((time.perf_counter() - started) * 1000)
    into.client_cpu_ms.append((time.process_time() - cpu_started) * 1000)
    server = clock.since_last(pid)
    if server is not None:
        into.server_cpu_ms.append(server)


async def _measure_search(
    db: Database, seeds: list[TenantSeed], count: int, rng: random.Random
) -> tuple[SearchTimes, dict[str, SearchTimes]]:
    clock = BackendClock()
    for case in _search_cases(seeds, SEARCH_WARM_UP, rng):
        await _search_once(db, case, clock, SearchTimes())
    every = SearchTimes()
    by_kind: dict[str, SearchTimes] = {}
    for case in _search_cases(seeds, count, rng):
        one = SearchTimes()
        await _search_once(db, case, clock, one)
        for times in (every, by_kind.setdefault(case[0], SearchTimes())):
            times.wall_ms += one.wall_ms
            times.client_cpu_ms += one.client_cpu_ms
            times.server_cpu_ms += one.server_cpu_ms
    return every, by_kind


async def _explain(db: Database, seeds: list[TenantSeed], rng: random.Random) -> None:
    """EXPLAIN ANALYZE of the statement each search kind sends, on standard error."""
    seen: set[str] = set()
    for kind, tenant_id, filters in _search_cases(seeds, 200, rng):
        if kind in seen:
            continue
        seen.add(kind)
        captured: list[tuple[str, Any]] = []

        def capture(
            _conn: Any,
            _cursor: Any,
            statement: str,
            parameters: Any,
            *_: Any,
            into: list[tuple[str, Any]] = captured,
        ) -> None:
            if "FROM tickets" in statement and not statement.startswith("EXPLAIN"):
                into.append((statement, parameters))

        sa_event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        try:
            async with db.tenant_session(tenant_id) as session:
                await search_tickets(session, filters, None, None)
                statement, parameters = captured[-1]
                connection = await session.connection()
                plan = await connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                )
                lines = [row[0] for row in plan]
        finally:
            sa_event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
        print(f"--- {kind}: {filters.model_dump(exclude_defaults=True)}", file=sys.stderr)
        print("\n".join(lines[:EXPLAIN_KINDS_MAX_ROWS]), file=sys.stderr)


# --- timers ------------------------------------------------------------------------------------


def _take_candidates(seeds: list[TenantSeed], count: int) -> list[TimerCandidate]:
    """``count`` candidates, round-robin over the tenants."""
    taken: list[TimerCandidate] = []
    while len(taken) < count and any(seed.timer_candidates for seed in seeds):
        for seed in seeds:
            if seed.timer_candidates and len(taken) < count:
                taken.append(seed.timer_candidates.pop())
    return taken


async def _make_overdue(name: str, seeds: list[TenantSeed], picked: list[TimerCandidate]) -> None:
    """Move the targets' start a month back and their timer to now: overdue, as after a stop."""
    now = utcnow()
    by_tenant = {seed.id: seed for seed in seeds}
    started, due = [], []
    for n, candidate in enumerate(picked):
        calendar = _calendar(by_tenant[candidate.tenant_id], dict.fromkeys(WEEKDAYS, OFFICE_HOURS))
        start = now - timedelta(days=30, minutes=n % 600)
        started.append(start)
        due.append(step_instant(calendar, start, candidate.minutes, 0, 100))
    conn = await asyncpg.connect(_superuser_dsn(name), timeout=5)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                UPDATE sla_targets AS t SET started_at = u.started, due_at = u.due
                FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[])
                    AS u(tenant_id, id, started, due)
                WHERE t.tenant_id = u.tenant_id AND t.id = u.id
                """,
                [c.tenant_id for c in picked],
                [c.target_id for c in picked],
                started,
                due,
            )
            moved = await conn.execute(
                "UPDATE jobs SET due_at = $2 WHERE kind = $3 AND ref_id = ANY($1::uuid[])",
                [c.target_id for c in picked],
                now - timedelta(seconds=1),
                JobKind.SLA_ESCALATION.value,
            )
        if moved != f"UPDATE {len(picked)}":
            raise RuntimeError(f"expected one timer a target, got {moved}")
    finally:
        await conn.close()


@dataclass
class TimerRun:
    timers: int
    workers: int
    seconds: float
    jobs_run: int
    exactly_once: bool


async def _run_timers(
    db: Database, bus: LocalBus, picked: list[TimerCandidate], workers: int
) -> TimerRun:
    breaches: Counter[str] = Counter()
    wanted = {str(c.ticket_id) for c in picked}

    def heard(event: Event) -> None:
        if event.type == "ticket.sla_breached" and event.data["target"] == TargetKind.RESOLUTION:
            breaches[event.data["ticket_id"]] += 1

    jobs_run = 0
    escalate = JOB_HANDLERS[JobKind.SLA_ESCALATION]

    async def counted(session: Any, job: Job, now: datetime) -> None:
        nonlocal jobs_run
        jobs_run += 1
        await escalate(session, job, now)

    target_ids = [c.target_id for c in picked]

    async def left() -> int:
        async with db.system_session() as session:
            query = (
                select(func.count())
                .select_from(SlaTarget)
                .where(SlaTarget.id.in_(target_ids), SlaTarget.status == TargetStatus.ACTIVE)
            )
            return int((await session.execute(query)).scalar_one())

    async def work(worker: JobWorker) -> None:
        while True:
            if not await worker.step():
                if not await left():
                    return
                await asyncio.sleep(0.2)  # a retried timer (a busy ticket) falls due shortly

    bus.subscribe(heard)
    try:
        started = time.perf_counter()
        await asyncio.gather(
            *(work(JobWorker(db, {JobKind.SLA_ESCALATION: counted})) for _ in range(workers))
        )
        seconds = time.perf_counter() - started
        await wait_for_published()
    finally:
        bus.unsubscribe(heard)
    async with db.system_session() as session:
        fired = (
            await session.execute(
                select(SlaTarget.status, SlaTarget.escalations_fired, func.count())
                .where(SlaTarget.id.in_(target_ids))
                .group_by(SlaTarget.status, SlaTarget.escalations_fired)
            )
        ).all()
        timers_left = (
            await session.execute(
                select(func.count()).select_from(Job).where(Job.ref_id.in_(target_ids))
            )
        ).scalar_one()
    steps = len(escalation_steps(_policy(), TargetKind.RESOLUTION))
    exactly_once = (
        {ticket for ticket in breaches if ticket in wanted} == wanted
        and all(breaches[ticket] == 1 for ticket in wanted)
        and [(status, n, count) for status, n, count in fired]
        == [(TargetStatus.BREACHED, steps, len(picked))]
        and timers_left == 0
    )
    if not exactly_once:
        print(f"timers: breaches {breaches.most_common(3)}; targets {fired}", file=sys.stderr)
    return TimerRun(len(picked), workers, seconds, jobs_run, exactly_once)


# --- recompute ---------------------------------------------------------------------------------


async def _running_counts(db: Database) -> tuple[int, int, int]:
    """Running targets, their tickets, and pending SLA timers."""
    async with db.system_session() as session:
        running = (
            select(SlaTarget.ticket_id)
            .where(SlaTarget.status.in_(RUNNING), SlaTarget.achieved_at.is_(None))
            .subquery()
        )
        targets, tickets = (
            await session.execute(
                select(func.count(), func.count(func.distinct(running.c.ticket_id))).select_from(
                    running
                )
            )
        ).one()
        timers = (
            await session.execute(
                select(func.count()).select_from(Job).where(Job.kind == JobKind.SLA_ESCALATION)
            )
        ).scalar_one()
    return int(targets), int(tickets), int(timers)


async def _recompute(db: Database, seeds: list[TenantSeed]) -> tuple[float, list[float]]:
    """Summer hours for every tenant's calendar, one request (transaction) a tenant."""
    change = CalendarUpdate.model_validate({"weekly_hours": SUMMER_HOURS})
    each: list[float] = []
    for seed in seeds:
        started = time.perf_counter()
        async with db.tenant_session(seed.id) as session:
            tenant = await session.get(Tenant, seed.id)
            assert tenant is not None
            await update_calendar(session, BENCH_ACTOR, tenant, seed.calendar_id, change)
            await session.commit()
        each.append(time.perf_counter() - started)
    return sum(each), each


# --- main --------------------------------------------------------------------------------------


def _per_item(client_s: float, server_ms: float | None, items: int) -> dict[str, float]:
    """CPU milliseconds per item, of this process and (when measurable) of the server."""
    each = {"client": client_s * 1000 / items}
    if server_ms is not None:
        each["server"] = server_ms / items
    return {side: round(ms, 2) for side, ms in each.items()}


async def _bench(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    rng = random.Random(args.seed)
    started = time.perf_counter()
    seeds = await _seed(name, args.tenants, args.tickets, args.seed)
    seed_s = time.perf_counter() - started

    db = open_database(url, pool_size=4)
    bus = LocalBus()
    attach(db.sessionmaker, bus)
    try:
        searches, by_kind = await _measure_search(db, seeds, args.queries, rng)
        if args.explain:
            await _explain(db, seeds, rng)

        runs, timer_cpu = [], []
        for workers in (1, 2):
            picked = _take_candidates(seeds, args.timers)
            await _make_overdue(name, seeds, picked)
            server = ServerCpu(name)
            await server.start()
            client = time.process_time()
            runs.append(await _run_timers(db, bus, picked, workers))
            timer_cpu.append(
                _per_item(time.process_time() - client, await server.ms(), len(picked))
            )

        targets, tickets, timers_before = await _running_counts(db)
        server = ServerCpu(name)
        await server.start()
        client = time.process_time()
        recompute_s, each = await _recompute(db, seeds)
        recompute_cpu = _per_item(time.process_time() - client, await server.ms(), 1)
        targets_after, _tickets, timers_after = await _running_counts(db)
    finally:
        await db.dispose()
    one, two = runs
    whole = searches.summary()
    return {
        "tickets": args.tickets,
        "tenants": args.tenants,
        "open_tickets": sum(seed.open_tickets for seed in seeds),
        "seed_s": round(seed_s, 1),
        "search_queries": len(searches.wall_ms),
        "search_p50_ms": round(statistics.median(searches.wall_ms), 2),
        "search_p95_ms": round(_percentile(searches.wall_ms, 0.95), 2),
        "search_p99_ms": round(_percentile(searches.wall_ms, 0.99), 2),
        "search_client_cpu_ms": whole["client_cpu_ms"],
        "search_server_cpu_ms": whole["server_cpu_ms"],
        "search_by_kind": {kind: times.summary() for kind, times in sorted(by_kind.items())},
        "recompute_tickets": tickets,
        "recompute_targets": targets,
        "recompute_s": round(recompute_s, 2),
        "recompute_slowest_tenant_s": round(max(each), 2),
        "recompute_timers": [timers_before, timers_after],
        "recompute_targets_after": targets_after,
        "recompute_cpu_s": {side: round(ms / 1000, 2) for side, ms in recompute_cpu.items()},
        "timers": two.timers,
        "timers_per_s": round(two.timers / two.seconds, 1),
        "timer_workers": two.workers,
        "timers_per_s_one_worker": round(one.timers / one.seconds, 1),
        "timer_jobs_run": [one.jobs_run, two.jobs_run],
        "timers_fired_exactly_once": one.exactly_once and two.exactly_once,
        "timer_cpu_ms_per_breach": timer_cpu[1],
        "timer_cpu_ms_per_breach_one_worker": timer_cpu[0],
        "load_average": {"start": load_at_start, "end": [round(x, 2) for x in os.getloadavg()]},
        "database": "postgresql",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000, help="tickets in all")
    parser.add_argument("--tenants", type=int, default=10, help="tenants sharing them")
    parser.add_argument("--queries", type=int, default=500, help="searches timed")
    parser.add_argument("--timers", type=int, default=1_000, help="overdue timers a worker run")
    parser.add_argument("--seed", type=int, default=7, help="seed of every random choice")
    parser.add_argument("--explain", action="store_true", help="search plans to standard error")
    args = parser.parse_args()

    name = f"centralita_bench_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_create_database(name))
    url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
    try:
        migrate.upgrade(url)
        result = asyncio.run(_bench(name, url, args))
    finally:
        asyncio.run(_drop_database(name))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
