"""The API's OpenAPI 3.1 document (chalicelib/openapi.json), served at GET /openapi.json without a token."""
from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

from chalice import Blueprint, Response

DOCUMENT_PATH = pathlib.Path(__file__).with_name("openapi.json")

blueprint = Blueprint(__name__)


@functools.cache
def document() -> dict[str, Any]:
    """The document as a dict, read once per warm Lambda container."""
    return json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


@functools.cache
def _serialised() -> str:
    return json.dumps(document(), separators=(",", ":"))


@blueprint.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    return Response(body=_serialised(), status_code=200,
                    headers={"Content-Type": "application/json", "Cache-Control": "public, max-age=300"})
