"""What each request and event costs in AWS calls, with a small and a large data set.

In-process against moto, through the real entry points (chalice.test.Client for HTTP, SNS, SQS, schedules).
Every AWS call is counted by operation (bench/calls.py); each figure is the median over several runs.
The same measurements run on a tenant with `small` discussions and messages and on one with `large`:
no figure may grow with the data.
"""
from __future__ import annotations

import copy
import itertools
import json
import pathlib
import statistics
import sys
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "bench"
_TICKS = itertools.count()
RUNS = 3


def _seed_discussions(template_id: str, count: int) -> None:
    """`count` copies of a real discussion (every index key set as the service sets it)."""
    from chalicelib import ids
    from chalicelib.discussions import service
    from chalicelib.discussions.models import Discussion

    original = Discussion.get(TENANT, template_id)
    with Discussion.batch_write() as batch:
        for _ in range(count):
            item = Discussion.from_raw_data(copy.deepcopy(original.serialize()))
            item.discussion_id = ids.new_id()
            service._index_keys(item)
            batch.save(item)


def _seed_messages(discussion_id: str, count: int) -> None:
    from chalicelib import clock, ids
    from chalicelib.discussions.models import Message
    from chalicelib.discussions.service import discussion_key

    with Message.batch_write() as batch:
        for n in range(count):
            batch.save(Message(discussion_key(TENANT, discussion_id), ids.new_sortable_id(), tenant_id=TENANT,
                               discussion_id=discussion_id, author="staff-1", body=f"Seeded message {n}",
                               created_at=clock.now_iso()))


def _median_calls(action: Callable[[], Any], runs: int = RUNS, per: Callable[[Any], int] | None = None
                  ) -> dict[str, Any]:
    from bench.calls import counting

    totals, operations = [], {}
    for _ in range(runs):
        with counting() as counter:
            result = action()
        divisor = per(result) if per else 1
        totals.append(counter.total("dynamodb") / max(divisor, 1))
        operations = {k: round(v / max(divisor, 1), 2) for k, v in counter.by_operation().items()}
    return {"dynamodb": statistics.median(totals), "operations": operations}


def _rate(action: Callable[[], Any], count: int) -> float:
    import time

    started = time.perf_counter()
    for _ in range(count):
        action()
    return count / (time.perf_counter() - started)


def _versus_boto3(action: Callable[[], Any], count: int) -> dict[str, float]:
    """Operations per second through the app, and a bare boto3 client replaying the same DynamoDB calls."""
    from bench.calls import recording, replay

    with recording() as operations:
        action()
    app_rate = _rate(action, count)
    baseline = _rate(lambda: replay(operations), count)
    return {"app_per_second": round(app_rate, 1), "boto3_per_second": round(baseline, 1),
            "ratio": round(app_rate / baseline, 2)}


def measure(discussions: int, messages: int, throughput: int = 0, timed_messages: int = 0
            ) -> dict[str, dict[str, Any]]:
    """Every figure for a tenant with `discussions` discussions, one of which has `messages` messages.

    With `throughput`, also that many pixel opens, added messages and SES events timed against boto3; with
    `timed_messages`, a send of that many messages to 39 recipients run and timed."""
    from chalice.test import Client
    from moto import mock_aws

    from scripts.bootstrap import bootstrap

    with mock_aws():
        bootstrap("local")
        from app import app
        from chalicelib.auth import issue_local_token
        from tests.conftest import JWT_SECRET, _reset_cached_clients

        _reset_cached_clients()
        token = issue_local_token(TENANT, "staff-1", ["admin", "staff"], JWT_SECRET, email="staff-1@bench.example")
        member = issue_local_token(TENANT, "42", ["CommunityThread-Create", "CommunityThread-Read"], JWT_SECRET)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with Client(app, stage_name="local") as client:
            def call(method: str, path: str, body: Any = None, auth: dict[str, str] | None = None) -> Any:
                response = client.http.request(method, path, headers=auth or headers,
                                               body=json.dumps(body).encode() if body is not None else b"")
                assert response.status_code < 400, (path, response.status_code, response.body[:300])
                return json.loads(response.body) if response.body and response.headers.get(
                    "Content-Type", "").startswith("application/json") else response

            call("POST", "/api/tenant/identities", {"identity": "bench.example"})  # moto verifies it at once
            call("PUT", "/api/tenant/settings/communication", {
                "email_integration_enabled": True, "email_reply_domain": "reply.bench.example",
                "from_address": "hub@bench.example"})
            target = call("POST", "/api/tenant/threads", {
                "subject": "Bench discussion", "initial_message": "See https://example.com/terms",
                "participants": [{"email": "ann@client.example"}, {"email": "bob@client.example"},
                                 {"user_id": "staff-2"}]})["id"]
            _seed_discussions(target, discussions - 1)
            _seed_messages(target, messages - 1)
            sent = call("POST", f"/api/tenant/threads/{target}/send", {})
            _run_all_jobs(client)
            tracking = call("GET", f"/api/tenant/threads/{target}/tracking")["recipients"]
            pixel = tracking[0]["tracking_pixel_id"]
            ses_ids = {r["recipient_email"]: r["ses_message_id"] for r in tracking}
            figures: dict[str, dict[str, Any]] = {}
            figures["create discussion"] = _median_calls(lambda: call("POST", "/api/tenant/threads", {
                "subject": "Another", "participants": [{"email": "cy@client.example"}]}))
            figures["list page (25)"] = _median_calls(lambda: call("GET", "/api/tenant/threads?limit=25"))
            figures["get discussion"] = _median_calls(lambda: call("GET", f"/api/tenant/threads/{target}"))
            figures["add message"] = _median_calls(lambda: call("POST", f"/api/tenant/threads/{target}/messages",
                                                                {"body": "One more"}))

            figures.update(_sending(client, call, timed_messages))
            figures["pixel open"] = _median_calls(lambda: client.http.get(f"/t/o/{pixel}",
                                                                          headers={"Accept": "image/gif"}))
            figures["click"] = _median_calls(lambda: client.http.get(f"/t/c/{pixel}-0"))
            figures["unread-count"] = _median_calls(lambda: call("GET", "/api/tenant/threads/unread-count"))
            figures["category-counts"] = _median_calls(lambda: call("GET", "/api/tenant/threads/category-counts"))
            figures.update(_ses_events(client, ses_ids))
            figures["inbound reply"] = _median_calls(lambda: _inbound_reply(client, sent))
            figures["community create"] = _median_calls(lambda: call(
                "POST", "/api/community/communitythreads",
                {"BusinessId": 1, "UserId": 42, "Subject": "Bench", "Message": "Hello"},
                auth={"Authorization": f"Bearer {member}", "Content-Type": "application/json"}))
            figures["community list page"] = _median_calls(lambda: call(
                "GET", "/api/community/communitythreads?PageSize=25", auth={"Authorization": f"Bearer {member}"}))
            figures["notifications job (per message)"] = _median_calls(lambda: _run_jobs(client))
            _run_all_jobs(client)
            if throughput:
                recipient, ses_id = next(iter(ses_ids.items()))
                from tests.outbound.test_ses_events import _aim, _example

                seconds = iter(range(10**6))

                def open_event() -> Any:
                    moment = next(seconds)
                    event = _aim(_example("event_open"), ses_id, recipient,
                                 f"2026-11-24T{moment // 3600 % 24:02d}:{moment // 60 % 60:02d}:{moment % 60:02d}.000Z")
                    return client.lambda_.invoke("ses_events", client.events.generate_sns_event(
                        message=json.dumps(event)))

                figures["throughput: pixel opens"] = _versus_boto3(
                    lambda: client.http.get(f"/t/o/{pixel}", headers={"Accept": "image/gif"}), throughput)
                figures["throughput: added messages"] = _versus_boto3(
                    lambda: call("POST", f"/api/tenant/threads/{target}/messages", {"body": "Fast"}), throughput)
                figures["throughput: SES events"] = _versus_boto3(open_event, throughput)
    return figures


def _sending(client: Any, call: Callable[..., Any], timed_messages: int) -> dict[str, dict[str, Any]]:
    """A send request's cost for 1 message to 2 recipients and for 25 messages to 39 (the most one send takes: 975
    copies); what the jobs it queues cost per copy; with `timed_messages`, a send of that many messages to 39
    recipients run and timed."""
    from bench.calls import counting

    crowd = [{"email": f"guest{n}@client.example"} for n in range(39)]

    def discussion(subject: str, people: list[dict[str, str]], messages: int) -> dict[str, Any]:
        created = call("POST", "/api/tenant/threads", {"subject": subject, "initial_message": "Hi 0",
                                                       "participants": people})
        for n in range(1, messages):
            call("POST", f"/api/tenant/threads/{created['id']}/messages", {"body": f"Hi {n}"})
        _run_all_jobs(client)  # the staff notifications of those messages
        return created

    figures: dict[str, dict[str, Any]] = {}
    for name, target, copies in (("send request: 1 message × 2 recipients", discussion("Few", crowd[:2], 1), 2),
                                 ("send request: 25 messages × 39 recipients", discussion("Many", crowd, 25), 975)):
        with counting() as counter:
            queued = call("POST", f"/api/tenant/threads/{target['id']}/send", {})
        assert sum(len(q["recipients"]) for q in queued["queued"]) == copies, queued
        figures[name] = {"dynamodb": counter.total("dynamodb"), "operations": counter.by_operation()}
        if copies == 2:
            figures["jobs of a send, per copy"] = _jobs_of_a_send(client)
        else:
            _purge(client)
    if timed_messages:
        timed = discussion("Timed", crowd, timed_messages)
        call("POST", f"/api/tenant/threads/{timed['id']}/send", {})
        figures["sending (timing)"] = _jobs_of_a_send(client)
    return figures


def _purge(client: Any) -> None:
    import boto3

    from chalicelib import jobs

    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"])


def _jobs_of_a_send(client: Any) -> dict[str, Any]:
    """Run the queued fan-out and copy jobs one by one, in-process (one worker, in-process moto), counting and
    timing them; calls are given per copy."""
    import time

    import boto3

    from bench.calls import counting
    from chalicelib import jobs

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]
    spent = {"mail.fanout": 0.0, "mail.copy": 0.0}
    runs = {"mail.fanout": 0, "mail.copy": 0}
    with counting() as counter:
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                kind = json.loads(message["Body"])["kind"]
                started = time.perf_counter()
                client.lambda_.invoke("jobs", client.events.generate_sqs_event(
                    message_bodies=[message["Body"]], queue_name=jobs.QUEUE_NAME))
                spent[kind] = spent.get(kind, 0.0) + time.perf_counter() - started
                runs[kind] = runs.get(kind, 0) + 1
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    copies = max(runs["mail.copy"], 1)
    return {"dynamodb": round(counter.total("dynamodb") / copies, 2),
            "operations": {k: round(v / copies, 2) for k, v in counter.by_operation().items()
                           if k not in ("sqs.ReceiveMessage", "sqs.DeleteMessage", "sqs.GetQueueUrl")},
            "copies": runs["mail.copy"], "fan_outs": runs["mail.fanout"],
            "copies_per_second": round(runs["mail.copy"] / max(spent["mail.copy"] + spent["mail.fanout"], 1e-9), 1)}


def _run_all_jobs(client: Any) -> None:
    while _run_jobs(client):
        pass


def _ses_events(client: Any, ses_ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    from tests.outbound.test_ses_events import _aim, _example

    recipient, ses_id = next(iter(ses_ids.items()))
    figures = {}
    for kind in ("delivery", "open", "click", "bounce", "complaint"):
        def deliver(kind: str = kind) -> Any:
            event = _aim(_example(f"event_{kind}"), ses_id, recipient, f"2026-11-23T10:00:{next(_TICKS) % 60:02d}.000Z")
            for section in ("bounce", "complaint"):
                if section in event:
                    event[section]["feedbackId"] = f"bench-{kind}-{next(_TICKS)}"
            payload = client.events.generate_sns_event(message=json.dumps(event))
            return client.lambda_.invoke("ses_events", payload)

        figures[f"SES event: {kind}"] = _median_calls(deliver)
    return figures


def _inbound_reply(client: Any, sent: dict[str, Any]) -> Any:
    import uuid

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from scripts.deliver_mail import deliver

    raw_sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[0].raw_data
    reply_to = next(line.split(":", 1)[1].strip() for line in raw_sent.splitlines() if line.startswith("Reply-To:"))
    raw = (f"From: ann@client.example\r\nTo: {reply_to}\r\nSubject: Re: Bench discussion\r\n"
           f"Message-ID: <{uuid.uuid4()}@client.example>\r\n\r\nThanks!\r\n").encode()
    return deliver(client, raw, [reply_to])


def _run_jobs(client: Any) -> int:
    import boto3

    from chalicelib import jobs

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]
    message = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    for item in message:
        event = client.events.generate_sqs_event(message_bodies=[item["Body"]], queue_name=jobs.QUEUE_NAME)
        client.lambda_.invoke("jobs", event)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=item["ReceiptHandle"])
    return len(message)
