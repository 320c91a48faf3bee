"""The one way to reach AWS: every SDK client and PynamoDB share one retry policy, configured here once.

The policy is botocore's `standard` retry mode (exponential backoff with jitter, a retry quota, the same
throttling and transient-error lists in every AWS SDK):
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html. PynamoDB 6 builds its botocore
client with `retries={"total_max_attempts": 1 + max_retry_attempts, "mode": "standard"}` (its `LEGACY` setting,
`pynamodb/connection/base.py`), so giving it `max_retry_attempts = MAX_ATTEMPTS - 1` makes DynamoDB calls follow
the same policy. Nothing else in the service retries an AWS call: a failure that outlives the SDK's attempts is
either answered (503 on a request) or handed back to a queue with a delay (jobs.RetryLater), never looped on.
The one retry of our own is for optimistic-concurrency conflicts (`db.retry_on_conflict`).
"""
from __future__ import annotations

import functools
import os
from typing import Any

# Attempts per AWS call, the first included (botocore's standard-mode default). One number for every service.
MAX_ATTEMPTS = int(os.environ.get("AWS_MAX_ATTEMPTS") or 3)
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30


def retry_config() -> dict[str, Any]:
    return {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}


def pynamodb_settings() -> dict[str, Any]:
    """The same policy in PynamoDB's words: for a Model's Meta and for db.connection()."""
    return {"max_retry_attempts": MAX_ATTEMPTS - 1, "connect_timeout_seconds": CONNECT_TIMEOUT_SECONDS,
            "read_timeout_seconds": READ_TIMEOUT_SECONDS}


@functools.cache
def client(service: str) -> Any:
    """One client per service per warm container, created on first use: botocore's, which is what boto3 hands
    out (boto3 adds its user agent and S3's managed transfers, `upload_file`…, which the service does not use).
    boto3 itself is never imported: 0.014 s of CPU at a cold start, on top of botocore (bench/coldstart.py)."""
    from botocore.config import Config

    from chalicelib.config import settings

    extra = {"signature_version": "s3v4"} if service == "s3" else {}
    config = Config(retries=retry_config(), connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    read_timeout=READ_TIMEOUT_SECONDS, **extra)
    return _session().create_client(service, region_name=settings().region, config=config)


@functools.cache
def _session() -> Any:
    """PynamoDB's botocore session (db.connection()): the SDK's data (endpoints, partitions, defaults) is loaded
    once per container, not once per session (a second session cost a cold digest job 0.025 s of CPU,
    bench/coldstart.py)."""
    from chalicelib import db

    return db.connection().session


def reset_clients() -> None:
    """Forget every client (tests point the service at another endpoint)."""
    client.cache_clear()
    _session.cache_clear()
