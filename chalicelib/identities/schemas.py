"""The contract of sending identities and the tenant's sending reputation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.contract.models import Answer, Path, Request, Timestamp
from chalicelib.contract.types import DOMAIN_PATTERN, Domain, Email, PathText, _Type, rule


class IdentityName(_Type):
    """A domain (example.com) or an address (with `@`), lower-cased."""

    def check(self, value: Any) -> str:
        if value is None:
            raise rule("", "identity is required: a domain (example.com) or an address")
        checked = (Email(required=True) if isinstance(value, str) and "@" in value else Domain()).check(value)
        if checked is None:
            raise rule("", "identity is required: a domain (example.com) or an address")
        return checked

    def schema(self) -> dict[str, Any]:
        return {
            "description": "a domain (example.com: Easy DKIM) or an address (SES mails it a link)",
            "anyOf": [{"type": "string", "pattern": DOMAIN_PATTERN}, Email(required=True).schema()],
        }


class IdentityInput(Request):
    identity: Annotated[str, IdentityName()] = Field(default=None, validate_default=True)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        result = handler.resolve_ref_schema(handler(schema))
        result["required"] = ["identity"]
        result["properties"]["identity"].pop("default", None)
        return result


class IdentityPath(Path):
    identity: Annotated[str, PathText(None, "the domain or address (URL-encoded); another tenant's: 404")]


class DnsRecord(Answer):
    type: Literal["CNAME"]
    name: str
    value: str


class SendingIdentity(Answer):
    identity: str
    kind: Literal["domain", "address"]
    status: Literal["pending", "verified", "failed"] = Field(description="what SES said when this answer was made")
    dns_records: list[DnsRecord] = Field(description="the Easy DKIM CNAMEs to publish (a domain)")
    created_at: Timestamp
    created_by: str
    checked_at: Timestamp | None
    verified_at: Timestamp | None


class SendingIdentityList(Answer):
    items: list[SendingIdentity]


class RemovedIdentity(Answer):
    identity: str
    removed: Literal[True]


class ReputationLevels(Answer):
    bounce_rate: float
    complaint_rate: float
    min_volume: int


class Reputation(Answer):
    sending: Literal["active", "paused"]
    reason: str | None
    changed_at: Timestamp | None
    window_days: int
    judged_since: date | None = Field(description="set when an operator resumed sending: the counts are those since "
                                                  "that day's resume, not the whole window")
    delivered: int
    hard_bounces: int
    complaints: int
    bounce_rate: float = Field(description="%")
    complaint_rate: float = Field(description="%")
    levels: ReputationLevels
