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
