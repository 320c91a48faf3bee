"""Huge and overlong input: refused with the field named, in each API family's error shape, nothing stored."""
from __future__ import annotations

import json

import pytest

from tests.community.conftest import THREADS as BOARD
from tests.community.conftest import Member


def test_a_body_over_the_cap_is_413_on_the_tenant_api(api, monkeypatch):
    monkeypatch.setenv("MAX_REQUEST_BYTES", "2048")
    from chalicelib.config import settings

    settings.cache_clear()
    try:
        response = api.post("/api/tenant/threads", {"subject": "x", "initial_message": "y" * 5000})
        assert response.status_code == 413 and response.data["error"]["code"] == "payload_too_large"
    finally:
        monkeypatch.undo()
        settings.cache_clear()
    assert api.get("/api/tenant/threads").data["items"] == []


def test_a_body_over_the_cap_is_413_in_the_board_envelope(client, monkeypatch):
    monkeypatch.setenv("MAX_REQUEST_BYTES", "2048")
    from chalicelib.config import settings

    settings.cache_clear()
    alice = Member(client, 101, ["CommunityThread-Create", "CommunityThread-Read"])
    try:
        response = alice.post(BOARD, {"BusinessId": 1, "UserId": 101, "Subject": "x", "Message": "y" * 5000})
        assert response.status_code == 413 and response.data["Status"] == 413
        assert response.data["Errors"][0]["PropertyName"] == "Body"
    finally:
        monkeypatch.undo()
        settings.cache_clear()
    assert alice.get(BOARD).data["Records"] == []


@pytest.mark.parametrize(("field", "value"), [
    ("subject", "s" * 999), ("subject", "Quote\r\nBcc: x@evil.example"),
])
def test_overlong_or_multiline_header_fields_are_refused(api, field, value):
    response = api.post("/api/tenant/threads", {field: value})

    assert response.status_code == 400 and response.data["error"]["field"] == field


@pytest.mark.parametrize("participant", [
    {"email": "a" * 250 + "@example.com"},
    {"email": "x@example.com\r\nBcc: y@evil.example"},
    {"email": "x@example.com", "name": "n" * 201},
    {"email": "x@example.com", "name": "Eve\r\nBcc: y@evil.example"},
    {"email": "0@["},  # trips the standard library's address parser itself (found by the API fuzz)
])
def test_overlong_or_multiline_participants_are_refused(api, participant):
    response = api.post("/api/tenant/threads", {"subject": "ok", "participants": [participant]})

    assert response.status_code == 400, json.dumps(response.data)
    assert response.data["error"]["field"].startswith("participants")


def test_an_address_the_standard_library_cannot_parse_is_400_not_500(make_api):
    admin = make_api(roles=["admin"])

    response = admin.delete("/api/tenant/suppressions/0@[")

    assert response.status_code == 400 and response.data["error"]["field"] == "email"
