"""Tenant isolation on every route: tenant B's administrator, aiming every route at tenant A's ids, reads none of
A's data and changes none of it. Routes are enumerated from the app itself, so a new route is covered at once."""
from __future__ import annotations

import json
import re

from chalicelib.auth import issue_local_token
from tests.conftest import JWT_SECRET
from tests.outbound.conftest import SENDER

MARK = "SECRET-OF-TENANT-A"
ALL_ROLES = ["admin", "staff"] + [f"{entity}-{action}" for entity in ("CommunityThread", "CommunityMessage",
                                                                      "CommunityGroup")
                                  for action in ("Create", "Read", "Update", "Delete")]
# What B sends where a body is needed: plausible writes that would land in A if isolation failed.
BODIES = {
    ("/api/tenant/threads/{discussion_id}/messages", "POST"): {"body": "written by B"},
    ("/api/tenant/threads/{discussion_id}/participants", "POST"): {"email": "intruder@b.example"},
    ("/api/tenant/threads/{discussion_id}/attachments", "POST"): {"filename": "b.txt", "content_type": "text/plain",
                                                                  "content_base64": "Qg=="},
    ("/api/community/communitythreads/{thread_id}", "PUT"): {"Subject": "changed by B"},
    ("/api/community/communitythreads", "PUT"): {"Id": 0, "Subject": "changed by B"},
    ("/api/community/communitymessages", "POST"): {"CommunityThreadId": 0, "UserId": 101, "Message": "from B"},
    ("/api/community/communitymessages/{message_id}", "PUT"): {"Message": "changed by B"},
    ("/api/community/communitygroups/{group_id}", "PUT"): {"Name": "changed by B"},
    ("/api/community/communitygroups/{group_id}/members", "POST"): {"UserId": 999},
    ("/api/tenant/notification-templates/{kind}", "PUT"): {"subject": "B"},
    ("/api/tenant/users/{user_id}", "PUT"): {"name": "renamed by B"},
}


# Path parameters that name something in B's own space (its users, template types, a filter): B may use them.
OWN_NAMESPACE = ("/api/tenant/users/{user_id}", "/api/tenant/notification-templates/{kind}",
                 "/api/tenant/threads/by-context/{context_type}/{context_id}")


def _headers(tenant: str, user: str) -> dict[str, str]:
    token = issue_local_token(tenant, user, ALL_ROLES, JWT_SECRET, email=f"{user}@{tenant}.example",
                              extra={"user_id": 101})
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _call(client, headers, method, path, body=None):
    response = client.http.request(method, path, headers=headers,
                                   body=json.dumps(body).encode() if body is not None else b"")
    return response.status_code, response.body.decode("utf-8", "replace")


def _tenant_a(client, run_jobs) -> dict[str, str]:
    """A's data, everything carrying MARK: a discussion with a message, participant and attachment, a sent email,
    a notification, a board thread with a reply in a group, a profile and a template."""
    a = _headers("tenant-a", "a-admin")
    assert _call(client, a, "POST", "/api/tenant/identities", {"identity": SENDER.split("@")[1]})[0] == 201
    assert _call(client, a, "PUT", "/api/tenant/settings/communication", {
        "email_integration_enabled": True, "email_reply_domain": "reply.acme.example", "from_address": SENDER,
        "email_signature": MARK})[0] == 200
    _, body = _call(client, a, "POST", "/api/tenant/threads", {
        "subject": MARK, "initial_message": f"{MARK} https://a.example/x", "context_type": "quote",
        "context_id": "Q-1", "participants": [{"email": "cleo@client.example", "name": MARK},
                                              {"user_id": "a-colleague"}]})
    discussion = json.loads(body)
    _call(client, a, "POST", f"/api/tenant/threads/{discussion['id']}/attachments", {
        "filename": "a.txt", "content_type": "text/plain", "content_base64": "QQ=="})
    _call(client, a, "POST", f"/api/tenant/threads/{discussion['id']}/send", {})
    run_jobs()  # the copies go out in the background
    tracking = json.loads(_call(client, a, "GET", f"/api/tenant/threads/{discussion['id']}/tracking")[1])
    _call(client, a, "PUT", "/api/tenant/notification-templates/digest", {"subject": MARK})
    _call(client, a, "PUT", "/api/tenant/users/a-admin", {"name": MARK})
    group = json.loads(_call(client, a, "POST", "/api/community/communitygroups",
                             {"BusinessId": 1, "Name": MARK, "AccessLevel": "Public"})[1])["Value"]["Id"]
    thread = json.loads(_call(client, a, "POST", "/api/community/communitythreads", {
        "BusinessId": 1, "UserId": 101, "Subject": MARK, "Message": MARK, "CommunityGroupId": group})[1])
    reply = json.loads(_call(client, a, "POST", "/api/community/communitymessages", {
        "CommunityThreadId": thread["Value"]["Id"], "UserId": 101, "Message": MARK})[1])
    participant = next(p for p in discussion["participants"] if p.get("email"))
    return {"discussion_id": discussion["id"], "participant_id": participant["id"],
            "thread_id": str(thread["Value"]["Id"]), "message_id": str(reply["Value"]["Id"]), "group_id": str(group),
            "user_id": "a-admin", "kind": "digest", "context_type": "quote", "context_id": "Q-1",
            "notification_id": "0" * 32, "inbound_id": "0" * 32, "email": "cleo@client.example",
            "pixel": tracking["recipients"][0]["tracking_pixel_id"]}


def _snapshot(client, ids) -> list[str]:
    """Everything A can read about its own data."""
    a = _headers("tenant-a", "a-admin")
    paths = [f"/api/tenant/threads/{ids['discussion_id']}", "/api/tenant/threads",
             f"/api/tenant/threads/{ids['discussion_id']}/attachments",
             f"/api/tenant/threads/{ids['discussion_id']}/tracking", "/api/tenant/settings/communication",
             "/api/tenant/notification-templates/digest", "/api/tenant/users/a-admin",
             f"/api/community/communitythreads/{ids['thread_id']}",
             f"/api/community/communitymessages/{ids['message_id']}",
             f"/api/community/communitygroups/{ids['group_id']}",
             f"/api/community/communitygroups/{ids['group_id']}/members", "/api/tenant/suppressions",
             "/api/tenant/threads/category-counts"]
    # Presigned download URLs carry their signing time: compare them without their query strings.
    return [re.sub(r"\?(X-Amz|response-content)[^\"]*", "", _call(client, a, "GET", path)[1]) for path in paths]


def test_another_tenant_reaches_nothing_of_tenant_a_on_any_route(app, client, run_jobs):
    ids = _tenant_a(client, run_jobs)
    before = _snapshot(client, ids)
    assert MARK in before[0] and MARK in before[1] and MARK in before[7]
    b = _headers("tenant-b", "b-admin")
    tried = []

    for path, methods in sorted(app.routes.items()):
        if not path.startswith("/api/"):
            continue
        concrete = path
        for name, value in ids.items():
            concrete = concrete.replace("{" + name + "}", value)
        for method in sorted(methods):
            body = BODIES.get((path, method), {} if method in ("POST", "PUT") else None)
            if isinstance(body, dict) and body.get("Id") == 0:
                body = {**body, "Id": int(ids["thread_id"])}
            if isinstance(body, dict) and body.get("CommunityThreadId") == 0:
                body = {**body, "CommunityThreadId": int(ids["thread_id"])}
            status, text = _call(client, b, method, concrete, body)
            tried.append((method, path, status))
            assert status < 500, (method, path, status, text[:300])
            assert MARK not in text, (method, path, status, text[:300])
            if "{" in path and path not in OWN_NAMESPACE:
                assert status in (400, 403, 404), (method, path, status, text[:300])

    assert _snapshot(client, ids) == before
    assert len(tried) >= 55  # every /api route and method (59 today)
