"""When a user's digest is due, in their own time zone: daily, weekly (Mondays) or monthly (the 1st).

All arithmetic is done on the local calendar and converted to UTC at the end, so a daily digest at 08:00
stays at 08:00 local across daylight-saving changes (and an hour that does not exist that day, in a
spring-forward gap, goes out at the first valid time after it).
"""
from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FREQUENCIES = ("never", "daily", "weekly", "monthly")  # the one list: user preferences and the tenant default
DEFAULT_FREQUENCY = "daily"
DEFAULT_HOUR = 8


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@functools.lru_cache(maxsize=1)
def zones() -> frozenset[str]:
    # The IANA names of the pinned tzdata package (the same on every machine and in Lambda, so the OpenAPI
    # document built from them is too): not file paths (`posix/...`, `../`), not a host's `localtime`.
    from importlib.resources import files

    return frozenset(files("tzdata").joinpath("zones").read_text().split()) - {"Factory"} | {"UTC"}


def valid_zone(name: str) -> bool:
    return name in zones()


def effective_frequency(chosen: str | None, tenant_default: str | None) -> str:
    for candidate in (chosen, tenant_default):
        if candidate in FREQUENCIES:
            return candidate
    return DEFAULT_FREQUENCY


def _at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    local = datetime.combine(day, time(hour), tzinfo=tz)
    # A time inside a spring-forward gap does not exist: normalise it through UTC (it becomes the hour after).
    return local.astimezone(UTC).astimezone(tz)


def _first_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def next_due(frequency: str, tz_name: str | None, hour: int | None, after: datetime) -> datetime | None:
    """The first digest time strictly after `after` (UTC), or None for `never`."""
    if frequency == "never":
        return None
    tz = zone(tz_name)
    hour = DEFAULT_HOUR if hour is None else hour
    local_after = after.astimezone(tz)
    today = local_after.date()
    if frequency == "daily":
        candidates = (today, today + timedelta(days=1), today + timedelta(days=2))
    elif frequency == "weekly":
        monday = today - timedelta(days=today.weekday())
        candidates = (monday, monday + timedelta(days=7), monday + timedelta(days=14))
    else:
        first = today.replace(day=1)
        candidates = (first, _first_of_next_month(first), _first_of_next_month(_first_of_next_month(first)))
    for day in candidates:
        moment = _at(day, hour, tz)
        if moment > local_after:
            return moment.astimezone(UTC)
    raise AssertionError("unreachable")


def period_key(frequency: str, due: datetime, tz_name: str | None) -> str:
    """The period a digest due at `due` covers: one digest per user and period, ever."""
    local = due.astimezone(zone(tz_name))
    if frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"weekly:{year}-W{week:02d}"
    if frequency == "monthly":
        return f"monthly:{local.year}-{local.month:02d}"
    return f"daily:{local.date().isoformat()}"
