"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

Each run gets a fresh PostgreSQL database owned by an ordinary (non-superuser) role, so row-level
security applies to the tests as it does to the application. Tests never need an empty database:
each makes its own tenants, and a second tenant is always present.
"""

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from centralita.app import create_app
from centralita.config import Settings
from centralita.db import migrate
from centralita.db.engine import Database
from centralita.events.service import Actor
from centralita.identity import service as identity
from centralita.identity.permissions import Role
from centralita.jobs.models import Job, JobKind
from centralita.tenancy import service as tenancy
from centralita.tenancy.models import Tenant
from centralita.tenancy.schemas import TenantCreate

PG_ADMIN_DSN = os.environ.get(
    "CENTRALITA_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_APP_ROLE = "centralita_test"
REQUIRE_POSTGRES = os.environ.get("CENTRALITA_REQUIRE_POSTGRES") == "1"
TEST_ACTOR = Actor(label="test")


async def _create_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PG_APP_ROLE)
        if not exists:
            await conn.execute(f"CREATE ROLE {PG_APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        await conn.execute(f'CREATE DATABASE "{name}" OWNER {PG_APP_ROLE}')
    finally:
        await conn.close()


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def fresh_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database on ``backend``; PostgreSQL's is dropped afterwards."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "centralita.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        migrate.upgrade(url)
        yield url
        return
    name = f"centralita_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_create_pg_database(name))
    except (OSError, asyncpg.PostgresError) as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = f"postgresql+asyncpg://{PG_APP_ROLE}@127.0.0.1:5432/{name}"
    migrate.upgrade(url)
    yield url
    asyncio.run(_drop_pg_database(name))


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path_factory)


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        export_dir=tmp_path / "exports",
        database_pool_size=5,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        secret_key="test-secret",
        # Routing tests drive the router step by step; a background one would race them.
        routing_engine=False,
        # Timer tests run workers step by step with their own clocks.
        jobs_worker=False,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


@dataclass
class TenantFixture:
    """A tenant of the test world, with API clients for each role."""

    tenant: Tenant
    app: FastAPI
    db: Database
    _clients: dict[Role, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.tenant.slug

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id

    def url(self, path: str = "") -> str:
        return f"/api/v1/tenants/{self.slug}{path}"

    async def token(self, role: Role = Role.ADMIN) -> str:
        async with self.db.system_session() as session:
            issued = await identity.issue_api_token(
                session, TEST_ACTOR, self.id, name=f"test-{role}", role=role
            )
            await session.commit()
        return issued.secret

    async def client(self, role: Role = Role.ADMIN) -> httpx.AsyncClient:
        if role not in self._clients:
            self._clients[role] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app),
                base_url="http://testserver",
                headers={"Authorization": f"Bearer {await self.token(role)}"},
            )
        return self._clients[role]

    async def close(self) -> None:
        for http in self._clients.values():
            await http.aclose()


TenantMaker = Callable[..., Awaitable[TenantFixture]]


@pytest.fixture
async def make_tenant(app: FastAPI, db: Database) -> AsyncIterator[TenantMaker]:
    made: list[TenantFixture] = []

    async def _make(**fields: str) -> TenantFixture:
        data = TenantCreate(
            slug=fields.pop("slug", f"t-{secrets.token_hex(4)}"),
            name=fields.pop("name", "Test company"),
            **fields,
        )
        async with db.system_session() as session:
            tenant = await tenancy.create_tenant(session, TEST_ACTOR, data)
            await session.commit()
        fixture = TenantFixture(tenant, app, db)
        made.append(fixture)
        return fixture

    yield _make
    for fixture in made:
        await fixture.close()


@pytest.fixture
async def tenant_a(make_tenant: TenantMaker) -> TenantFixture:
    return await make_tenant(name="Tenant A")


@pytest.fixture
async def tenant_b(make_tenant: TenantMaker) -> TenantFixture:
    return await make_tenant(name="Tenant B")


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


async def clear_jobs(db: Database, kinds: Iterable[JobKind] | None = None) -> None:
    """Tests share one database: jobs other tests left pending (of ``kinds``, or all) would
    crowd this test's worker batches, or reach its mail sink."""
    query = delete(Job) if kinds is None else delete(Job).where(Job.kind.in_(list(kinds)))
    async with db.system_session() as session:
        await session.execute(query)
        await session.commit()
