"""GET /docs is Swagger UI over /openapi.json, with its files served by the API itself (no CDN, works offline)."""
from __future__ import annotations

import pathlib
import re

import pytest
from swagger_ui_bundle import swagger_ui_path

VENDOR = pathlib.Path(str(swagger_ui_path))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_the_docs_page_is_served_without_a_token(client, headers):
    response = client.http.get("/docs", headers=headers)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.body.decode()
    # Relative URLs only: the page works under an API Gateway stage prefix and loads nothing from elsewhere.
    assert re.findall(r'(?:src|href)="([^"]+)"', page) == [
        "data:,", "docs/swagger-ui.css", "openapi.json", "docs/swagger-ui-bundle.js", "docs/init.js"]
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy and "unsafe-eval" not in policy


def test_the_page_loads_swagger_ui_5_from_the_package_byte_for_byte(client):
    # Swagger UI 5 is the first to read OpenAPI 3.1 documents; 4 refuses them.
    assert VENDOR.name.startswith("swagger-ui-5.")
    for name, content_type in (("swagger-ui-bundle.js", "application/javascript"), ("swagger-ui.css", "text/css")):
        response = client.http.get(f"/docs/{name}")

        assert response.status_code == 200, name
        assert response.headers["Content-Type"].startswith(content_type)
        assert response.body == (VENDOR / name).read_bytes()
        assert response.headers["Cache-Control"] == "public, max-age=86400"


def test_the_page_starts_swagger_ui_on_the_document_next_to_it(client):
    response = client.http.get("/docs/init.js")

    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/javascript")
    assert 'url: "openapi.json"' in response.body.decode()


@pytest.mark.parametrize("name", ["index.html", "swagger-ui-bundle.js.map", "oauth2-redirect.html", "..", "%2e%2e",
                                  "swagger-ui.CSS", "init.js.map"])
def test_nothing_else_of_the_package_is_served(client, name):
    response = client.http.get(f"/docs/{name}")

    assert response.status_code == 404


def test_the_bare_api_url_leads_to_the_docs(client):
    response = client.http.get("/")

    assert response.status_code == 302 and response.headers["Location"] == "/docs"
