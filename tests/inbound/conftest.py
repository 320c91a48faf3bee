"""Sending fixtures are shared with the inbound tests: a reply needs a sent email to answer."""
import pytest

from tests.outbound.conftest import admin, enabled, outbox  # noqa: F401
from tests.outbound.test_send import THREADS, _discussion

CLEO = "cleo@client.example"


@pytest.fixture
def conversation(api, enabled, outbox):  # noqa: F811 - the fixtures imported above
    """A discussion emailed to Cleo: (discussion, the Reply-To address of Cleo's copy, its SES Message-ID)."""
    discussion = _discussion(api)
    report = api.post(f"{THREADS}/{discussion['id']}/send").data
    copy = next(m for _, d, m in outbox() if d == [CLEO])
    ses_header = next(s["email_message_id"] for s in report["sent"] if s["recipient"] == CLEO)
    return discussion, str(copy["Reply-To"]), ses_header
