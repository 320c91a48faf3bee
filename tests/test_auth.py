"""Bearer tokens: who may call the tenant API, and what every bad token gets (401 in the error shape)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib import config
from tests.conftest import JWT_SECRET, auth_headers

THREADS = "/api/tenant/threads"


def _get(client, headers):
    response = client.http.get(THREADS, headers=headers)
    return response.status_code, json.loads(response.body)


def _claims(**overrides):
    now = int(time.time())
    claims = {"sub": "user-1", "tenant_id": "tenant-a", "roles": ["staff"], "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def test_a_valid_local_token_is_accepted(client):
    status, body = _get(client, auth_headers())
    assert status == 200
    assert body["items"] == []


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_missing_or_malformed_authorization_is_401(client, header):
    headers = {} if header is None else {"Authorization": header}
    status, body = _get(client, headers)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_bad_signature_is_401(client):
    token = jwt.encode(_claims(), "another-secret-that-is-long-enough-32b", algorithm="HS256")
    status, body = _get(client, {"Authorization": f"Bearer {token}"})
    # Our words, not PyJWT's ("Signature verification failed" and the like name the library's internals).
    assert status == 401 and body["error"] == {"code": "unauthorized", "message": "token signature does not verify"}


@pytest.mark.parametrize(("token", "message"), [
    ("not-a-jwt", "token is not a well-formed JWT"),
    (jwt.encode({"tenant_id": "tenant-a"}, JWT_SECRET, algorithm="HS256"),
     "token lacks a required claim (exp, sub, iss or aud)"),
    ("eyJhbGciOiJub25lIn0.e30.", "token is signed with an algorithm this service does not accept"),
])
def test_a_401_says_what_is_wrong_in_our_words(client, token, message):
    status, body = _get(client, {"Authorization": f"Bearer {token}"})
    assert status == 401 and body["error"] == {"code": "unauthorized", "message": message}


def test_alg_none_is_401(client):
    token = jwt.encode(_claims(), None, algorithm="none")
    status, _ = _get(client, {"Authorization": f"Bearer {token}"})
    assert status == 401


def test_expired_token_is_401(client):
    token = jwt.encode(_claims(exp=int(time.time()) - 5), JWT_SECRET, algorithm="HS256")
    status, body = _get(client, {"Authorization": f"Bearer {token}"})
    assert status == 401 and body["error"]["message"] == "token has expired"


def test_token_without_tenant_is_401(client):
    token = jwt.encode(_claims(tenant_id=None), JWT_SECRET, algorithm="HS256")
    status, body = _get(client, {"Authorization": f"Bearer {token}"})
    assert status == 401 and "tenant_id" in body["error"]["message"]


def test_cognito_claim_names_are_accepted(client):
    token = jwt.encode(_claims(tenant_id=None, roles=None, **{"custom:tenant_id": "tenant-a",
                                                               "cognito:groups": ["admin"]}),
                       JWT_SECRET, algorithm="HS256")
    created = client.http.post(THREADS, headers={"Authorization": f"Bearer {token}",
                                                 "Content-Type": "application/json"},
                               body=json.dumps({"subject": "Cognito"}))
    assert created.status_code == 201
    status, body = _get(client, auth_headers("tenant-a"))
    assert [item["subject"] for item in body["items"]] == ["Cognito"]


# ---------------------------------------------------------------- deployed stages: RS256 against a JWKS

ISSUER_PATH = "/pool"
AUDIENCE = "app-client"


@pytest.fixture
def rsa_issuer(monkeypatch):
    """A real JWKS endpoint on loopback, and the app configured as a deployed stage that trusts it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
    payload = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{server.server_port}{ISSUER_PATH}"
    for name, value in {"STAGE": "dev", "JWT_ISSUER": issuer, "JWT_AUDIENCE": AUDIENCE}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JWT_JWKS_URL", raising=False)
    config.settings.cache_clear()
    from chalicelib import auth

    auth._jwks_client.cache_clear()
    yield key, issuer
    server.shutdown()
    config.settings.cache_clear()
    auth._jwks_client.cache_clear()


def _rs256(key, **claims):
    return jwt.encode(_claims(**claims), key, algorithm="RS256", headers={"kid": "key-1"})


def test_deployed_stage_accepts_rs256_from_the_issuers_jwks(aws, rsa_issuer):
    from chalicelib.auth import authenticate

    key, issuer = rsa_issuer
    principal = authenticate({"authorization": f"Bearer {_rs256(key, iss=issuer, aud=AUDIENCE)}"})
    assert (principal.tenant_id, principal.user_id) == ("tenant-a", "user-1")


@pytest.mark.parametrize("case", ["wrong_audience", "wrong_issuer", "expired", "other_key", "hs256_with_public_key",
                                  "hs256_local_secret"])
def test_deployed_stage_refuses_bad_tokens(aws, rsa_issuer, case):
    from cryptography.hazmat.primitives import serialization

    from chalicelib.auth import authenticate
    from chalicelib.errors import Unauthorized

    key, issuer = rsa_issuer
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    tokens = {
        "wrong_audience": lambda: _rs256(key, iss=issuer, aud="someone-else"),
        "wrong_issuer": lambda: _rs256(key, iss="https://evil.example.com", aud=AUDIENCE),
        "expired": lambda: _rs256(key, iss=issuer, aud=AUDIENCE, exp=int(time.time()) - 5),
        "other_key": lambda: _rs256(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                    iss=issuer, aud=AUDIENCE),
        # HS/RS confusion: an HS256 token "signed" with the public key must not pass.
        "hs256_with_public_key": lambda: _forge_hs256(public_pem, issuer),
        "hs256_local_secret": lambda: jwt.encode(_claims(iss=issuer, aud=AUDIENCE), JWT_SECRET, algorithm="HS256",
                                                 headers={"kid": "key-1"}),
    }
    with pytest.raises(Unauthorized):
        authenticate({"authorization": f"Bearer {tokens[case]()}"})


def _forge_hs256(secret: bytes, issuer: str) -> str:
    """Build an HS256 token by hand: PyJWT itself refuses to use a PEM key as an HMAC secret."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    body = b64(json.dumps(_claims(iss=issuer, aud=AUDIENCE)).encode())
    signature = b64(hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest())
    return f"{header}.{body}.{signature}"


@pytest.mark.parametrize("tenant", ["a#b", "_unmatched", "x" * 129, "t y"])
def test_tenant_ids_that_could_collide_with_our_keys_are_refused(client, tenant):
    token = jwt.encode(_claims(tenant_id=tenant), JWT_SECRET, algorithm="HS256")
    status, body = _get(client, {"Authorization": f"Bearer {token}"})
    assert status == 401 and "tenant_id" in body["error"]["message"]
