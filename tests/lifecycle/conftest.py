"""Fixtures of the lifecycle tests: the real SMTP listener of the email tests."""

from tests.channels.email.conftest import listener  # noqa: F401 - emails arrive over real SMTP
