"""Every channel test can reach a provider REST API of its own (voice and SMS send through it).

The settings are the suite's, plus that API's address.
"""

from collections.abc import Iterator

import pytest

from centralita.config import Settings
from tests.channels.telephony import FakeProvider, serve_provider


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    yield from serve_provider()


@pytest.fixture
def settings(database_url: str, provider: FakeProvider) -> Settings:
    return Settings(
        database_url=database_url,
        database_pool_size=5,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        secret_key="test-secret",
        routing_engine=False,
        jobs_worker=False,
        telephony_api_base_url=provider.url,
    )
