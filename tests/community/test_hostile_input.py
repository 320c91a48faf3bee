"""Hostile and odd input on every community route: always a 4xx envelope that names the field, never a 5xx.

Malformed and deeply nested JSON, NaN, lone surrogates, huge and negative numbers, arrays for objects, nulls,
bad cursors and unknown ids, as an administrator (who passes every role check) and as a member.
"""
from __future__ import annotations

import json

import pytest

from tests.community.conftest import GROUPS, MESSAGES, THREADS

ENVELOPE_KEYS = {"Status", "Message", "Value", "Errors", "WasSuccessful"}
HUGE_DIGITS = "9" * 5000  # more digits than Python's int() converts by default


def _strict_json(text: str):
    def refuse(name: str):
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _assert_refused(response, status: int | None = None, field: str | None = None) -> dict:
    """A 4xx in the envelope, strict JSON, every error naming its field, Message made of `Name: message` parts."""
    assert 400 <= response.status_code < 500, (response.status_code, response.body[:300])
    body = _strict_json(response.body.decode())
    assert set(body) == ENVELOPE_KEYS, body
    assert body["Status"] == response.status_code and body["WasSuccessful"] is False and body["Value"] is None
    assert body["Errors"] and all(error["PropertyName"] for error in body["Errors"]), body
    assert body["Message"] == " | ".join(f"{e['PropertyName']}: {e['Message']}" for e in body["Errors"])
    if status is not None:
        assert response.status_code == status, body
    if field is not None:
        assert field in [error["PropertyName"] for error in body["Errors"]], body
    return body


@pytest.fixture
def board(admin, member):
    """A thread, a reply and a Public group, and the ids to aim at."""
    alice = member(101)
    thread_id = alice.new_thread()
    reply_id = alice.reply(thread_id)
    group_id = admin.post(GROUPS, {"BusinessId": 1, "Name": "Open", "AccessLevel": "Public"}).data["Value"]["Id"]
    return {"thread": thread_id, "reply": reply_id, "group": group_id}


def _writes(ids: dict[str, int]) -> list[tuple[str, str, dict]]:
    """Each write route with a valid body, to be spoiled field by field."""
    return [
        ("POST", THREADS, {"BusinessId": 1, "UserId": 101, "Subject": "s", "Message": "m"}),
        ("PUT", f"{THREADS}/{ids['thread']}", {"Subject": "s", "Message": "m", "Tags": "a"}),
        ("PUT", THREADS, {"Id": ids["thread"], "Subject": "s"}),
        ("POST", MESSAGES, {"CommunityThreadId": ids["thread"], "UserId": 101, "Message": "m"}),
        ("PUT", f"{MESSAGES}/{ids['reply']}", {"Message": "m"}),
        ("POST", GROUPS, {"BusinessId": 1, "Name": "n", "AccessLevel": "Public"}),
        ("PUT", f"{GROUPS}/{ids['group']}", {"Name": "n", "Description": "d"}),
        ("POST", f"{GROUPS}/{ids['group']}/members", {"UserId": 102}),
    ]


RAW_BODIES = {
    "truncated": b'{"Subject": "x"',
    "deeply nested array": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "NaN": b'{"BusinessId": NaN}',
    "Infinity": b'{"UserId": -Infinity}',
    "not UTF-8": b'{"Subject": "\xff\xfe"}',
    "null": b"null",
    "array": b"[{}]",
    "number": b"12",
    "empty": b"",
}


@pytest.mark.parametrize("kind", RAW_BODIES)
def test_a_body_that_is_no_json_object_is_refused_on_body_by_every_write_route(admin, board, kind):
    for method, path, _ in _writes(board):
        _assert_refused(admin.call(method, path, raw=RAW_BODIES[kind]), 400, "Body")


SPOILERS = {
    "lone surrogate": "bad \ud800 text",
    "huge integer": 10**40,
    "negative integer": -(10**20),
    "float": 1e308,
    "array": [1, [2, [3]]],
    "object": {"nested": {"deep": [None]}},
    "deep value": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    "huge string": "x" * 300_000,
    "control characters": "a\x00b\x1b",
}


@pytest.mark.parametrize("spoiler", SPOILERS)
def test_every_field_of_every_write_route_refuses_a_spoiled_value_by_name(admin, board, spoiler):
    value = SPOILERS[spoiler]
    for method, path, body in _writes(board):
        for field in body:
            response = admin.call(method, path, {**body, field: value})
            if response.status_code == 200:  # a value some fields accept (e.g. a huge string as a Tags list)
                continue
            _assert_refused(response, field=field)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_null_in_every_field_is_refused_or_ignored_never_a_failure(admin, board, method):
    for verb, path, body in _writes(board):
        if verb != method:
            continue
        response = admin.call(verb, path, {name: None for name in body})
        if response.status_code != 200:
            _assert_refused(response, 400)


def test_a_lone_surrogate_is_refused_on_the_field_and_stores_nothing(admin, member):
    alice = member(101)

    thread = alice.post(THREADS, {"BusinessId": 1, "UserId": 101, "Subject": "ok", "Message": "bad \udc00"})
    group = admin.post(GROUPS, {"BusinessId": 1, "Name": "\ud83d", "AccessLevel": "Public"})

    body = _assert_refused(thread, 400, "Message")
    assert body["Errors"][0]["Message"] == "must be valid Unicode text (no lone surrogates)"
    _assert_refused(group, 400, "Name")
    assert alice.get(THREADS).data["Records"] == [] and admin.get(GROUPS).data["Records"] == []


def test_unicode_text_is_stored_and_read_back_exactly(member):
    alice = member(101)
    subject = "Café ☕ — שלום — 日本語 — 🎉👩‍👩‍👧"

    thread_id = alice.new_thread(Subject=subject, Message="Ünïcödé @[Zoë 🦊](102)", Tags="événements, 東京")
    thread = alice.get(f"{THREADS}/{thread_id}").data

    assert thread["Subject"] == subject and thread["Mentions"] == [102]
    assert [t["Id"] for t in alice.get(THREADS + "?Tag=%C3%89V%C3%89NEMENTS").data["Records"]] == [thread_id]
    assert [t["Id"] for t in alice.get(THREADS + "?Subject=%E2%98%95").data["Records"]] == [thread_id]


def test_a_body_with_thousands_of_unknown_fields_gets_a_short_answer(admin):
    body = {"BusinessId": 1, "UserId": 101, "Subject": "s", "Message": "m",
            **{f"Field{n}" + "x" * 500: n for n in range(5000)}}

    response = admin.post(THREADS, body)

    refused = _assert_refused(response, 400, "Body")
    assert len(refused["Errors"]) == 11 and len(response.body) < 10_000
    assert refused["Errors"][-1]["Message"] == "has 5000 fields that are not fields of this resource"


def _id_routes(ids: dict[str, int]) -> list[tuple[str, str, str]]:
    """Each route with an id in its path: (method, path template with {id}, the id's field)."""
    return [
        ("GET", THREADS + "/{id}", "Id"), ("PUT", THREADS + "/{id}", "Id"), ("DELETE", THREADS + "/{id}", "Id"),
        ("POST", THREADS + "/{id}/like", "Id"), ("DELETE", THREADS + "/{id}/like", "Id"),
        ("POST", THREADS + "/{id}/follow", "Id"), ("DELETE", THREADS + "/{id}/follow", "Id"),
        ("GET", MESSAGES + "/{id}", "Id"), ("PUT", MESSAGES + "/{id}", "Id"), ("DELETE", MESSAGES + "/{id}", "Id"),
        ("POST", MESSAGES + "/{id}/like", "Id"), ("DELETE", MESSAGES + "/{id}/like", "Id"),
        ("GET", GROUPS + "/{id}", "Id"), ("PUT", GROUPS + "/{id}", "Id"), ("DELETE", GROUPS + "/{id}", "Id"),
        ("GET", GROUPS + "/{id}/members", "Id"), ("POST", GROUPS + "/{id}/members", "Id"),
        ("DELETE", GROUPS + "/{id}/members/5", "Id"),
        ("DELETE", GROUPS + f"/{ids['group']}/members/{{id}}", "UserId"),
    ]


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5", "١٢٣", HUGE_DIGITS, "9007199254740992", "%20"])
def test_a_malformed_id_in_the_path_is_400_on_its_field_on_every_route(admin, board, bad_id):
    for method, template, field in _id_routes(board):
        # A valid body: the body is checked before the id is looked up (a bad body on an unknown id is a 400).
        body = ({"UserId": 102} if method == "POST" and "members" in template
                else {"Name": "m"} if template.startswith(GROUPS) else {"Message": "m"})
        response = admin.call(method, template.format(id=bad_id), body)
        _assert_refused(response, 400, field)


def test_an_unknown_id_is_404_on_every_route(admin, board):
    for method, template, _ in _id_routes(board):
        if template.endswith("/members/{id}"):
            continue  # removing someone who is not a member is a no-op, answered 200
        # A valid body: the body is checked before the id is looked up (a bad body on an unknown id is a 400).
        body = ({"UserId": 102} if method == "POST" and "members" in template
                else {"Name": "m"} if template.startswith(GROUPS) else {"Message": "m"})
        response = admin.call(method, template.format(id=123456789), body)
        _assert_refused(response, 404, "Id")


@pytest.mark.parametrize("query", [
    f"BusinessId={HUGE_DIGITS}", "BusinessId=-4", "CommunityGroupId=x", "PageSize=0", "PageSize=101",
    f"PageSize={HUGE_DIGITS}", "PageSize=1_0", "Cursor=abc.%C3%A9", "Cursor=%00", "Cursor=" + "A" * 6000,
    "Cursor=eyJ0ZW5hbnRfaWQiOiJ0ZW5hbnQtYSJ9.0123456789abcdef0123456789abcdef",
])
def test_a_bad_query_parameter_is_400_on_its_name_on_every_list(admin, board, query):
    name = query.partition("=")[0]
    lists = [THREADS, f"{MESSAGES}?CommunityThreadId={board['thread']}", GROUPS, f"{GROUPS}/{board['group']}/members"]
    for path in lists:
        if name in ("BusinessId", "CommunityGroupId") and path not in (THREADS, GROUPS):
            continue
        if name == "CommunityGroupId" and path == GROUPS:
            continue
        joiner = "&" if "?" in path else "?"
        _assert_refused(admin.get(f"{path}{joiner}{query}"), 400, name)


def test_a_reply_list_needs_a_well_formed_thread_id(admin):
    for query in ("", "?CommunityThreadId=", f"?CommunityThreadId={HUGE_DIGITS}", "?CommunityThreadId=%F0%9F%8E%89"):
        _assert_refused(admin.get(MESSAGES + query), 400, "CommunityThreadId")
