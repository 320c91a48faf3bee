"""One DynamoDB transaction whose refused conditions come back by name (the board's writes, SES deliveries).

Every item of a transaction gets a label; when DynamoDB cancels it for a condition, the commit's outcome names
the items whose condition failed (`outcome.refused == {"thread", "group"}`) and the caller answers accordingly;
an item added with `return_old` also comes back as it was when its condition failed (`outcome.old[label]`), in the
same call (a board reaction's guess of its group, a pixel hit on a copy counted the old way).
A transaction cancelled by a concurrent one is committed again (db.retry_on_conflict); throttling is the SDK's to
retry (chalicelib/aws.py) and, beyond it, a 503 (errors.as_unavailable).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model

from chalicelib.db import VersionConflict, cancellation_codes, conflicted, retry_on_conflict, transaction


@dataclass(frozen=True)
class Outcome:
    """What a commit did: everything (`committed`), or nothing because the conditions of `refused` failed.

    `old` holds, for a refused item added with `return_old=True`, the item as DynamoDB held it when the condition
    failed (its raw attributes; absent when there was no item): what made it fail, without another read
    (ReturnValuesOnConditionCheckFailure, https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html)."""
    refused: frozenset[str] = frozenset()
    old: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def committed(self) -> bool:
        return not self.refused


class Tx:
    """Collects the items of one transaction with labels, in the order PynamoDB sends them."""

    def __init__(self) -> None:
        self._items: dict[str, list[tuple[str, Callable[[Any], None]]]] = {
            "check": [], "delete": [], "put": [], "update": []}

    def check(self, label: str, model_cls: type[Model], hash_key: Any, range_key: Any, condition: Any,
              return_old: bool = False) -> None:
        if not return_old:
            self._items["check"].append((label, lambda tx: tx.condition_check(model_cls, hash_key, range_key,
                                                                                 condition=condition)))
            return
        # PynamoDB's condition_check takes no ReturnValuesOnConditionCheckFailure: the same request, with it.
        def add(tx: Any) -> None:
            kwargs = model_cls.get_operation_kwargs_from_class(hash_key, range_key=range_key, condition=condition)
            tx._condition_check_items.append({**kwargs, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})

        self._items["check"].append((label, add))

    def delete(self, label: str, model: Model, condition: Any = None) -> None:
        self._items["delete"].append((label, lambda tx: tx.delete(model, condition=condition)))

    def save(self, label: str, model: Model, condition: Any = None) -> None:
        self._items["put"].append((label, lambda tx: tx.save(model, condition=condition)))

    def update(self, label: str, model: Model, actions: list[Any], condition: Any = None,
               return_old: bool = False) -> None:
        self._items["update"].append((label, lambda tx: tx.update(
            model, actions=actions, condition=condition, return_values="ALL_OLD" if return_old else None)))

    def raw(self, label: str, add: Callable[[Any], None], kind: str) -> None:
        """An item added by another feature's helper (e.g. users.remember_in) through the PynamoDB transaction."""
        self._items[kind].append((label, add))

    def labels(self) -> list[str]:
        return [label for kind in ("check", "delete", "put", "update") for label, _ in self._items[kind]]

    def commit(self) -> Outcome:
        """Commit all or nothing; a refusal by a condition is an outcome, not an error."""
        def attempt() -> Outcome:
            try:
                with transaction() as tx:
                    for kind in ("check", "delete", "put", "update"):
                        for _, add in self._items[kind]:
                            add(tx)
                return Outcome()
            except TransactWriteError as error:
                codes = cancellation_codes(error)
                if "ConditionalCheckFailed" in codes:
                    failed = [(label, reason) for label, reason in zip(
                        self.labels(), getattr(error, "cancellation_reasons", None) or [], strict=False)
                        if reason is not None and reason.code == "ConditionalCheckFailed"]
                    return Outcome(frozenset(label for label, _ in failed),
                                   {label: reason.raw_item for label, reason in failed if reason.raw_item})
                if conflicted(error):
                    raise VersionConflict("board transaction") from error
                raise

        return retry_on_conflict(attempt)
