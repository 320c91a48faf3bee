"""The Zoom invite of a thread (IncludeZoomInvite + ZoomEventData) as lines for an email and an .ics file.

ZoomEventData is Zoom's meeting object (https://developers.zoom.us/docs/api/meetings/): `topic`,
`start_time` (ISO 8601), `duration` (minutes), `timezone`, `join_url`, `password`, `id`. Any of them
may be missing; a calendar file is attached only when the start time is known.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any


def meeting(zoom_event_data: str | None) -> dict[str, Any]:
    try:
        data = json.loads(zoom_event_data or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _start(data: dict[str, Any]) -> datetime | None:
    raw = data.get("start_time")
    if not isinstance(raw, str):
        return None
    try:
        start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if start.tzinfo is None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            start = start.replace(tzinfo=ZoneInfo(str(data.get("timezone") or "UTC")))
        except (ZoneInfoNotFoundError, ValueError):
            start = start.replace(tzinfo=ZoneInfo("UTC"))
    return start


def _join_url(data: dict[str, Any]) -> str | None:
    url = data.get("join_url")
    return url if isinstance(url, str) and url.startswith("https://") and len(url) < 2000 else None


def lines(data: dict[str, Any]) -> list[str]:
    result = []
    if isinstance(data.get("topic"), str):
        result.append(f"Zoom meeting: {data['topic'][:200]}")
    start = _start(data)
    if start:
        result.append(f"Starts: {start.isoformat(timespec='minutes')}")
    if _join_url(data):
        result.append(f"Join: {_join_url(data)}")
    if data.get("password") is not None:
        result.append(f"Passcode: {str(data['password'])[:50]}")
    return result


def ics(data: dict[str, Any], uid: str, summary: str) -> bytes | None:
    """An RFC 5545 calendar with the meeting, or None without a usable start time."""
    start = _start(data)
    if start is None:
        return None
    import icalendar  # only the jobs that send an invite load it

    duration = data.get("duration")
    minutes = duration if isinstance(duration, int) and 0 < duration <= 24 * 60 else 60
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime.now(start.tzinfo))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", str(data.get("topic") or summary)[:200])
    if _join_url(data):
        event.add("location", _join_url(data))
        event.add("url", _join_url(data))
    event.add("description", "\n".join(lines(data)))
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Discussion Hub//Community//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    return calendar.to_ical()
