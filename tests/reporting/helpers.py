"""Contacts with chosen waits and handle times, written through the interactions service (so the
facts are the ones production writes), on a clock the test sets."""

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest

from centralita.config import Settings
from centralita.customers.service import IdentityRules
from centralita.events.service import Actor
from centralita.identity import service as identity
from centralita.identity.models import User
from centralita.identity.permissions import Role
from centralita.interactions import service as interactions
from centralita.interactions.models import Channel, InteractionState
from centralita.interactions.schemas import IdentityIn, InteractionCreate, MessageIn
from centralita.routing.models import Queue
from tests.conftest import TenantFixture

State = InteractionState


@contextmanager
def clock_at(monkeypatch: pytest.MonkeyPatch, at: datetime) -> Iterator[None]:
    """New interactions enter their queue at ``at``."""
    with monkeypatch.context() as patch:
        patch.setattr(interactions, "utcnow", lambda: at)
        yield


@dataclass(frozen=True)
class Outcome:
    """What happens to one contact, in seconds after it entered the queue."""

    answered_after: float | None = None
    abandoned_after: float | None = None
    talk: float = 60.0
    wrap: float | None = 15.0
    transferred: bool = False


async def add_queue(tenant: TenantFixture, name: str = "ventas", threshold: int = 20) -> None:
    async with tenant.db.tenant_session(tenant.id) as session:
        session.add(
            Queue(
                tenant_id=tenant.id,
                name=name,
                channels=["chat", "voice"],
                sl_threshold_seconds=threshold,
            )
        )
        await session.commit()


async def contact(
    tenant: TenantFixture,
    outcome: Outcome,
    *,
    queue: str = "ventas",
    channel: Channel = Channel.CHAT,
    topic: str | None = None,
    email: str | None = None,
    agent_id: uuid.UUID | None = None,
    subject: str | None = None,
    text: str | None = None,
) -> uuid.UUID:
    """One contact through its whole life; returns the interaction id."""
    async with tenant.db.tenant_session(tenant.id) as session:
        thread = await interactions.create_interaction(
            session,
            tenant.tenant,
            Actor("test"),
            InteractionCreate(
                channel=channel,
                identity=IdentityIn(
                    kind="email", value=email or f"c{secrets.token_hex(4)}@example.com"
                ),
                queue=queue,
                topic=topic,
                subject=subject,
                message=MessageIn(author_kind="customer", text=text) if text else None,
            ),
            IdentityRules.for_tenant(tenant.tenant, "test-secret"),
        )
        work = thread.interaction
        assert work.queued_at is not None
        start = work.queued_at
        agent = Actor("agent", user_id=agent_id)

        def at(seconds: float) -> datetime:
            return start + timedelta(seconds=seconds)

        if outcome.abandoned_after is not None:
            interactions.change_state(work, State.ABANDONED, agent, at(outcome.abandoned_after))
        elif outcome.answered_after is not None:
            answered = outcome.answered_after
            interactions.change_state(work, State.OFFERED, agent, at(answered))
            work.agent_user_id = agent.user_id
            interactions.change_state(work, State.ACTIVE, agent, at(answered))
            end = answered + outcome.talk
            if outcome.transferred:
                interactions.change_state(work, State.QUEUED, agent, at(end))
            elif outcome.wrap is None:
                interactions.change_state(work, State.ENDED, agent, at(end))
            else:
                interactions.change_state(work, State.WRAP_UP, agent, at(end))
                interactions.change_state(work, State.ENDED, agent, at(end + outcome.wrap))
        await session.commit()
        return work.id


async def agent_user(tenant: TenantFixture, name: str, role: Role = Role.AGENT) -> uuid.UUID:
    async with tenant.db.system_session() as session:
        user = await identity.create_user(
            session,
            identity.Passwords(Settings(argon2_time_cost=1, argon2_memory_kib=64)),
            email=f"{secrets.token_hex(5)}@example.com",
            display_name=name,
            password="a long enough password",
        )
        await identity.grant_role(session, Actor("test"), tenant.id, user, role)
        await session.commit()
        return user.id


async def user_client(tenant: TenantFixture, user_id: uuid.UUID) -> httpx.AsyncClient:
    """An API client signed in as the user with a browser session (cookie and CSRF header)."""
    async with tenant.db.system_session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        cookie = await identity.open_web_session(
            session, Settings(secret_key="test-secret"), user, ip="127.0.0.1", user_agent="tests"
        )
        await session.commit()
        principal = await identity.principal_from_cookie(session, cookie)
    assert principal is not None
    assert principal.csrf_token is not None
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=tenant.app),
        base_url="http://testserver",
        cookies={"centralita_session": cookie},
        headers={"x-csrf-token": principal.csrf_token},
    )
