"""Settings from ``CENTRALITA_*`` environment variables (see the README for the full list)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "centralita.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CENTRALITA_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(default=10, ge=1)
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db: events cross processes through Redis pub/sub when set.",
    )
    routing_engine: bool = Field(
        default=True,
        description="Take part in routing: on PostgreSQL one process is elected to route.",
    )
    jobs_worker: bool = Field(
        default=True,
        description="Run durable jobs (SLA escalations) in this process; any number of processes "
        "may, each job runs once.",
    )
    demo_traffic: bool = Field(
        default=False,
        description="Simulate customers and pool agents on the demo tenants (make run sets it).",
    )
    secret_key: str = Field(
        default="dev-only-secret-change-me",
        description="Signs CSRF tokens and survey links; set a long random value in production.",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark session cookies Secure (enable behind HTTPS).",
    )
    session_ttl_hours: int = Field(default=12, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=64)
    default_locale: str = Field(default="es", pattern="^(es|en)$")
    log_level: str = Field(default="info")
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for outgoing email.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = Field(default=None)
    smtp_password: str | None = Field(default=None)
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection to TLS.")
    smtp_from: str = Field(
        default="centralita <reports@centralita.invalid>",
        description="The From address of the emails centralita sends (scheduled reports).",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
