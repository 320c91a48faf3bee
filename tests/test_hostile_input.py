"""Hostile input that used to answer 500 (issue 18), and the decisions on what a JSON body is: each is now a 4xx in
its API family's shape, with the field named, and nothing is stored."""
from __future__ import annotations

import json

import pytest

from tests.conftest import auth_headers

THREADS = "/api/tenant/threads"
SETTINGS = "/api/tenant/settings/communication"
BOARD = "/api/community/communitythreads"
NESTED = b"[" * 100_000 + b"]" * 100_000


def _raw(client, method, path, body: bytes, content_type: str | None = "application/json", roles=("admin",)):
    headers = auth_headers(roles=list(roles))
    headers.pop("Content-Type")
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = client.http.request(method, path, headers=headers, body=body)
    return response.status_code, json.loads(response.body) if response.body else None


def _error(code: str, message: str, field: str) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


@pytest.mark.parametrize(("method", "path"), [("POST", THREADS), ("PUT", SETTINGS)])
@pytest.mark.parametrize("wrapped", [False, True])
def test_100000_nested_arrays_are_400_on_body_not_a_recursion_error(client, api, method, path, wrapped):
    body = b'{"subject": ' + NESTED + b"}" if wrapped else NESTED

    assert _raw(client, method, path, body) == (400, _error(
        "validation_error", "request body is nested more than 64 levels deep", "body"))
    assert api.get(THREADS).data["items"] == []


def test_the_board_reads_bodies_with_the_same_reader(client):
    status, body = _raw(client, "POST", BOARD, NESTED)

    assert status == 400 and body["Errors"] == [{"AttemptedValue": None, "PropertyName": "Body",
                                                 "Message": "is nested more than 64 levels deep"}]


LONE = b'"bad \\ud800 text"'


def test_a_lone_surrogate_is_400_naming_the_field_on_create_user_and_message(client, api):
    discussion = api.post(THREADS, {"subject": "ok"}).data["id"]

    created = _raw(client, "POST", THREADS, b'{"subject": ' + LONE + b"}")
    user = _raw(client, "PUT", "/api/tenant/users/user-2", b'{"name": ' + LONE + b"}")
    message = _raw(client, "POST", f"{THREADS}/{discussion}/messages", b'{"body": ' + LONE + b"}")
    nested = _raw(client, "POST", THREADS, b'{"subject": "x", "participants": [{"email": "a@b.example", "name": '
                  + LONE + b"}]}")

    surrogate = "must be valid Unicode text (no lone surrogates)"
    assert created == (400, _error("validation_error", f"subject {surrogate}", "subject"))
    assert user == (400, _error("validation_error", f"name {surrogate}", "name"))
    assert message == (400, _error("validation_error", f"body {surrogate}", "body"))  # no false 409
    assert nested == (400, _error("validation_error", f"participants[0].name {surrogate}", "participants[0].name"))
    assert [d["subject"] for d in api.get(THREADS).data["items"]] == ["ok"]


def test_a_superscript_digit_in_a_click_link_is_404_not_a_500(client):
    response = client.http.get("/t/c/" + "ab" * 16 + "-%C2%B2")

    assert response.status_code == 404
    assert json.loads(response.body) == {"error": {"code": "not_found", "message": "unknown link"}}


def test_head_on_the_pixel_answers_the_headers_of_the_gif_and_no_body(client):
    response = client.http.request("HEAD", "/t/o/" + "ab" * 16 + ".gif", headers={"Accept": "image/*"})

    assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
    assert response.body in (b"", None)


def test_an_attachment_listed_twice_is_400(client, api):
    discussion = api.post(THREADS, {"subject": "ok"}).data["id"]

    status, body = _raw(client, "POST", f"{THREADS}/{discussion}/messages",
                        b'{"body": "x", "attachment_ids": ["a1", "a1"]}')

    assert (status, body) == (400, _error("validation_error", "attachment_ids lists the same attachment more than once",
                                          "attachment_ids"))


# ---------------------------------------------------------------- what a JSON body is (docs/security.md)


def test_a_body_without_content_type_is_415_naming_content_type(client, api):
    assert _raw(client, "POST", THREADS, b'{"subject": "x"}', content_type=None) == (415, _error(
        "unsupported_media_type", "Content-Type is missing: a request body must be sent as application/json",
        "Content-Type"))
    assert api.get(THREADS).data["items"] == []


def test_utf16_is_not_json_here(client, api):
    utf16 = '{"subject": "x"}'.encode("utf-16")

    assert _raw(client, "POST", THREADS, utf16) == (400, _error(
        "validation_error", "request body is not UTF-8: JSON is read as UTF-8 only (RFC 8259)", "body"))
    assert _raw(client, "POST", THREADS, b'{"subject": "x"}', "application/json; charset=utf-16") == (415, _error(
        "unsupported_media_type", "Content-Type charset must be utf-8: JSON is read as UTF-8 only (RFC 8259)",
        "Content-Type"))
    assert _raw(client, "POST", THREADS, b'{"subject": "x"}', "application/json; charset=UTF-8")[0] == 201
    assert [d["subject"] for d in api.get(THREADS).data["items"]] == ["x"]


def test_a_key_given_twice_is_400_naming_it_in_both_families(client, api):
    tenant = _raw(client, "POST", THREADS, b'{"subject": "shown", "subject": "sent"}')
    board = _raw(client, "POST", BOARD, b'{"Subject": "a", "Subject": "b", "Message": "m", "BusinessId": 1, '
                                        b'"UserId": 1}')

    assert tenant == (400, _error("validation_error", "subject appears twice in one object ('subject'): send each "
                                  "key once", "subject"))
    assert board[0] == 400 and board[1]["Errors"][0]["PropertyName"] == "Subject"
    assert api.get(THREADS).data["items"] == []


@pytest.mark.parametrize("path", ["/api/tenant/notifications/preferences", "/api/tenant/users/user-1"])
def test_a_put_whose_body_is_required_refuses_an_empty_one(client, path):
    assert _raw(client, "PUT", path, b"") == (400, _error(
        "validation_error", "request body is required: send a JSON object", "body"))


@pytest.mark.parametrize("query", ["status=", "limit=", "limit=-1", "limit=0", "discussion_type="])
def test_an_empty_or_negative_query_value_is_400(api, query):
    response = api.get(f"{THREADS}?{query}")

    assert response.status_code == 400 and response.data["error"]["field"] == query.split("=")[0]
