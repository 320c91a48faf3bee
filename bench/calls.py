"""Counting the AWS calls the application makes, by service and operation, inside its entry points only.

The window is explicit. `counting_inside(app)` counts a call only while one of the app's Lambda entry points runs
(an HTTP request through `app(event, context)`, an event handler of `app.handler_map`: SNS, SQS, schedules) or an
application function the benchmark calls through `counter.run(label, function, ...)`; the harness's own calls —
seeding the tables, draining a queue, storing an inbound mail in S3, reading results back — fall outside it.
`counter.entry_points` names what ran in the window, so each figure says whose calls it holds.
`counting()` counts every call in its `with` block (tests that wrap a single request).
"""
from __future__ import annotations

import collections
import contextlib
import json
import statistics
from collections.abc import Callable, Iterator
from typing import Any


class CallCounter:
    def __init__(self, open_window: bool = False) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.capacity: collections.Counter[str] = collections.Counter()
        self.entry_points: collections.Counter[str] = collections.Counter()
        self.depth = 1 if open_window else 0

    @property
    def counting(self) -> bool:
        return self.depth > 0

    def total(self, service: str = "dynamodb") -> int:
        return sum(count for name, count in self.calls.items() if name.startswith(service + "."))

    def by_operation(self) -> dict[str, int]:
        return dict(sorted(self.calls.items()))

    @contextlib.contextmanager
    def window(self, label: str) -> Iterator[None]:
        self.entry_points[label] += 1
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def run(self, label: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call an application function directly, counting what it does (e.g. the body of a job)."""
        with self.window(label):
            return function(*args, **kwargs)


@contextlib.contextmanager
def counting() -> Iterator[CallCounter]:
    """Count every DynamoDB call (PynamoDB) and every boto3 client call (SES, SQS, SNS, S3) made inside."""
    with _patched(CallCounter(open_window=True)) as counter:
        yield counter


@contextlib.contextmanager
def counting_inside(app: Any = None) -> Iterator[CallCounter]:
    """Count only the calls made inside `app`'s entry points (and `counter.run`), none of the harness's."""
    with _patched(CallCounter()) as counter, _entry_points_watched(app, counter):
        yield counter


@contextlib.contextmanager
def _entry_points_watched(app: Any, counter: CallCounter) -> Iterator[None]:
    if app is None:
        yield
        return
    app_class = type(app)
    original_call = app_class.__call__
    handlers = dict(app.handler_map)

    def http_entry(self: Any, event: dict, context: Any) -> Any:
        if self is not app:
            return original_call(self, event, context)
        request = event.get("requestContext", {})
        label = f"HTTP {event.get('httpMethod') or request.get('httpMethod')} {request.get('resourcePath')}"
        with counter.window(label):
            return original_call(self, event, context)

    def event_entry(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def entry(event: Any, context: Any) -> Any:
            with counter.window(_event_label(name, event)):
                return handler(event, context)
        return entry

    app_class.__call__ = http_entry
    app.handler_map.update({name: event_entry(name, handler) for name, handler in handlers.items()})
    try:
        yield
    finally:
        app_class.__call__ = original_call
        app.handler_map.update(handlers)


def _event_label(name: str, event: Any) -> str:
    """The handler's name, and for the jobs queue the job's kind (`jobs: mail.copy`)."""
    try:
        return f"{name}: {json.loads(event['Records'][0]['body'])['kind']}"
    except (KeyError, IndexError, TypeError, ValueError):
        return name


@contextlib.contextmanager
def _patched(counter: CallCounter) -> Iterator[CallCounter]:
    from botocore.client import BaseClient
    from pynamodb.connection.base import Connection

    original_dynamodb = Connection._make_api_call
    original_boto = BaseClient._make_api_call

    def dynamodb_call(self, operation_name, operation_kwargs, *args, **kwargs):
        if counter.counting:
            counter.calls[f"dynamodb.{operation_name}"] += 1
        response = original_dynamodb(self, operation_name, operation_kwargs, *args, **kwargs)
        consumed = response.get("ConsumedCapacity", []) if isinstance(response, dict) else []
        for item in consumed if isinstance(consumed, list) else [consumed]:
            if isinstance(item, dict) and counter.counting:
                counter.capacity[operation_name] += float(item.get("CapacityUnits", 0))
        return response

    def boto_call(self, operation_name, api_params):
        service = self.meta.service_model.service_name
        if service != "dynamodb" and counter.counting:  # PynamoDB's calls pass here too; counted above
            counter.calls[f"{service}.{operation_name}"] += 1
        return original_boto(self, operation_name, api_params)

    Connection._make_api_call = dynamodb_call
    BaseClient._make_api_call = boto_call
    try:
        yield counter
    finally:
        Connection._make_api_call = original_dynamodb
        BaseClient._make_api_call = original_boto


class Runs:
    """One figure measured over several runs with varied data: the median and the worst, never one alone."""

    def __init__(self) -> None:
        self.counters: list[CallCounter] = []

    def add(self, counter: CallCounter) -> None:
        self.counters.append(counter)

    def summary(self, service: str = "dynamodb") -> dict[str, Any]:
        totals = [counter.total(service) for counter in self.counters]
        worst = max(range(len(totals)), key=lambda index: totals[index])
        median = statistics.median(totals)
        typical = min(range(len(totals)), key=lambda index: abs(totals[index] - median))
        return {"median": median, "worst": totals[worst], "runs": len(totals),
                "operations": self.counters[typical].by_operation(),
                "worst_operations": self.counters[worst].by_operation(),
                "entry_points": sorted(set().union(*(counter.entry_points for counter in self.counters)))}


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[str, str, dict]]]:
    """Every AWS call made inside as (service, operation, parameters) at botocore's call path, to replay with bare
    boto3 clients (a baseline: the same DynamoDB, SES, SQS and S3 calls without the application around them).
    DynamoDB's are in wire format (PynamoDB serialises before botocore)."""
    import copy

    from botocore.client import BaseClient

    operations: list[tuple[str, str, dict]] = []
    original = BaseClient._make_api_call

    def record(self, operation_name, api_params):
        operations.append((self.meta.service_model.service_name, operation_name, copy.deepcopy(api_params)))
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = record
    try:
        yield operations
    finally:
        BaseClient._make_api_call = original


def replay(operations: list[tuple[str, str, dict]]) -> None:
    """The same calls through plain boto3 clients, one per service; failed conditions count as done."""
    import boto3
    from botocore.exceptions import ClientError

    for service, name, kwargs in operations:
        if service not in _CLIENTS:
            _CLIENTS[service] = boto3.client(service, region_name="us-east-1")
        try:
            _CLIENTS[service]._make_api_call(name, kwargs)
        except ClientError:
            pass


_CLIENTS: dict[str, Any] = {}
