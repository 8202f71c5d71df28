from datetime import timedelta

import pytest

from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.errors import RateLimited
from centralita.identity import service as identity
from centralita.identity.permissions import Permission, Role, role_allows
from centralita.identity.service import Passwords


async def _user(db: Database, passwords: Passwords, email: str) -> None:
    async with db.system_session() as session:
        await identity.create_user(
            session, passwords, email=email, display_name="Luis", password="right password"
        )
        await session.commit()


async def _try(
    db: Database,
    passwords: Passwords,
    settings: Settings,
    email: str,
    pw: str,
    ip: str = "10.0.0.1",
    minutes_ago: int = 0,
) -> identity.SignIn:
    async with db.system_session() as session:
        result = await identity.sign_in(
            session,
            passwords,
            settings,
            email=email,
            password=pw,
            ip=ip,
            now=utcnow() - timedelta(minutes=minutes_ago),
        )
        await session.commit()
        return result


async def test_password_is_hashed_with_argon2_and_verified(
    db: Database, settings: Settings
) -> None:
    passwords = Passwords(settings)
    await _user(db, passwords, "luis@example.com")

    async with db.system_session() as session:
        user = await identity.get_user_by_email(session, "LUIS@example.com")

    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    assert (await _try(db, passwords, settings, "luis@example.com", "right password")).user
    assert (await _try(db, passwords, settings, "luis@example.com", "wrong")).user is None


async def test_repeated_failures_lock_the_account_even_with_the_right_password(
    db: Database, settings: Settings
) -> None:
    passwords = Passwords(settings)
    await _user(db, passwords, "marta@example.com")
    for _ in range(settings.login_max_failures):
        assert (await _try(db, passwords, settings, "marta@example.com", "bad")).user is None

    with pytest.raises(RateLimited):
        await _try(db, passwords, settings, "marta@example.com", "right password")


async def test_old_failures_no_longer_count(db: Database, settings: Settings) -> None:
    passwords = Passwords(settings)
    await _user(db, passwords, "old@example.com")
    for _ in range(settings.login_max_failures):
        await _try(
            db,
            passwords,
            settings,
            "old@example.com",
            "bad",
            minutes_ago=settings.login_lockout_minutes + 1,
        )

    assert (await _try(db, passwords, settings, "old@example.com", "right password")).user


async def test_one_address_guessing_many_accounts_is_stopped(
    db: Database, settings: Settings
) -> None:
    passwords = Passwords(settings)
    for n in range(settings.login_max_failures * identity.IP_FAILURE_FACTOR):
        await _try(db, passwords, settings, f"guess{n}@example.com", "x", ip="10.9.9.9")

    with pytest.raises(RateLimited):
        await _try(db, passwords, settings, "someone@example.com", "x", ip="10.9.9.9")


def test_permission_table_separates_roles() -> None:
    assert role_allows(Role.ADMIN, Permission.TOKENS_MANAGE)
    assert not role_allows(Role.SUPERVISOR, Permission.TOKENS_MANAGE)
    assert role_allows(Role.SUPERVISOR, Permission.CUSTOMERS_MERGE)
    assert not role_allows(Role.AGENT, Permission.CUSTOMERS_MERGE)
    assert role_allows(Role.CLIENT_VIEWER, Permission.REPORTS_READ)
    assert not role_allows(Role.CLIENT_VIEWER, Permission.CUSTOMERS_READ)
