"""Hot items: the deliveries of a message, and of a tenant, run as concurrent Lambdas; their transactions must not meet
in one item, and a plain counter write that meets one of them must not be lost (docs/email.md, "Hot items").

moto runs one call at a time and never answers TransactionConflict(Exception): DynamoDB does ("Transaction conflict
handling in DynamoDB", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
#transaction-conflict-handling). So these tests record the items of every transaction and inject the error as
DynamoDB answers it, below the SDK's retry handler.
"""
from __future__ import annotations

import collections
import json
import math

import pytest
from moto.core.botocore_stubber import MockRawResponse

from chalicelib.tracking.ids import COUNTER_SHARDS, copy_shard
from tests.outbound.conftest import admin, enabled, send  # noqa: F401 - fixtures
from tests.outbound.test_send import THREADS, _discussion
from tests.outbound.test_ses_events import CLEO, _aim, _cleo, _deliver, _example, sent  # noqa: F401

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5"


def _people(count: int, domain: str = "client.example") -> list[dict[str, str]]:
    return [{"email": f"person{n:02d}@{domain}"} for n in range(count)]


def _records(api, discussion_id: str) -> list[dict]:
    """Every copy of the discussion as the tracking route lists them (page after page)."""
    records, cursor = [], ""
    while True:
        page = api.get(f"{THREADS}/{discussion_id}/tracking?limit=100{cursor}").data
        records += page["recipients"]
        if not page["recipients_next_cursor"]:
            return records
        cursor = f"&cursor={page['recipients_next_cursor']}"


def _stats(api, discussion_id: str, message_id: str | None = None) -> dict:
    query = f"?message_id={message_id}" if message_id else ""
    return api.get(f"{THREADS}/{discussion_id}/tracking{query}").data


def _delivery(record: dict) -> dict:
    return _aim(_example("event_delivery"), record["ses_message_id"], record["recipient_email"])


# ---------------------------------------------------------------- the items of every delivery's transaction


def _key_names() -> dict[str, list[str]]:
    """table name → its key attributes, to name the item of a Put (its key is inside the item)."""
    from chalicelib.tables import all_models

    return {model.Meta.table_name: [attribute.attr_name for attribute in model.get_attributes().values()
                                    if attribute.is_hash_key or attribute.is_range_key] for model in all_models()}


def _items_of_transactions(operations: list[tuple[str, str, dict]]) -> list[set[str]]:
    """The items (table and key) of each TransactWriteItems call, as DynamoDB received them."""
    names = _key_names()
    transactions = []
    for service, operation, parameters in operations:
        if (service, operation) != ("dynamodb", "TransactWriteItems"):
            continue
        items = set()
        for entry in parameters["TransactItems"]:
            (kind, action), = entry.items()
            key = action.get("Key") or {name: action["Item"][name] for name in names[action["TableName"]]}
            items.add(f"{kind}:{action['TableName']}:{json.dumps(key, sort_keys=True)}")
        transactions.append(items)
    return transactions


def _bound(copies: int) -> int:
    """The most deliveries one shard may hold: its fair share and a margin that random pixel ids pass but for
    one run in ten thousand (balls into COUNTER_SHARDS bins)."""
    share = copies / COUNTER_SHARDS
    return math.ceil(share + 6 * math.sqrt(share) + 2)


def test_the_deliveries_of_a_message_and_of_a_tenant_share_only_shards(api, client, enabled, send):  # noqa: F811
    from bench.calls import recording

    big = _discussion(api, participants=_people(39))
    send(big["id"])
    api.post(f"{THREADS}/{big['id']}/messages", {"body": "And one more thing."})
    send(big["id"])
    other = _discussion(api, participants=_people(20, "other.example"))
    send(other["id"])
    copies = _records(api, big["id"]) + _records(api, other["id"])
    assert len(copies) == 39 * 2 + 20

    with recording() as operations:
        for number, record in enumerate(copies):
            assert _deliver(client, _delivery(record), f"sns-{number}").payload[0]["applied"] == 1

    transactions = _items_of_transactions(operations)
    assert len(transactions) == len(copies)  # one transaction per delivery, none committed again
    holders = collections.Counter(item for items in transactions for item in items)
    assert not [item for item in holders if "tenant-reputation" in item and '"status"' in item]  # no status check
    per_message = collections.Counter((r["message_id"], copy_shard(r["tracking_pixel_id"])) for r in copies)
    per_tenant = collections.Counter(copy_shard(r["tracking_pixel_id"]) for r in copies)
    counters = {item: count for item, count in holders.items() if "tracking-counters" in item}
    reputation = {item: count for item, count in holders.items() if "tenant-reputation" in item}
    # Each counter item is one message's shard, held by the deliveries of the copies hashed to it, and no other.
    assert sorted(counters.values()) == sorted(per_message.values())
    assert max(counters.values()) <= _bound(39)
    # The tenant's day is spread the same way: no item holds more than a shard's share of the tenant's deliveries.
    assert len(reputation) == len(per_tenant) and sorted(reputation.values()) == sorted(per_tenant.values())
    assert max(reputation.values()) <= _bound(len(copies)) < len(copies) / 3
    # Everything else is the delivery's own: its dedupe item and its copy.
    assert {count for item, count in holders.items() if item not in counters and item not in reputation} == {1}

    assert _stats(api, big["id"])["delivered"] == 78 and _stats(api, other["id"])["delivered"] == 20
    messages = _stats(api, big["id"])["messages"]
    assert [m["delivered"] for m in messages] == [39, 39] and [m["total"] for m in messages] == [39, 39]
    report = admin_report(client)
    assert report["delivered"] == len(copies)


def admin_report(client) -> dict:
    from tests.conftest import Api

    return Api(client, roles=["admin"]).get("/api/tenant/reputation").data


# ---------------------------------------------------------------- statistics stay exact


def test_statistics_are_exact_for_every_kind_of_event_duplicates_and_disorder(api, client, enabled,  # noqa: F811
                                                                              send):  # noqa: F811
    """20 copies: every one delivered (five events twice, two after their bounce), opens and clicks through our pixel
    and links (twice for some), two hard bounces (one repeated), a complaint: the counters, summed over shards,
    equal the copies' own detail."""
    discussion = _discussion(api, participants=_people(20))
    send(discussion["id"])
    copies = sorted(_records(api, discussion["id"]), key=lambda r: r["recipient_email"])
    bounced, complained = copies[:2], copies[2]

    def bounce(record, sns_id):
        event = _aim(_example("event_bounce"), record["ses_message_id"], record["recipient_email"])
        event["bounce"]["feedbackId"] = f"bounce-{record['recipient_email']}"
        return _deliver(client, event, sns_id)

    for number, record in enumerate(bounced):
        bounce(record, f"sns-bounce-{number}")
    bounce(bounced[0], "sns-bounce-again")  # SNS delivers it again
    for number, record in enumerate(copies):  # the bounced copies' deliveries come after their bounces
        _deliver(client, _delivery(record), f"sns-delivery-{number}")
    for number, record in enumerate(copies[:5]):
        _deliver(client, _delivery(record), f"sns-delivery-again-{number}")
    complaint = _aim(_example("event_complaint"), complained["ses_message_id"], complained["recipient_email"])
    _deliver(client, complaint, "sns-complaint")
    for record in copies[3:9]:
        assert client.http.get(f"/t/o/{record['tracking_pixel_id']}",
                               headers={"Accept": "image/gif", "User-Agent": BROWSER}).status_code == 200
    client.http.get(f"/t/o/{copies[3]['tracking_pixel_id']}", headers={"Accept": "image/gif", "User-Agent": BROWSER})
    for record in copies[7:11]:
        assert client.http.get(f"/t/c/{record['tracking_pixel_id']}-0",
                               headers={"User-Agent": BROWSER}).status_code == 302

    stats = _stats(api, discussion["id"])
    detail = _records(api, discussion["id"])
    assert (stats["total"], stats["sent"], stats["delivered"]) == (20, 20, 20)
    assert (stats["opened"], stats["human_opened"], stats["clicked"]) == (8, 8, 4)  # copies 3 to 10
    assert (stats["bounced"], stats["complained"]) == (3, 1)  # a complaint shows as bounce_type "complaint" too
    assert stats["delivered"] == sum(1 for r in detail if r["delivered_at"])
    assert stats["opened"] == sum(1 for r in detail if r["opened_at"])
    assert stats["clicked"] == sum(1 for r in detail if r["clicked_at"])
    assert stats["bounced"] == sum(1 for r in detail if r["bounced_at"])
    assert stats["complained"] == sum(1 for r in detail if r["complained_at"])
    assert stats["messages"][0]["delivered"] == 20 and len(stats["messages"]) == 1


def test_counter_items_written_before_the_shards_still_count(api, client, sent):  # noqa: F811
    """A message's own item (`MESSAGE`, every counter item before the shards) is summed with its shards, and a
    reputation day item without a shard with the day's shards."""
    from chalicelib import clock
    from chalicelib.discussions.service import discussion_key
    from chalicelib.identities.models import TenantReputation
    from chalicelib.tracking.models import TrackingCounter

    discussion, copies = sent
    message_id = _cleo(api, discussion)["message_id"]
    key = discussion_key("tenant-a", discussion["id"])
    TrackingCounter(key, message_id).update(actions=[TrackingCounter.opened.add(2), TrackingCounter.delivered.add(1)])
    TenantReputation("tenant-a", "day#" + clock.now().strftime("%Y-%m-%d")).update(
        actions=[TenantReputation.delivered.add(5), TenantReputation.bounced.add(1)])
    _deliver(client, _aim(_example("event_delivery"), copies[CLEO], CLEO))

    stats = _stats(api, discussion["id"])
    assert (stats["total"], stats["sent"], stats["delivered"], stats["opened"]) == (3, 3, 2, 2)
    assert _stats(api, discussion["id"], message_id)["messages"] == stats["messages"]
    assert stats["messages"][0]["delivered"] == 2
    report = admin_report(client)
    assert (report["delivered"], report["hard_bounces"]) == (6, 1)


# ---------------------------------------------------------------- a plain write meeting a transaction


@pytest.fixture
def transaction_conflicts(monkeypatch):
    """`conflicts[table] = n`: the next n UpdateItem requests on that table are answered as DynamoDB answers a write on
    an item an ongoing transaction holds (HTTP 400, TransactionConflictException, nothing written), where moto answers
    requests: below the SDK's retry handler, which sees them as it would see AWS's. `requests[table]` counts the
    UpdateItem requests that reached the wire."""
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import BotocoreStubber

    conflicts: collections.Counter[str] = collections.Counter()
    requests: collections.Counter[str] = collections.Counter()
    moto_answers = BotocoreStubber.__call__

    def answer(stubber, event_name, request, **kwargs):
        if event_name == "before-send.dynamodb.UpdateItem":
            table = json.loads(request.body)["TableName"]
            requests[table] += 1
            if conflicts[table] > 0:
                conflicts[table] -= 1
                body = json.dumps({
                    "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
                    "message": "Operation was rejected because there is an ongoing transaction for the item."})
                return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"},
                                   MockRawResponse(body.encode()))
        return moto_answers(stubber, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", answer)
    return conflicts, requests


def test_the_sdk_does_not_retry_a_transaction_conflict(aws, transaction_conflicts):
    """The premise: botocore's standard retry mode (chalicelib/aws.py) gives the error back after one request."""
    from pynamodb.exceptions import UpdateError

    from chalicelib.tracking.models import TrackingCounter

    conflicts, requests = transaction_conflicts
    conflicts[TrackingCounter.Meta.table_name] = 1
    with pytest.raises(UpdateError) as raised:
        TrackingCounter("tenant-a#d", "m").update(actions=[TrackingCounter.opened.add(1)])
    assert raised.value.cause_response_code == "TransactionConflictException"
    assert requests[TrackingCounter.Meta.table_name] == 1


def test_an_open_counted_while_a_delivery_holds_its_shard_is_made_again_and_counts_once(api, client, sent,  # noqa: F811
                                                                                      transaction_conflicts):
    from chalicelib.tracking.models import EmailTracking, TrackingCounter

    discussion, _ = sent
    conflicts, requests = transaction_conflicts
    conflicts[EmailTracking.Meta.table_name] = 1  # the copy's record, then its counter shard
    conflicts[TrackingCounter.Meta.table_name] = 2
    pixel = _cleo(api, discussion)["tracking_pixel_id"]

    response = client.http.get(f"/t/o/{pixel}", headers={"Accept": "image/gif", "User-Agent": BROWSER})

    assert response.status_code == 200
    assert (requests[EmailTracking.Meta.table_name], requests[TrackingCounter.Meta.table_name]) == (2, 3)
    stats = _stats(api, discussion["id"])
    assert (stats["opened"], stats["human_opened"]) == (1, 1)
    assert _cleo(api, discussion)["open_count"] == 1


def test_a_conflict_that_outlasts_the_retries_is_a_503_on_a_click_never_a_lost_redirect(api, client, sent,  # noqa: F811
                                                                                       transaction_conflicts):
    from chalicelib.tracking.models import EmailTracking

    discussion, _ = sent
    conflicts, _ = transaction_conflicts
    conflicts[EmailTracking.Meta.table_name] = 99
    pixel = _cleo(api, discussion)["tracking_pixel_id"]

    response = client.http.get(f"/t/c/{pixel}-0", headers={"User-Agent": BROWSER})

    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    conflicts.clear()
    assert client.http.get(f"/t/c/{pixel}-0", headers={"User-Agent": BROWSER}).status_code == 302
    assert _stats(api, discussion["id"])["clicked"] == 1


def test_a_bounce_counted_while_a_delivery_holds_the_tenants_shard_counts_once(api, client, sent,  # noqa: F811
                                                                             transaction_conflicts):
    from chalicelib.identities.models import TenantReputation
    from chalicelib.tracking.models import TrackingCounter

    discussion, copies = sent
    conflicts, requests = transaction_conflicts
    conflicts[TrackingCounter.Meta.table_name] = 1
    conflicts[TenantReputation.Meta.table_name] = 1

    applied = _deliver(client, _aim(_example("event_bounce"), copies[CLEO], CLEO)).payload

    assert applied[0]["applied"] == 1
    assert requests[TenantReputation.Meta.table_name] >= 2  # the day's shard, made again (then the status mark)
    assert _stats(api, discussion["id"])["bounced"] == 1
    assert admin_report(client)["hard_bounces"] == 1
