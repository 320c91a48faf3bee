"""Write the OpenAPI 3.1 document from the routes' declarations and their models: `make openapi`.

`python -m chalicelib.contract.build` rewrites chalicelib/openapi.json; `--check` exits 1 when the committed file
differs from what the models generate (tests/test_openapi.py runs the same comparison). The service serves the
committed file (chalicelib/openapi.py): the document is built here, at build time, never at run time.
"""
from __future__ import annotations

import copy
import json
import pathlib
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

DOCUMENT_PATH = pathlib.Path(__file__).resolve().parent.parent / "openapi.json"
# What no model describes: the document's head, the error responses' words, and the routes that answer no JSON
# (the open pixel, click links, attachment links, one-click unsubscribe, the docs page).
STATIC: dict[str, Any] = json.loads(pathlib.Path(__file__).with_name("static.json").read_text(encoding="utf-8"))
REF = "#/components/schemas/{model}"
MOVED_UP = ("description", "deprecated", "x-issued-by-server")  # said of the parameter, not of its value
IMPLIED_ERRORS = (401, 415, 503)


class Schemas(GenerateJsonSchema):
    """Pydantic's JSON Schema without the titles it derives from Python names."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _tidy(schema: Any) -> Any:
    """No titles; `anyOf: [X, null]` of a simple X written as X with "null" in its type, as people write it."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tidy = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs", "patternProperties", "dependentRequired"):
            tidy[key] = {name: _tidy(item) for name, item in value.items()}
        else:
            tidy[key] = _tidy(value)
    kind = tidy.get("type")
    if "default" in tidy and tidy["default"] is None and kind is not None and "null" not in (kind if isinstance(
            kind, list) else [kind]):
        del tidy["default"]  # "absent" is not a value of a field that may not be null
    options = tidy.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(option for option in options if option != {"type": "null"})
        if isinstance(other.get("type"), str) and "$ref" not in other:
            del tidy["anyOf"]
            merged = {**other, **tidy, "type": [other["type"], "null"]}
            if "enum" in merged and None not in merged["enum"]:
                merged["enum"] = [*merged["enum"], None]
            return merged
    return tidy


def _model(operation: Any, name: str | None) -> type[BaseModel] | None:
    from chalicelib.http import model

    return None if name is None else model(operation.models, name)


def _parameters(operation: Any) -> list[dict[str, Any]]:
    parameters = []
    for place, name in (("path", operation.path_model), ("query", operation.query)):
        found = _model(operation, name)
        if found is None:
            continue
        schema = _tidy(found.model_json_schema(schema_generator=Schemas))
        required = set(schema.get("required", []))
        for field, value in schema.get("properties", {}).items():
            value = copy.deepcopy(value)
            value.pop("default", None) if value.get("default") is None else None
            parameter: dict[str, Any] = {"name": field, "in": place, "required": place == "path" or field in required}
            for key in MOVED_UP:
                if key in value:
                    parameter[key] = value.pop(key)
            parameter["schema"] = value
            parameters.append(parameter)
    return parameters


def _errors(operation: Any) -> list[int]:
    codes = set(IMPLIED_ERRORS) | set(operation.errors)
    if operation.body or operation.query or (operation.path_model and operation.board):
        codes.add(400)
    if operation.body:
        codes.add(413)
    if operation.roles:
        codes.add(403)
    return sorted(codes)


ERROR_NAMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
               413: "PayloadTooLarge", 415: "UnsupportedMediaType", 503: "ServiceUnavailable"}


def _operation(operation: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"operationId": operation.name, "summary": operation.summary, "tags": [operation.tag]}
    if operation.description:
        entry["description"] = operation.description
    entry["security"] = [{"bearerAuth": []}]
    parameters = _parameters(operation)
    if parameters:
        entry["parameters"] = parameters
    if operation.body:
        entry["requestBody"] = {"required": operation.body_required, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=operation.body)}}}}
    success: dict[str, Any] = {"description": {200: "OK", 201: "Created", 202: "Accepted"}.get(operation.status, "OK")}
    if operation.response:
        success["content"] = {"application/json": {"schema": {"$ref": REF.format(model=operation.response)}}}
    responses: dict[str, Any] = {str(operation.status): success}
    prefix = "Community" if operation.board else ""
    for code in _errors(operation):
        responses[str(code)] = {"$ref": f"#/components/responses/{prefix}{ERROR_NAMES[code]}"}
    entry["responses"] = responses
    return entry


def build() -> dict[str, Any]:
    """The document, from the app's declared operations (importing the app declares them)."""
    import app  # noqa: F401 - registers every route and its contract
    from chalicelib.contract.models import CommunityError, Error
    from chalicelib.http import OPERATIONS

    models: dict[str, type[BaseModel]] = {"Error": Error, "CommunityError": CommunityError}
    paths: dict[str, dict[str, Any]] = {}
    for operation in sorted(OPERATIONS, key=lambda o: (o.path, "get put post delete".split().index(o.method.lower()))):
        for name in (operation.body, operation.response):
            if name is not None:
                models[name] = _model(operation, name)  # type: ignore[assignment]
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    for path, item in STATIC["paths"].items():
        paths.setdefault(path, {}).update(copy.deepcopy(item))
    _, schemas = models_json_schema([(model, "validation") for model in models.values()], ref_template=REF,
                                    schema_generator=Schemas)
    components = copy.deepcopy(STATIC["components"])
    components["schemas"] = _tidy(dict(sorted(schemas.get("$defs", {}).items())))
    return {**copy.deepcopy(STATIC["head"]), "paths": dict(sorted(paths.items())), "components": components}


def serialised(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = serialised(build())
    if "--check" in argv:
        if DOCUMENT_PATH.read_text(encoding="utf-8") != text:
            print("chalicelib/openapi.json differs from what the models generate: run `make openapi`")
            return 1
        return 0
    DOCUMENT_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
