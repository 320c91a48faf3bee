"""The benchmark's call counts as behaviour (bench/routes.py, bench/sending.py, bench/digest.py, small data).

Only the application's calls are counted (inside its entry points); every row is measured several times with
varied data and must not grow from a tenant of 20 discussions to one of 200. Timings are never asserted.
"""
from __future__ import annotations

import contextlib

import pytest

from tests.conftest import ROOT  # noqa: F401 - first: the test environment (stage local, fake credentials)

HARNESS_CALLS = {"sqs.ReceiveMessage", "sqs.DeleteMessage", "sqs.GetQueueUrl", "sqs.PurgeQueue", "s3.PutObject"}


@pytest.fixture(scope="module")
def measured():  # the slow part (marked on each test using it): two tenants, 150 copies, 20 digests, a fan-out
    from bench import digest, routes

    # The fan-out's 250 due users all in one shard: two full runs of 100 and a continuation, every shard started.
    return (routes.measure(20, sending=1), routes.measure(200, sending=0),
            digest.measure(20, 5, fan_out_users=250, fan_out_shards=1))


@pytest.mark.slow
def test_no_request_event_or_job_costs_more_on_a_larger_tenant_in_any_run(measured):
    small, large, _ = measured

    assert small["figures"].keys() == large["figures"].keys()
    grows = [name for name, figure in small["figures"].items()
             if (figure["median"], figure["worst"]) != (large["figures"][name]["median"],
                                                        large["figures"][name]["worst"])]
    assert grows == []


@pytest.mark.slow
def test_only_the_applications_own_calls_are_counted(measured):
    small, _, _ = measured
    figures = small["figures"]

    for name, figure in figures.items():
        assert not HARNESS_CALLS & (figure["operations"].keys() | figure["worst_operations"].keys()), name
        assert figure["entry_points"], name
    assert figures["inbound reply"]["entry_points"] == ["inbound_mail"]
    assert figures["inbound reply"]["operations"]["s3.GetObject"] == 1
    assert figures["job discussion.notify"]["entry_points"] == ["jobs: discussion.notify"]
    assert figures["pixel open"]["entry_points"] == ["HTTP GET /t/o/{pixel_file}"]


@pytest.mark.slow
def test_the_key_rows_cost_what_they_cost_today_median_and_worst(measured):
    figures = measured[0]["figures"]
    costs = {name: (figure["median"], figure["worst"]) for name, figure in figures.items()}

    for name in ("list page (25)", "unread-count", "category-counts", "community list page", "community create"):
        assert costs[name] == (1, 1), name
    assert costs["create discussion"] == costs["get discussion (a page of messages)"] == (2, 2)
    assert costs["add message"] == (2, 2)
    assert costs["mark read"] == (1, 2)  # read already: the read alone; unread: the read and one transaction
    # One TransactWriteItems (the copy, its counter shard's id sets), first hit or repeat: chalicelib/tracking.
    assert costs["pixel open"] == costs["click"] == (1, 1)
    assert figures["pixel open"]["worst_operations"] == figures["click"]["worst_operations"] == {
        "dynamodb.TransactWriteItems": 1}
    # Links of mail sent before 2026-12-03 (the copy's id alone): an UpdateItem, and its count on a first hit.
    assert costs["pixel open (old link)"] == costs["click (old link)"] == (1.5, 2)
    assert costs["inbound reply"] == (5, 5)
    # Query + one transaction; the first in a container also reads the tenant's status (kept a minute).
    assert costs["SES event: delivery"] == (2, 3)
    # A bounce or complaint while the tenant is over a level below the minimum volume marks it watched (+1).
    assert (costs["SES event: bounce"], costs["SES event: complaint"]) == ((14, 14), (10, 10)), costs
    assert costs["SES event: open"] == costs["SES event: click"] == (0, 0)  # opens and clicks are our tracker's
    assert costs["job discussion.notify"] == (4, 4)
    # Like, unlike, follow, unfollow of threads and replies, in no group and in a Private group: 1 read + 1 write.
    assert costs["community like / follow"] == (2, 2)


@pytest.mark.slow
def test_a_send_request_costs_the_same_whatever_it_queues(measured):
    sending = measured[0]["sending"]

    # 1 or 25 messages, 1 to 39 recipients, after a late joiner, a backlog of 30.
    assert sending["send request"]["median"] == sending["send request"]["worst"] == 4
    assert sending["send request"]["runs"] == 8
    assert "ses.SendRawEmail" not in sending["send request"]["worst_operations"]


@pytest.mark.slow
def test_the_jobs_of_a_send_cost_a_constant_plus_a_constant_per_recipient(measured):
    sending = measured[0]["sending"]
    jobs = {int(r): figure["worst"] for r, figure in sending["jobs of a send"].items()}

    # The fan-out (5, and its job record's DeleteItem; 39 recipients: a second BatchWriteItem of reply keys), then
    # per group of copies one read (25 copies at most a group: 39 are two), and a claim and an end per copy.
    assert jobs == {1: 9, 2: 11, 10: 27, 39: 87}
    assert sending["jobs fit"]["b"] == pytest.approx(2.04, abs=0.01) and sending["jobs fit"]["largest_residual"] < 1
    # No copy reads the history: a backlog's group reads once; after a late joiner, whose latest copies do not
    # exist, the group reads once more for the older ones (bounded: one BatchGetItem).
    groups = {name: sending[name]["group_reads"] for name in (
        "jobs after a late joiner (3 copies, 11 messages before)", "jobs of a backlog send (25 messages × 2)",
        "jobs of the rest of the backlog (5 messages × 2)")}
    assert list(groups.values()) == [2, 1, 1], groups
    backlog = sending["jobs of a backlog send (25 messages × 2)"]
    rest = sending["jobs of the rest of the backlog (5 messages × 2)"]
    assert backlog["dynamodb"] / 25 <= rest["dynamodb"] / 5  # per message, 25 at once cost no more than 5


@pytest.mark.slow
def test_one_users_digest_costs_seven_calls_eight_the_first_in_a_container(measured):
    digests = measured[2]

    assert digests["dynamodb_calls_per_digest"] == 7 and digests["worst_dynamodb_calls_per_digest"] == 8
    assert digests["rerun_outcomes"] == ["not due"]
    fan_out = digests["fan_out"]  # the bench itself fails if a due user is missed or queued twice
    assert fan_out["user_jobs_queued"] == fan_out["users"] == 250
    assert fan_out["full_shard_runs"] == 2 and fan_out["longest_shard_chain_runs"] == 3  # 100, 100, then 50
    assert fan_out["per_full_shard_run"]["dynamodb_calls"] == 1 and fan_out["tick"]["dynamodb_calls"] == 0


# The harness fix (bench/moto_fixes.py): the same transactions through moto as shipped and through moto with the
# fix must end the same — the same error, the same cancellation reasons, the same items, partitions and streams.

def _tables(client, suffix: str) -> tuple[str, str]:
    pairs, flat = f"bench-pairs-{suffix}", f"bench-flat-{suffix}"
    client.create_table(TableName=pairs, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    client.create_table(TableName=flat, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    for n in range(3):
        client.put_item(TableName=pairs, Item={"pk": {"S": "p"}, "sk": {"S": f"s{n}"}, "count": {"N": str(n)},
                                               "tags": {"SS": ["a", "b"]}, "doc": {"M": {"n": {"N": "1"}}}})
        client.put_item(TableName=flat, Item={"id": {"S": f"f{n}"}, "count": {"N": str(n)}})
    return pairs, flat


def _state(client, tables: tuple[str, str]) -> dict:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    state = {}
    for name, kind in zip(tables, ("pairs", "flat"), strict=True):
        table = backend.tables[name]
        state[kind] = {"items": sorted(map(repr, client.scan(TableName=name)["Items"])),
                       "partitions": sorted(str(key) for key in table.items),
                       "stream": len(table.stream_shard.items) if table.stream_shard else None}
    return state


def _outcome(client, fixed: bool, suffix: str, transaction) -> tuple[dict, dict | None, dict, bool]:
    """(state before, the error's code, message and cancellation reasons, state after, table objects kept)."""
    from botocore.exceptions import ClientError
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from bench import moto_fixes

    tables = _tables(client, f"{suffix}-{'fixed' if fixed else 'moto'}")
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    objects = [backend.tables[name] for name in tables]
    before = _state(client, tables)
    error = None
    with moto_fixes.installed() if fixed else contextlib.nullcontext():
        try:
            client.transact_write_items(TransactItems=transaction(*tables))
        except ClientError as failure:
            response = failure.response
            error = {"code": response["Error"]["Code"], "message": response["Error"]["Message"],
                     "reasons": response.get("CancellationReasons")}
    kept = all(backend.tables[name] is table for name, table in zip(tables, objects, strict=True))
    return before, error, _state(client, tables), kept


def _half_way(pairs: str, flat: str) -> list[dict]:
    """Writes of every kind (a new partition, an in-place update, a new item by Update, a delete, an
    overwrite), then a ConditionCheck that fails: the transaction is cancelled after writing five items."""
    return [
        {"Put": {"TableName": pairs, "Item": {"pk": {"S": "new"}, "sk": {"S": "s0"}}}},
        {"Update": {"TableName": pairs, "Key": {"pk": {"S": "p"}, "sk": {"S": "s1"}},
                    "UpdateExpression": "SET #c = #c + :one, doc.n = :one ADD tags :t",
                    "ExpressionAttributeNames": {"#c": "count"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":t": {"SS": ["c"]}}}},
        {"Update": {"TableName": pairs, "Key": {"pk": {"S": "other"}, "sk": {"S": "x"}},
                    "UpdateExpression": "SET #c = :one", "ExpressionAttributeNames": {"#c": "count"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Delete": {"TableName": pairs, "Key": {"pk": {"S": "p"}, "sk": {"S": "s2"}}}},
        {"Put": {"TableName": flat, "Item": {"id": {"S": "f0"}, "count": {"N": "9"}}}},
        {"ConditionCheck": {"TableName": flat, "Key": {"id": {"S": "f1"}},
                            "ConditionExpression": "attribute_not_exists(id)"}},
        {"Delete": {"TableName": flat, "Key": {"id": {"S": "f2"}}}},
    ]


TRANSACTIONS = {
    "cancelled half-way by a ConditionCheck": _half_way,
    "cancelled by a Put's condition, with the old item returned": lambda pairs, flat: [
        {"Delete": {"TableName": flat, "Key": {"id": {"S": "f0"}}}},
        {"Put": {"TableName": pairs, "Item": {"pk": {"S": "p"}, "sk": {"S": "s0"}},
                 "ConditionExpression": "#c > :n", "ExpressionAttributeNames": {"#c": "count"},
                 "ExpressionAttributeValues": {":n": {"N": "5"}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Update": {"TableName": flat, "Key": {"id": {"S": "f1"}}, "UpdateExpression": "REMOVE #c",
                    "ConditionExpression": "attribute_exists(nothing)", "ExpressionAttributeNames": {"#c": "count"}}},
    ],
    "cancelled by an update of a missing attribute": lambda pairs, flat: [
        {"Put": {"TableName": flat, "Item": {"id": {"S": "f9"}}}},
        {"Update": {"TableName": pairs, "Key": {"pk": {"S": "p"}, "sk": {"S": "s0"}},
                    "UpdateExpression": "SET #c = #gone + :one",
                    "ExpressionAttributeNames": {"#c": "count", "#gone": "gone"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ],
    "the same item twice": lambda pairs, flat: [
        {"Put": {"TableName": pairs, "Item": {"pk": {"S": "new"}, "sk": {"S": "a"}}}},
        {"Delete": {"TableName": flat, "Key": {"id": {"S": "f0"}}}},
        {"Update": {"TableName": flat, "Key": {"id": {"S": "f0"}}, "UpdateExpression": "SET #c = :one",
                    "ExpressionAttributeNames": {"#c": "count"}, "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ],
    "a key without its sort key": lambda pairs, flat: [
        {"Put": {"TableName": flat, "Item": {"id": {"S": "f7"}}}},
        {"Delete": {"TableName": pairs, "Key": {"pk": {"S": "p"}}}},
    ],
    "every write done (ConditionChecks that hold)": lambda pairs, flat: [
        *_half_way(pairs, flat)[:5],
        {"ConditionCheck": {"TableName": flat, "Key": {"id": {"S": "f1"}},
                            "ConditionExpression": "attribute_exists(id)"}},
        {"ConditionCheck": {"TableName": pairs, "Key": {"pk": {"S": "nobody"}, "sk": {"S": "x"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}},
    ],
}


@pytest.mark.parametrize("name", TRANSACTIONS)
def test_the_harness_fix_ends_a_transaction_as_moto_does(aws, name):
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    suffix = str(list(TRANSACTIONS).index(name))
    moto_before, moto_error, moto_after, _ = _outcome(client, False, suffix, TRANSACTIONS[name])
    before, error, after, kept = _outcome(client, True, suffix, TRANSACTIONS[name])

    assert before == moto_before
    assert error == moto_error  # the same code, message and cancellation reasons (an old item included)
    assert after == moto_after  # the same items, partitions and stream records
    assert kept  # and no table was copied and put back: the snapshot was the transaction's items
    if name.startswith("every write"):
        assert error is None and after != before
    else:
        assert error is not None and after == before  # all or nothing: every item as before
