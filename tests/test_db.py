"""db.get_many and db.put_many: items of several tables a call, in the order asked, None where absent."""
from __future__ import annotations

from chalicelib import db
from chalicelib.discussions.models import Discussion
from chalicelib.identities.models import TenantReputation


def test_items_of_several_tables_come_back_in_order_and_absent_ones_as_none(aws):
    TenantReputation("tenant-a", "status", state="paused", reason="bounces").save()
    TenantReputation("tenant-b", "status", state="active").save()

    got = db.get_many(TenantReputation("tenant-b", "status"), Discussion("tenant-a", "no-such-discussion"),
                      TenantReputation("tenant-a", "status"))

    assert [type(item).__name__ if item else None for item in got] == ["TenantReputation", None, "TenantReputation"]
    assert (got[0].tenant_id, got[0].state) == ("tenant-b", "active")
    assert (got[2].tenant_id, got[2].reason) == ("tenant-a", "bounces")


def test_keys_dynamodb_leaves_unprocessed_are_asked_again(aws, monkeypatch):
    """A throttled table's keys come back as UnprocessedKeys (BatchGetItem is not retried by the SDK for that)."""
    TenantReputation("tenant-a", "status", state="paused", reason="bounces").save()
    connection = db.connection()
    real = connection._make_api_call
    requests = []

    def first_left_unprocessed(operation, kwargs):
        requests.append(kwargs["RequestItems"])
        if len(requests) == 1:
            return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}
        return real(operation, kwargs)

    monkeypatch.setattr(connection, "_make_api_call", first_left_unprocessed)
    (status,) = db.get_many(TenantReputation("tenant-a", "status"))

    assert status is not None and status.reason == "bounces" and len(requests) == 2


def test_more_keys_than_one_call_takes_are_read_in_calls_of_a_hundred_and_duplicates_once(aws):
    """BatchGetItem takes at most 100 keys and refuses a key named twice (ValidationException): 150 keys, one of
    them asked twice, are two calls, and every position of the answer is filled."""
    from bench.calls import counting

    db.put_many(*[TenantReputation(f"tenant-{n}", "status", state="active") for n in range(0, 150, 2)])
    asked = [TenantReputation(f"tenant-{n}", "status") for n in range(150)] + [TenantReputation("tenant-0", "status")]
    with counting() as counter:
        got = db.get_many(*asked)

    assert counter.by_operation()["dynamodb.BatchGetItem"] == 2
    assert [item is not None for item in got] == [n % 2 == 0 for n in range(150)] + [True]
    assert all(item.tenant_id == key.tenant_id for item, key in zip(got, asked, strict=True) if item is not None)


def test_items_of_several_tables_are_put_25_to_a_call(aws):
    from bench.calls import counting
    from chalicelib.mail.models import MessageIdIndex, ReplyKey

    items = ([ReplyKey(f"key-{n}", tenant_id="tenant-a", discussion_id="d", recipient=f"r{n}@x.example")
              for n in range(20)]
             + [MessageIdIndex(f"id-{n}@x.example", tenant_id="tenant-a", discussion_id="d", origin="ours")
                for n in range(10)])
    with counting() as counter:
        db.put_many(*items)

    assert counter.by_operation()["dynamodb.BatchWriteItem"] == 2
    stored = db.get_many(*[ReplyKey(f"key-{n}") for n in range(20)],
                         *[MessageIdIndex(f"id-{n}@x.example") for n in range(10)])
    assert [getattr(item, "recipient", None) for item in stored[:20]] == [f"r{n}@x.example" for n in range(20)]
    assert all(item.origin == "ours" for item in stored[20:])


def test_every_transaction_carries_an_idempotency_token_of_its_own(aws):
    """The SDK sends a timed-out TransactWriteItems again as it was: with its ClientRequestToken, DynamoDB applies it
    once; two transactions never share a token (a token reused with other items is IdempotentParameterMismatch)."""
    from chalicelib.mail.models import ReplyKey

    tokens: list[str] = []

    def record(params, **_):
        tokens.append(params.get("ClientRequestToken"))

    client = db.connection().client
    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    try:
        for n in range(3):
            with db.transaction() as tx:
                tx.save(ReplyKey(f"key-{n}", tenant_id="tenant-a", discussion_id="d", recipient="r@x.example"))
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)

    assert len(tokens) == 3 and len(set(tokens)) == 3 and all(token and len(token) <= 36 for token in tokens)
    assert all(item is not None for item in db.get_many(*[ReplyKey(f"key-{n}") for n in range(3)]))
