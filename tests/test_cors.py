"""CORS: the stage's CORS_ALLOWED_ORIGINS (none by default) decide which browser origins may read the API's answers."""
from __future__ import annotations

import json

import pytest

from chalicelib.config import settings
from tests.conftest import ROOT, auth_headers

PORTAL = "https://portal.example"


@pytest.fixture
def allow(monkeypatch):
    """Set the stage's allowed origins for this test (settings are read once per process, as in a Lambda)."""

    def set_origins(value: str) -> None:
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", value)
        settings.cache_clear()

    yield set_origins
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)
    settings.cache_clear()


def _preflight(client, path, method, origin=PORTAL):
    return client.http.request("OPTIONS", path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type"})


def test_deployed_stages_allow_no_origin_unless_configured():
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]

    for stage in ("dev", "prod"):
        assert stages[stage]["environment_variables"]["CORS_ALLOWED_ORIGINS"] == ""


def test_with_no_allowed_origin_nothing_changes_and_preflights_are_refused(client, allow):
    allow("")
    document = client.http.get("/openapi.json", headers={"Origin": PORTAL})
    refused = _preflight(client, "/api/tenant/threads", "POST")

    assert document.status_code == 200
    assert not {"Access-Control-Allow-Origin", "Vary"} & set(document.headers)
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    assert json.loads(refused.body)["error"]["field"] == "Origin"


def test_an_allowed_origin_may_read_the_document_and_the_api_answers_errors_included(client, allow):
    allow(f"http://localhost:5173, {PORTAL}/")
    document = client.http.get("/openapi.json", headers={"Origin": PORTAL})
    created = client.http.post("/api/tenant/threads", headers={**auth_headers(), "Origin": PORTAL},
                               body=json.dumps({"subject": "From a browser"}))
    unauthorised = client.http.get("/api/tenant/threads", headers={"Origin": PORTAL})

    for response in (document, created, unauthorised):
        assert response.headers["Access-Control-Allow-Origin"] == PORTAL
        assert response.headers["Vary"] == "Origin"
    assert created.status_code == 201 and unauthorised.status_code == 401
    assert created.headers["Access-Control-Expose-Headers"] == "Retry-After"


def test_another_origin_gets_no_permission_but_caches_are_told_the_answer_varies(client, allow):
    allow(PORTAL)
    response = client.http.get("/openapi.json", headers={"Origin": "https://evil.example"})

    assert "Access-Control-Allow-Origin" not in response.headers and response.headers["Vary"] == "Origin"


@pytest.mark.parametrize(("path", "method", "methods"), [
    ("/api/tenant/threads", "POST", "GET, OPTIONS, POST"),
    ("/api/tenant/threads/{discussion_id}/participants/{participant_id}", "DELETE", "DELETE, OPTIONS"),
    ("/api/community/communitythreads/{thread_id}", "PUT", "DELETE, GET, OPTIONS, PUT"),
])
def test_a_preflight_from_an_allowed_origin_names_the_path_s_methods_and_the_token_header(client, allow, path,
                                                                                           method, methods):
    allow(PORTAL)
    url = path.replace("{discussion_id}", "d1").replace("{participant_id}", "p1").replace("{thread_id}", "7")

    response = _preflight(client, url, method)

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    assert response.headers["Access-Control-Allow-Methods"] == methods
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"


def test_a_preflight_for_a_method_the_path_does_not_have_is_refused(client, allow):
    allow(PORTAL)

    assert _preflight(client, "/api/tenant/threads/unread-count", "DELETE").status_code == 403
    assert _preflight(client, "/api/tenant/threads", "POST", origin="https://evil.example").status_code == 403


def test_a_wildcard_lets_any_origin_read_without_varying(client, allow):
    allow("*")
    response = client.http.get("/openapi.json", headers={"Origin": "https://anyone.example"})

    assert response.headers["Access-Control-Allow-Origin"] == "*" and "Vary" not in response.headers


def test_every_path_answers_preflights():
    from app import app

    assert all("OPTIONS" in methods for methods in app.routes.values())
