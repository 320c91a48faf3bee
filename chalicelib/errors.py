"""The error types of the tenant API and their one JSON shape: {"error": {"code", "message", "field"}}."""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class ValidationError(ApiError):
    status = 400
    code = "validation_error"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class ServiceUnavailable(ApiError):
    """AWS throttled us beyond the SDK's retries: nothing was written; the caller may simply try again."""
    status = 503
    code = "unavailable"


class VersionConflict(Exception):
    """A concurrent writer changed what a change was computed from: read again and recompute (db.retry_on_conflict).
    Still raised after every attempt, it means the item is too busy right now: a 503, like throttling."""


# Throttling and transient errors that outlived the SDK's retries (chalicelib/aws.py): as whole-call error codes,
# and as the per-item reasons of a cancelled transaction (which the SDK never retries).
THROTTLING = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "TransactionInProgressException", "InternalServerError", "ServiceUnavailable", "Throttling"}
THROTTLED_ITEMS = {"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict", "RequestLimitExceeded"}


def as_unavailable(error: Exception) -> ServiceUnavailable | None:
    """A throttling or transient AWS error as a 503 (None for anything else, which stays a 500)."""
    code = getattr(error, "cause_response_code", None)
    response = getattr(error, "response", None)
    if code is None and isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
    reasons = {getattr(reason, "code", None) for reason in getattr(error, "cancellation_reasons", None) or []}
    if code in THROTTLING or reasons & THROTTLED_ITEMS or isinstance(error, VersionConflict):
        return ServiceUnavailable("the service is busy; nothing was changed, try again shortly")
    return None
