"""The seed's tracking operations, each one atomic DynamoDB call, and statistics per thread and message."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import clock
from chalicelib.db import outlasting_transactions, set_or_remove
from chalicelib.tracking import counters
from chalicelib.tracking.ids import TRACKING_ID
from chalicelib.tracking.models import EmailTracking

# Fetches that are not a person reading: image proxies that prefetch, privacy relays and scanners.
MACHINE_AGENTS = ("googleimageproxy", "yahoomailproxy", "outlook-ios", "barracuda", "proofpoint", "mimecast",
                  "symantec", "bot", "crawler", "spider", "python-requests", "curl/", "wget/")


def is_machine_open(user_agent: str | None, method: str = "GET") -> bool:
    """Apple Mail Privacy Protection sends a bare `Mozilla/5.0` with no platform; proxies name themselves."""
    agent = (user_agent or "").strip().lower()
    return method.upper() == "HEAD" or not agent or agent == "mozilla/5.0" or \
        any(marker in agent for marker in MACHINE_AGENTS)


def _conditional(record: EmailTracking, actions: list) -> bool:
    try:
        # Made again while the copy's delivery transaction holds the record (db.outlasting_transactions).
        outlasting_transactions(lambda: record.update(actions=actions,
                                                      condition=EmailTracking.tracking_pixel_id.exists()))
        return True
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


def record_open(pixel_id: str, user_agent: str | None, ip_address: str | None, method: str = "GET") -> bool:
    """open_count + 1, opened_at on the first; machine opens counted apart. False for an unknown pixel."""
    if not TRACKING_ID.match(pixel_id or ""):
        return False
    now = clock.now_iso()
    actions = [EmailTracking.open_count.add(1), EmailTracking.opened_at.set(EmailTracking.opened_at | now),
               set_or_remove(EmailTracking.user_agent, (user_agent or "")[:512]),
               set_or_remove(EmailTracking.ip_address, (ip_address or "")[:64])]
    if is_machine_open(user_agent, method):
        actions.append(EmailTracking.machine_open_count.add(1))
    else:
        actions.append(EmailTracking.human_opened_at.set(EmailTracking.human_opened_at | now))
    record = EmailTracking(pixel_id)
    if not _conditional(record, actions):
        return False
    _count_firsts(record, now)  # a second call only on a copy's first open
    return True


def _count_firsts(record: EmailTracking, now: str) -> None:
    """The statistics of a copy's first open, human open and click: the update wrote `now` where there was none
    (and, for opens and clicks, its count is 1: two hits in one microsecond still count once)."""
    firsts = counters.firsts(None, record, {"opened_at": "opened", "human_opened_at": "human_opened",
                                            "clicked_at": "clicked"}, now)
    if int(record.open_count) + int(record.click_count) > 1:
        firsts.pop("opened", None)
    if int(record.click_count) > 1:
        firsts.pop("clicked", None)
    counters.count(record.discussion_key, record.message_id, record.tracking_pixel_id, **firsts)


def record_open_from_request(pixel_id: str, request: Any) -> bool:
    headers = request.headers or {}
    identity = (request.context or {}).get("identity", {}) if hasattr(request, "context") else {}
    return record_open(pixel_id, headers.get("user-agent"), identity.get("sourceIp"), request.method)


def record_click(pixel_id: str, link_index: int, user_agent: str | None, ip_address: str | None) -> str | None:
    """click_count + 1, clicked_at on the first; returns the link it stands for, or None (unknown: no redirect)."""
    if not TRACKING_ID.match(pixel_id or "") or link_index < 0:
        return None
    now = clock.now_iso()
    record = EmailTracking(pixel_id)
    # A click is also an open, whether or not the pixel loaded (images blocked): a person's click a human one.
    opened = [EmailTracking.opened_at.set(EmailTracking.opened_at | now)]
    if not is_machine_open(user_agent):
        opened.append(EmailTracking.human_opened_at.set(EmailTracking.human_opened_at | now))
    actions = [EmailTracking.click_count.add(1), EmailTracking.clicked_at.set(EmailTracking.clicked_at | now), *opened,
               set_or_remove(EmailTracking.user_agent, (user_agent or "")[:512]),
               set_or_remove(EmailTracking.ip_address, (ip_address or "")[:64])]
    known = EmailTracking.tracking_pixel_id.exists() & EmailTracking.links[link_index].exists()
    try:
        outlasting_transactions(lambda: record.update(actions=actions, condition=known))
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    _count_firsts(record, now)
    return record.links[link_index]


def _stats(counts: dict[str, int]) -> dict[str, Any]:
    sent = counts["sent"]
    return {**counts,
            "open_rate": round(min(100.0, 100.0 * counts["opened"] / sent), 1) if sent else 0.0,
            "human_open_rate": round(min(100.0, 100.0 * counts["human_opened"] / sent), 1) if sent else 0.0}


def recipient_json(record: EmailTracking) -> dict[str, Any]:
    return {
        "thread_id": record.discussion_id, "message_id": record.message_id, "recipient_email": record.recipient_email,
        "recipient_type": record.recipient_type, "tracking_pixel_id": record.tracking_pixel_id,
        "state": record.state, "failure_reason": record.failure_reason, "ses_message_id": record.ses_message_id,
        "email_message_id": record.email_message_id, "sent_at": record.sent_at,
        "delivered_at": record.delivered_at, "opened_at": record.opened_at, "open_count": int(record.open_count),
        "machine_open_count": int(record.machine_open_count), "human_opened_at": record.human_opened_at,
        "clicked_at": record.clicked_at, "click_count": int(record.click_count), "bounced_at": record.bounced_at,
        "bounce_type": record.bounce_type, "bounce_reason": record.bounce_reason,
        "complained_at": record.complained_at,
        "user_agent": record.user_agent, "ip_address": record.ip_address,
    }


def discussion_statistics(discussion_key: str, message_id: str | None = None, limit: int = 25,
                          cursor: str | None = None) -> dict[str, Any]:
    """Statistics of a thread (or one message) from its counters, and one page of its copies: two Queries,
    whatever the number of copies (a response of every copy would pass Lambda's 6 MB at ~7,600 of them)."""
    from chalicelib.db import decode_cursor, encode_cursor

    per_message = counters.by_message(discussion_key, message_id)
    totals = {name: sum(counts[name] for counts in per_message.values()) for name in counters.FIELDS}
    scope = f"{discussion_key}|tracking|{message_id or ''}"
    condition = EmailTracking.message_recipient.startswith(f"{message_id}#") if message_id else None
    page = EmailTracking.by_discussion.query(discussion_key, condition, limit=limit,
                                             last_evaluated_key=decode_cursor(cursor, scope))
    records = list(page)
    return {
        **_stats(totals),
        "messages": [{"message_id": mid, **_stats(counts)} for mid, counts in sorted(per_message.items())],
        "recipients": [recipient_json(r) for r in records],
        "recipients_next_cursor": encode_cursor(page.last_evaluated_key, scope),
    }
