"""Bearer token → Principal(tenant_id, user_id, roles), verified with PyJWT.

Stage `local` accepts HS256 tokens signed with JWT_SECRET; deployed stages accept only RS256 tokens
whose key is in the issuer's JWKS (a Cognito user pool or any OAuth2 provider), checking exp, iss and aud.
Exactly one algorithm is allowed per stage, so `alg: none` and HS/RS confusion are refused by PyJWT.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.config import settings
from chalicelib.errors import Unauthorized

TENANT_ID = re.compile(r"[A-Za-z0-9.:-][A-Za-z0-9_.:-]{0,127}")


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    user_id: str
    roles: frozenset[str]
    email: str | None = None
    # The community board identifies people by integer ids: the `user_id` claim, else a numeric `sub`.
    member_id: int | None = None
    # When the token lists the locations (BusinessIds) its user belongs to, the board shows only those.
    business_ids: frozenset[int] | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@functools.lru_cache(maxsize=1)
def _jwks_client() -> Any:
    import jwt

    url = settings().jwt_jwks_url
    if not url:
        raise Unauthorized("token verification is not configured (JWT_ISSUER)")
    # Kept for the life of a warm Lambda container: keys are fetched once and cached by PyJWT.
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)


def _decode(token: str) -> dict[str, Any]:
    import jwt  # PyJWT loads `cryptography`: only handlers that verify tokens pay for it at cold start

    config = settings()
    required = ["exp", "sub"]
    if config.uses_local_tokens:
        if not config.jwt_secret:
            raise Unauthorized("token verification is not configured (JWT_SECRET)")
        return jwt.decode(token, config.jwt_secret, algorithms=["HS256"], options={"require": required},
                          audience=config.jwt_audience, issuer=config.jwt_issuer)
    if not config.jwt_jwks_url or not config.jwt_issuer:
        raise Unauthorized("token verification is not configured (JWT_ISSUER)")
    signing_key = _jwks_client().get_signing_key_from_jwt(token)
    required += ["iss", "aud"] if config.jwt_audience else ["iss"]
    return jwt.decode(token, signing_key.key, algorithms=["RS256"], options={"require": required},
                      audience=config.jwt_audience, issuer=config.jwt_issuer)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    tenant_id = claims.get("tenant_id") or claims.get("custom:tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id.strip():
        raise Unauthorized("token has no tenant_id claim")
    if not TENANT_ID.fullmatch(tenant_id.strip()):
        # '#' separates the parts of our composite keys; a leading '_' marks internal partitions.
        raise Unauthorized("token tenant_id must be 1-128 letters, digits, '.', ':', '-' or '_' (not first)")
    roles = claims.get("roles", claims.get("cognito:groups", []))
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise Unauthorized("token roles claim must be a list of strings")
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not user_id:
        raise Unauthorized("token has no sub claim")
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    return Principal(tenant_id=tenant_id.strip(), user_id=user_id, roles=frozenset(roles), email=email,
                     member_id=_member_id(claims), business_ids=_business_ids(claims))


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    return value if isinstance(value, int) and 0 < value < 2**63 else None


def _member_id(claims: Mapping[str, Any]) -> int | None:
    for name in ("user_id", "custom:user_id", "sub"):
        if name in claims:
            member = _positive_int(claims[name])
            if member is not None:
                return member
    return None


def _business_ids(claims: Mapping[str, Any]) -> frozenset[int] | None:
    raw = claims.get("business_ids", claims.get("custom:business_ids"))
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    if not isinstance(raw, list):
        raise Unauthorized("token business_ids claim must be a list of integers")
    values = [_positive_int(value) for value in raw]
    numbers = frozenset(value for value in values if value is not None)
    if len(numbers) != len(set(values)):
        raise Unauthorized("token business_ids claim must be a list of integers")
    return numbers


def authenticate(headers: Mapping[str, str]) -> Principal:
    """The caller of a request, from its Authorization header; Unauthorized if anything is off."""
    header = headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token in the Authorization header")
    import jwt

    try:
        claims = _decode(token.strip())
    except (jwt.PyJWTError, ValueError) as error:
        raise Unauthorized(_in_our_words(error)) from None
    return principal_from_claims(claims)


def _in_our_words(error: Exception) -> str:
    """What is wrong with a token, said by us: the library's own messages name its internals (key ids, JWKS
    URLs, parser states), which a caller has no use for and an attacker should not read."""
    import jwt

    reasons: tuple[tuple[type[Exception], str], ...] = (
        (jwt.ExpiredSignatureError, "token has expired"),
        (jwt.ImmatureSignatureError, "token is not valid yet"),
        (jwt.InvalidAudienceError, "token was not issued for this service (audience)"),
        (jwt.InvalidIssuerError, "token was not issued by the expected issuer"),
        (jwt.MissingRequiredClaimError, "token lacks a required claim (exp, sub, iss or aud)"),
        (jwt.InvalidAlgorithmError, "token is signed with an algorithm this service does not accept"),
        (jwt.InvalidSignatureError, "token signature does not verify"),
        (jwt.PyJWKClientError, "token signing key is not one of the issuer's keys"),
        (jwt.DecodeError, "token is not a well-formed JWT"),
    )
    return next((reason for kind, reason in reasons if isinstance(error, kind)), "token could not be verified")


def issue_local_token(tenant_id: str, user_id: str, roles: list[str], secret: str,
                      ttl_seconds: int = 12 * 3600, email: str | None = None,
                      issuer: str | None = None, audience: str | None = None,
                      extra: dict[str, Any] | None = None) -> str:
    """An HS256 token for stage `local` (the `make token` command and tests)."""
    import time

    import jwt

    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "tenant_id": tenant_id, "roles": roles,
                              "iat": now, "exp": now + ttl_seconds}
    if email:
        claims["email"] = email
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm="HS256")
