"""Answers Chalice gives by itself (415 for a non-JSON Content-Type, an unhandled 500) come in each API family's
documented error shape, never Chalice's {"Code", "Message"}."""
from __future__ import annotations

import json

import pytest

from tests.conftest import auth_headers


def _request(client, method, path, content_type, body=b"{}", roles=("admin",)):
    headers = {**auth_headers(roles=list(roles)), "Content-Type": content_type}
    response = client.http.request(method, path, headers=headers, body=body)
    return response.status_code, json.loads(response.body)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_non_json_body_on_the_tenant_api_is_415_in_the_tenant_error_shape(client, content_type):
    status, body = _request(client, "POST", "/api/tenant/threads", content_type, b"subject=Hi")

    assert status == 415
    assert body == {"error": {"code": "unsupported_media_type", "field": "Content-Type",
                              "message": f"Unsupported media type: {content_type}"}}


def test_a_non_json_body_on_the_board_is_415_in_the_envelope(client):
    status, body = _request(client, "POST", "/api/community/communitythreads", "text/plain", b"Subject=Hi")

    assert status == 415
    assert body["WasSuccessful"] is False and body["Status"] == 415 and body["Value"] is None
    assert body["Errors"] == [{"AttemptedValue": None, "Message": "Unsupported media type: text/plain",
                               "PropertyName": "Content-Type"}]


def test_json_with_a_charset_is_still_json(client):
    status, body = _request(client, "POST", "/api/tenant/threads", "application/json; charset=utf-8",
                            json.dumps({"subject": "Hi"}).encode())

    assert status == 201 and body["subject"] == "Hi"


def test_an_unhandled_error_is_a_500_in_the_family_shape_without_details(client, monkeypatch):
    from chalicelib.discussions import service

    monkeypatch.setattr(service, "category_counts", lambda *a, **k: 1 / 0)
    status, body = _request(client, "GET", "/api/tenant/threads/category-counts", "application/json", b"")

    assert status == 500
    assert body == {"error": {"code": "internal_error", "message": "an internal error occurred"}}
