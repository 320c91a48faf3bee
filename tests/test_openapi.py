"""The OpenAPI document is valid, names exactly the app's routes, and is what GET /openapi.json serves."""
from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from chalicelib.openapi import document

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS}


def app_operations() -> set[tuple[str, str]]:
    from app import app

    # OPTIONS on every path answers CORS preflights (chalicelib/cors.py): the browser's, not an API operation.
    return {(method, path) for path, entries in app.routes.items() for method in entries if method != "OPTIONS"}


def test_the_document_is_valid_openapi_3_1():
    doc = document()

    validate(doc)
    assert doc["openapi"].startswith("3.1")


def test_the_document_names_every_route_of_the_app_and_no_other():
    documented, routed = documented_operations(document()), app_operations()

    assert sorted(routed - documented) == [], "routes missing from chalicelib/openapi.json"
    assert sorted(documented - routed) == [], "documented operations the app does not have"


def test_every_operation_has_a_unique_id_and_documents_its_errors():
    operations = [(path, method, op) for path, item in document()["paths"].items()
                  for method, op in item.items() if method in HTTP_METHODS]
    ids = [op["operationId"] for _, _, op in operations]

    assert len(ids) == len(set(ids))
    for path, method, op in operations:
        codes = set(op["responses"])
        assert any(code.startswith(("2", "3")) for code in codes), f"{method} {path}: no success response"
        if op.get("security", document().get("security")):
            assert "401" in codes, f"{method} {path} needs a token but documents no 401"
        if path.startswith("/api/") and (op.get("parameters") or op.get("requestBody")):
            assert "400" in codes or "404" in codes, f"{method} {path} takes input but documents no 4xx"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_get_openapi_json_serves_the_document_without_a_token(client, headers):
    response = client.http.get("/openapi.json", headers=headers)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == document()


def test_the_committed_document_is_what_the_models_generate():
    from chalicelib.contract.build import DOCUMENT_PATH, build, serialised

    assert DOCUMENT_PATH.read_text(encoding="utf-8") == serialised(build()), "run: make openapi"


def test_a_limit_of_a_model_changes_both_the_check_and_the_document():
    """The models are the single source: a subject allowed 5,000 characters is documented and accepted as such."""
    from typing import Annotated

    from pydantic import ValidationError

    from chalicelib.contract.types import Choice, Text
    from chalicelib.discussions.schemas import CreateDiscussion

    class Wider(CreateDiscussion):
        subject: Annotated[str, Text(5000, required=True)]
        discussion_type: Annotated[str, Choice(("quote", "gossip"), default="quote")] = "quote"

    schema = Wider.model_json_schema()["properties"]
    assert schema["subject"]["maxLength"] == 5000 and "gossip" in schema["discussion_type"]["enum"]
    assert Wider.model_validate({"subject": "s" * 5000, "discussion_type": "gossip"}).discussion_type == "gossip"
    with pytest.raises(ValidationError):
        CreateDiscussion.model_validate({"subject": "s" * 5000})


def _string_limits(schema: dict, components: dict, path: str = "") -> list[tuple[str, int]]:
    """(field, maxLength) of every top-level string property of a request body's schema."""
    def types(prop: dict) -> list:
        return prop["type"] if isinstance(prop.get("type"), list) else [prop.get("type")]

    return [(name, prop["maxLength"]) for name, prop in schema.get("properties", {}).items()
            if "maxLength" in prop and "format" not in prop and "string" in types(prop)]


def test_every_documented_text_limit_of_a_request_body_is_enforced(api):
    """For each documented maxLength of a tenant request body's text field, one character more is a 400 naming it."""
    doc = document()
    schemas = doc["components"]["schemas"]
    checked = 0
    for name in ("CreateDiscussion", "AddMessage", "NotificationTemplateUpdate", "UserProfileUpdate"):
        from chalicelib.http import OPERATIONS, model

        operation = next(o for o in OPERATIONS if o.body == name)
        for field, limit in _string_limits(schemas[name], schemas):
            body = {"subject": "ok", "body": "ok"} if name in ("CreateDiscussion", "AddMessage") else {}
            body[field] = "x" * (limit + 1)
            from pydantic import ValidationError

            with pytest.raises(ValidationError) as refused:
                model(operation.models, name).model_validate(body)
            assert any(error["loc"][0] == field for error in refused.value.errors()), (name, field)
            body[field] = "x" * limit
            try:
                model(operation.models, name).model_validate(body)
            except ValidationError as error:
                assert all(e["loc"][:1] != (field,) for e in error.errors()), (name, field, limit)
            checked += 1
    assert checked >= 6
