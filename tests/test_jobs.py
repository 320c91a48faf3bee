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
