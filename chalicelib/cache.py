"""Tenant-wide settings that background work reads for many users in a row, kept per warm container for a minute.

A digest run or a notification fan-out reads the tenant's communication settings and its templates once per user;
they change rarely, and a minute's delay in taking a change is the price of not reading them again and again
(issue 22: one user's digest fell from 11 DynamoDB calls to 7). Request paths never read through this cache: an
admin who changes a setting reads it back at once, and the container that writes a setting forgets its own copy
(`forget`); others take the change within the minute. `clear()` empties every cache (tests, between worlds).
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

SECONDS = 60.0
T = TypeVar("T")
_caches: list[dict[Any, tuple[float, Any]]] = []


class Recent(Generic[T]):
    """`function`'s answer per arguments, read again once it is a minute old (or forgotten)."""

    def __init__(self, function: Callable[..., T]) -> None:
        self.function = function
        self.answers: dict[Any, tuple[float, T]] = {}
        functools.update_wrapper(self, function)
        _caches.append(self.answers)

    def __call__(self, *args: Any) -> T:
        now = time.monotonic()
        hit = self.answers.get(args)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = self.function(*args)
        self.answers[args] = (now + SECONDS, value)
        return value

    def forget(self, *args: Any) -> None:
        self.answers.pop(args, None)


def for_a_minute(function: Callable[..., T]) -> Recent[T]:
    return Recent(function)


def clear() -> None:
    for answers in _caches:
        answers.clear()
