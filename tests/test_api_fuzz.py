"""The API fuzzed from the outside by schemathesis, from the OpenAPI document the service serves at /openapi.json.

Every operation of the document is called by schemathesis (positive and negative data, examples, coverage of
boundaries) against the app in-process (a WSGI adapter over Chalice's local gateway, moto behind it) with every
check schemathesis has that applies to single requests: not_a_server_error, status_code_conformance,
content_type_conformance, response_headers_conformance, response_schema_conformance, negative_data_rejection,
positive_data_acceptance, missing_required_header, unsupported_method, allow_header_conformance, ignored_auth —
plus one of ours, `another_tenant_sees_nothing`: every successful read by tenant A's administrator is replayed by
tenant B's administrator, who must get a 401/403/404 for A's objects and never a byte of A's marker text.
(schemathesis's own object_level_authorization needs a stateful run with WFC user documents; ours is that rule for
this service's tenants, on every read.)

CI runs FUZZ_EXAMPLES (default 6) derandomised cases an operation; a longer search is one command:
    FUZZ_EXAMPLES=200 .venv/bin/python -m pytest -q -n 2 tests/test_api_fuzz.py
"""
from __future__ import annotations

import http
import json
import os
import urllib.parse
from typing import Any

import pytest
import schemathesis
from chalice.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from chalicelib import clock
from tests.conftest import token_for

TENANT, OTHER = "fuzz-tenant", "other-tenant"
ADMIN_ID = "1001"
MARK = "Zqx7 fuzz-tenant marker"
# Path parameters that name one of tenant A's objects (a context type or a template kind names no object).
OBJECT_IDS = {"discussion_id", "participant_id", "thread_id", "message_id", "group_id", "identity"}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))


class ChaliceWSGI:
    """A WSGI app in front of chalice.test.Client's local API Gateway: what schemathesis calls in-process."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.requests += 1
        # PATH_INFO is the decoded path as latin-1 text; API Gateway hands Chalice the percent-encoded form. ";"
        # stays encoded: Chalice's local router (urlparse) would cut it off as URL parameters, API Gateway does not.
        path = urllib.parse.quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/:@!$&'()*+,=-._~")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        response = self.client.http.request(environ["REQUEST_METHOD"], path, headers=headers, body=body)
        status = http.HTTPStatus(response.status_code)
        start_response(f"{status.value} {status.phrase}", list(response.headers.items()))
        return [response.body or b""]


class World:
    """Tenant A's data (seeded through the API, everything named with MARK), and the callers."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.known: dict[str, list[str]] = {}
        self.admin = {"Authorization": f"Bearer {token_for(TENANT, ADMIN_ID, ['admin'])}"}
        self.other = {"Authorization": f"Bearer {token_for(OTHER, ADMIN_ID, ['admin'])}"}

    def call(self, method: str, path: str, body: Any = None) -> dict:
        response = self.client.http.request(method, path, body=json.dumps(body).encode() if body is not None else b"",
                                            headers={**self.admin, "Content-Type": "application/json"})
        assert response.status_code < 300, (path, response.body)
        return json.loads(response.body)

    def remember(self, name: str, value: Any) -> None:
        self.known.setdefault(name, []).append(str(value))

    def seed(self) -> None:
        self.call("POST", "/api/tenant/identities", {"identity": "fuzz.example"})
        self.remember("identity", "fuzz.example")
        discussion = self.call("POST", "/api/tenant/threads", {
            "subject": MARK, "discussion_type": "quote", "context_type": "quote", "context_id": "Q-1042",
            "initial_message": MARK, "participants": [{"email": "cleo@client.example", "name": MARK}]})
        self.remember("discussion_id", discussion["id"])
        self.remember("context_type", "quote")
        self.remember("context_id", "Q-1042")
        for participant in discussion["participants"]:
            self.remember("participant_id", participant["id"])
        self.remember("user_id", ADMIN_ID)
        self.remember("email", "cleo@client.example")
        self.remember("kind", "discussion_message")
        group = self.call("POST", "/api/community/communitygroups",
                          {"BusinessId": 1, "Name": MARK, "AccessLevel": "Public"})
        self.remember("group_id", group["Value"]["Id"])
        thread = self.call("POST", "/api/community/communitythreads",
                           {"BusinessId": 1, "UserId": int(ADMIN_ID), "Subject": MARK, "Message": MARK})
        self.remember("thread_id", thread["Value"]["Id"])
        reply = self.call("POST", "/api/community/communitymessages",
                          {"CommunityThreadId": thread["Value"]["Id"], "UserId": int(ADMIN_ID), "Message": MARK})
        self.remember("message_id", reply["Value"]["Id"])


@pytest.fixture(scope="module")
def world(moto_world):
    from app import app

    moto_world.restore()
    with Client(app, stage_name="local") as client:
        fuzz_world = World(client)
        fuzz_world.seed()
        yield fuzz_world
    clock.reset_clock()


@pytest.fixture(scope="module")
def api_schema(world):
    adapter = ChaliceWSGI(world.client)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", adapter)

    @schema.hook
    def before_generate_path_parameters(context, strategy):
        # Half the cases name ids that exist (tenant A's), so operations get past their 404 and show their answers.
        names = [p.name for p in context.operation.path_parameters]
        if not names or not all(name in world.known for name in names):
            return strategy
        real = st.fixed_dictionaries({name: st.sampled_from(world.known[name]) for name in names})
        return st.one_of(real, strategy)

    @schema.hook
    def map_case(context, case):
        """Teach the generator what the document says it cannot: a server-issued value (a page cursor, a signed
        unsubscribe token) is valid only as the service issued it, and a string whose contentMediaType is
        application/json is JSON text. Positive cases get such values; negative ones are left as drawn."""
        if case.meta is None or case.meta.generation.mode.value != "positive":
            return case
        for parameter in context.operation.query:
            if parameter.definition.get("x-issued-by-server") and case.query:
                case.query.pop(parameter.name, None)
        if "token" in (case.path_parameters or {}):
            from chalicelib.notifications.unsubscribe import url_for

            case.path_parameters["token"] = url_for(TENANT, ADMIN_ID).rsplit("/", 1)[1]
        if isinstance(case.body, dict) and isinstance(case.body.get("ZoomEventData"), str):
            case.body["ZoomEventData"] = json.dumps({"topic": case.body["ZoomEventData"]})
        return case

    @schema.auth()
    class TenantAdmin:
        """Tenant A's administrator on every operation that declares bearer auth; schemathesis itself also sends
        each request with no and with a broken token (ignored_auth)."""

        def get(self, case, context):
            return world.admin["Authorization"]

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": data}

    yield schema
    print(f"\nschemathesis sent {adapter.requests} requests (FUZZ_EXAMPLES={EXAMPLES})")


def operations() -> list[tuple[str, str]]:
    from chalicelib.openapi import document

    return [(method.upper(), path) for path, item in document()["paths"].items() for method in item
            if method in ("get", "put", "post", "delete", "patch", "head")]


@schemathesis.check
def another_tenant_sees_nothing(ctx, response, case):
    """A read that showed tenant A something shows tenant B nothing of it."""
    if case.method != "GET" or not 200 <= response.status_code < 300 or not case.path.startswith("/api/"):
        return None
    world = _WORLD[0]
    query = urllib.parse.urlencode(case.query or {}, doseq=True)
    other = world.client.http.request("GET", case.formatted_path + ("?" + query if query else ""),
                                      headers=world.other)
    named = [value for name, value in (case.path_parameters or {}).items()
             if name in OBJECT_IDS and str(value) in world.known.get(name, [])]
    if named and other.status_code not in (401, 403, 404):
        raise AssertionError(f"tenant {OTHER} got {other.status_code} for tenant {TENANT}'s {case.formatted_path}")
    if MARK.encode() in (other.body or b""):
        raise AssertionError(f"tenant {OTHER} read tenant {TENANT}'s data at {case.formatted_path}")
    return None


_WORLD: list[World] = []


@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda value: value)
def test_every_operation_passes_every_schemathesis_check(api_schema, world, method, path):
    from hypothesis import given
    from schemathesis.generation.modes import GenerationMode

    _WORLD[:] = [world]
    operation = api_schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate()

    run()
