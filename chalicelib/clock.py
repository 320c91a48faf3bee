"""The one clock of the service: UTC, ISO-8601 with microseconds, replaceable in tests."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _now()


def now_iso() -> str:
    return iso(now())


def iso(moment: datetime) -> str:
    """Fixed-width UTC timestamps sort lexically in time order, which the DynamoDB sort keys rely on."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def set_clock(source: Callable[[], datetime]) -> None:
    global _now
    _now = source


def reset_clock() -> None:
    set_clock(lambda: datetime.now(UTC))
