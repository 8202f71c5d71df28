"""Fixtures of the lifecycle tests: the real SMTP listener of the email tests, and a private
export directory per test."""

from pathlib import Path

import pytest

from centralita.config import Settings
from tests.channels.email.conftest import listener  # noqa: F401 - emails arrive over real SMTP


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"export_dir": tmp_path / "exports"})
