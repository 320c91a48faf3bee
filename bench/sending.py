"""What sending costs: the send request (constant), and the jobs it queues as a function of the recipients R.

A send request records intent and queues one `mail.fanout` job for its messages; the fan-out queues the copies
of each message in groups, a `mail.copies` job each (docs/sending.md). The request is measured on varied sends (1
or 25 messages, 2 or 39 recipients, after a recipient joined late, a backlog of 30 messages); the jobs of a send of
one message to R = 1, 2, 10 and 39 external recipients are measured whole (the fan-out and every group, each
through the `jobs` entry point) and fitted as a + b·R by least squares (`sends_each` sends per R), the largest
residual beside it. Late joiners and backlogs are measured per copy and per group as well, where an N+1 over
earlier messages would show.

Each row runs exactly the copies it queued (checked): the container's share of the SES rate
(`ses.wait_before_sending`, which puts a copy back on the queue with a delay when this process sends faster than
1/50 of the account's rate) is lifted while sending is measured, so no copy is deferred into another row's window.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

RECIPIENT_COUNTS = (1, 2, 10, 39)


def measure(app: Any, client: Any, call: Callable[..., Any], sends_each: int = 2) -> dict[str, Any]:
    from chalicelib.mail import ses

    paced = ses.wait_before_sending
    ses.wait_before_sending = lambda senders: 0.0  # type: ignore[assignment]  # counted, not paced: see above
    try:
        return _measure(app, client, call, sends_each)
    finally:
        ses.wait_before_sending = paced  # type: ignore[assignment]


def _measure(app: Any, client: Any, call: Callable[..., Any], sends_each: int) -> dict[str, Any]:
    from bench.calls import Runs, counting_inside

    crowd = [{"email": f"guest{n}@client.example"} for n in range(39)]

    def discussion(subject: str, people: list[dict[str, str]], messages: int) -> str:
        created = call("POST", "/api/tenant/threads", {"subject": subject, "initial_message": "Hi 0",
                                                       "participants": people})["id"]
        for n in range(1, messages):
            call("POST", f"/api/tenant/threads/{created}/messages", {"body": f"Hi {n}"})
        drain(app, client)  # the staff notifications of those messages
        return created

    def send(discussion_id: str, copies: int) -> tuple[Any, dict[str, Any]]:
        with counting_inside(app) as counter:
            queued = call("POST", f"/api/tenant/threads/{discussion_id}/send", {})
        assert sum(len(q["recipients"]) for q in queued["queued"]) == copies, queued
        jobs = drain(app, client)
        assert jobs["copies"] == copies, (jobs["copies"], copies)  # none deferred into, or out of, this window
        return counter, jobs

    request = Runs()
    jobs_by_recipients: dict[int, list[dict[str, Any]]] = {}
    for recipients in RECIPIENT_COUNTS:
        for _ in range(sends_each):  # a discussion each: the worst of them is reported
            counter, jobs = send(discussion(f"R={recipients}", crowd[:recipients], 1), recipients)
            request.add(counter)
            jobs_by_recipients.setdefault(recipients, []).append(jobs)

    late = discussion("Late joiner", crowd[:2], 10)
    send(late, 20)
    call("POST", f"/api/tenant/threads/{late}/participants", {"participants": [{"email": "late@client.example"}]})
    call("POST", f"/api/tenant/threads/{late}/messages", {"body": "Welcome"})
    drain(app, client)  # its staff notification
    counter, late_jobs = send(late, 3)
    request.add(counter)

    backlog = discussion("Backlog", crowd[:2], 30)  # 30 waiting: one request takes 25, the next the other 5
    counter, backlog_jobs = send(backlog, 50)
    request.add(counter)
    counter, rest_jobs = send(backlog, 10)
    request.add(counter)
    many = discussion("25 × 39", crowd, 25)
    with counting_inside(app) as counter:
        call("POST", f"/api/tenant/threads/{many}/send", {})
    request.add(counter)
    timed_copies = sum(jobs["copies"] for runs in jobs_by_recipients.values() for jobs in runs)
    timed_seconds = sum(jobs["seconds"] for runs in jobs_by_recipients.values() for jobs in runs)
    _purge()  # the 975 copies of the last send are not run: the request is what is measured there

    fit = _fit([(r, jobs["dynamodb"]) for r, runs in jobs_by_recipients.items() for jobs in runs])
    return {
        "send request": request.summary(),
        "send request (SQS)": request.summary("sqs"),
        "jobs of a send": {str(r): {"median": sorted(j["dynamodb"] for j in runs)[len(runs) // 2],
                                    "worst": max(j["dynamodb"] for j in runs),
                                    "per_copy_worst": round(max(j["dynamodb"] for j in runs) / r, 2),
                                    "group_reads": max(j["group_reads"] for j in runs),
                                    "operations": runs[0]["operations"]}
                           for r, runs in jobs_by_recipients.items()},
        "jobs fit": fit,
        "jobs after a late joiner (3 copies, 11 messages before)": _per_copy(late_jobs),
        "jobs of a backlog send (25 messages × 2)": _per_copy(backlog_jobs),
        "jobs of the rest of the backlog (5 messages × 2)": _per_copy(rest_jobs),
        "sends_each": sends_each, "timed_copies": timed_copies,
        "copies_per_second": round(timed_copies / max(timed_seconds, 1e-9), 1),
    }


def _per_copy(jobs: dict[str, Any]) -> dict[str, Any]:
    copies = max(jobs["copies"], 1)
    return {"copies": jobs["copies"], "dynamodb": jobs["dynamodb"], "per_copy": round(jobs["dynamodb"] / copies, 2),
            "worst_copy": jobs["worst_copy"], "group_reads": jobs["group_reads"], "operations": jobs["operations"]}


def _fit(points: list[tuple[int, int]]) -> dict[str, float]:
    """Least squares a + b·R over every measured send, and the largest distance of a measurement from the line."""
    n = len(points)
    mean_r = sum(r for r, _ in points) / n
    mean_calls = sum(c for _, c in points) / n
    slope = sum((r - mean_r) * (c - mean_calls) for r, c in points) / sum((r - mean_r) ** 2 for r, _ in points)
    intercept = mean_calls - slope * mean_r
    residual = max(abs(c - (intercept + slope * r)) for r, c in points)
    return {"a": round(intercept, 2), "b": round(slope, 2), "largest_residual": round(residual, 2)}


def drain(app: Any, client: Any) -> dict[str, Any]:
    """Run every queued job one at a time through the `jobs` entry point until the queue is empty, counting only
    what the jobs do (the harness's ReceiveMessage and DeleteMessage are outside the window). Jobs queued by jobs
    run too (a fan-out's copies)."""
    import boto3

    from bench.calls import counting_inside
    from chalicelib import jobs

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]
    totals: dict[str, int] = {}
    copies, worst_copy, group_reads, seconds, dynamodb = 0, 0.0, 0, 0.0, 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            event = client.events.generate_sqs_event(message_bodies=[message["Body"]], queue_name=jobs.QUEUE_NAME)
            with counting_inside(app) as counter:
                started = time.perf_counter()
                client.lambda_.invoke("jobs", event)
                seconds += time.perf_counter() - started
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            job = json.loads(message["Body"])
            if job["kind"] in ("mail.copy", "mail.copies"):
                # A group's calls: its read(s), then a claim and an end per copy.
                sent = len(job["payload"]["copies"]) if job["kind"] == "mail.copies" else 1
                copies += sent
                worst_copy = max(worst_copy, counter.total("dynamodb") / sent)
                group_reads = max(group_reads, counter.total("dynamodb") - 2 * sent)
            dynamodb += counter.total("dynamodb")
            for name, count in counter.by_operation().items():
                totals[name] = totals.get(name, 0) + count
    return {"dynamodb": dynamodb, "copies": copies, "worst_copy": round(worst_copy, 2), "group_reads": group_reads,
            "seconds": seconds,
            "operations": dict(sorted(totals.items()))}


def _purge() -> None:
    import boto3

    from chalicelib import jobs

    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"])
