"""Digest cost: DynamoDB and SES calls and time for one user's digest, and what 100,000 users take.

Runs in-process against moto. One user's digest is independent of every other user's, and the hourly tick
fans users out to SQS-triggered Lambdas, so the wall time for N users is N × (time per digest) / concurrency,
bounded below by the SES sending rate. The per-digest figure measured here is moto's (in-process, no network);
the projection uses it and, separately, a DynamoDB/SES latency budget of 10 ms per call.

    .venv/bin/python bench/digest.py --users 200
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time
from datetime import UTC, datetime

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(users_count: int, notifications: int) -> dict:
    """Seed `users_count` users with `notifications` waiting each, send every digest, and report."""
    # isort: off
    from tests.conftest import _CONFIG  # noqa: F401 - first: the test environment (stage local, fake credentials)
    # isort: on
    import boto3
    from moto import mock_aws

    from bench.calls import counting
    from chalicelib import clock
    from scripts.bootstrap import bootstrap

    with mock_aws():
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

        from bench.calls import recording, replay

        timings, calls = [], []
        for index, user in enumerate(users):
            if index == len(users) - 1:  # the last digest's calls, replayed below with a bare boto3 client
                with recording() as recorded, counting() as counter:
                    started = time.perf_counter()
                    outcome = digest.send_digest("bench", user)
                    timings.append(time.perf_counter() - started)
                assert outcome == "sent", outcome
                calls.append(counter)
                continue
            with counting() as counter:
                started = time.perf_counter()
                outcome = digest.send_digest("bench", user)
                timings.append(time.perf_counter() - started)
            assert outcome == "sent", outcome
            calls.append(counter)
        with counting() as rerun:
            repeated = [digest.send_digest("bench", user) for user in users[:10]]
        started = time.perf_counter()
        for _ in range(len(users)):
            replay(recorded)
        baseline_seconds = (time.perf_counter() - started) / len(users)

    per_digest = statistics.median(timings)
    dynamodb = statistics.median(c.total("dynamodb") for c in calls)
    ses = statistics.median(c.total("ses") for c in calls)
    operations = calls[0].by_operation()
    budget_seconds = (dynamodb + ses) * 0.010 + 0.050  # 10 ms a call, 50 ms rendering and MIME
    results = {
        "users": users_count, "notifications_per_digest": notifications,
        "digests_per_second": round(1 / per_digest, 1), "boto3_replay_per_second": round(1 / baseline_seconds, 1),
        "ratio_to_boto3": round(baseline_seconds / per_digest, 2),
        "median_seconds_per_digest_in_moto": round(per_digest, 4),
        "p95_seconds_per_digest_in_moto": round(sorted(timings)[int(len(timings) * 0.95) - 1], 4),
        "dynamodb_calls_per_digest": dynamodb, "ses_calls_per_digest": ses, "calls_by_operation": operations,
        "rerun_outcomes": sorted(set(repeated)),
        "rerun_dynamodb_calls_per_user": rerun.total("dynamodb") / min(10, len(users)),
        "projection_100k_users": {
            f"{concurrency}_lambdas": {
                "minutes_at_moto_speed": round(100_000 * per_digest / concurrency / 60, 1),
                "minutes_at_10ms_per_call": round(100_000 * budget_seconds / concurrency / 60, 1)}
            for concurrency in (50, 200, 1000)},
        "ses_rate_needed_per_second_for_15_minutes": round(100_000 / 900, 1),
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--notifications", type=int, default=5, help="pending notifications per user")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "digest.json"))
    arguments = parser.parse_args()
    results = measure(arguments.users, arguments.notifications)
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
    out = pathlib.Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
