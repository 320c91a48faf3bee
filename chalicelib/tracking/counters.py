"""Statistics kept as counters, so reading them costs one Query whatever the number of copies (issue 22).

Each counter moves once, where the state it counts changes for the first time: a copy written (`total`), sent,
failed (first failure, until it is sent), delivered, opened, opened by a person, clicked, bounced, complained.
"First time" is read from the update that made the change (the timestamp it wrote is the one the item now holds)
and, for SES events, from the record as read before, so an event applied again after a crash never counts twice.
The counter's own UpdateItem comes after the change it counts: a Lambda dying between the two leaves that one
change uncounted (the per-recipient detail stays exact); nothing is ever counted twice.
"""
from __future__ import annotations

from typing import Any

from chalicelib.tracking.models import TrackingCounter
from chalicelib.transactions import Tx

FIELDS = ("total", "sent", "failed", "delivered", "opened", "human_opened", "clicked", "bounced", "complained")


def _actions(deltas: dict[str, int]) -> list[Any]:
    moves = {name: amount for name, amount in deltas.items() if amount}
    unknown = set(moves) - set(FIELDS)
    if unknown:
        raise ValueError(f"no such counter: {sorted(unknown)}")
    return [getattr(TrackingCounter, name).add(amount) for name, amount in moves.items()]


def count(discussion_key: str, message_id: str, **deltas: int) -> None:
    """Move this message's counters (one UpdateItem; nothing when every delta is 0)."""
    actions = _actions(deltas)
    if actions:
        TrackingCounter(discussion_key, message_id).update(actions=actions)


def count_in(tx: Tx, discussion_key: str, message_id: str, **deltas: int) -> None:
    """The same move as one item of `tx`: counted exactly when the change it counts is committed."""
    actions = _actions(deltas)
    if actions:
        tx.update("counter", TrackingCounter(discussion_key, message_id), actions)


def firsts(before: object, after: object, fields: dict[str, str], when: str) -> dict[str, int]:
    """{counter: 1} for each timestamp attribute `after` now holds as `when` (this update set it) and `before` (the
    record as read before, or None when not read) did not have."""
    return {counter: 1 for attribute, counter in fields.items()
            if getattr(after, attribute, None) == when and (before is None or getattr(before, attribute) is None)}


def by_message(discussion_key: str, message_id: str | None = None) -> dict[str, dict[str, int]]:
    """message id → its counters: one Query (one GetItem's worth for a single message)."""
    condition = TrackingCounter.message_id == message_id if message_id else None
    return {item.message_id: {name: int(getattr(item, name) or 0) for name in FIELDS}
            for item in TrackingCounter.query(discussion_key, condition)}
