from collections.abc import AsyncIterator

import pytest

from centralita.config import Settings
from centralita.db.engine import Database
from centralita.jobs.models import JobKind
from tests.conftest import clear_jobs
from tests.webhooks.receiver import Receiver, running_receiver


@pytest.fixture(autouse=True)
async def no_webhook_jobs_left_by_other_tests(db: Database) -> None:
    await clear_jobs(db, [JobKind.WEBHOOK_FANOUT, JobKind.WEBHOOK_DELIVERY])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The test receivers listen on 127.0.0.1; everything else internal stays refused.
    return settings.model_copy(
        update={"webhooks_allow_loopback": True, "webhook_timeout_seconds": 5.0}
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running
