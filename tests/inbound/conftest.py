"""Sending fixtures are shared with the inbound tests: a reply needs a sent email to answer."""
from tests.outbound.conftest import admin, enabled, outbox  # noqa: F401
