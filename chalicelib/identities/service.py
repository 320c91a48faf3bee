"""Sending identities: a tenant registers a domain (or an address), SES verifies it, and only then may the tenant
send as it. One owner per identity in the whole service: the first tenant to register it; another gets 409.

The journey (docs/security.md, "Sending identities"): POST registers the identity with a conditional write, then
asks SES to create it with Easy DKIM and answers the three DKIM CNAME records to publish; SES verifies the domain
once it sees them; every read of the identity asks SES again (status is SES's word, never the tenant's);
`from_address` and `email_reply_domain` are accepted only on a verified identity of the caller's tenant.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.config import settings
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationError
from chalicelib.identities.models import SendingIdentity
from chalicelib.mail import ses
from chalicelib.validation import domain_name, email_address

logger = logging.getLogger(__name__)
MAX_PER_TENANT_PAGE = 100


@dataclass(frozen=True)
class DnsRecord:
    type: str
    name: str
    value: str


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("sending identities are managed by the admin role")


def parse_identity(value: Any, field: str = "identity") -> tuple[str, str]:
    """("domain" | "address", the lower-cased identity)."""
    if isinstance(value, str) and "@" in value:
        return "address", email_address(value, field)
    return "domain", domain_name(value, field)


def _domain_of(identity: str) -> str:
    return identity.rpartition("@")[2]


def _covering(domain: str) -> list[str]:
    """The domain and each parent with at least two labels: whoever owns one of them owns `domain`'s name space."""
    labels = domain.split(".")
    return [".".join(labels[index:]) for index in range(len(labels) - 1)]


def _owned(candidates: list[str]) -> dict[str, SendingIdentity]:
    """The registered identities among `candidates` (one BatchGet, a dozen keys at most)."""
    return {item.identity: item for item in SendingIdentity.batch_get(list(dict.fromkeys(candidates)))}


def dns_records(item: SendingIdentity) -> list[DnsRecord]:
    if item.kind != "domain":
        return []
    return [DnsRecord("CNAME", f"{token}._domainkey.{item.identity}", f"{token}.dkim.amazonses.com")
            for token in item.dkim_tokens or []]


def as_json(item: SendingIdentity) -> dict[str, Any]:
    return {"identity": item.identity, "kind": item.kind, "status": item.status,
            "dns_records": [{"type": r.type, "name": r.name, "value": r.value} for r in dns_records(item)],
            "created_at": item.created_at, "created_by": item.created_by, "checked_at": item.checked_at,
            "verified_at": item.verified_at}


def register(principal: Principal, name: str) -> SendingIdentity:
    """Claim the identity for the caller's tenant and have SES create it; 409 if another tenant holds it. `name`: a
    domain or an address, checked by the route (chalicelib/identities/schemas.py)."""
    _admin(principal)
    kind, identity = parse_identity(name)
    others = [item for item in _owned(_covering(_domain_of(identity)) + [identity]).values()
              if item.tenant_id != principal.tenant_id]
    if others:
        raise Conflict(f"{identity} belongs to another tenant's sending identities", field="identity")
    item = SendingIdentity(identity, tenant_id=principal.tenant_id, kind=kind, status="pending",
                           created_at=clock.now_iso(), created_by=principal.user_id)
    try:
        item.save(condition=SendingIdentity.identity.does_not_exist()
                  | (SendingIdentity.tenant_id == principal.tenant_id))
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(f"{identity} belongs to another tenant's sending identities", field="identity") from None
        raise
    try:
        if kind == "domain":
            item.dkim_tokens = ses.start_domain_verification(identity)
        else:
            ses.start_address_verification(identity)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("InvalidParameterValue", "MessageRejected"):
            item.delete(condition=SendingIdentity.status == "pending")
            raise ValidationError(f"SES refused the identity: {error.response['Error'].get('Message', '')}"[:300],
                                  field="identity") from None
        raise  # throttling answers 503 (chalicelib/http.py); the claim stays and a repeat of the POST completes it
    return refresh(item)


def refresh(item: SendingIdentity) -> SendingIdentity:
    """Ask SES how the identity stands and keep its answer."""
    status, tokens = ses.verification_status(item.identity)
    item.status = status
    item.dkim_tokens = tokens or item.dkim_tokens
    item.checked_at = clock.now_iso()
    if status == "verified" and not item.verified_at:
        item.verified_at = item.checked_at
    item.save()
    return item


def get(principal: Principal, identity: str) -> SendingIdentity:
    """One identity of the caller's tenant, as SES sees it now; 404 for another tenant's or an unknown one."""
    _admin(principal)
    try:
        _, key = parse_identity(identity)
        item = SendingIdentity.get(key)
    except (ValidationError, SendingIdentity.DoesNotExist):
        raise NotFound("no such sending identity", field="identity") from None
    if item.tenant_id != principal.tenant_id:
        raise NotFound("no such sending identity", field="identity")
    return refresh(item)


def list_for(principal: Principal) -> list[SendingIdentity]:
    _admin(principal)
    return list(SendingIdentity.by_tenant.query(principal.tenant_id, limit=MAX_PER_TENANT_PAGE))


def remove(principal: Principal, identity: str) -> None:
    """Give the identity up (and delete it in SES); 409 while the tenant's settings send or receive with it."""
    from chalicelib.mail import communication

    item = get(principal, identity)
    config = communication.get(principal.tenant_id)
    used = [value for value in (config.from_address, config.email_reply_domain) if value and covers(item, value)]
    if used:
        raise Conflict(f"{item.identity} is in use by the communication settings ({used[0]})", field="identity")
    try:
        ses.delete_identity(item.identity)
    except ClientError:
        logger.warning("SES did not delete identity %s; the claim is released anyway", item.identity, exc_info=True)
    item.delete(condition=SendingIdentity.tenant_id == principal.tenant_id)


def covers(item: SendingIdentity, value: str) -> bool:
    """Whether an identity covers an address or a domain (a domain covers its addresses and subdomains)."""
    if item.kind == "address":
        return value == item.identity
    domain = _domain_of(value)
    return domain == item.identity or domain.endswith("." + item.identity)


def _verified_cover(tenant_id: str, value: str, candidates: list[str],
                    field: str) -> tuple[SendingIdentity | None, bool]:
    """(the tenant's identity covering `value`, whether SES says it is verified now). SES is asked every time: an
    identity verified once fails later if its DNS records go (settings change rarely; two SES reads are cheap).

    `candidates` run from the most specific (the address, its domain) to the widest parent, and the most specific
    registered one decides: a tenant holding `example.com` does not send as `news.example.com` once another tenant
    registered that subdomain (409 naming the field), whoever registered first."""
    owned = _owned(candidates)
    closest = next((owned[candidate] for candidate in candidates if candidate in owned), None)
    if closest is not None and closest.tenant_id != tenant_id:
        raise Conflict(f"{field} is on {closest.identity}, a sending identity of another tenant", field=field)
    mine = [item for item in owned.values() if item.tenant_id == tenant_id and covers(item, value)]
    for item in sorted(mine, key=lambda i: i.status != "verified"):
        if refresh(item).status == "verified":
            return item, True
    return (mine[0] if mine else None), False


def require_sender(tenant_id: str, address: str, field: str = "from_address") -> None:
    """`address` must be on a verified identity of this tenant: the address itself, or its domain (or a parent)."""
    item, verified = _verified_cover(tenant_id, address, [address, *_covering(_domain_of(address))], field)
    if item is None:  # 409: the value is well-formed; this tenant does not hold it (yet)
        raise Conflict(f"{field} must be on a sending identity of this tenant: register its domain with "
                       "POST /api/tenant/identities first", field=field)
    if not verified:
        raise Conflict(f"{field} is on {item.identity}, which SES has not verified yet: publish its DNS records "
                       "(GET /api/tenant/identities/" + item.identity + ")", field=field)


def require_reply_domain(tenant_id: str, domain: str, field: str = "email_reply_domain") -> None:
    """The service's own reply domain (reply keys are bound to their tenant), or a verified domain of this tenant,
    which SES receiving is then set to take mail for."""
    if domain == settings().default_reply_domain:
        return
    item, verified = _verified_cover(tenant_id, domain, _covering(domain), field)
    if item is None or item.kind != "domain":
        raise Conflict(f"{field} must be {settings().default_reply_domain} or a domain of this tenant's "
                       "sending identities (POST /api/tenant/identities)", field=field)
    if not verified:
        raise Conflict(f"{field} is on {item.identity}, which SES has not verified yet", field=field)
    if not ses.receive_for(domain):
        logger.warning("SES receiving is not set up on this deployment: replies to %s will not arrive", domain)
