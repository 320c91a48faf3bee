"""Property-based fuzz of every HTTP operation, generated from the OpenAPI document (chalicelib/openapi.json).

For each documented operation hypothesis draws a caller (administrator, a member with one role, another tenant's
administrator, no token, a garbage token), a Content-Type (JSON, JSON with a charset, text, none), path parameters
(ids that exist, or any text), query parameters (values the schema allows, or any text) and a body (one the schema
allows, the same with one field of the wrong type, any JSON, or bytes that are not JSON). Every answer must be
below 500, have a status the document lists for that operation, and match the documented schema: the tenant error
shape on /api/tenant, the community envelope on /api/community. Bounded and derandomised so CI is fast and
repeatable; FUZZ_EXAMPLES=500 searches harder.
"""
from __future__ import annotations

import json
import os
import urllib.parse
from functools import cache
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from chalicelib import clock
from chalicelib.openapi import document
from tests.conftest import token_for

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head")
TENANT = "fuzz-tenant"
ADMIN_ID = "1001"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))


def resolve(node: Any, doc: dict | None = None) -> Any:
    """The node with every local $ref replaced by what it points to (the document has no recursive schemas)."""
    doc = doc if doc is not None else document()
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return resolve({**target, **rest} if rest else target, doc)
        return {key: resolve(value, doc) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, doc) for value in node]
    return node


def operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every documented operation; deletions last, so the others meet the seeded data."""
    found = [(method.upper(), path) for path, item in document()["paths"].items()
             for method in item if method in HTTP_METHODS]
    return sorted(found, key=lambda operation: (operation[0] == "DELETE", operation[1], operation[0]))


@cache
def operation(method: str, path: str) -> dict[str, Any]:
    item = document()["paths"][path]
    op = resolve(item[method.lower()])
    op["parameters"] = resolve(item.get("parameters", [])) + op.get("parameters", [])
    return op


# ---------------------------------------------------------------- the world the fuzz runs in


class World:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.known: dict[str, list[str]] = {}
        self.callers = {
            "admin": self._bearer(token_for(TENANT, ADMIN_ID, ["admin"])),
            "member": self._bearer(token_for(TENANT, "2002", ["CommunityThread-Read", "CommunityMessage-Read"])),
            "other-tenant": self._bearer(token_for("other-tenant", ADMIN_ID, ["admin"])),
            "garbage": {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."},
            "none": {},
        }

    @staticmethod
    def _bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: bytes = b"", caller: str = "admin",
             content_type: str | None = "application/json"):
        headers = {**self.callers[caller], **({"Content-Type": content_type} if content_type else {})}
        return self.client.http.request(method, path, headers=headers, body=body)

    def seed(self, method: str, path: str, body: dict) -> dict:
        response = self.call(method, path, json.dumps(body).encode())
        assert response.status_code < 300, (path, response.body)
        return json.loads(response.body)

    def remember(self, name: str, value: Any) -> None:
        self.known.setdefault(name, []).append(str(value))


def seed(world: World) -> None:
    discussion = world.seed("POST", "/api/tenant/threads", {
        "subject": "Quote 1042", "discussion_type": "quote", "context_type": "quote", "context_id": "Q-1042",
        "initial_message": "Here is the quote.",
        "participants": [{"email": "cleo@client.example", "name": "Cleo Client"}]})
    world.remember("discussion_id", discussion["id"])
    world.remember("context_type", "quote")
    world.remember("context_id", "Q-1042")
    for participant in discussion["participants"]:
        world.remember("participant_id", participant["id"])
    world.remember("user_id", ADMIN_ID)
    world.remember("email", "cleo@client.example")

    group = world.seed("POST", "/api/community/communitygroups",
                       {"BusinessId": 1, "Name": "Makers", "AccessLevel": "Public"})
    world.remember("group_id", group["Value"]["Id"])
    thread = world.seed("POST", "/api/community/communitythreads",
                        {"BusinessId": 1, "UserId": int(ADMIN_ID), "Subject": "Welcome", "Message": "Hello @2002",
                         "Tags": "intro,news"})
    world.remember("thread_id", thread["Value"]["Id"])
    reply = world.seed("POST", "/api/community/communitymessages",
                       {"CommunityThreadId": thread["Value"]["Id"], "UserId": int(ADMIN_ID), "Message": "Hi"})
    world.remember("message_id", reply["Value"]["Id"])


@pytest.fixture(scope="module")
def world(moto_world):
    from app import app

    moto_world.restore()
    with Client(app, stage_name="local") as client:
        fuzz_world = World(client)
        seed(fuzz_world)
        yield fuzz_world
    clock.reset_clock()


# ---------------------------------------------------------------- what hypothesis draws

# A path segment as API Gateway would hand it over: any text but the separators of a URL (";" too: chalice's
# local router splits it off as URL parameters, which API Gateway does not).
SEGMENTS = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/?#;"),
                   min_size=1, max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=8)


def as_query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def from_schema(schema: dict) -> st.SearchStrategy:
    """Values a JSON schema accepts, for the keywords the document uses (hypothesis-jsonschema needs private
    hypothesis internals that current hypothesis no longer has)."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return st.one_of([from_schema({**{k: v for k, v in schema.items() if k != combinator}, **option})
                              for option in schema[combinator]])
    types = schema.get("type", ["null", "boolean", "integer", "string", "object"])
    types = [types] if isinstance(types, str) else types
    return st.one_of([_of_type(kind, schema) for kind in types])


def _of_type(kind: str, schema: dict) -> st.SearchStrategy:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        low = schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else schema.get("minimum", -(2**53))
        high = schema["exclusiveMaximum"] - 1 if "exclusiveMaximum" in schema else schema.get("maximum", 2**53)
        integers = st.integers(min_value=int(low), max_value=int(high))
        return integers if kind == "integer" else integers | st.floats(min_value=low, max_value=high)
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda value: schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10**9))
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 60), 60))
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 5), 5))
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: from_schema(properties.get(name, {})) for name in sorted(required)},
            optional={name: from_schema(sub) for name, sub in sorted(properties.items()) if name not in required})
    raise AssertionError(f"the fuzz cannot generate type {kind!r}")


@cache
def schema_strategy(schema_json: str) -> st.SearchStrategy:
    return from_schema(json.loads(schema_json))


def schema_values(schema: dict) -> st.SearchStrategy:
    return schema_strategy(json.dumps(schema, sort_keys=True))


def draw_path(data: st.DataObject, world: World, path: str, op: dict) -> str:
    filled = path
    for parameter in op["parameters"]:
        if parameter["in"] != "path":
            continue
        known = world.known.get(parameter["name"], [])
        choices = [SEGMENTS, schema_values(parameter.get("schema", {"type": "string"})).map(as_query_value)
                   .filter(lambda v: v and not set(v) & set("/?#;") and v.isprintable())]
        if known:
            choices = [st.sampled_from(known)] * 3 + choices
        value = data.draw(st.one_of(choices), label=parameter["name"])
        filled = filled.replace("{" + parameter["name"] + "}", value)
    query = {}
    for parameter in op["parameters"]:
        if parameter["in"] == "query" and data.draw(st.booleans(), label=f"has {parameter['name']}"):
            allowed = schema_values(parameter.get("schema", {})).map(as_query_value)
            query[parameter["name"]] = data.draw(allowed | st.text(max_size=20), label=parameter["name"])
    return filled + ("?" + urllib.parse.urlencode(query) if query else "")


def draw_body(data: st.DataObject, op: dict) -> tuple[bytes, str]:
    content = op.get("requestBody", {}).get("content", {})
    if not content:
        return b"", ""
    media, spec = next(iter(content.items()))
    if "json" not in media:
        return data.draw(st.binary(max_size=64), label="body"), media
    valid = schema_values(spec.get("schema", {}))
    kind = data.draw(st.sampled_from(["valid", "valid", "wrong-type", "any-json", "not-json"]), label="kind")
    if kind == "valid":
        body = data.draw(valid, label="body")
    elif kind == "wrong-type":
        body = data.draw(valid, label="body")
        if isinstance(body, dict) and body:
            field = data.draw(st.sampled_from(sorted(body)), label="field")
            body = {**body, field: data.draw(JSON_VALUES, label="value")}
    elif kind == "any-json":
        body = data.draw(JSON_VALUES, label="body")
    else:
        return data.draw(st.sampled_from([b"{", b"not json", b"\xff\xfe", b'{"a": }', b"[1, 2"]), label="raw"), media
    return json.dumps(body).encode(), media


# ---------------------------------------------------------------- what every answer must be


def documented_response(op: dict, status: int) -> dict:
    responses = op["responses"]
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return responses[key]
    raise AssertionError(f"status {status} is not documented for this operation: {sorted(responses)}")


def check_answer(method: str, path: str, op: dict, response) -> None:
    status = response.status_code
    assert status < 500, f"{method} {path} answered {status}: {response.body[:500]!r}"
    documented = documented_response(op, status)
    payload = json.loads(response.body) if response.body and "json" in response.headers.get("Content-Type", "") \
        else None
    if status >= 400 and path.startswith("/api/"):
        assert payload is not None, f"{status} without a JSON error body"
        if path.startswith("/api/community/"):
            assert payload["WasSuccessful"] is False and payload["Status"] == status and payload["Errors"], payload
        else:
            assert payload["error"]["code"] and payload["error"]["message"], payload
    schema = documented.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None and payload is not None and method != "HEAD":
        errors = sorted(Draft202012Validator(schema).iter_errors(payload), key=str)
        assert not errors, f"{method} {path} {status} does not match its documented schema: {errors[0]}"


@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda value: value)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_operation_answers_a_documented_status_and_shape(world, method, path, data):
    op = operation(method, path)
    url = draw_path(data, world, path, op)
    body, media = draw_body(data, op)
    caller = data.draw(st.sampled_from(["admin"] * 5 + ["member", "other-tenant", "garbage", "none"]),
                       label="caller")

    content_type = media or "application/json"
    if path.startswith("/api/"):
        content_type = data.draw(st.sampled_from([content_type] * 4 + [
            "application/json; charset=utf-8", "text/plain", None]), label="content type")

    response = world.call(method, url, body, caller, content_type)

    check_answer(method, path, op, response)
