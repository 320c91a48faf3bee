"""DynamoDB plumbing shared by every feature: table naming, the connection, transactions, sealed page cursors."""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.errors import ValidationError, VersionConflict

if TYPE_CHECKING:
    from pynamodb.attributes import Attribute
    from pynamodb.connection import Connection
    from pynamodb.expressions.update import Action
    from pynamodb.models import Model
    from pynamodb.transactions import TransactWrite

T = TypeVar("T")


def table_name(short_name: str) -> str:
    return settings().table_name(short_name)


def table_meta(short_name: str) -> Any:  # PynamoDB types a Model's Meta as a protocol; this class satisfies it
    """A PynamoDB `Meta` for one of our tables: stage-prefixed name, region, on-demand billing, the one retry
    policy (chalicelib/aws.py)."""
    return type("Meta", (), {"table_name": table_name(short_name), "region": settings().region,
                             "billing_mode": "PAY_PER_REQUEST", **aws.pynamodb_settings()})


@functools.lru_cache(maxsize=1)
def connection() -> Connection:
    from pynamodb.connection import Connection

    # One connection per warm container; PynamoDB honours AWS_ENDPOINT_URL(_DYNAMODB) for moto.
    return Connection(region=settings().region, **aws.pynamodb_settings())


MAX_UNPROCESSED_ROUNDS = 5  # unprocessed keys or items (a throttled table) asked again, at most this often
GET_KEYS_PER_CALL = 100  # BatchGetItem takes at most 100 keys, BatchWriteItem 25 items
PUT_ITEMS_PER_CALL = 25


def _key_of(item: Model) -> dict[str, Any]:
    hash_value, range_value = item._get_serialized_keys()
    key = {item._hash_key_attribute().attr_name: {item._hash_key_attribute().attr_type: hash_value}}
    range_attribute = item._range_key_attribute()
    if range_attribute is not None:
        key[range_attribute.attr_name] = {range_attribute.attr_type: range_value}
    return key


def _until_processed(operation: str, pending: dict[str, Any], left_key: str,
                     answered: Callable[[dict[str, Any]], None]) -> None:
    """One Batch*Item call, then its unprocessed part again after a short jittered backoff, as AWS advises
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/programming-with-python.html#programming-with-python-batch)."""
    for round_number in range(MAX_UNPROCESSED_ROUNDS):
        if round_number:
            time.sleep(random.uniform(0, 0.05 * 2 ** round_number))
        answer = connection()._make_api_call(operation, {"RequestItems": pending})
        answered(answer)
        pending = answer.get(left_key) or {}
        if not pending:
            return
    raise RuntimeError(f"DynamoDB left {operation} work unprocessed after every retry")


def get_many(*wanted: Model) -> list[Any]:
    """The items of these keys (models holding their keys only), from any of our tables, in strongly consistent
    BatchGetItem calls of up to 100 keys: in the order asked, None where there is no item. PynamoDB's batch_get
    reads one table a call; a job that needs a discussion, its message and the tenant's status pays one call
    instead of three."""
    def identity(table: str, key: dict[str, Any]) -> str:
        return table + json.dumps(key, sort_keys=True)

    asked = [(item.Meta.table_name, _key_of(item)) for item in wanted]
    key_names = {table: list(key) for table, key in asked}
    found: dict[str, Any] = {}

    def answered(answer: dict[str, Any]) -> None:
        for table, items in answer.get("Responses", {}).items():
            for raw in items:
                found[identity(table, {name: raw[name] for name in key_names[table]})] = raw

    unique = list(dict.fromkeys(identity(table, key) for table, key in asked))
    by_identity = {identity(table, key): (table, key) for table, key in asked}
    for start in range(0, len(unique), GET_KEYS_PER_CALL):
        pending: dict[str, Any] = {}
        for name in unique[start:start + GET_KEYS_PER_CALL]:
            table, key = by_identity[name]
            pending.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        _until_processed("BatchGetItem", pending, "UnprocessedKeys", answered)
    return [type(item).from_raw_data(found[identity(table, key)]) if identity(table, key) in found else None
            for item, (table, key) in zip(wanted, asked, strict=True)]


def put_many(*items: Model) -> None:
    """Save these items, of any of our tables, in BatchWriteItem calls of up to 25 (plain, unconditional puts: for
    idempotent writes only). PynamoDB's batch_write writes one table a call."""
    requests = [(item.Meta.table_name, {"PutRequest": {"Item": item.serialize()}}) for item in items]
    for start in range(0, len(requests), PUT_ITEMS_PER_CALL):
        pending: dict[str, Any] = {}
        for table, request in requests[start:start + PUT_ITEMS_PER_CALL]:
            pending.setdefault(table, []).append(request)
        _until_processed("BatchWriteItem", pending, "UnprocessedItems", lambda answer: None)


def set_or_remove(attribute: Attribute, value: Any) -> Action:
    """SET the attribute to `value`, or REMOVE it when there is none (None, "" or an empty list)."""
    return attribute.remove() if value in (None, "", []) else attribute.set(value)


def transaction(client_request_token: str | None = None) -> TransactWrite:
    """One TransactWriteItems, with an idempotency token of its own: when the SDK sends it again after a timeout
    or a connection error (aws.py's retry policy) and the first attempt had been applied, DynamoDB answers success
    without applying it twice, instead of cancelling it on its own conditions
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html, ClientRequestToken).
    A transaction cancelled and computed again (retry_on_conflict) is a new one, with a new token."""
    import uuid

    from pynamodb.transactions import TransactWrite

    return TransactWrite(connection=connection(), client_request_token=client_request_token or str(uuid.uuid4()))


def refused_by_condition(error: Exception) -> bool:
    """True when DynamoDB refused a write because its condition did not hold (PutItem, UpdateItem, DeleteItem)."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def cancellation_codes(error: Exception) -> list[str | None]:
    """The per-item reasons of a cancelled transaction, in the order the items were sent (None: no reason)."""
    return [reason.code if reason is not None else None for reason in getattr(error, "cancellation_reasons", None)
            or []]


# ---------------------------------------------------------------- the one retry of our own

MAX_CONFLICT_ATTEMPTS = 30  # with capped, jittered backoff: a few seconds at most, well inside API Gateway's 29 s


def conflicted(error: Exception, checked_items: Iterable[int] = ()) -> bool:
    """Whether a cancelled transaction lost to a concurrent writer: DynamoDB's TransactionConflict on any item, or
    the optimistic check (a version condition) failing on one of `checked_items` (positions in send order)."""
    codes = cancellation_codes(error)
    if "TransactionConflict" in codes or getattr(error, "cause_response_code", None) == "TransactionConflictException":
        return True
    return any(index < len(codes) and codes[index] == "ConditionalCheckFailed" for index in checked_items)


def retry_on_conflict(attempt: Callable[[], T], attempts: int = MAX_CONFLICT_ATTEMPTS) -> T:
    """Run `attempt` (read, compute, write with an optimistic check) again while it raises VersionConflict.

    The service's only retry loop of its own: throttling and transient AWS errors are the SDK's (aws.py), and a
    conflict is not an AWS failure but our read going stale, which only re-reading fixes."""
    for number in range(attempts):
        try:
            return attempt()
        except VersionConflict:
            if number == attempts - 1:
                raise
            time.sleep(random.uniform(0, 0.01 * 2 ** min(number, 5)))  # full jitter, at most 0.32 s
    raise AssertionError("unreachable")


# A transaction holds its items for milliseconds: a few jittered tries (at most 0.07 s of sleep) outlast one.
PLAIN_WRITE_CONFLICT_ATTEMPTS = 4


def outlasting_transactions(write: Callable[[], T], attempts: int = PLAIN_WRITE_CONFLICT_ATTEMPTS) -> T:
    """A plain write (UpdateItem, PutItem, DeleteItem) made again, a few times, while DynamoDB rejects it with
    TransactionConflictException because a transaction holds its item ("Transaction conflict handling in DynamoDB",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling).
    No SDK retry mode retries that error (botocore/retries/standard.py lists it nowhere). A rejected write changed
    nothing, so an ADD made again still counts once. Through `retry_on_conflict`: the one retry of our own."""
    def attempt() -> T:
        try:
            return write()
        except Exception as error:  # PynamoDB's UpdateError, PutError, DeleteError carry DynamoDB's code
            if getattr(error, "cause_response_code", None) == "TransactionConflictException":
                raise VersionConflict("a transaction holds the item") from error
            raise

    return retry_on_conflict(attempt, attempts)


CURSOR_NONCE_BYTES = 12
MAX_CURSOR_LENGTH = 4096


def _cursor_key() -> bytes:
    return hashlib.sha256(b"cursor\x00" + settings().cursor_secret.encode()).digest()


def encode_cursor(last_evaluated_key: dict[str, Any] | None, scope: str) -> str | None:
    """An opaque page cursor, sealed with AES-GCM and bound to `scope` (tenant and query): it can be neither read
    nor edited nor reused on another list. Sealed, not just signed: a list that skips what its caller may not see
    can stop on such an item, and the cursor must not name it."""
    if not last_evaluated_key:
        return None
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(CURSOR_NONCE_BYTES)
    payload = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    sealed = AESGCM(_cursor_key()).encrypt(nonce, payload, scope.encode("utf-8", "surrogatepass"))
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def decode_cursor(cursor: str | None, scope: str, field: str = "cursor") -> dict[str, Any] | None:
    """The position a cursor names; 400 on `field` if it was altered, is foreign to this query or is garbage."""
    if not cursor:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key: Any = None
    if len(cursor) <= MAX_CURSOR_LENGTH and cursor.isascii():
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            if len(raw) > CURSOR_NONCE_BYTES:
                key = json.loads(AESGCM(_cursor_key()).decrypt(raw[:CURSOR_NONCE_BYTES], raw[CURSOR_NONCE_BYTES:],
                                                                scope.encode("utf-8", "surrogatepass")))
        except (InvalidTag, binascii.Error, ValueError):
            key = None
    if not isinstance(key, dict):
        raise ValidationError("cursor is invalid or belongs to another query", field=field)
    return key


def parse_limit(raw: str | None, default: int = 25, maximum: int = 100, field: str = "limit") -> int:
    if raw is None:  # absent; present but empty is no integer (400), as the document says
        return default
    # ASCII digits only: int() would also take "1_0", " 7 " and other scripts' digits.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
        raise ValidationError(f"{field} must be an integer between 1 and {maximum}", field=field)
    value = int(raw)
    if not 1 <= value <= maximum:
        raise ValidationError(f"{field} must be an integer between 1 and {maximum}", field=field)
    return value
