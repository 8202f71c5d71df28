"""Shared by the event tests: the Redis they run against, mirroring how PostgreSQL is treated."""

import asyncio
import os
import secrets
from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.conftest import REQUIRE_POSTGRES

REDIS_URL = os.environ.get("CENTRALITA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def reachable_redis_url() -> str:
    """The test Redis URL; skips the test when Redis is down, unless CI requires the services."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await asyncio.wait_for(client.ping(), timeout=5)
    except (RedisError, OSError, TimeoutError) as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"Redis is required but unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    finally:
        await client.aclose()
    return REDIS_URL


def private_channel() -> str:
    """Pub/sub channels ignore the database number: each test gets its own channel."""
    return f"centralita:test:{secrets.token_hex(6)}"


async def drop_listener_connections(url: str, channel: str) -> int:
    """Cut the buses' listening connections from the server side, as a Redis restart would."""
    admin = Redis.from_url(url, decode_responses=True)
    try:
        listeners = [c for c in await admin.client_list() if c["name"] == f"{channel}:listener"]
        for listener in listeners:
            await admin.client_kill_filter(_id=listener["id"])
    finally:
        await admin.aclose()
    return len(listeners)


async def eventually(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    """Wait for something another task or process does; fail after ``within_s`` seconds."""
    async with asyncio.timeout(within_s):
        # Polling: the conditions read plain state that callbacks and other processes change.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
