"""Opens and clicks, each one DynamoDB call (a transaction of the copy and its counter shard), and statistics per
thread and message (docs/email.md, "Opens and clicks")."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import UpdateError

from chalicelib import clock
from chalicelib.db import outlasting_transactions, set_or_remove
from chalicelib.tracking import counters
from chalicelib.tracking.ids import TRACKING_ID, Hit
from chalicelib.tracking.models import EmailTracking
from chalicelib.transactions import Tx

if TYPE_CHECKING:
    from pynamodb.expressions.condition import Condition

# Fetches that are not a person reading: image proxies that prefetch, privacy relays and scanners.
MACHINE_AGENTS = ("googleimageproxy", "yahoomailproxy", "outlook-ios", "barracuda", "proofpoint", "mimecast",
                  "symantec", "bot", "crawler", "spider", "python-requests", "curl/", "wget/")


def is_machine_open(user_agent: str | None, method: str = "GET") -> bool:
    """Apple Mail Privacy Protection sends a bare `Mozilla/5.0` with no platform; proxies name themselves."""
    agent = (user_agent or "").strip().lower()
    return method.upper() == "HEAD" or not agent or agent == "mozilla/5.0" or \
        any(marker in agent for marker in MACHINE_AGENTS)


# What the one transaction of a hit did (_one_transaction).
COUNTED, UNKNOWN, NUMERIC = "counted", "unknown", "numeric"


def _one_transaction(copy_id: str, message: tuple[str, str], actions: list, known: Condition,
                     counted: list[str]) -> str:
    """The hit in one TransactWriteItems (chalicelib/transactions.py: its own ClientRequestToken, so an SDK retry
    applies once; cancelled by a concurrent transaction, committed again by db.retry_on_conflict): the copy's update,
    and its id added to its message's shard sets (counters.ids_in). COUNTED; UNKNOWN when there is no such copy or
    link; NUMERIC when the copy's first open was counted before the sets (counters.py): the caller counts it so."""
    discussion_key, message_id = message
    tx = Tx()
    first_or_by_id = EmailTracking.opened_at.does_not_exist() | EmailTracking.counted_by_id.exists()
    tx.update("copy", EmailTracking(copy_id), [*actions, EmailTracking.counted_by_id.set(True)],
              condition=known & first_or_by_id, return_old=True)
    counters.ids_in(tx, discussion_key, message_id, copy_id, counted)
    outcome = tx.commit()
    if outcome.committed:
        return COUNTED
    if "copy" not in outcome.old:
        return UNKNOWN
    before = EmailTracking.from_raw_data(outcome.old["copy"])
    # Opened and not marked: counted in the numbers (the plain path checks the link again). Otherwise the condition
    # that failed is the copy's link.
    return NUMERIC if before.opened_at is not None and not before.counted_by_id else UNKNOWN


def _plain_update(copy_id: str, actions: list, known: Condition) -> EmailTracking | None:
    """The hit as one UpdateItem returning the copy (links carrying the id alone, and copies counted in the
    numbers); None for an unknown copy or link. Made again while a transaction holds the record."""
    record = EmailTracking(copy_id)
    try:
        outlasting_transactions(lambda: record.update(actions=actions, condition=known))
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return record


def _count_firsts(record: EmailTracking, now: str, counted: list[str]) -> None:
    """After a plain update, the statistics of a copy's first open, human open and click: the update wrote `now`
    where there was none (and, for opens and clicks, its count is 1: two hits in one microsecond still count once).
    A second call, only then: in the numbers, or in the id sets for a copy they count (`counted_by_id`)."""
    firsts = counters.firsts(None, record, {"opened_at": "opened", "human_opened_at": "human_opened",
                                            "clicked_at": "clicked"}, now)
    if record.counted_by_id:
        counters.add_ids(record.discussion_key, record.message_id, record.tracking_pixel_id,
                         [name for name in counted if name in firsts])
        return
    if int(record.open_count) + int(record.click_count) > 1:
        firsts.pop("opened", None)
    if int(record.click_count) > 1:
        firsts.pop("clicked", None)
    counters.count(record.discussion_key, record.message_id, record.tracking_pixel_id, **firsts)


def record_open(pixel_id: str, user_agent: str | None, ip_address: str | None, method: str = "GET",
                message: tuple[str, str] | None = None) -> bool:
    """open_count + 1, opened_at on the first; machine opens counted apart. False for an unknown pixel. With the
    message's counter key (`message`: discussion key, message id, as the pixel link carries it), one DynamoDB call;
    without, an UpdateItem and, on a first open, its count."""
    if not TRACKING_ID.match(pixel_id or ""):
        return False
    now = clock.now_iso()
    actions = [EmailTracking.open_count.add(1), EmailTracking.opened_at.set(EmailTracking.opened_at | now),
               set_or_remove(EmailTracking.user_agent, (user_agent or "")[:512]),
               set_or_remove(EmailTracking.ip_address, (ip_address or "")[:64])]
    counted = ["opened"]
    if is_machine_open(user_agent, method):
        actions.append(EmailTracking.machine_open_count.add(1))
    else:
        actions.append(EmailTracking.human_opened_at.set(EmailTracking.human_opened_at | now))
        counted.append("human_opened")
    known = EmailTracking.tracking_pixel_id.exists()
    if message is not None:
        done = _one_transaction(pixel_id, message, actions, known, counted)
        if done != NUMERIC:
            return done == COUNTED
    record = _plain_update(pixel_id, actions, known)
    if record is None:
        return False
    _count_firsts(record, now, counted)  # a second call only on a copy's first open
    return True


def record_open_from_request(hit: Hit, request: Any) -> bool:
    headers = request.headers or {}
    identity = (request.context or {}).get("identity", {}) if hasattr(request, "context") else {}
    return record_open(hit.copy_id, headers.get("user-agent"), identity.get("sourceIp"), request.method, hit.message)


def record_click(pixel_id: str, link_index: int, user_agent: str | None, ip_address: str | None,
                 message: tuple[str, str] | None = None, url: str | None = None) -> str | None:
    """click_count + 1, clicked_at on the first; returns the link it stands for, or None (unknown: no redirect).
    With the message's counter key and the link (a signed click token), one DynamoDB call."""
    if not TRACKING_ID.match(pixel_id or "") or link_index < 0:
        return None
    now = clock.now_iso()
    # A click is also an open, whether or not the pixel loaded (images blocked): a person's click a human one.
    opened = [EmailTracking.opened_at.set(EmailTracking.opened_at | now)]
    counted = ["opened", "clicked"]
    if not is_machine_open(user_agent):
        opened.append(EmailTracking.human_opened_at.set(EmailTracking.human_opened_at | now))
        counted.append("human_opened")
    actions = [EmailTracking.click_count.add(1), EmailTracking.clicked_at.set(EmailTracking.clicked_at | now), *opened,
               set_or_remove(EmailTracking.user_agent, (user_agent or "")[:512]),
               set_or_remove(EmailTracking.ip_address, (ip_address or "")[:64])]
    known = EmailTracking.tracking_pixel_id.exists() & EmailTracking.links[link_index].exists()
    if message is not None and url is not None:
        done = _one_transaction(pixel_id, message, actions, known, counted)
        if done != NUMERIC:
            return url if done == COUNTED else None
    record = _plain_update(pixel_id, actions, known)
    if record is None:
        return None
    _count_firsts(record, now, counted)
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
