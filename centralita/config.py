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
    chat_max_message_chars: int = Field(default=2000, ge=1, le=20_000)
    chat_messages_per_minute: int = Field(
        default=20, ge=1, description="Messages one chat visitor may send per minute."
    )
    chat_position_interval_seconds: float = Field(
        default=10.0, gt=0, description="How often a waiting chat is told its place in the queue."
    )
    chat_transcript_smtp_host: str | None = Field(
        default=None, description="SMTP relay for chat transcripts; unset, none are sent."
    )
    chat_transcript_smtp_port: int = Field(default=25, ge=1, le=65535)
    chat_transcript_from: str = Field(default="no-reply@centralita.example")
    telephony_api_base_url: str = Field(
        default="https://api.twilio.com",
        description="The provider's REST API (Twilio's format) for outbound calls and SMS.",
    )
    telephony_public_base_url: str | None = Field(
        default=None,
        description="The public https://host the provider calls, when a proxy changes the URL "
        "this app sees (webhook signatures are computed over the public URL).",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
