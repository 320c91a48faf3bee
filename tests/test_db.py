"""db.get_many: items of several tables in one BatchGetItem, in the order asked, None where absent."""
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
