"""Issue 22: what one copy costs in DynamoDB calls, whatever the discussion's history or the recipient's past."""
from __future__ import annotations

from bench.calls import counting
from tests.outbound.test_send import THREADS, _discussion


def _measured_copies(monkeypatch, counter) -> list[dict[str, int]]:
    """The DynamoDB calls of each copy job (`send_copy`), as the jobs Lambda runs them."""
    from chalicelib.mail import send as sending

    per_copy: list[dict[str, int]] = []
    original = sending.send_copy

    def measured(pixel: str) -> str:
        before = dict(counter.calls)
        try:
            return original(pixel)
        finally:
            per_copy.append({name: count - before.get(name, 0) for name, count in counter.calls.items()
                             if name.startswith("dynamodb.") and count != before.get(name, 0)})

    monkeypatch.setattr(sending, "send_copy", measured)
    return per_copy


def test_a_copy_is_at_most_six_dynamodb_calls_and_the_first_of_a_message_eight(api, enabled, send, monkeypatch):
    """Claim (UpdateItem); the tenant's status, the discussion and the message (one BatchGetItem); the recipient's
    previous Message-IDs (BatchGetItem, once the discussion has earlier messages); the calling step (UpdateItem); the
    end with the inbound index (TransactWriteItems); the counters (UpdateItem). The first copy of a message in a
    container also reads the quoted history (Query, then kept a minute) and writes the id SES gave it on the message
    (UpdateItem). A backlog of messages and a late joiner cost the same per copy."""
    discussion = _discussion(api)
    with counting() as counter:
        per_copy = _measured_copies(monkeypatch, counter)
        send(discussion["id"])
        first_send = list(per_copy)
        for number in range(5):  # a backlog: five more messages, sent together
            api.post(f"{THREADS}/{discussion['id']}/messages", {"body": f"Note {number}"})
        assert api.post(f"{THREADS}/{discussion['id']}/participants",
                        {"email": "late@client.example"}).status_code == 201
        per_copy.clear()
        send(discussion["id"])

    assert len(first_send) == 3 and len(per_copy) == 5 * 4  # cleo, carl, betty, then the late joiner too
    steady = {"dynamodb.UpdateItem": 3, "dynamodb.BatchGetItem": 2, "dynamodb.TransactWriteItems": 1}
    first_of_message = {**steady, "dynamodb.Query": 1, "dynamodb.UpdateItem": 4}
    assert first_send[1:] == [{**steady, "dynamodb.BatchGetItem": 1}] * 2  # no earlier message: no Message-IDs
    assert sorted(per_copy, key=len) == [steady] * 15 + [first_of_message] * 5
