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
    webhooks_allow_loopback: bool = Field(
        default=False,
        description="Let webhooks reach 127.0.0.1 / ::1. For tests and local receivers only: "
        "private, link-local and metadata addresses stay refused.",
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_hours: int = Field(
        default=72, ge=1, description="How long a webhook delivery is retried before it fails."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where customers reach this installation: survey links start with it.",
    )
    webhook_concurrency: int = Field(
        default=50, ge=1, description="Webhook attempts in flight at once in each process."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
