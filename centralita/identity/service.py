"""Users, memberships, sign-in with rate limiting, browser sessions, API tokens and principals."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.errors import Conflict, FieldError, InvalidInput, NotFound, RateLimited
from centralita.events.service import Actor, record_audit
from centralita.identity.models import ApiToken, LoginAttempt, Membership, User, WebSession
from centralita.identity.permissions import Permission, Role, role_allows

TOKEN_PREFIX = "ctl_"  # noqa: S105 - a public marker, not a secret
# Writing last_used_at on every request would turn each read into a write.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
# A shared address (an office behind NAT) may fail more often than one account before it is stopped.
IP_FAILURE_FACTOR = 4


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        )
        # Verified against when the user does not exist, so both paths take the same time.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(8))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the roles it holds, per tenant."""

    label: str
    user_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    is_platform_admin: bool = False
    roles: dict[uuid.UUID, Role] = field(default_factory=dict)
    locale: str | None = None
    csrf_token: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(label=self.label, user_id=self.user_id, token_id=self.token_id)

    def sees_tenant(self, tenant_id: uuid.UUID) -> bool:
        return self.is_platform_admin or tenant_id in self.roles

    def can(self, tenant_id: uuid.UUID, permission: Permission) -> bool:
        if self.is_platform_admin and self.token_id is None:
            return True
        role = self.roles.get(tenant_id)
        return role is not None and role_allows(role, permission)


# --- users and memberships -------------------------------------------------------------------


async def create_user(
    session: AsyncSession,
    passwords: Passwords,
    *,
    email: str,
    display_name: str,
    password: str,
    locale: str = "es",
    is_platform_admin: bool = False,
) -> User:
    user = User(
        email=normalise_email(email),
        display_name=display_name,
        password_hash=passwords.hash(password),
        locale=locale,
        is_platform_admin=is_platform_admin,
    )
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict(f"A user with email {user.email} already exists", "user-exists") from None
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == normalise_email(email)))
    return result.scalar_one_or_none()


async def grant_role(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, user: User, role: Role
) -> Membership:
    existing = await session.get(Membership, (tenant_id, user.id))
    before = {"role": existing.role} if existing else None
    if existing:
        existing.role = role
        membership = existing
    else:
        membership = Membership(tenant_id=tenant_id, user_id=user.id, role=role)
        session.add(membership)
    record_audit(
        session, tenant_id, actor, "membership.granted", ("user", user.id), before, {"role": role}
    )
    await session.flush()
    return membership


async def roles_of(session: AsyncSession, user_id: uuid.UUID) -> dict[uuid.UUID, Role]:
    rows = await session.execute(
        select(Membership.tenant_id, Membership.role).where(Membership.user_id == user_id)
    )
    return {tenant_id: Role(role) for tenant_id, role in rows.all()}


# --- sign-in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """Outcome of a sign-in attempt: the user, or None for wrong credentials."""

    user: User | None


async def sign_in(
    session: AsyncSession,
    passwords: Passwords,
    settings: Settings,
    *,
    email: str,
    password: str,
    ip: str,
    now: datetime | None = None,
) -> SignIn:
    """Check credentials, refusing when recent failures from the account or address are too many.

    The attempt is recorded in the session; the caller commits even when sign-in fails, so the
    failure counts.
    """
    now = now or utcnow()
    email = normalise_email(email)
    window_start = now - timedelta(minutes=settings.login_lockout_minutes)
    failures = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.succeeded.is_(False), LoginAttempt.at >= window_start)
    )
    by_email = (await session.execute(failures.where(LoginAttempt.email == email))).scalar_one()
    by_ip = (await session.execute(failures.where(LoginAttempt.ip == ip))).scalar_one()
    if (
        by_email >= settings.login_max_failures
        or by_ip >= settings.login_max_failures * IP_FAILURE_FACTOR
    ):
        raise RateLimited(
            "Too many failed sign-in attempts; try again later",
            retry_after_s=settings.login_lockout_minutes * 60,
        )
    user = await get_user_by_email(session, email)
    valid = passwords.verify(user.password_hash if user else None, password)
    ok = valid and user is not None and user.is_active
    session.add(LoginAttempt(email=email, ip=ip, succeeded=ok, at=now))
    await session.flush()
    return SignIn(user if ok else None)


# --- browser sessions ------------------------------------------------------------------------


async def open_web_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    ip: str | None,
    user_agent: str | None,
) -> str:
    """Create a browser session and return the cookie value (never stored in clear)."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_sha256(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(24),
            expires_at=utcnow() + timedelta(hours=settings.session_ttl_hours),
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    await session.flush()
    return token


async def close_web_session(session: AsyncSession, token: str) -> None:
    web_session = await _find_web_session(session, token)
    if web_session is not None:
        await session.delete(web_session)


async def _find_web_session(session: AsyncSession, token: str) -> WebSession | None:
    result = await session.execute(
        select(WebSession).where(WebSession.token_hash == _sha256(token))
    )
    return result.scalar_one_or_none()


async def principal_from_cookie(session: AsyncSession, token: str) -> Principal | None:
    web_session = await _find_web_session(session, token)
    if web_session is None or web_session.expires_at <= utcnow():
        return None
    user = await session.get(User, web_session.user_id)
    if user is None or not user.is_active:
        return None
    return Principal(
        label=user.email,
        user_id=user.id,
        is_platform_admin=user.is_platform_admin,
        roles=await roles_of(session, user.id),
        locale=user.locale,
        csrf_token=web_session.csrf_token,
    )


# --- API tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


async def issue_api_token(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, *, name: str, role: Role
) -> IssuedToken:
    """Create a token; its secret is returned once and only its hash is kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        tenant_id=tenant_id,
        name=name,
        token_hash=_sha256(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        role=role,
        created_by=actor.user_id,
    )
    session.add(token)
    await session.flush()
    record_audit(
        session,
        tenant_id,
        actor,
        "api_token.issued",
        ("api_token", token.id),
        None,
        {"name": name, "role": role},
    )
    return IssuedToken(token, secret)


async def list_api_tokens(session: AsyncSession) -> list[ApiToken]:
    result = await session.execute(select(ApiToken).order_by(ApiToken.created_at.desc()))
    return list(result.scalars())


async def revoke_api_token(session: AsyncSession, actor: Actor, token_id: uuid.UUID) -> ApiToken:
    token = (
        await session.execute(select(ApiToken).where(ApiToken.id == token_id))
    ).scalar_one_or_none()
    if token is None:
        raise NotFound("API token not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record_audit(
            session,
            token.tenant_id,
            actor,
            "api_token.revoked",
            ("api_token", token.id),
            {"revoked_at": None},
            {"revoked_at": token.revoked_at},
        )
    await session.flush()
    return token


async def principal_from_api_token(session: AsyncSession, secret: str) -> Principal | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        await session.execute(select(ApiToken).where(ApiToken.token_hash == _sha256(secret)))
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_INTERVAL:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.tenant_id == token.tenant_id, ApiToken.id == token.id)
            .values(last_used_at=now)
        )
    return Principal(
        label=f"token:{token.name}",
        token_id=token.id,
        roles={token.tenant_id: Role(token.role)},
    )


# --- members of a tenant ---------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    user: User
    membership: Membership


async def add_member(
    session: AsyncSession,
    passwords: Passwords,
    actor: Actor,
    tenant_id: uuid.UUID,
    *,
    email: str,
    role: Role,
    display_name: str | None,
    password: str | None,
    locale: str,
) -> Member:
    user = await get_user_by_email(session, email)
    if user is None:
        if not (display_name and password):
            raise InvalidInput(
                "A new user needs a display name and a password",
                [
                    FieldError("body.display_name", "required for a new user"),
                    FieldError("body.password", "required for a new user"),
                ],
            )
        user = await create_user(
            session,
            passwords,
            email=email,
            display_name=display_name,
            password=password,
            locale=locale,
        )
    membership = await grant_role(session, actor, tenant_id, user, role)
    return Member(user, membership)


async def list_members(session: AsyncSession) -> list[Member]:
    """Members of the scoped tenant, by name."""
    rows = await session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .order_by(User.display_name)
    )
    return [Member(user, membership) for user, membership in rows.all()]


async def remove_member(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> None:
    membership = (
        await session.execute(select(Membership).where(Membership.user_id == user_id))
    ).scalar_one_or_none()
    if membership is None:
        raise NotFound("Member not found")
    record_audit(
        session,
        membership.tenant_id,
        actor,
        "membership.revoked",
        ("user", user_id),
        {"role": membership.role},
        None,
    )
    await session.delete(membership)
    await session.flush()
