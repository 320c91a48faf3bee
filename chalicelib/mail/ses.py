"""The one place that talks to Amazon SES: send one raw message, retrying throttling with backoff."""
from __future__ import annotations

import functools
import random
import time
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import settings

THROTTLING_CODES = {"Throttling", "ThrottlingException", "MaxSendingRateExceeded", "TooManyRequestsException",
                    "ServiceUnavailable", "InternalFailure"}


class SendFailed(Exception):
    """SES did not accept the message; `retryable` says whether a later attempt may succeed."""

    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retryable = retryable


@functools.lru_cache(maxsize=1)
def client() -> Any:
    import boto3

    return boto3.client("ses", region_name=settings().region)


def send_raw(source: str, destination: str, raw: bytes, configuration_set: str | None = None,
             attempts: int = 4, base_delay: float = 0.2) -> str:
    """Send `raw` to exactly one destination; returns the SES message id. Raises SendFailed."""
    arguments: dict[str, Any] = {"Source": source, "Destinations": [destination], "RawMessage": {"Data": raw}}
    if configuration_set:
        arguments["ConfigurationSetName"] = configuration_set
    for attempt in range(attempts):
        try:
            return client().send_raw_email(**arguments)["MessageId"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            message = error.response.get("Error", {}).get("Message", "")
            retryable = code in THROTTLING_CODES
            if not retryable or attempt == attempts - 1:
                raise SendFailed(code, message, retryable) from error
            time.sleep(base_delay * 2 ** attempt * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")
