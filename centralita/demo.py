"""``centralita demo``: a believable installation to explore, seeded once into an empty database.

Three client companies share one pool of agents: a Spanish bank, a Mexican telecom operator and a
British flower-delivery shop. Each has a few hundred customers, recognised by phone and email, with
two months of history across voice, chat, email, SMS and the web.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import phonenumbers
from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita import demo_routing
from centralita.config import Settings
from centralita.customers import service as customers
from centralita.customers.models import IdentityKind, ValueTier
from centralita.customers.schemas import CustomerCreate, IdentityCreate
from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.db.scoping import use_system_scope, use_tenant_scope
from centralita.events.service import Actor
from centralita.identity import service as identity
from centralita.identity.models import User
from centralita.identity.permissions import Role
from centralita.interactions import service as interactions
from centralita.interactions.models import AuthorKind, Channel, InteractionState, Message
from centralita.interactions.schemas import InteractionCreate, MessageIn
from centralita.knowledge.demo import seed_knowledge
from centralita.nlu import demo as nlu_demo
from centralita.tenancy import service as tenancy
from centralita.tenancy.models import Tenant
from centralita.tenancy.schemas import TenantCreate

DEMO_PASSWORD = "centralita-demo"  # noqa: S105 - printed for people trying the demo
DEMO_ACTOR = Actor(label="demo")
HISTORY_DAYS = 60
SEED = 20261122


@dataclass(frozen=True)
class Topic:
    subject: str
    customer_says: str
    agent_says: str
    queue: str


@dataclass(frozen=True)
class DemoCompany:
    tenant: TenantCreate
    faker_locale: str
    phone_prefix: str
    phone_digits: int
    email_domain: str
    customers: int
    topics: tuple[Topic, ...]
    segments: tuple[str, ...]


BANK = DemoCompany(
    TenantCreate(
        slug="banco-horizonte",
        name="Banco Horizonte",
        default_locale="es",
        time_zone="Europe/Madrid",
        country="ES",
        subdivision="MD",
    ),
    "es_ES",
    "+346",
    8,
    "correo.es",
    130,
    (
        Topic(
            "Aumento del límite de la tarjeta",
            "Quisiera aumentar el límite de mi tarjeta.",
            "He solicitado el aumento; lo verá aplicado en 24 horas.",
            "tarjetas",
        ),
        Topic(
            "Cargo no reconocido",
            "Tengo un cargo de 89,90 € que no reconozco.",
            "He bloqueado la tarjeta y abierto una reclamación.",
            "fraude",
        ),
        Topic(
            "Consulta de hipoteca",
            "¿Qué documentación necesito para la hipoteca?",
            "Le envío por correo la lista de documentos.",
            "hipotecas",
        ),
        Topic(
            "Transferencia retenida",
            "Mi transferencia no ha llegado todavía.",
            "La transferencia se liberó esta mañana.",
            "general",
        ),
        Topic(
            "Cambio de domicilio",
            "Me he mudado y quiero actualizar mi dirección.",
            "Dirección actualizada, gracias por avisar.",
            "general",
        ),
    ),
    ("particulares", "banca personal", "empresas"),
)
TELECOM = DemoCompany(
    TenantCreate(
        slug="movilia",
        name="Movilia Telecom",
        default_locale="es",
        time_zone="America/Mexico_City",
        country="MX",
    ),
    "es_MX",
    "+5255",
    8,
    "correo.mx",
    130,
    (
        Topic(
            "Sin servicio de internet",
            "Desde ayer no tengo internet en casa.",
            "Reiniciamos su módem de forma remota; ya tiene servicio.",
            "soporte",
        ),
        Topic(
            "Aclaración de factura",
            "Mi factura de este mes viene más alta.",
            "Se aplicó un cargo por roaming; le ajusto la mitad.",
            "facturacion",
        ),
        Topic(
            "Portabilidad",
            "Quiero traer mi número de otra compañía.",
            "La portabilidad quedará lista en 24 horas.",
            "ventas",
        ),
        Topic(
            "Cambio de plan",
            "¿Puedo pasar a un plan con más datos?",
            "Listo, su nuevo plan empieza el próximo ciclo.",
            "ventas",
        ),
    ),
    ("prepago", "pospago", "empresarial"),
)
FLOWERS = DemoCompany(
    TenantCreate(
        slug="bloom-flowers",
        name="Bloom & Co Flowers",
        default_locale="en",
        time_zone="Europe/London",
        country="GB",
    ),
    "en_GB",
    "+447",
    9,
    "mail.co.uk",
    90,
    (
        Topic(
            "Where is my order?",
            "My bouquet was due this morning and hasn't arrived.",
            "The courier is ten minutes away; sorry for the wait.",
            "orders",
        ),
        Topic(
            "Change delivery date",
            "Can I move my delivery to Saturday?",
            "Done, it will arrive on Saturday between 9 and 12.",
            "orders",
        ),
        Topic(
            "Flowers arrived damaged",
            "The roses arrived wilted.",
            "We are sending a fresh bouquet today at no cost.",
            "complaints",
        ),
        Topic(
            "Corporate subscription",
            "Do you offer weekly flowers for offices?",
            "Yes, I've emailed you our corporate plans.",
            "sales",
        ),
    ),
    ("consumer", "corporate"),
)
COMPANIES = (BANK, TELECOM, FLOWERS)

CHANNEL_WEIGHTS = {
    Channel.VOICE: 45,
    Channel.CHAT: 25,
    Channel.EMAIL: 18,
    Channel.SMS: 7,
    Channel.WEB: 5,
}
TIER_WEIGHTS = {
    ValueTier.STANDARD: 60,
    ValueTier.SILVER: 25,
    ValueTier.GOLD: 12,
    ValueTier.PLATINUM: 3,
}
DISPOSITIONS = ("resolved", "resolved", "resolved", "follow_up", "escalated")


@dataclass(frozen=True)
class NamedLogin:
    email: str
    name: str
    locale: str
    roles: tuple[tuple[str, Role], ...]
    platform_admin: bool = False


NAMED_LOGINS = (
    NamedLogin("admin@centralita.demo", "Administración Centralita", "es", (), platform_admin=True),
    NamedLogin(
        "supervisor@centralita.demo",
        "Lucía Ferrer",
        "es",
        tuple((c.tenant.slug, Role.SUPERVISOR) for c in COMPANIES),
    ),
    NamedLogin(
        "agente@centralita.demo",
        "Javier Morales",
        "es",
        (("banco-horizonte", Role.AGENT), ("movilia", Role.AGENT)),
    ),
    NamedLogin("agent@centralita.demo", "Emily Carter", "en", (("bloom-flowers", Role.AGENT),)),
    NamedLogin(
        "cliente@bancohorizonte.demo",
        "Marta Horizonte",
        "es",
        (("banco-horizonte", Role.CLIENT_VIEWER),),
    ),
    NamedLogin("cliente@movilia.demo", "Ricardo Movilia", "es", (("movilia", Role.CLIENT_VIEWER),)),
    NamedLogin(
        "manager@bloomflowers.demo",
        "Oliver Bloom",
        "en",
        (("bloom-flowers", Role.CLIENT_VIEWER),),
    ),
)

# The shared agent pool: who serves which companies (one BPO, several clients per agent).
AGENT_POOL: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("es_ES", 10, ("banco-horizonte", "movilia")),
    ("es_ES", 5, ("banco-horizonte",)),
    ("es_MX", 6, ("movilia",)),
    ("en_GB", 5, ("bloom-flowers",)),
    ("es_ES", 4, ("banco-horizonte", "movilia", "bloom-flowers")),
)


@dataclass
class DemoSummary:
    tenants: int
    agents: int
    customers: int
    interactions: int


async def is_seeded(session: AsyncSession) -> bool:
    return bool((await session.execute(select(func.count()).select_from(Tenant))).scalar_one())


async def seed(db: Database, settings: Settings) -> DemoSummary | None:
    """Seed an empty database and return what was made; on a seeded one, change nothing."""
    async with db.system_session() as session:
        if await is_seeded(session):
            return None
        rng = random.Random(SEED)
        passwords = identity.Passwords(settings)
        password_hash = passwords.hash(DEMO_PASSWORD)
        tenants = {
            c.tenant.slug: await tenancy.create_tenant(session, DEMO_ACTOR, c.tenant)
            for c in COMPANIES
        }
        users = await _seed_people(session, tenants, password_hash)
        agents_by_tenant = {slug: [u for u, slugs in users if slug in slugs] for slug in tenants}
        locales = {c.tenant.slug: c.tenant.default_locale for c in COMPANIES}
        await demo_routing.seed_profiles(session, users, locales)
        summary = DemoSummary(len(tenants), len(users), 0, 0)
        for company in COMPANIES:
            tenant = tenants[company.tenant.slug]
            queue_names = list(dict.fromkeys(topic.queue for topic in company.topics))
            await demo_routing.seed_routing(
                session, rng, tenant, queue_names, agents_by_tenant[tenant.slug]
            )
            await use_tenant_scope(session, tenant.id)
            made = await _seed_company(
                session, settings, rng, company, tenant, agents_by_tenant[tenant.slug]
            )
            summary.customers += made[0]
            summary.interactions += made[1]
            await seed_knowledge(session, DEMO_ACTOR, tenant.id, tenant.slug, tenant.default_locale)
            await nlu_demo.seed_intents(session, tenant.id, tenant.slug)
            await use_system_scope(session)
        await session.commit()
        return summary


async def _seed_people(
    session: AsyncSession, tenants: dict[str, Tenant], password_hash: str
) -> list[tuple[User, tuple[str, ...]]]:
    """Named logins plus the agent pool; returns each user with the tenants they work for."""
    people: list[tuple[User, tuple[str, ...]]] = []
    for login in NAMED_LOGINS:
        user = await _user(
            session, login.email, login.name, login.locale, password_hash, login.platform_admin
        )
        for slug, role in login.roles:
            await identity.grant_role(session, DEMO_ACTOR, tenants[slug].id, user, role)
        if any(role is Role.AGENT for _, role in login.roles):
            people.append((user, tuple(slug for slug, _ in login.roles)))
    fakers = {locale: Faker(locale) for locale, _, _ in AGENT_POOL}
    for locale in fakers:
        fakers[locale].seed_instance(SEED)
    for locale, count, slugs in AGENT_POOL:
        for _ in range(count):
            first, last = fakers[locale].first_name(), fakers[locale].last_name()
            email = f"{customers.fold(first)}.{customers.fold(last)}@centralita.demo".replace(
                " ", ""
            )
            user = await _user(session, email, f"{first} {last}", locale[:2], password_hash)
            for slug in slugs:
                await identity.grant_role(session, DEMO_ACTOR, tenants[slug].id, user, Role.AGENT)
            people.append((user, slugs))
    return people


async def _user(
    session: AsyncSession,
    email: str,
    name: str,
    locale: str,
    password_hash: str,
    platform_admin: bool = False,
) -> User:
    existing = await identity.get_user_by_email(session, email)
    if existing is not None:
        return existing
    user = User(
        email=email,
        display_name=name,
        password_hash=password_hash,
        locale=locale,
        is_platform_admin=platform_admin,
    )
    session.add(user)
    await session.flush()
    return user


def _phone(rng: random.Random, company: DemoCompany) -> str:
    while True:
        digits = "".join(str(rng.randrange(10)) for _ in range(company.phone_digits))
        candidate = company.phone_prefix + digits
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


async def _seed_company(
    session: AsyncSession,
    settings: Settings,
    rng: random.Random,
    company: DemoCompany,
    tenant: Tenant,
    agents: list[User],
) -> tuple[int, int]:
    fake = Faker(company.faker_locale)
    fake.seed_instance(SEED + len(company.tenant.slug))
    rules = customers.IdentityRules.for_tenant(tenant, settings.secret_key)
    now = utcnow()
    made_interactions = 0
    for n in range(company.customers):
        first, last = fake.first_name(), fake.last_name()
        tier = rng.choices(list(TIER_WEIGHTS), weights=list(TIER_WEIGHTS.values()))[0]
        phone = _phone(rng, company)
        email = f"{customers.fold(first)}.{customers.fold(last)}{n}@{company.email_domain}"
        identities = [
            IdentityCreate(kind=IdentityKind.PHONE, value=phone),
            IdentityCreate(kind=IdentityKind.EMAIL, value=email.replace(" ", "")),
        ]
        if rng.random() < 0.5:
            identities.append(IdentityCreate(kind=IdentityKind.CRM, value=f"CRM-{100000 + n}"))
        customer = await customers.create_customer(
            session,
            DEMO_ACTOR,
            tenant.id,
            rules,
            CustomerCreate(
                display_name=f"{first} {last}",
                preferred_name=first,
                language=company.tenant.default_locale,
                segment=rng.choice(company.segments),
                value_tier=tier,
                lifetime_value=Decimal(rng.randrange(50, 5000) * (1 + tier.rank * 4)),
                preferred_channel=rng.choice(list(CHANNEL_WEIGHTS)),
                consent_email=rng.random() < 0.7,
                consent_sms=rng.random() < 0.5,
                tags=["vip"] if tier is ValueTier.PLATINUM else [],
                identities=identities,
            ),
        )
        for _ in range(rng.choices(range(7), weights=(10, 30, 25, 15, 10, 6, 4))[0]):
            channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
            topic = rng.choice(company.topics)
            started = now - timedelta(days=rng.uniform(0.2, HISTORY_DAYS))
            thread = await interactions.create_interaction(
                session,
                tenant,
                DEMO_ACTOR,
                InteractionCreate(
                    channel=channel,
                    customer_id=customer.id,
                    state=InteractionState.QUEUED,
                    queue=topic.queue,
                    subject=topic.subject,
                    topic=topic.queue,
                    message=MessageIn(author_kind=AuthorKind.CUSTOMER, text=topic.customer_says),
                ),
                rules,
            )
            session.add_all(_close_in_the_past(rng, thread, started, rng.choice(agents), topic))
            made_interactions += 1
        await session.flush()
    return company.customers, made_interactions


def _close_in_the_past(
    rng: random.Random,
    thread: interactions.InteractionThread,
    started: datetime,
    agent: User,
    topic: Topic,
) -> list[Message]:
    """Rewrite a fresh interaction as finished history: waited, answered (or abandoned), wrapped.

    Returns the agent's reply to add, if the customer was answered."""
    work = thread.interaction
    wait = timedelta(seconds=rng.lognormvariate(3.0, 1.0))
    work.created_at = work.queued_at = work.offered_at = started
    for message in thread.messages:
        message.created_at = started
    if rng.random() < 0.07:
        work.state = InteractionState.ABANDONED
        work.ended_at = started + wait
        return []
    talk = timedelta(seconds=rng.lognormvariate(5.3, 0.5))
    work.state = InteractionState.ENDED
    work.agent_user_id = agent.id
    work.answered_at = started + wait
    work.ended_at = work.answered_at + talk
    work.wrap_up_ended_at = work.ended_at + timedelta(seconds=rng.randrange(10, 90))
    work.disposition = rng.choice(DISPOSITIONS)
    reply = Message(
        tenant_id=work.tenant_id,
        interaction_id=work.id,
        author_kind=AuthorKind.AGENT,
        author_user_id=agent.id,
        text=topic.agent_says,
        attachments=[],
        created_at=work.answered_at + talk / 2,
    )
    return [reply]
