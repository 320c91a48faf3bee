"""Reading and writing the user directory. Addresses come from verified tokens or from an administrator."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.db import set_or_remove
from chalicelib.errors import Forbidden, NotFound
from chalicelib.users.models import DIGEST_SHARDS, UserProfile
from chalicelib.validation import email_address


def remember_in(tx: TransactWrite, principal: Principal, user_id: str) -> None:
    """Record the caller's verified email address with a write they make anyway (no extra round trip)."""
    if not principal.email or user_id != principal.user_id:
        return
    try:
        address = email_address(principal.email, "email")
    except Exception:  # noqa: BLE001 - an odd claim is simply not remembered
        return
    tx.update(UserProfile(principal.tenant_id, user_id),
              actions=[UserProfile.email.set(address), UserProfile.updated_at.set(clock.now_iso())])


def get_many(tenant_id: str, user_ids: Iterable[str]) -> dict[str, UserProfile]:
    keys = sorted(set(user_ids))
    profiles: dict[str, UserProfile] = {}
    for start in range(0, len(keys), 100):
        for profile in UserProfile.batch_get([(tenant_id, key) for key in keys[start:start + 100]]):
            profiles[profile.user_id] = profile
    return profiles


def _check_id(user_id: str) -> None:
    if not user_id or len(user_id) > 128 or any(ord(c) < 32 for c in user_id):
        raise NotFound("user not found")


def profile_of(tenant_id: str, user_id: str) -> UserProfile | None:
    try:
        return UserProfile.get(tenant_id, user_id, consistent_read=True)
    except UserProfile.DoesNotExist:
        return None


def get(principal: Principal, user_id: str) -> UserProfile:
    _check_id(user_id)
    if not principal.is_admin and user_id != principal.user_id:
        raise Forbidden("reading another user's profile needs the admin role")
    try:
        return UserProfile.get(principal.tenant_id, user_id)
    except UserProfile.DoesNotExist:
        raise NotFound("user not found") from None


def update(principal: Principal, user_id: str, body: dict[str, Any]) -> UserProfile:
    """An administrator sets anyone's address and name; a user their own name (their address comes from the token).
    `body`: the fields sent, checked by the route (chalicelib/users/schemas.py)."""
    _check_id(user_id)
    if not principal.is_admin and user_id != principal.user_id:
        raise Forbidden("changing another user's profile needs the admin role")
    if "email" in body and not principal.is_admin:
        # A user's own address is the verified one their token carries; only an administrator sets another.
        raise Forbidden("setting an email address needs the admin role", field="email")
    actions: list[Action] = [UserProfile.updated_at.set(clock.now_iso())]
    if "email" in body:
        actions.append(UserProfile.email.set(body["email"]))
    if "name" in body:
        actions.append(set_or_remove(UserProfile.name, body["name"]))
    profile = UserProfile(principal.tenant_id, user_id)
    profile.update(actions=actions)
    return profile


def as_json(profile: UserProfile) -> dict[str, Any]:
    return {"user_id": profile.user_id, "email": profile.email, "name": profile.name,
            "updated_at": profile.updated_at}


# ------------------------------------------------------------------ notification preferences and the digest


def update_preferences(principal: Principal, body: dict[str, Any]) -> UserProfile:
    """The caller's own digest frequency, time zone, digest hour and phone; fields left out keep their value.
    `body`: the fields sent, checked by the route (chalicelib/notifications/schemas.py)."""
    actions: list[Action] = [set_or_remove(UserProfile.updated_at, clock.now_iso())]
    for name, attribute in (("digest_frequency", UserProfile.digest_frequency), ("timezone", UserProfile.timezone),
                            ("digest_hour", UserProfile.digest_hour), ("phone", UserProfile.phone)):
        if name in body:
            actions.append(set_or_remove(attribute, body[name]))
    profile = UserProfile(principal.tenant_id, principal.user_id)
    profile.update(actions=actions)
    return UserProfile.get(principal.tenant_id, principal.user_id, consistent_read=True)


def unsubscribe(tenant_id: str, user_id: str) -> None:
    """RFC 8058 one-click: no notification email any more (the digest frequency becomes `never`)."""
    UserProfile(tenant_id, user_id).update(actions=[
        UserProfile.digest_frequency.set("never"), UserProfile.unsubscribed_at.set(clock.now_iso()),
        UserProfile.updated_at.set(clock.now_iso())])


def digest_shard(tenant_id: str, user_id: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}#{user_id}".encode()).digest()
    return str(digest[0] % DIGEST_SHARDS)


def schedule_digest_in(tx: TransactWrite, tenant_id: str, user_id: str, due_at: str) -> None:
    """Inside a notification's transaction: the user has a digest to send, due at `due_at` unless due earlier."""
    tx.update(UserProfile(tenant_id, user_id), actions=[
        UserProfile.digest_due_at.set(UserProfile.digest_due_at | due_at),
        UserProfile.digest_shard.set(UserProfile.digest_shard | digest_shard(tenant_id, user_id)),
        UserProfile.digest_pending_version.add(1)])


def reschedule_digest(tenant_id: str, user_id: str, expected_due: str, due_at: str | None,
                      pending_version: int | None = None) -> bool:
    """Move (or, with due_at None, clear) a user's digest time if nobody moved it meanwhile.

    Clearing also requires that no notification arrived since `pending_version` was read."""
    condition = UserProfile.digest_due_at == expected_due
    if due_at is None:
        condition &= (UserProfile.digest_pending_version == pending_version) if pending_version is not None \
            else UserProfile.digest_pending_version.does_not_exist()
    actions: list[Action] = [UserProfile.digest_due_at.set(due_at)] if due_at else [
        UserProfile.digest_due_at.remove(), UserProfile.digest_shard.remove()]
    try:
        UserProfile(tenant_id, user_id).update(actions=actions, condition=condition)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def due_for_digest(shard: str, due_before: str, limit: int,
                   cursor: dict[str, Any] | None) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """(tenant, user) pairs of one shard whose digest is due: one Query on the sparse `digest_due` index."""
    results = UserProfile.digest_due.query(shard, UserProfile.digest_due_at <= due_before, limit=limit,
                                           last_evaluated_key=cursor)
    users = [(profile.tenant_id, profile.user_id) for profile in results]
    return users, results.last_evaluated_key


def preferences_json(profile: UserProfile | None, tenant_default: str | None) -> dict[str, Any]:
    from chalicelib.notifications.schedule import DEFAULT_HOUR, effective_frequency

    chosen = profile.digest_frequency if profile else None
    return {"digest_frequency": effective_frequency(chosen, tenant_default), "digest_frequency_chosen": chosen,
            "timezone": (profile.timezone if profile else None) or "UTC",
            "digest_hour": int(profile.digest_hour) if profile and profile.digest_hour is not None else DEFAULT_HOUR,
            "phone": profile.phone if profile else None,
            "next_digest_at": profile.digest_due_at if profile else None,
            "unsubscribed_at": profile.unsubscribed_at if profile else None}
