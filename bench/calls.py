"""Counting AWS calls made by the app, by service and operation, through PynamoDB's and botocore's call paths."""
from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator


class CallCounter:
    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.capacity: collections.Counter[str] = collections.Counter()

    def total(self, service: str = "dynamodb") -> int:
        return sum(count for name, count in self.calls.items() if name.startswith(service + "."))

    def by_operation(self) -> dict[str, int]:
        return dict(sorted(self.calls.items()))


@contextlib.contextmanager
def counting() -> Iterator[CallCounter]:
    """Count every DynamoDB call (PynamoDB) and every boto3 client call (SES, SQS, SNS, S3) made inside."""
    from botocore.client import BaseClient
    from pynamodb.connection.base import Connection

    counter = CallCounter()
    original_dynamodb = Connection._make_api_call
    original_boto = BaseClient._make_api_call

    def dynamodb_call(self, operation_name, operation_kwargs, *args, **kwargs):
        counter.calls[f"dynamodb.{operation_name}"] += 1
        response = original_dynamodb(self, operation_name, operation_kwargs, *args, **kwargs)
        consumed = response.get("ConsumedCapacity", []) if isinstance(response, dict) else []
        for item in consumed if isinstance(consumed, list) else [consumed]:
            if isinstance(item, dict):
                counter.capacity[operation_name] += float(item.get("CapacityUnits", 0))
        return response

    def boto_call(self, operation_name, api_params):
        service = self.meta.service_model.service_name
        if service != "dynamodb":  # PynamoDB's calls pass here too; they are counted above
            counter.calls[f"{service}.{operation_name}"] += 1
        return original_boto(self, operation_name, api_params)

    Connection._make_api_call = dynamodb_call
    BaseClient._make_api_call = boto_call
    try:
        yield counter
    finally:
        Connection._make_api_call = original_dynamodb
        BaseClient._make_api_call = original_boto


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[str, dict]]]:
    """The DynamoDB operations made inside, in wire format, to replay with a bare boto3 client (a baseline)."""
    import copy

    from pynamodb.connection.base import Connection

    operations: list[tuple[str, dict]] = []
    original = Connection._make_api_call

    def record(self, operation_name, operation_kwargs, *args, **kwargs):
        operations.append((operation_name, copy.deepcopy(operation_kwargs)))
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    Connection._make_api_call = record
    try:
        yield operations
    finally:
        Connection._make_api_call = original


def replay(operations: list[tuple[str, dict]]) -> None:
    """The same DynamoDB operations through a plain boto3 client; failed conditions count as done."""
    import boto3
    from botocore.exceptions import ClientError

    client = _bare_client(boto3)
    for name, kwargs in operations:
        try:
            client._make_api_call(name, kwargs)
        except ClientError:
            pass


_CLIENT: dict[str, object] = {}


def _bare_client(boto3):
    if "dynamodb" not in _CLIENT:
        _CLIENT["dynamodb"] = boto3.client("dynamodb", region_name="us-east-1")
    return _CLIENT["dynamodb"]
