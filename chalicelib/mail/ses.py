"""The one place that talks to Amazon SES: one raw message to one recipient, within the account's send rate.

Retrying is the SDK's (chalicelib/aws.py: botocore's standard mode, `aws.MAX_ATTEMPTS` attempts per call), never a
loop of ours. What still fails is sorted for the caller:
- SES answered and did not send (throttled, unavailable, or refused the message): `SendFailed`, `retryable` saying
  whether a later attempt may succeed (the caller puts the work back on the queue with a delay, jobs.RetryLater);
- the request never reached SES (no connection): `SendFailed`, retryable;
- SES may have sent it (the connection broke or timed out after the request went out): the botocore error is raised
  as it is, at once, so that the caller's claim stays at its CALLING step and the work is listed for an operator
  (chalicelib/claims.py). The SDK would retry such an error like any transient one and could send twice (SES has no
  idempotency token); `_no_second_attempt_after_the_request_left` stops that retry for SendRawEmail only, keeping
  the SDK's retries of what SES answered (throttling) and of connections that never opened (docs/sending.md).
"""
from __future__ import annotations

import functools
import threading
import time
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as NoConnection

from chalicelib import aws, jobs
from chalicelib.config import settings

# SES answered without sending, and a later attempt may succeed. `Throttling` is what SendRawEmail answers when
# the account's send rate is exceeded ("Maximum sending rate exceeded."); MaxSendingRateExceeded is SES v2's.
RETRYABLE_CODES = {"Throttling", "ThrottlingException", "MaxSendingRateExceeded", "TooManyRequestsException",
                   "ServiceUnavailable", "InternalFailure", "RequestTimeout"}


class SendFailed(Exception):
    """SES did not send the message; `retryable` says whether a later attempt may succeed."""

    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retryable = retryable


def client() -> Any:
    ses = aws.client("ses")
    # Run before the retry policy's own handler (more specific events are emitted first); once per client.
    ses.meta.events.register_first("needs-retry.ses.SendRawEmail", _no_second_attempt_after_the_request_left,
                                   unique_id="discussion-hub-no-second-send")
    return ses


def _no_second_attempt_after_the_request_left(caught_exception: Exception | None = None, **_: Any) -> None:
    """botocore asks its handlers whether to attempt a call again; raising here ends the call with that error.

    An `HTTPClientError` (a read timeout, a connection closed while waiting for the answer) comes after the request
    was sent: SES may have taken it, and another attempt could mail the recipient twice. Connection errors
    (`botocore.exceptions.ConnectionError`: the connection never opened) and SES's own error answers are left to the
    retry policy."""
    if isinstance(caught_exception, HTTPClientError):
        raise caught_exception


def send_raw(source: str, destination: str, raw: bytes, configuration_set: str | None = None) -> str:
    """Send `raw` to exactly one destination; returns the SES message id. One SDK call (its own retries only)."""
    arguments: dict[str, Any] = {"Source": source, "Destinations": [destination], "RawMessage": {"Data": raw}}
    if configuration_set:
        arguments["ConfigurationSetName"] = configuration_set
    try:
        return str(client().send_raw_email(**arguments)["MessageId"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        raise SendFailed(code, error.response.get("Error", {}).get("Message", ""), code in RETRYABLE_CODES) \
            from error
    except NoConnection as error:  # connecting failed: nothing reached SES
        raise SendFailed("NoConnection", str(error), retryable=True) from error


# ---------------------------------------------------------------- the account's send rate


@functools.cache
def max_send_rate() -> float:
    """The account's SES send rate (emails per second): SES_MAX_SEND_RATE if set, else GetSendQuota, read once per
    container (the quota changes rarely; a container lives minutes to hours)."""
    configured = settings().ses_max_send_rate
    if configured > 0:
        return configured
    return float(client().get_send_quota()["MaxSendRate"])


class _Pace:
    """A token bucket of one container's share of the account's rate (capacity: one second of it, at least 1)."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.capacity = max(1.0, per_second)
        self.tokens = self.capacity
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.per_second


_pace: _Pace | None = None


def wait_before_sending(senders: int) -> float:
    """Seconds this container should wait before its next send (0: send now; the send is counted), when `senders`
    containers share the account's rate. A caller that must wait puts its work back on the queue with that delay
    instead of sleeping. SES's Throttling answer stays the real guard: this only keeps us from provoking it."""
    global _pace
    if _pace is None:
        _pace = _Pace(max(max_send_rate() / max(senders, 1), 0.01))
    return _pace.take()


def take_a_send() -> None:
    """One send from this container's share of the account's rate (`wait_before_sending`, shared by the `jobs`
    Lambdas), or `jobs.RetryLater` for as long as the share needs: the work goes back on the queue instead of the
    Lambda sleeping (a copy, a group of copies, a digest)."""
    wait = wait_before_sending(jobs.MAX_CONCURRENCY)
    if wait > 0:
        raise jobs.RetryLater(wait, "this container's share of the SES send rate is used up")


def reset_pace() -> None:
    """Forget the quota and the bucket (tests; a container reads them once)."""
    global _pace
    _pace = None
    max_send_rate.cache_clear()


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
