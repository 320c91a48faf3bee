"""The jobs outbox and queue: malformed messages are dropped, unknown kinds refused, finished jobs forgotten."""
from __future__ import annotations

import json

import pytest

from chalicelib import jobs


def _invoke(client, body: str):
    event = client.events.generate_sqs_event(message_bodies=[body], queue_name=jobs.QUEUE_NAME)
    return client.lambda_.invoke("jobs", event).payload


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"kind": "community.notify"}),
                                  json.dumps({"shard": "jobs#0", "job_id": "x", "kind": "nope", "payload": {}}),
                                  json.dumps({"shard": "jobs#0", "job_id": "x", "kind": "community.purge",
                                              "payload": []})])
def test_a_malformed_or_unknown_job_message_is_dropped_not_retried_forever(client, body):
    assert _invoke(client, body)[0] in ("malformed", "unknown")


def test_a_finished_job_forgets_its_record(client):
    record = jobs.new_job("community.purge", {"tenant_id": "tenant-a", "thread_id": 123})
    record.save()

    outcome = _invoke(client, json.dumps({"shard": record.shard, "job_id": record.job_id, "kind": record.kind,
                                          "payload": json.loads(record.payload)}))

    assert outcome == ["done"]
    assert jobs.JobRecord.count(record.shard) == 0


def test_new_jobs_are_spread_over_the_shards(aws):
    shards = {jobs.new_job("community.purge", {}).shard for _ in range(200)}

    assert shards == {f"jobs#{n}" for n in range(jobs.SHARDS)}


def test_jobs_are_queued_within_sqs_batch_limits_and_none_is_lost(aws):
    """AWS takes at most 10 messages and 262,144 bytes of bodies a SendMessageBatch (moto takes 1 MiB, so the
    request itself is checked, as AWS would): jobs of ~60 KB go four to a call, every one of them arrives."""
    sent: list[list[str]] = []

    def record(params, **_):
        sent.append([entry["MessageBody"] for entry in params["Entries"]])

    client = jobs._sqs()
    client.meta.events.register("provide-client-params.sqs.SendMessageBatch", record)
    try:
        payloads = [{"n": n, "filler": "x" * 60_000} for n in range(13)] + [{"n": n} for n in range(13, 30)]
        jobs.send_direct("community.purge", payloads)
    finally:
        client.meta.events.unregister("provide-client-params.sqs.SendMessageBatch", record)

    assert all(len(batch) <= 10 and sum(len(body.encode()) for body in batch) <= 262_144 for batch in sent)
    assert [len(batch) for batch in sent] == [4, 4, 4, 10, 8]  # in order: nothing reordered, no call wasted
    received = []
    url = jobs._queue_url()
    while True:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        received += [json.loads(message["Body"])["payload"]["n"] for message in messages]
        client.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    assert sorted(received) == list(range(30))


def test_a_job_over_sqs_message_limit_is_refused_before_any_is_sent(aws):
    with pytest.raises(ValueError, match="over SQS's 262144"):
        jobs.batches(["small", "x" * 262_145])
