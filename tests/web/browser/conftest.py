"""Live-server browser tests run the routing engine, which rebuilds itself from every waiting
interaction in its database. On the suite's shared database that is every earlier test's work,
and the pages wait on it; each module here therefore gets an empty database of its own."""

from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS, fresh_database


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path_factory)
