"""The API docs page: Swagger UI at GET /docs over /openapi.json, its assets served from a Python package, no CDN.

Swagger UI comes from the `swagger-ui-bundle-v2` wheel (the upstream swagger-ui-dist files). Only the two files the
page loads are served, and only those two are kept in the Lambda package (`scripts/deploy.py` drops the rest of
the wheel's copy: source maps and other bundles, about 10 MB). Every URL is relative, so the page works behind an
API Gateway stage prefix (`/api/docs`) as well as on `chalice local` (`/docs`).
"""
from __future__ import annotations

import functools
import pathlib

from chalice import Blueprint, Response

blueprint = Blueprint(__name__)

# name → Content-Type of the files served from the wheel; `scripts/deploy.py` keeps exactly these in the package.
PACKAGED_ASSETS = {"swagger-ui-bundle.js": "application/javascript; charset=utf-8",
                   "swagger-ui.css": "text/css; charset=utf-8"}

# In a file of its own rather than inline, so the page's Content-Security-Policy can forbid inline scripts.
INIT_SCRIPT = """window.ui = SwaggerUIBundle({
  url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"
});
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Discussion Hub API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"><noscript>This page needs JavaScript; the document itself is
<a href="openapi.json">openapi.json</a>.</noscript></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""

# Swagger UI draws with inline styles and data: images; everything else comes from this origin.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _vendor_dir() -> pathlib.Path:
    from swagger_ui_bundle import swagger_ui_path  # imported on the first docs request only (cold start)

    return pathlib.Path(str(swagger_ui_path))


@functools.cache
def _asset(name: str) -> str:
    """A packaged file's text, read once per warm container."""
    return (_vendor_dir() / name).read_text(encoding="utf-8")


@blueprint.route("/", methods=["GET"])
def root() -> Response:
    """The bare API URL leads to its docs (API Gateway puts the stage in front: `/api/` → `/api/docs`)."""
    request = blueprint.current_request
    path = str((request.context or {}).get("path") or "/") if request is not None else "/"
    return Response(body="", status_code=302, headers={"Location": path.rstrip("/") + "/docs"})


@blueprint.route("/docs", methods=["GET"])
def docs_page() -> Response:
    return Response(body=PAGE, status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": PAGE_POLICY,
        "X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300"})


@blueprint.route("/docs/{asset}", methods=["GET"])
def docs_asset(asset: str) -> Response:
    if asset == "init.js":
        body, content_type = INIT_SCRIPT, "application/javascript; charset=utf-8"
    elif asset in PACKAGED_ASSETS:
        body, content_type = _asset(asset), PACKAGED_ASSETS[asset]
    else:
        return Response(body="not found\n", status_code=404, headers={"Content-Type": "text/plain; charset=utf-8"})
    return Response(body=body, status_code=200, headers={
        "Content-Type": content_type, "X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=86400"})
