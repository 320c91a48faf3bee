"""Sending fixtures are shared with the inbound tests: a reply needs a sent email to answer."""
import pytest

from tests.outbound.conftest import admin, copies, enabled, outbox, send  # noqa: F401
from tests.outbound.test_send import _discussion

CLEO = "cleo@client.example"


@pytest.fixture
def conversation(api, enabled, outbox, send):  # noqa: F811 - the fixtures imported above
    """A discussion emailed to Cleo: (discussion, the Reply-To address of Cleo's copy, its SES Message-ID)."""
    discussion = _discussion(api)
    send(discussion["id"])
    copy = next(m for _, d, m in outbox() if d == [CLEO])
    ses_header = copies(api, discussion["id"])[CLEO]["email_message_id"]
    return discussion, str(copy["Reply-To"]), ses_header
