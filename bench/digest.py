"""Digest cost: DynamoDB and SES calls and time for one user's digest, the fan-out, and what 100,000 users take.

Runs in-process against moto. One user's digest is independent of every other user's, and the hourly tick
fans users out to SQS-triggered Lambdas, so the wall time for N users is N × (time per digest) / concurrency,
bounded below by the SES sending rate. The per-digest figure measured here is moto's (in-process, no network);
the projection uses it and, separately, a DynamoDB/SES latency budget of 10 ms per call.

The fan-out is measured too: `--fan-out-users` users of another tenant are made due (in the shards the real
code puts them in), `digest.tick()` runs, then every `digest.shard` job it queued — and every continuation —
runs as the jobs Lambda runs it (`jobs.run_message`), read from moto's SQS queue; the `digest.user` jobs are
collected, not run. Every due user must be queued exactly once, or the benchmark fails. Each shard's runs are
sequential (a run queues its continuation); the 16 shards run in parallel.

    .venv/bin/python bench/digest.py --users 200
"""
from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import pathlib
import statistics
import sys
import time
from datetime import UTC, datetime

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


FAN_OUT_USERS = 2000  # > 16 shards × 100 users a run: most shards need a continuation
LAMBDA_LIMIT_SECONDS = 900
SECONDS_PER_CALL = 0.010  # the latency budget of one DynamoDB, SES or SQS call
SECONDS_PER_HOP = 1.0     # allowance for SQS to hand a shard's continuation to a Lambda (a poll, a cold start)


def measure(users_count: int, notifications: int, fan_out_users: int | None = None,
            fan_out_shards: int | None = None) -> dict:
    """Seed `users_count` users with `notifications` waiting each, send every digest, measure the fan-out of
    `fan_out_users` due users (default max(users_count, FAN_OUT_USERS)), and report. `fan_out_shards`: the due users
    all in that many shards (the smoke test's few users still make full runs and continuations)."""
    # isort: off
    from tests.conftest import _CONFIG  # noqa: F401 - first: the test environment (stage local, fake credentials)
    # isort: on
    import boto3
    from moto import mock_aws

    from bench import moto_fixes
    from chalicelib import clock
    from scripts.bootstrap import bootstrap

    world = mock_aws()
    with world, moto_fixes.installed():  # moto's transactions copy only the items they name (bench/moto_fixes.py)
        world.reset()  # a fresh AWS, also inside a test session's moto world (tests/conftest.py)
        bootstrap("local")
        from chalicelib.mail.models import CommunicationSettings
        from chalicelib.notifications import delivery, digest
        from chalicelib.notifications.email import EmailContent
        from chalicelib.notifications.service import NewNotification
        from chalicelib.users.models import UserProfile

        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="hub@bench.example")
        CommunicationSettings("bench", email_integration_enabled=True, email_reply_domain="reply.bench.example",
                              from_address="hub@bench.example").save()
        clock.set_clock(lambda: datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
        users = [str(1000 + n) for n in range(users_count)]
        with UserProfile.batch_write() as batch:
            for user in users:
                batch.save(UserProfile("bench", user, email=f"u{user}@bench.example"))
        for n in range(notifications):
            item = NewNotification(type="community_reply", title=f"New reply {n}", body="Sounds good",
                                   community_thread_id=42, context_label="Bench thread")
            delivery.deliver("bench", users, f"0000000000{n:02d}", item, EmailContent("t", None, None, "r"))
        clock.set_clock(lambda: datetime(2026, 11, 24, 8, 5, tzinfo=UTC))

        from bench.calls import counting_inside, recording, replay

        label = "digest.user job: digest.send_digest"  # the body of the job, called directly
        timings, calls = [], []
        for index, user in enumerate(users):
            with counting_inside() as counter:
                if index == len(users) - 1:  # the last digest's calls, replayed below with bare boto3 clients
                    with recording() as recorded:
                        started = time.perf_counter()
                        outcome = counter.run(label, digest.send_digest, "bench", user)
                else:
                    started = time.perf_counter()
                    outcome = counter.run(label, digest.send_digest, "bench", user)
                timings.append(time.perf_counter() - started)
            assert outcome == "sent", outcome
            calls.append(counter)
        with counting_inside() as rerun:
            repeated = [rerun.run(label, digest.send_digest, "bench", user) for user in users[:10]]
        baseline_timings = []
        for _ in range(len(users)):
            started = time.perf_counter()
            replay(recorded)
            baseline_timings.append(time.perf_counter() - started)
        fan_out = measure_fan_out(max(users_count, FAN_OUT_USERS) if fan_out_users is None else fan_out_users,
                                  fan_out_shards)

    per_digest = statistics.median(timings)
    baseline_seconds = statistics.median(baseline_timings)
    dynamodb = statistics.median(c.total("dynamodb") for c in calls)
    worst = max(range(len(calls)), key=lambda index: calls[index].total("dynamodb"))
    ses = statistics.median(c.total("ses") for c in calls)
    operations = calls[-1].by_operation()
    budget_seconds = (dynamodb + ses) * 0.010 + 0.050  # 10 ms a call, 50 ms rendering and MIME
    results = {
        "users": users_count, "notifications_per_digest": notifications,
        "digests_per_second": round(1 / per_digest, 1), "boto3_replay_per_second": round(1 / baseline_seconds, 1),
        # median ÷ median, app time ÷ the same AWS calls' time through bare boto3 clients (above 1: slower)
        "app_ms": round(per_digest * 1000, 2), "boto3_ms": round(baseline_seconds * 1000, 2),
        "ratio": round(per_digest / baseline_seconds, 2), "statistic": "median",
        "median_seconds_per_digest_in_moto": round(per_digest, 4),
        "p95_seconds_per_digest_in_moto": round(sorted(timings)[int(len(timings) * 0.95) - 1], 4),
        "dynamodb_calls_per_digest": dynamodb, "worst_dynamodb_calls_per_digest": calls[worst].total("dynamodb"),
        "worst_digest_index": worst, "worst_calls_by_operation": calls[worst].by_operation(),
        "ses_calls_per_digest": ses, "calls_by_operation": operations,
        "rerun_outcomes": sorted(set(repeated)),
        "rerun_dynamodb_calls_per_user": rerun.total("dynamodb") / min(10, len(users)),
        "projection_100k_users": {
            f"{concurrency}_lambdas": {
                "minutes_at_moto_speed": round(100_000 * per_digest / concurrency / 60, 1),
                "minutes_at_10ms_per_call": round(100_000 * budget_seconds / concurrency / 60, 1)}
            for concurrency in (50, 200, 1000)},
        "ses_rate_needed_per_second_for_15_minutes": round(100_000 / 900, 1),
        "fan_out": fan_out,
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
    }
    slowest_digest = max(timings)
    fan_out["single_invocation"]["user_digest_max_seconds_in_moto"] = round(slowest_digest, 4)
    fan_out["single_invocation"]["user_digest_slowest_index"] = timings.index(slowest_digest)
    fan_out["single_invocation"]["user_digest_seconds_at_10ms_per_call"] = round(budget_seconds, 3)
    fan_out["single_invocation"]["user_digest_fraction_of_limit"] = round(
        slowest_digest / LAMBDA_LIMIT_SECONDS, 6)
    # Far below: the slowest digest measured (moto, a shared machine) under a tenth of the limit, the
    # 10-ms-a-call budget under a hundredth.
    assert slowest_digest < LAMBDA_LIMIT_SECONDS / 10 and budget_seconds < LAMBDA_LIMIT_SECONDS / 100, \
        f"one digest is not far below 15 min: {slowest_digest:.1f} s measured, {budget_seconds:.2f} s budgeted"
    return results


def measure_fan_out(users_count: int, shards: int | None = None) -> dict:
    """Inside measure()'s moto: make `users_count` users due, tick, run every shard job, collect the user jobs.
    With `shards`, every due user is in one of the first `shards` shards (the others are started and find nobody)."""
    import boto3

    from bench.calls import CallCounter, counting_inside
    from chalicelib import clock, jobs
    from chalicelib.notifications import digest
    from chalicelib.users.models import DIGEST_SHARDS, UserProfile
    from chalicelib.users.service import digest_shard

    tenant = "fanout"
    due_at = clock.iso(clock.now().replace(minute=0, second=0, microsecond=0))
    candidates = (str(500_000 + n) for n in itertools.count())
    users = list(itertools.islice((user for user in candidates
                                   if shards is None or int(digest_shard(tenant, user)) < shards), users_count))
    with UserProfile.batch_write() as batch:  # what schedule_digest_in leaves on a user with a digest waiting
        for user in users:
            batch.save(UserProfile(tenant, user, email=f"f{user}@bench.example", digest_due_at=due_at,
                                   digest_shard=digest_shard(tenant, user), digest_pending_version=1))
    per_shard = collections.Counter({str(shard): 0 for shard in range(DIGEST_SHARDS)})
    per_shard.update(digest_shard(tenant, user) for user in users)

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]

    def receive() -> list[dict]:
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])

    def delete(messages: list[dict]) -> None:
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]} for n, message in enumerate(messages)])

    while leftovers := receive():  # the queue holds only what this measurement queues
        delete(leftovers)

    with counting_inside() as tick_calls:  # the digest_tick schedule's body
        started = time.perf_counter()
        shards_queued = tick_calls.run("digest_tick: digest.tick", digest.tick)
        tick_seconds = time.perf_counter() - started

    runs: list[dict] = []
    queued = collections.Counter()
    shard_jobs = collections.Counter()
    waiting: collections.deque[str] = collections.deque()  # shard jobs received, not run yet
    total = CallCounter()

    def drain() -> None:
        # Everything on the queue is taken off at once: user jobs are collected (not run), shard jobs wait
        # their turn. moto's SQS slows down with every message it holds (each receive rereads them all),
        # which a real queue does not; draining between runs keeps each run's timing free of that.
        while messages := receive():
            for message in messages:
                body = json.loads(message["Body"])
                if body["kind"] == "digest.user":
                    queued[(body["payload"]["tenant_id"], body["payload"]["user_id"])] += 1
                else:
                    assert body["kind"] == "digest.shard", f"unexpected job on the queue: {body['kind']}"
                    waiting.append(message["Body"])
            delete(messages)

    drain()
    while waiting:
        message_body = waiting.popleft()
        payload = json.loads(message_body)["payload"]
        shard_jobs[payload["shard"]] += 1
        queued_before = sum(queued.values())
        with counting_inside() as calls:  # what the jobs Lambda does with one message (app.jobs)
            started = time.perf_counter()
            outcome = calls.run("jobs: digest.shard", jobs.run_message, message_body)
            seconds = time.perf_counter() - started
        assert outcome in ("done", "continued"), outcome
        total.calls.update(calls.calls)
        drain()  # the user jobs this run queued, and its continuation
        runs.append({"shard": payload["shard"], "users": sum(queued.values()) - queued_before, "seconds": seconds,
                     "dynamodb": calls.total("dynamodb"), "sqs": calls.total("sqs"), "outcome": outcome})

    # Loud failure: every due user queued exactly once, every shard started by the tick.
    expected = {(tenant, user) for user in users}
    missed = expected - set(queued)
    twice = [key for key, count in queued.items() if count > 1]
    strangers = set(queued) - expected
    assert not missed and not twice and not strangers, \
        f"fan-out wrong: {len(missed)} users missed, {len(twice)} queued twice, {len(strangers)} not due"
    assert shards_queued == DIGEST_SHARDS and set(shard_jobs) == {str(n) for n in range(DIGEST_SHARDS)}, shard_jobs
    assert sum(run["users"] for run in runs) == users_count

    page = digest.USERS_PER_SHARD_RUN
    full = [run for run in runs if run["users"] == page] or runs
    run_seconds = statistics.median(run["seconds"] for run in full)
    run_dynamodb = statistics.median(run["dynamodb"] for run in full)
    run_sqs = statistics.median(run["sqs"] for run in full)
    fanned_seconds = sum(run["seconds"] for run in runs)
    # 100,000 users, in the shards the real code would put them in: the longest shard is the critical path.
    shares = collections.Counter(digest_shard("t", str(n)) for n in range(100_000))
    longest = max(shares.values())
    chain = longest // page + 1  # a full last page may still leave a cursor: one more (empty) run
    per_run_at_10ms = (run_dynamodb + run_sqs) * SECONDS_PER_CALL
    slowest_run = max(run["seconds"] for run in runs)
    assert slowest_run < LAMBDA_LIMIT_SECONDS / 10 and per_run_at_10ms < LAMBDA_LIMIT_SECONDS / 100, \
        f"one shard run is not far below 15 min: {slowest_run:.1f} s measured, {per_run_at_10ms:.2f} s budgeted"
    return {
        "users": users_count, "shards": DIGEST_SHARDS, "users_per_shard_run": page,
        "users_per_shard": {"min": min(per_shard.values()), "max": max(per_shard.values())},
        "tick": {"seconds_in_moto": round(tick_seconds, 4), "shard_jobs_queued": shards_queued,
                 "dynamodb_calls": tick_calls.total("dynamodb"), "sqs_calls": tick_calls.total("sqs"),
                 "calls_by_operation": tick_calls.by_operation()},
        "shard_runs": len(runs), "full_shard_runs": sum(run["users"] == page for run in runs),
        "longest_shard_chain_runs": max(shard_jobs.values()),
        "user_jobs_queued": sum(queued.values()), "every_user_queued_once": True,
        "per_full_shard_run": {"seconds_in_moto": round(run_seconds, 4), "dynamodb_calls": run_dynamodb,
                               "sqs_calls": run_sqs},
        "per_100_users_fanned_out": {
            "seconds_in_moto": round(fanned_seconds / users_count * 100, 4),
            "dynamodb_calls": round(total.total("dynamodb") / users_count * 100, 2),
            "sqs_calls": round(total.total("sqs") / users_count * 100, 2)},
        "calls_by_operation": total.by_operation(),
        "projection_100k_users": {
            "users_in_longest_shard": longest, "sequential_runs_in_longest_shard": chain,
            "minutes_at_moto_speed": round(chain * run_seconds / 60, 2),
            "minutes_at_10ms_per_call": round(chain * per_run_at_10ms / 60, 2),
            "minutes_at_10ms_per_call_and_1s_per_hop": round(chain * (per_run_at_10ms + SECONDS_PER_HOP) / 60, 2),
            "user_jobs_queued_per_second": round(longest / (chain * (per_run_at_10ms + SECONDS_PER_HOP))
                                                 * DIGEST_SHARDS, 1)},
        "single_invocation": {
            "shard_run_max_seconds_in_moto": round(slowest_run, 4),
            "shard_run_seconds_at_10ms_per_call": round(per_run_at_10ms, 3),
            "shard_run_fraction_of_limit": round(slowest_run / LAMBDA_LIMIT_SECONDS, 6),
            "limit_seconds": LAMBDA_LIMIT_SECONDS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--notifications", type=int, default=5, help="pending notifications per user")
    parser.add_argument("--fan-out-users", type=int, default=None,
                        help=f"due users the fan-out is measured with (default: max(--users, {FAN_OUT_USERS}))")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "digest.json"))
    arguments = parser.parse_args()
    results = measure(arguments.users, arguments.notifications, arguments.fan_out_users)
    per_digest = results["median_seconds_per_digest_in_moto"]
    dynamodb, ses = results["dynamodb_calls_per_digest"], results["ses_calls_per_digest"]
    operations = results["calls_by_operation"]
    print(f"digest for one user: {per_digest * 1000:.1f} ms median in moto, {dynamodb} DynamoDB calls, {ses} SES call")
    print(f"  by operation: {operations}")
    print(f"  a rerun for an already-sent period: {results['rerun_outcomes']}, "
          f"{results['rerun_dynamodb_calls_per_user']} DynamoDB calls, no email")
    print("100,000 users (one SQS message per user, parallel Lambdas):")
    for name, figures in results["projection_100k_users"].items():
        print(f"  {name:>12}: {figures['minutes_at_moto_speed']:>6} min at moto speed, "
              f"{figures['minutes_at_10ms_per_call']:>6} min at 10 ms per AWS call")
    print(f"  SES must accept {results['ses_rate_needed_per_second_for_15_minutes']} emails/s to finish in 15 min")
    fan = results["fan_out"]
    tick, run, per100 = fan["tick"], fan["per_full_shard_run"], fan["per_100_users_fanned_out"]
    projection, single = fan["projection_100k_users"], fan["single_invocation"]
    print(f"fan-out of {fan['users']} due users ({fan['users_per_shard']['min']}–{fan['users_per_shard']['max']} "
          f"per shard): tick queued {tick['shard_jobs_queued']} shard jobs with {tick['sqs_calls']} SQS calls, "
          f"{tick['dynamodb_calls']} DynamoDB; {fan['shard_runs']} shard runs ({fan['full_shard_runs']} full, "
          f"longest chain {fan['longest_shard_chain_runs']}), {fan['user_jobs_queued']} user jobs, each user once")
    print(f"  one shard run of {fan['users_per_shard_run']} users: {run['dynamodb_calls']} DynamoDB, "
          f"{run['sqs_calls']} SQS calls, {run['seconds_in_moto'] * 1000:.1f} ms in moto")
    print(f"  per 100 users fanned out: {per100['dynamodb_calls']} DynamoDB, {per100['sqs_calls']} SQS calls, "
          f"{per100['seconds_in_moto'] * 1000:.1f} ms in moto")
    print(f"  by operation: {fan['calls_by_operation']}")
    print(f"  100,000 users, 16 shards in parallel: longest shard {projection['users_in_longest_shard']} users, "
          f"{projection['sequential_runs_in_longest_shard']} sequential runs: "
          f"{projection['minutes_at_moto_speed']} min at moto speed, {projection['minutes_at_10ms_per_call']} min "
          f"at 10 ms per AWS call, {projection['minutes_at_10ms_per_call_and_1s_per_hop']} min with 1 s more "
          f"per SQS hop ({projection['user_jobs_queued_per_second']} user jobs/s)")
    print(f"  one Lambda invocation: a shard run {single['shard_run_max_seconds_in_moto'] * 1000:.1f} ms max in moto "
          f"({single['shard_run_seconds_at_10ms_per_call']} s at 10 ms a call), a user digest "
          f"{single['user_digest_max_seconds_in_moto'] * 1000:.1f} ms max "
          f"({single['user_digest_seconds_at_10ms_per_call']} s at 10 ms a call): at most "
          f"{max(single['shard_run_fraction_of_limit'], single['user_digest_fraction_of_limit']):.4%} "
          f"of the {single['limit_seconds'] // 60}-minute limit")
    out = pathlib.Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
