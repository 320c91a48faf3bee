"""Reading and writing the user directory. Addresses come from verified tokens or from an administrator."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, NotFound
from chalicelib.users.models import UserProfile
from chalicelib.validation import email_address, reject_unknown, text


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


def get(principal: Principal, user_id: str) -> UserProfile:
    if not principal.is_admin and user_id != principal.user_id:
        raise Forbidden("reading another user's profile needs the admin role")
    try:
        return UserProfile.get(principal.tenant_id, user_id)
    except UserProfile.DoesNotExist:
        raise NotFound("user not found") from None


def update(principal: Principal, user_id: str, body: dict[str, Any]) -> UserProfile:
    """An administrator sets anyone's address and name; a user their own name (their address comes from the token)."""
    if not principal.is_admin and user_id != principal.user_id:
        raise Forbidden("changing another user's profile needs the admin role")
    reject_unknown(body, ("email", "name") if principal.is_admin else ("name",))
    actions = [UserProfile.updated_at.set(clock.now_iso())]
    if "email" in body:
        actions.append(UserProfile.email.set(email_address(body["email"], "email")))
    if "name" in body:
        name = text(body, "name", max_length=200)
        actions.append(UserProfile.name.set(name) if name else UserProfile.name.remove())
    profile = UserProfile(principal.tenant_id, user_id)
    profile.update(actions=actions)
    return profile


def as_json(profile: UserProfile) -> dict[str, Any]:
    return {"user_id": profile.user_id, "email": profile.email, "name": profile.name,
            "updated_at": profile.updated_at}
