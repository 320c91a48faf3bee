"""The community API's one response shape (seed: community-threads-api.txt), for successes and every error.

Success: {Status, Message, Value, OpenInDialog, OpenInWindow, RedirectURL, JavaScript, UpdatedOn, UpdatedBy,
Errors: null, WasSuccessful: true}. Failure: {Status, Message: "Prop: message | Prop: message", Value: null,
Errors: [{AttemptedValue, Message, PropertyName}], WasSuccessful: false}, with the HTTP status in Status.
The route decorator (chalicelib/http.py) puts every failure of a board route into this shape.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ApiError


@dataclass(frozen=True)
class FieldError:
    property_name: str
    message: str
    attempted_value: Any = None

    def as_json(self) -> dict[str, Any]:
        return {"AttemptedValue": self.attempted_value, "Message": self.message, "PropertyName": self.property_name}


class CommunityError(ApiError):
    """A failed community request: its HTTP status and the field errors reported in the envelope."""

    def __init__(self, status: int, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.property_name}: {e.message}" for e in errors),
                         errors[0].property_name if errors else None)
        self.status = status
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {
            "Status": self.status,
            "Message": " | ".join(f"{e.property_name}: {e.message}" if e.property_name else e.message
                                  for e in self.errors),
            "Value": None,
            "Errors": [error.as_json() for error in self.errors],
            "WasSuccessful": False,
        }


def invalid(errors: list[FieldError]) -> CommunityError:
    return CommunityError(400, errors)


def forbidden(message: str, property_name: str) -> CommunityError:
    return CommunityError(403, [FieldError(property_name, message)])


def not_found(entity: str, property_name: str = "Id", attempted: Any = None) -> CommunityError:
    return CommunityError(404, [FieldError(property_name, f"{entity} was not found.", attempted)])


def conflict(message: str, property_name: str) -> CommunityError:
    return CommunityError(409, [FieldError(property_name, message)])


def success(message: str, value: Any, updated_on: str | None, updated_by: str | None) -> dict[str, Any]:
    return {"Status": 200, "Message": message, "Value": value, "OpenInDialog": False, "OpenInWindow": False,
            "RedirectURL": None, "JavaScript": None, "UpdatedOn": updated_on, "UpdatedBy": updated_by,
            "Errors": None, "WasSuccessful": True}


def enveloped(error: ApiError) -> CommunityError:
    """Any error of a board route in the envelope: the board's own as they are; the shared plumbing's (token
    checks, the JSON reader, signed cursors, throttling) with their status, on the property they concern."""
    if isinstance(error, CommunityError):
        return error
    problem = getattr(error, "problem", None)  # the JSON reader's: the message without the field's name
    name = {"body": "Body", "cursor": "Cursor"}.get(error.field or "", error.field or "")
    if error.status == 401:
        name = "Authorization"
    if problem is not None and not name:
        name = "Body"
    return CommunityError(error.status, [FieldError(name, problem if problem is not None else error.message)])


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def echo(value: Any) -> Any:
    """Echo what was sent, shortened: an error must not mirror a megabyte back."""
    if isinstance(value, str):
        if not _encodable(value):
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value[:200] + "…" if len(value) > 200 else value
    if isinstance(value, list | dict):
        try:
            text = json.dumps(value)
        except (RecursionError, ValueError):
            return "…"
        return text[:200] + "…" if len(text) > 200 else value
    return value
