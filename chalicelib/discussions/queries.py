"""The query parameters of the discussion list and its counts, declared without pydantic (contract/params.py): a
cold first list page reads them with the field types' checks alone; `schemas.ListQuery` and `schemas.StatusQuery`
are the models of the same fields (the document, and the wording of a refusal)."""
from __future__ import annotations

from typing import Annotated, Any

from chalicelib.contract.params import Params
from chalicelib.contract.types import Choice, Cursor, Email, PageLimit, _Type, rule
from chalicelib.discussions.models import DISCUSSION_TYPES, STATUSES


class ParticipantFilter(_Type):
    """The `participant` filter: an email address (with `@`) or a user id (at most 128 characters)."""

    def check(self, value: Any) -> str | None:
        from chalicelib.discussions.service import participant_reference

        if not isinstance(value, str):
            raise rule("", "participant must be an email address or a user id")
        participant_reference(value)  # the service reads it again; this refuses it before anything is read
        return value

    def schema(self) -> dict[str, Any]:
        return {"description": "an email address (with `@`) or a user id (at most 128 characters)",
                "anyOf": [Email(required=True).schema(),
                          {"type": "string", "maxLength": 128, "pattern": "^[^@]*[^@\\s][^@]*$"}]}


class ListQuery(Params):
    DEPRECATED = ("next_cursor",)

    status: Annotated[str, Choice(STATUSES, default="active")] = "active"
    discussion_type: Annotated[str | None, Choice(DISCUSSION_TYPES)] = None
    participant: Annotated[str | None, ParticipantFilter()] = None
    limit: Annotated[int, PageLimit()] = 25
    cursor: Annotated[str | None, Cursor()] = None
    next_cursor: Annotated[str | None, Cursor("accepted as an alias of `cursor` when `cursor` is absent")] = None


class StatusQuery(Params):
    status: Annotated[str, Choice(STATUSES, default="active")] = "active"
