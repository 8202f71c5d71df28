"""The ``centralita`` command."""

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from pydantic import ValidationError

# Every table must be known before the first flush: links by table name (an interaction's
# ticket) resolve only then.
import centralita.all_models  # noqa: F401
from centralita import demo as demo_data
from centralita.config import get_settings
from centralita.db import migrate as migrations
from centralita.db.engine import open_database
from centralita.errors import DomainError
from centralita.events.service import Actor
from centralita.identity import service as identity
from centralita.identity.permissions import Role
from centralita.nlu.cli import app as nlu_app
from centralita.routing import simulation
from centralita.routing.scenario import ScenarioError, load_scenario
from centralita.tenancy import service as tenancy
from centralita.tenancy.schemas import TenantCreate
from centralita.wfm import commands as wfm_commands

app = typer.Typer(help="centralita: multi-tenant omnichannel contact center.", no_args_is_help=True)
app.add_typer(wfm_commands.app, name="wfm")
app.add_typer(nlu_app, name="nlu")
CLI_ACTOR = Actor(label="cli")
T = TypeVar("T")


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (PostgreSQL only)")] = 1,
) -> None:
    """Serve the web product and the API."""
    settings = get_settings()
    uvicorn.run(
        "centralita.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=True,
        workers=workers,
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    migrations.upgrade(get_settings().database_url)
    typer.echo("Database schema is up to date.")


@app.command("create-tenant")
def create_tenant(
    slug: Annotated[str, typer.Option(help="Short name used in URLs")],
    name: Annotated[str, typer.Option(help="Company name")],
    locale: Annotated[str, typer.Option(help="Default locale: es or en")] = "es",
    time_zone: Annotated[str, typer.Option(help="IANA time zone")] = "Europe/Madrid",
    country: Annotated[str, typer.Option(help="Country for public holidays")] = "ES",
    subdivision: Annotated[str | None, typer.Option(help="Region for public holidays")] = None,
) -> None:
    """Create a client company (tenant)."""
    data = _validated(
        lambda: TenantCreate(
            slug=slug,
            name=name,
            default_locale=locale,
            time_zone=time_zone,
            country=country,
            subdivision=subdivision,
        )
    )

    async def _create() -> None:
        db = open_database(get_settings().database_url, 1)
        try:
            async with db.system_session() as session:
                await tenancy.create_tenant(session, CLI_ACTOR, data)
                await session.commit()
        finally:
            await db.dispose()

    _run_or_exit(_create())
    typer.echo(f"Tenant {slug} created.")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    name: Annotated[str, typer.Option(help="Display name")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    tenant: Annotated[str | None, typer.Option(help="Tenant slug to join")] = None,
    role: Annotated[Role, typer.Option(help="Role in that tenant")] = Role.AGENT,
    platform_admin: Annotated[bool, typer.Option(help="Administrator of the provider")] = False,
) -> None:
    """Create a user, optionally with a role in a tenant."""

    async def _create() -> None:
        settings = get_settings()
        db = open_database(settings.database_url, 1)
        try:
            async with db.system_session() as session:
                user = await identity.create_user(
                    session,
                    identity.Passwords(settings),
                    email=email,
                    display_name=name,
                    password=password,
                    is_platform_admin=platform_admin,
                )
                if tenant:
                    found = await tenancy.get_tenant_by_slug(session, tenant)
                    if found is None:
                        raise DomainError(f"No tenant {tenant!r}")
                    await identity.grant_role(session, CLI_ACTOR, found.id, user, role)
                await session.commit()
        finally:
            await db.dispose()

    _run_or_exit(_create())
    typer.echo(f"User {email} created.")


def _validated(build: Callable[[], T]) -> T:
    try:
        return build()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(
                f"error: {'.'.join(map(str, error['loc'])) or 'input'}: {error['msg']}", err=True
            )
        raise typer.Exit(2) from None


def _run_or_exit(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(coroutine)
    except DomainError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None


@app.command()
def demo() -> None:
    """Seed a believable demo installation into an empty database."""
    settings = get_settings()

    async def _seed() -> demo_data.DemoSummary | None:
        db = open_database(settings.database_url, 1)
        try:
            return await demo_data.seed(db, settings)
        finally:
            await db.dispose()

    summary = asyncio.run(_seed())
    if summary is None:
        typer.echo("The database already holds data: the demo was not seeded again.")
    else:
        typer.echo(
            f"Demo seeded: {summary.tenants} client companies, {summary.agents} agents, "
            f"{summary.customers} customers, {summary.interactions} past interactions."
        )
    typer.echo("\nDemo sign-ins (password: " + demo_data.DEMO_PASSWORD + "):")
    for login in demo_data.NAMED_LOGINS:
        typer.echo(f"  {login.email:<30} {login.name}")


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML), see scenarios/")],
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    hours: Annotated[
        float | None, typer.Option(min=0.1, help="Measured hours instead of the scenario's")
    ] = None,
) -> None:
    """Run the routing engine on simulated traffic; print queue and agent measures."""
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    result = simulation.simulate(loaded, hours=hours)
    typer.echo(result.to_json() if json else simulation.format_table(result))
