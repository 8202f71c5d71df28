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
    smtp_listen_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Receive email on this port with the built-in SMTP listener (off when unset).",
    )
    smtp_listen_host: str = Field(default="127.0.0.1")
    email_max_bytes: int = Field(
        default=25_000_000, ge=1024, description="Larger messages are refused at SMTP (552)."
    )
    email_attachment_max_bytes: int = Field(
        default=10_000_000, ge=0, description="Larger attachments are listed but not stored."
    )
    smtp_relay_host: str | None = Field(
        default=None, description="Send email through this SMTP server (no email goes out unset)."
    )
    smtp_relay_port: int = Field(default=587, ge=1, le=65535)
    smtp_relay_username: str | None = None
    smtp_relay_password: str | None = None
    smtp_relay_starttls: bool = Field(default=False)
    email_domain: str = Field(
        default="centralita.localhost",
        description="The domain of the Message-IDs the platform writes (so it knows its own mail).",
    )
    email_auto_replies_per_hour: int = Field(
        default=3, ge=0, description="At most this many automatic emails to one address per hour."
    )
    imap_host: str | None = Field(
        default=None, description="Poll this IMAP mailbox for email too (off when unset)."
    )
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_ssl: bool = Field(default=True)
    imap_username: str | None = None
    imap_password: str | None = None
    imap_folder: str = Field(default="INBOX")
    imap_address: str | None = Field(
        default=None, description="The channel address the polled mailbox receives for."
    )
    imap_poll_seconds: float = Field(default=60.0, gt=0)
    chat_max_message_chars: int = Field(default=2000, ge=1, le=20_000)
    chat_messages_per_minute: int = Field(
        default=20, ge=1, description="Messages one chat visitor may send per minute."
    )
    chat_position_interval_seconds: float = Field(
        default=10.0, gt=0, description="How often a waiting chat is told its place in the queue."
    )
    telephony_api_base_url: str = Field(
        default="https://api.twilio.com",
        description="The provider's REST API (Twilio's format) for outbound calls and SMS.",
    )
    telephony_public_base_url: str | None = Field(
        default=None,
        description="The public https://host the provider calls, when a proxy changes the URL "
        "this app sees (webhook signatures are computed over the public URL).",
    )
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
    reports_from: str = Field(
        default="centralita <reports@centralita.invalid>",
        description="The From address of scheduled reports to client managers.",
    )
    export_dir: Path = Field(
        default=Path("var") / "exports",
        description="Where tenant exports are written (one folder per tenant); keep it private.",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
