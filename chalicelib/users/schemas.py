"""The user directory's contract."""
from __future__ import annotations

from typing import Annotated

from chalicelib.contract.models import Answer, Path, Request, Timestamp
from chalicelib.contract.types import Email, PathText, Text


class UserPath(Path):
    user_id: Annotated[str, PathText(128, "a user id of the tenant (longer than 128 characters: 404)")]


class UserProfileUpdate(Request):
    """`email` needs the admin role (a non-admin sending it gets 403 naming the field)."""

    email: Annotated[str, Email(required=True, description="admin only")] = None  # type: ignore[assignment]
    name: Annotated[str | None, Text(200)] = None


class UserProfile(Answer):
    user_id: str
    email: str | None
    name: str | None
    updated_at: Timestamp | None
