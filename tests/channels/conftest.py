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
def settings(settings: Settings, provider: FakeProvider) -> Settings:
    return settings.model_copy(update={"telephony_api_base_url": provider.url})
