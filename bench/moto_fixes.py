"""Harness fixes: moto made fast enough for a table of 100,000 items, without changing what the app's calls do.

Installed by the benchmark only (`with moto_fixes.installed():` around a measurement, bench/routes.py), never by
the application or the other tests. Each fix keeps moto's own code path and its results; only work that grows
with the table's size, and that the answer does not depend on, is taken out. tests/test_bench.py runs the same
inputs through moto with and without the fixes and compares the outcomes.

`transact_write_items`: moto 5 (moto/dynamodb/models/__init__.py) deep-copies every table a transaction names
before running it, to restore the copy if the transaction is cancelled. At 100,000 items that is seconds and
gigabytes per transaction (a run once grew to 24 GB). A transaction can only write the items it names: a Put
writes the item whose key its Item holds, an Update or a Delete the item of its Key, a ConditionCheck nothing (an
Update of an absent item creates that item, still at its Key). So the fix copies those items (and notes which
partitions existed and how long each table's stream is) instead of the tables, runs moto's own
`transact_write_items` unchanged — the same conditions, the same errors, the same cancellation reasons — with its
table copy turned into a no-op (the table itself stands for its copy, so moto's rollback assigns a table to
itself), and, if moto raises, puts the copied items back: every item the transaction named is as before, the
partitions it created are gone, its stream records dropped, which is what moto's restored copy holds. A
transaction the fix cannot read its keys from (an entry with two operations, an unknown operation, an
unreadable key) runs moto's whole-table copy as before.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

_STATE = {"skip_table_copy": False}


class _CopyWithoutTables:
    """Stands for the `copy` module inside moto.dynamodb.models while a fixed transaction runs: `deepcopy` of a
    Table returns the table itself (the snapshot is taken item by item instead); anything else is copied."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if _STATE["skip_table_copy"] and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


class _Snapshot:
    """The items a transaction names, as they are before it runs; `restore` puts them back."""

    def __init__(self) -> None:
        self.items: dict[tuple[int, Any, Any], tuple[Any, Any, Any, bool, Any]] = {}
        self.streams: dict[int, tuple[Any, int]] = {}

    def add(self, table: Any, hash_key: Any, range_key: Any) -> None:
        if (id(table), hash_key, range_key) in self.items:  # the first sighting holds the state before
            return
        if table.range_key_attr is not None:
            partition = table.items.get(hash_key)  # .get: the defaultdict must not grow a partition here
            existed = partition is not None
            before = partition.get(range_key) if partition is not None else None
        else:
            existed = hash_key in table.items
            before = table.items.get(hash_key)
        self.items[(id(table), hash_key, range_key)] = (table, hash_key, range_key, existed, copy.deepcopy(before))
        if table.stream_shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (table, len(table.stream_shard.items))

    def restore(self) -> None:
        for table, hash_key, range_key, existed, before in self.items.values():
            if table.range_key_attr is not None:
                if before is not None:
                    table.items[hash_key][range_key] = before
                else:
                    table.items.get(hash_key, {}).pop(range_key, None)
                if not existed and hash_key in table.items and not table.items[hash_key]:
                    del table.items[hash_key]
            elif before is not None:
                table.items[hash_key] = before
            else:
                table.items.pop(hash_key, None)
        for table, length in self.streams.values():
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> _Snapshot | None:
    """The items `transact_items` can write, copied; None where moto's own whole-table copy must be used."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    snapshot = _Snapshot()
    try:
        for entry in transact_items:
            if len(entry) != 1:
                return None  # moto raises outside its rollback, after writing the entries before: left to moto
            ((operation, request),) = entry.items()
            if operation not in {"ConditionCheck", "Put", "Delete", "Update"}:
                return None
            table = backend.tables.get(request.get("TableName"))
            if table is None:
                continue  # moto records ResourceNotFound for it and writes nothing there
            key = request.get("Item") if operation == "Put" else request.get("Key")
            if not isinstance(key, dict) or table.hash_key_attr not in key or (
                    table.range_key_attr is not None and table.range_key_attr not in key):
                continue  # moto fails this entry (a KeyError or "Validation Exception") before writing anything
            snapshot.add(table, DynamoType(key[table.hash_key_attr]),
                         DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None)
    except (AttributeError, KeyError, StopIteration, TypeError, ValueError):  # an unreadable key: moto's copy
        return None
    return snapshot


def _transact_write_items(original: Any) -> Any:
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshot = _snapshot(self, transact_items) if len(transact_items) <= 100 else None
        if snapshot is None:
            return original(self, transact_items)
        _STATE["skip_table_copy"] = True
        try:
            return original(self, transact_items)
        except BaseException:  # moto rolls back (to the table itself here) whenever it raises: the items go back
            snapshot.restore()
            raise
        finally:
            _STATE["skip_table_copy"] = False

    transact_write_items.fixed_by_bench = True  # type: ignore[attr-defined]
    return transact_write_items


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """moto with the benchmark's fixes inside the block, moto as shipped after it."""
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "fixed_by_bench", False):  # already installed by an enclosing block
        yield
        return
    DynamoDBBackend.transact_write_items = _transact_write_items(original)  # type: ignore[method-assign]
    models.copy = _CopyWithoutTables()  # type: ignore[assignment]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        models.copy = copy
