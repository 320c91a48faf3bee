"""Roles on the community routes: every verb needs `admin` or its `Entity-Action` role, and nothing else will do.

For each route: a user holding every community role except the needed one gets 403 (and nothing changes), a user
holding exactly that role succeeds, and so does an administrator. No, garbage or expired tokens get 401.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from chalicelib.auth import issue_local_token
from tests.community.conftest import GROUPS, MESSAGES, THREADS
from tests.conftest import JWT_SECRET

ENTITIES = ("CommunityThread", "CommunityMessage", "CommunityGroup")
ACTIONS = ("Create", "Read", "Update", "Delete")
ALL_ROLES = [f"{entity}-{action}" for entity in ENTITIES for action in ACTIONS]
AUTHOR = 101
ENVELOPE_KEYS = {"Status", "Message", "Value", "Errors", "WasSuccessful"}


def _setup(admin) -> dict[str, int]:
    """A thread and a reply by AUTHOR, and an empty Public group, all made by an administrator."""
    thread = admin.post(THREADS, {"BusinessId": 1, "UserId": AUTHOR, "Subject": "Original", "Message": "Body"})
    assert thread.status_code == 200, thread.data
    thread_id = thread.data["Value"]["Id"]
    reply = admin.post(MESSAGES, {"CommunityThreadId": thread_id, "UserId": AUTHOR, "Message": "Original reply"})
    assert reply.status_code == 200, reply.data
    group = admin.post(GROUPS, {"BusinessId": 1, "Name": "Original group", "AccessLevel": "Public"})
    assert group.status_code == 200, group.data
    return {"thread": thread_id, "reply": reply.data["Value"]["Id"], "group": group.data["Value"]["Id"]}


@dataclass(frozen=True)
class Route:
    name: str
    role: str
    call: Callable[[Any, dict[str, int]], Any]
    succeeded: Callable[[Any, dict[str, int]], bool]
    # What an administrator observes of the route's effect; None for reads.
    state: Callable[[Any, dict[str, int]], Any] | None = None

    def __str__(self) -> str:
        return self.name


def _saved(message: str) -> Callable[[Any, dict[str, int]], bool]:
    return lambda response, ctx: response.data["WasSuccessful"] is True and response.data["Message"] == message


def _thread(admin, ctx):
    return admin.get(f"{THREADS}/{ctx['thread']}")


def _reply(admin, ctx):
    return admin.get(f"{MESSAGES}/{ctx['reply']}")


def _group(admin, ctx):
    return admin.get(f"{GROUPS}/{ctx['group']}")


ROUTES = [
    Route("create thread", "CommunityThread-Create",
          lambda c, ctx: c.post(THREADS, {"BusinessId": 1, "UserId": AUTHOR, "Subject": "New", "Message": "x"}),
          _saved("CommunityThread was successfully created."),
          lambda admin, ctx: len(admin.get(THREADS).data["Records"])),
    Route("list threads", "CommunityThread-Read", lambda c, ctx: c.get(THREADS),
          lambda r, ctx: ctx["thread"] in [t["Id"] for t in r.data["Records"]]),
    Route("get thread", "CommunityThread-Read", lambda c, ctx: c.get(f"{THREADS}/{ctx['thread']}"),
          lambda r, ctx: r.data["Id"] == ctx["thread"] and r.data["Subject"] == "Original"),
    Route("update thread", "CommunityThread-Update",
          lambda c, ctx: c.put(f"{THREADS}/{ctx['thread']}", {"Subject": "Changed"}),
          _saved("CommunityThread was successfully updated."), lambda admin, ctx: _thread(admin, ctx).data["Subject"]),
    Route("update thread by body", "CommunityThread-Update",
          lambda c, ctx: c.put(THREADS, {"Id": ctx["thread"], "Subject": "Changed"}),
          _saved("CommunityThread was successfully updated."), lambda admin, ctx: _thread(admin, ctx).data["Subject"]),
    Route("delete thread", "CommunityThread-Delete", lambda c, ctx: c.delete(f"{THREADS}/{ctx['thread']}"),
          _saved("CommunityThread was successfully deleted."), lambda admin, ctx: _thread(admin, ctx).status_code),
    Route("like thread", "CommunityThread-Read", lambda c, ctx: c.post(f"{THREADS}/{ctx['thread']}/like"),
          _saved("CommunityThread was successfully liked."), lambda admin, ctx: _thread(admin, ctx).data["LikeCount"]),
    Route("create reply", "CommunityMessage-Create",
          lambda c, ctx: c.post(MESSAGES, {"CommunityThreadId": ctx["thread"], "UserId": AUTHOR, "Message": "Yes"}),
          _saved("CommunityMessage was successfully created."),
          lambda admin, ctx: _thread(admin, ctx).data["ReplyCount"]),
    Route("list replies", "CommunityMessage-Read",
          lambda c, ctx: c.get(f"{MESSAGES}?CommunityThreadId={ctx['thread']}"),
          lambda r, ctx: [m["Id"] for m in r.data["Records"]] == [ctx["reply"]]),
    Route("get reply", "CommunityMessage-Read", lambda c, ctx: c.get(f"{MESSAGES}/{ctx['reply']}"),
          lambda r, ctx: r.data["Id"] == ctx["reply"] and r.data["Message"] == "Original reply"),
    Route("update reply", "CommunityMessage-Update",
          lambda c, ctx: c.put(f"{MESSAGES}/{ctx['reply']}", {"Message": "Changed"}),
          _saved("CommunityMessage was successfully updated."), lambda admin, ctx: _reply(admin, ctx).data["Message"]),
    Route("delete reply", "CommunityMessage-Delete", lambda c, ctx: c.delete(f"{MESSAGES}/{ctx['reply']}"),
          _saved("CommunityMessage was successfully deleted."), lambda admin, ctx: _reply(admin, ctx).status_code),
    Route("like reply", "CommunityMessage-Read", lambda c, ctx: c.post(f"{MESSAGES}/{ctx['reply']}/like"),
          _saved("CommunityMessage was successfully liked."), lambda admin, ctx: _reply(admin, ctx).data["LikeCount"]),
    Route("create group", "CommunityGroup-Create",
          lambda c, ctx: c.post(GROUPS, {"BusinessId": 1, "Name": "New group", "AccessLevel": "Restricted"}),
          _saved("CommunityGroup was successfully created."),
          lambda admin, ctx: len(admin.get(GROUPS).data["Records"])),
    Route("list groups", "CommunityGroup-Read", lambda c, ctx: c.get(GROUPS),
          lambda r, ctx: ctx["group"] in [g["Id"] for g in r.data["Records"]]),
    Route("get group", "CommunityGroup-Read", lambda c, ctx: c.get(f"{GROUPS}/{ctx['group']}"),
          lambda r, ctx: r.data["Id"] == ctx["group"] and r.data["Name"] == "Original group"),
    Route("update group", "CommunityGroup-Update",
          lambda c, ctx: c.put(f"{GROUPS}/{ctx['group']}", {"Name": "Changed"}),
          _saved("CommunityGroup was successfully updated."), lambda admin, ctx: _group(admin, ctx).data["Name"]),
    Route("delete group", "CommunityGroup-Delete", lambda c, ctx: c.delete(f"{GROUPS}/{ctx['group']}"),
          _saved("CommunityGroup was successfully deleted."), lambda admin, ctx: _group(admin, ctx).status_code),
]


def _assert_forbidden(response, role: str | None = None) -> None:
    assert response.status_code == 403, response.data
    body = response.data
    assert set(body) == ENVELOPE_KEYS
    assert body["Status"] == 403 and body["WasSuccessful"] is False and body["Value"] is None
    assert len(body["Errors"]) == 1
    error = body["Errors"][0]
    assert error["PropertyName"] and body["Message"] == f"{error['PropertyName']}: {error['Message']}"
    if role is not None:
        assert error == {"AttemptedValue": None, "PropertyName": "Authorization",
                         "Message": f"requires a full unrestricted administrator or the {role} role"}


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_each_route_needs_its_own_role(admin, member, route):
    everything_else = member(AUTHOR, roles=[role for role in ALL_ROLES if role != route.role])
    nothing = member(AUTHOR, roles=[])
    just_that = member(AUTHOR, roles=[route.role])

    # Refused, with nothing changed.
    ctx = _setup(admin)
    before = route.state(admin, ctx) if route.state else None
    for caller in (everything_else, nothing):
        _assert_forbidden(route.call(caller, ctx), route.role)
    if route.state:
        assert route.state(admin, ctx) == before

    # Exactly that role, and an administrator (who holds none of them), each on a fresh board.
    for caller in (just_that, admin):
        ctx = _setup(admin)
        before = route.state(admin, ctx) if route.state else None
        response = route.call(caller, ctx)
        assert response.status_code == 200, (caller.user_id, response.data)
        assert route.succeeded(response, ctx), response.data
        if route.state:
            assert route.state(admin, ctx) != before


def test_roles_of_one_entity_grant_nothing_on_another(admin, member):
    ctx = _setup(admin)
    threads_only = member(AUTHOR, roles=[f"CommunityThread-{action}" for action in ACTIONS])
    messages_only = member(AUTHOR, roles=[f"CommunityMessage-{action}" for action in ACTIONS])

    _assert_forbidden(threads_only.get(f"{MESSAGES}/{ctx['reply']}"), "CommunityMessage-Read")
    _assert_forbidden(threads_only.get(f"{GROUPS}/{ctx['group']}"), "CommunityGroup-Read")
    _assert_forbidden(messages_only.get(f"{THREADS}/{ctx['thread']}"), "CommunityThread-Read")
    _assert_forbidden(messages_only.get(THREADS), "CommunityThread-Read")


@pytest.mark.parametrize("role", ["communitythread-read", "CommunityThread-Read ", "CommunityThread", "Read",
                                  "Admin", "CommunityThread-*", "CommunityThreads-Read"])
def test_only_the_exact_role_name_counts(member, admin, role):
    ctx = _setup(admin)
    near_miss = member(AUTHOR, roles=[role])

    _assert_forbidden(near_miss.get(f"{THREADS}/{ctx['thread']}"))
    _assert_forbidden(near_miss.get(THREADS))


def _bad_headers(kind: str) -> dict[str, str]:
    now = int(time.time())
    tokens = {
        "expired": issue_local_token("tenant-a", "101", ["admin"], JWT_SECRET, ttl_seconds=-60),
        "wrong secret": issue_local_token("tenant-a", "101", ["admin"], JWT_SECRET + "-not"),
        "garbage": "not.a.token",
        "unsigned": jwt.encode({"sub": "101", "tenant_id": "tenant-a", "roles": ["admin"], "exp": now + 600},
                               None, algorithm="none"),
        "no tenant": jwt.encode({"sub": "101", "roles": ["admin"], "exp": now + 600}, JWT_SECRET, algorithm="HS256"),
    }
    headers = {"Content-Type": "application/json"}
    if kind == "basic scheme":
        headers["Authorization"] = "Basic dXNlcjpwYXNz"
    elif kind == "empty bearer":
        headers["Authorization"] = "Bearer "
    elif kind != "no token":
        headers["Authorization"] = f"Bearer {tokens[kind]}"
    return headers


@pytest.mark.parametrize("kind", ["no token", "empty bearer", "basic scheme", "garbage", "expired", "wrong secret",
                                  "unsigned", "no tenant"])
def test_a_missing_or_bad_token_gets_401_in_the_envelope_on_every_route(admin, member, kind):
    ctx = _setup(admin)
    before = {route.name: route.state(admin, ctx) for route in ROUTES if route.state}
    caller = member(AUTHOR)
    caller.headers = _bad_headers(kind)

    for route in ROUTES:
        response = route.call(caller, ctx)
        assert response.status_code == 401, (route.name, response.data)
        body = response.data
        assert set(body) == ENVELOPE_KEYS
        assert body["Status"] == 401 and body["WasSuccessful"] is False and body["Value"] is None
        assert len(body["Errors"]) == 1
        error = body["Errors"][0]
        assert error["PropertyName"] == "Authorization" and error["AttemptedValue"] is None
        assert body["Message"] == f"Authorization: {error['Message']}"
        if kind == "expired":
            assert error["Message"] == "token has expired"

    assert {route.name: route.state(admin, ctx) for route in ROUTES if route.state} == before


@pytest.mark.parametrize("path", [THREADS, MESSAGES])
def test_a_member_posts_only_as_themselves(admin, member, path):
    ctx = _setup(admin)
    alice = member(AUTHOR)
    body = ({"BusinessId": 1, "Subject": "x", "Message": "y"} if path == THREADS
            else {"CommunityThreadId": ctx["thread"], "Message": "y"})

    impersonating = alice.post(path, {**body, "UserId": 102})
    as_herself = alice.post(path, {**body, "UserId": AUTHOR})
    for_someone = admin.post(path, {**body, "UserId": 102})

    _assert_forbidden(impersonating)
    assert impersonating.data["Errors"] == [{"AttemptedValue": None, "PropertyName": "UserId",
                                             "Message": "must be the id of the signed-in user"}]
    assert as_herself.status_code == 200 and for_someone.status_code == 200
    created = admin.get(f"{path}/{for_someone.data['Value']['Id']}").data
    assert created["UserId"] == 102
    if path == THREADS:
        assert {t["UserId"] for t in admin.get(THREADS).data["Records"]} == {AUTHOR, 102}
        assert len(admin.get(THREADS).data["Records"]) == 3
    else:
        assert admin.get(f"{THREADS}/{ctx['thread']}").data["ReplyCount"] == 3


def test_a_token_without_a_numeric_user_id_cannot_post_but_a_user_id_claim_can(admin, member):
    named = member("alice")  # sub "alice": no numeric user id
    with_claim = member("alice", claims={"user_id": AUTHOR})
    body = {"BusinessId": 1, "UserId": AUTHOR, "Subject": "x", "Message": "y"}

    refused = named.post(THREADS, body)

    _assert_forbidden(refused)
    assert refused.data["Errors"][0]["PropertyName"] == "UserId"
    assert with_claim.post(THREADS, body).status_code == 200
    assert len(admin.get(THREADS).data["Records"]) == 1


def test_only_the_author_or_an_administrator_changes_or_deletes_a_thread(admin, member):
    alice, bob = member(AUTHOR), member(102)
    thread_id = alice.new_thread(Subject="Alice's")

    for response in (bob.put(f"{THREADS}/{thread_id}", {"Subject": "Bob's"}),
                     bob.put(THREADS, {"Id": thread_id, "Subject": "Bob's"}),
                     bob.delete(f"{THREADS}/{thread_id}")):
        _assert_forbidden(response)
        assert "only the author or an administrator" in response.data["Errors"][0]["Message"]
        assert response.data["Errors"][0]["PropertyName"] == "Id"
    assert alice.get(f"{THREADS}/{thread_id}").data["Subject"] == "Alice's"

    changed = admin.put(f"{THREADS}/{thread_id}", {"Subject": "Moderated"})
    thread = alice.get(f"{THREADS}/{thread_id}").data
    assert changed.status_code == 200 and thread["Subject"] == "Moderated" and thread["UserId"] == AUTHOR
    assert thread["UpdatedBy"] == "admin@example.com"

    deleted = admin.delete(f"{THREADS}/{thread_id}")
    assert deleted.status_code == 200 and alice.get(f"{THREADS}/{thread_id}").status_code == 404


@pytest.mark.parametrize(("method", "path", "raw"), [
    ("POST", THREADS, b"{"),
    ("GET", f"{THREADS}/abc", None),
    ("GET", f"{THREADS}?PageSize=0", None),
    ("PUT", THREADS, b'{"Subject": "no Id"}'),
    ("GET", MESSAGES, None),
])
def test_a_caller_without_the_role_gets_403_even_for_a_malformed_request(member, method, path, raw):
    nobody = member(AUTHOR, roles=[])

    response = nobody.call(method, path, raw=raw)

    _assert_forbidden(response)


def test_the_creator_of_a_private_group_can_see_and_manage_it(member):
    creator = member(102, roles=["CommunityGroup-Create", "CommunityGroup-Read", "CommunityGroup-Update"])

    created = creator.post(GROUPS, {"BusinessId": 1, "Name": "Mine", "AccessLevel": "Private"})
    group_id = created.data["Value"]["Id"]

    assert created.status_code == 200
    assert creator.get(f"{GROUPS}/{group_id}").status_code == 200
    assert creator.post(f"{GROUPS}/{group_id}/members", {"UserId": 103}).status_code == 200
