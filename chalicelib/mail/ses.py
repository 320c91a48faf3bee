"""The one place that talks to Amazon SES: send one raw message, retrying throttling with backoff."""
from __future__ import annotations

import functools
import random
import time
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import settings

THROTTLING_CODES = {"Throttling", "ThrottlingException", "MaxSendingRateExceeded", "TooManyRequestsException",
                    "ServiceUnavailable", "InternalFailure"}


class SendFailed(Exception):
    """SES did not accept the message; `retryable` says whether a later attempt may succeed."""

    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retryable = retryable


@functools.lru_cache(maxsize=1)
def client() -> Any:
    import boto3

    return boto3.client("ses", region_name=settings().region)


def send_raw(source: str, destination: str, raw: bytes, configuration_set: str | None = None,
             attempts: int = 4, base_delay: float = 0.2) -> str:
    """Send `raw` to exactly one destination; returns the SES message id. Raises SendFailed."""
    arguments: dict[str, Any] = {"Source": source, "Destinations": [destination], "RawMessage": {"Data": raw}}
    if configuration_set:
        arguments["ConfigurationSetName"] = configuration_set
    for attempt in range(attempts):
        try:
            return client().send_raw_email(**arguments)["MessageId"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            message = error.response.get("Error", {}).get("Message", "")
            retryable = code in THROTTLING_CODES
            if not retryable or attempt == attempts - 1:
                raise SendFailed(code, message, retryable) from error
            time.sleep(base_delay * 2 ** attempt * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- sending identities (chalicelib/identities)
# SES API v1 throughout, like send_raw: VerifyDomainDkim, GetIdentityVerificationAttributes and
# GetIdentityDkimAttributes exist in moto too (SESv2's CreateEmailIdentity in moto 5.2 returns no DKIM tokens).


def start_domain_verification(domain: str) -> list[str]:
    """Create the domain identity with Easy DKIM; the three tokens of its CNAME records.

    AWS (API_VerifyDomainDkim): the call adds the domain to the account's identities; SES can send from it once it
    sees `TOKEN._domainkey.DOMAIN CNAME TOKEN.dkim.amazonses.com` for each token (minutes to 72 hours)."""
    return list(client().verify_domain_dkim(Domain=domain)["DkimTokens"])


def start_address_verification(address: str) -> None:
    """Create the address identity: SES mails the address a link its owner must follow (API_VerifyEmailIdentity)."""
    client().verify_email_identity(EmailAddress=address)


def verification_status(identity: str) -> tuple[str, list[str]]:
    """What SES says of an identity now, as ("verified" | "pending" | "failed", DKIM tokens).

    A domain is usable when its verification or its Easy DKIM has succeeded (API_VerifyDomainDkim: "you can't send
    email from the domain until you either successfully verify it or you successfully set up DKIM for it")."""
    ses = client()
    verification = ses.get_identity_verification_attributes(Identities=[identity])["VerificationAttributes"]
    dkim = ses.get_identity_dkim_attributes(Identities=[identity])["DkimAttributes"].get(identity, {})
    statuses = {verification.get(identity, {}).get("VerificationStatus"), dkim.get("DkimVerificationStatus")}
    tokens = list(dkim.get("DkimTokens") or [])
    if "Success" in statuses:
        return "verified", tokens
    if statuses & {"Failed"} and not statuses & {"Pending", "TemporaryFailure"}:
        return "failed", tokens
    return "pending", tokens


def delete_identity(identity: str) -> None:
    client().delete_identity(Identity=identity)


def receive_for(domain: str) -> bool:
    """Make SES receiving take mail for `domain` as it does for the stage's reply domain: a receipt rule in the active
    rule set with the same actions (S3 + SNS) as the stage's own rule. False when this deployment receives no mail
    (no active rule set, or no rule storing mail in S3) — the caller decides whether that is acceptable."""
    import hashlib

    ses = client()
    active = ses.describe_active_receipt_rule_set()
    rule_set = (active.get("Metadata") or {}).get("Name")
    rules = active.get("Rules") or []
    if not rule_set:
        return False
    if any(domain in (rule.get("Recipients") or []) for rule in rules):
        return True
    model = next((rule for rule in rules if any("S3Action" in action for action in rule.get("Actions") or [])), None)
    if model is None:
        return False
    name = "tenant-reply-" + hashlib.sha256(domain.encode()).hexdigest()[:24]  # rule names: at most 64 characters
    ses.create_receipt_rule(RuleSetName=rule_set, After=model["Name"],
                            Rule={**model, "Name": name, "Recipients": [domain]})
    return True
