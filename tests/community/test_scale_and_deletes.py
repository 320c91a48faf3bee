"""The board at size: a bounded number of DynamoDB calls per request, sealed cursors, and deletes that clean up.

A request's DynamoDB calls must not grow with the board; list pages stop after a fixed budget of examined items,
and a page cut short never reveals the invisible item it stopped on. What a delete leaves behind (replies,
likes, follows, memberships) goes in a background job, and nothing deleted can be read or touched again.
"""
from __future__ import annotations

import base64

import pytest

from bench.calls import counting
from chalicelib import clock
from chalicelib.community import keys, threads
from chalicelib.community.models import CommunityGroupMember, CommunityMessage, CommunityReaction, CommunityThread
from tests.community.conftest import GROUPS, MESSAGES, THREADS

TENANT = "tenant-a"


def _seed_private_threads(count: int, author: int = 101) -> list[int]:
    """Threads only their author can see, written straight to the table (fast), older than anything posted later."""
    created = []
    with CommunityThread.batch_write() as batch:
        for n in range(count):
            thread_id = 500_000_000 + n
            moment = f"2020-01-01T00:00:{n % 60:02d}.{n:06d}+00:00"
            batch.save(CommunityThread(
                TENANT, thread_id, business_id=1, business_key=keys.business_key(TENANT, 1), user_id=author,
                subject=f"Secret {n}", message="hidden", private=True, created_at=moment, updated_at=moment,
                last_activity_at=moment, activity_key=keys.activity_key(moment, thread_id)))
            created.append(thread_id)
    return created


def _seed_members(group_id: int, count: int) -> None:
    with CommunityGroupMember.batch_write() as batch:
        for user in range(10_000, 10_000 + count):
            batch.save(CommunityGroupMember(keys.group_key(TENANT, group_id), user, group_id=group_id,
                                            user_key=keys.user_key(TENANT, user), joined_at=clock.now_iso()))


def _seed_likes(kind: str, target_id: int, count: int) -> None:
    with CommunityReaction.batch_write() as batch:
        for user in range(20_000, 20_000 + count):
            batch.save(CommunityReaction(keys.target_key(TENANT, kind, target_id), f"like#{user}", user_id=user,
                                         created_at=clock.now_iso()))


def _calls(action) -> int:
    with counting() as counter:
        response = action()
    assert response.status_code == 200, response.data
    return counter.total("dynamodb")


def test_read_requests_cost_the_same_on_a_small_and_a_large_board(admin, member):
    alice, bob = member(101), member(102)
    group_id = admin.post(GROUPS, {"BusinessId": 1, "Name": "G", "AccessLevel": "Public"}).data["Value"]["Id"]
    thread_id = alice.new_thread(CommunityGroupId=group_id)
    reply_id = alice.reply(thread_id)
    routes = {
        "list threads": lambda: bob.get(f"{THREADS}?PageSize=10"),
        "list a location's threads": lambda: bob.get(f"{THREADS}?PageSize=10&BusinessId=1"),
        "list a group's threads": lambda: bob.get(f"{THREADS}?PageSize=10&CommunityGroupId={group_id}"),
        "get thread": lambda: bob.get(f"{THREADS}/{thread_id}"),
        "list replies": lambda: bob.get(f"{MESSAGES}?CommunityThreadId={thread_id}&PageSize=10"),
        "get reply": lambda: bob.get(f"{MESSAGES}/{reply_id}"),
        "list groups": lambda: bob.get(f"{GROUPS}?PageSize=10"),
        "list members": lambda: bob.get(f"{GROUPS}/{group_id}/members?PageSize=10"),
        "like": lambda: bob.post(f"{THREADS}/{thread_id}/like"),
    }
    small = {name: _calls(route) for name, route in routes.items()}

    _seed_private_threads(700)
    _seed_members(group_id, 300)
    _seed_likes("thread", thread_id, 300)
    for n in range(30):
        alice.reply(thread_id, f"more {n}")
    for n in range(120):
        admin.post(GROUPS, {"BusinessId": 1, "Name": f"Hidden {n}", "AccessLevel": "Private"})
    large = {name: _calls(route) for name, route in routes.items()}

    # Lists examine at most their budget: one Query, then up to budget / chunk more, each with its group lookups.
    bound = 1 + threads.LIST_BUDGET // threads.QUERY_CHUNK
    for name in ("list threads", "list a location's threads"):
        assert large[name] <= 3 * bound, (name, small[name], large[name])
    for name in set(routes) - {"list threads", "list a location's threads", "list groups"}:
        assert large[name] == small[name], (name, small[name], large[name])
    assert large["list groups"] <= 3 * bound


def test_a_page_cut_short_by_the_budget_reveals_no_invisible_thread(member, monkeypatch):
    monkeypatch.setattr(threads, "LIST_BUDGET", 4)
    monkeypatch.setattr(threads, "QUERY_CHUNK", 2)
    alice, bob = member(101), member(102)
    oldest = alice.new_thread(Subject="Open, old")
    hidden = [alice.new_thread(Subject=f"Hidden {n}", Private=True) for n in range(9)]
    newest = alice.new_thread(Subject="Open, new")

    pages, cursor = [], None
    for _ in range(20):
        response = bob.get(f"{THREADS}?PageSize=1" + (f"&Cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.data
        pages.append(response.data)
        cursor = response.data["NextCursor"]
        if cursor is None:
            break

    assert [record["Id"] for page in pages for record in page["Records"]] == [newest, oldest]
    assert any(page["Records"] == [] and page["HasNextPage"] for page in pages)  # the budget did cut a page
    for page in pages:
        if page["NextCursor"]:
            sealed = base64.urlsafe_b64decode(page["NextCursor"] + "=" * (-len(page["NextCursor"]) % 4))
            for thread_id in hidden:
                assert str(thread_id) not in page["NextCursor"] and str(thread_id).encode() not in sealed
                assert thread_id.to_bytes(8, "big").lstrip(b"\0") not in sealed


def test_group_lists_stop_at_their_budget_and_still_reach_every_visible_group(admin, member, monkeypatch):
    from chalicelib.community import groups

    monkeypatch.setattr(groups, "LIST_BUDGET", 3)
    monkeypatch.setattr(groups, "QUERY_CHUNK", 2)
    created = [admin.post(GROUPS, {"BusinessId": 1, "Name": f"G{n}", "AccessLevel": access}).data["Value"]["Id"]
               for n, access in enumerate(["Private"] * 5 + ["Public"] + ["Private"] * 5 + ["Restricted"])]
    visible = {created[5], created[11]}
    bob = member(102)

    seen, cursor = [], None
    for _ in range(20):
        page = bob.get(f"{GROUPS}?PageSize=5" + (f"&Cursor={cursor}" if cursor else "")).data
        seen += [group["Id"] for group in page["Records"]]
        cursor = page["NextCursor"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(visible)


def test_deleting_a_large_group_is_one_quick_request_and_its_memberships_follow(admin, run_jobs):
    group_id = admin.post(GROUPS, {"BusinessId": 1, "Name": "Big", "AccessLevel": "Public"}).data["Value"]["Id"]
    _seed_members(group_id, 250)

    calls = _calls(lambda: admin.delete(f"{GROUPS}/{group_id}"))
    run_jobs()

    assert calls <= 3
    assert list(CommunityGroupMember.query(keys.group_key(TENANT, group_id))) == []
    assert admin.get(f"{GROUPS}/{group_id}").status_code == 404


def test_deleting_a_reply_takes_its_likes_however_many(member, run_jobs):
    alice = member(101)
    thread_id = alice.new_thread()
    reply_id = alice.reply(thread_id)
    _seed_likes("message", reply_id, 230)

    response = alice.delete(f"{MESSAGES}/{reply_id}")
    run_jobs()

    assert response.status_code == 200
    assert list(CommunityReaction.query(keys.target_key(TENANT, "message", reply_id))) == []
    assert alice.get(f"{THREADS}/{thread_id}").data["ReplyCount"] == 0


def test_deleting_a_thread_takes_its_replies_likes_and_follows(member, run_jobs):
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread()
    bob.post(f"{THREADS}/{thread_id}/follow")
    bob.post(f"{THREADS}/{thread_id}/like")
    reply_ids = [bob.reply(thread_id, f"r{n}") for n in range(30)]
    _seed_likes("message", reply_ids[0], 150)

    alice.delete(f"{THREADS}/{thread_id}")
    run_jobs()

    assert list(CommunityMessage.by_thread.query(keys.thread_key(TENANT, thread_id))) == []
    for kind, target in [("thread", thread_id), *[("message", reply) for reply in reply_ids]]:
        assert list(CommunityReaction.query(keys.target_key(TENANT, kind, target))) == [], (kind, target)


@pytest.mark.parametrize("jobs_ran", [False, True], ids=["before-cleanup", "after-cleanup"])
def test_nothing_of_a_deleted_thread_can_be_read_or_touched(member, admin, run_jobs, jobs_ran):
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread(Subject="Gone")
    reply_id = bob.reply(thread_id)
    assert alice.delete(f"{THREADS}/{thread_id}").status_code == 200
    if jobs_ran:
        run_jobs()

    for caller in (alice, bob, admin):
        for response in (caller.get(f"{THREADS}/{thread_id}"), caller.put(f"{THREADS}/{thread_id}", {"Subject": "x"}),
                         caller.delete(f"{THREADS}/{thread_id}"), caller.post(f"{THREADS}/{thread_id}/like"),
                         caller.post(f"{THREADS}/{thread_id}/follow"),
                         caller.delete(f"{THREADS}/{thread_id}/follow"),
                         caller.get(f"{MESSAGES}/{reply_id}"), caller.put(f"{MESSAGES}/{reply_id}", {"Message": "x"}),
                         caller.delete(f"{MESSAGES}/{reply_id}"), caller.post(f"{MESSAGES}/{reply_id}/like")):
            assert response.status_code == 404, response.data
            assert response.data["WasSuccessful"] is False and response.data["Errors"][0]["PropertyName"] == "Id"
        for response in (caller.get(f"{MESSAGES}?CommunityThreadId={thread_id}"),
                         caller.post(MESSAGES, {"CommunityThreadId": thread_id, "UserId": caller.user_id,
                                                "Message": "still there?"})):
            assert response.status_code == 404, response.data
            assert response.data["Errors"][0]["PropertyName"] == "CommunityThreadId"
        assert thread_id not in [t["Id"] for t in caller.get(THREADS).data["Records"]]


def test_a_deleted_reply_cannot_be_read_edited_liked_or_deleted_again(member):
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread()
    reply_id = bob.reply(thread_id)
    kept = bob.reply(thread_id, "kept")

    assert bob.delete(f"{MESSAGES}/{reply_id}").status_code == 200

    for response in (bob.get(f"{MESSAGES}/{reply_id}"), bob.put(f"{MESSAGES}/{reply_id}", {"Message": "x"}),
                     bob.delete(f"{MESSAGES}/{reply_id}"), alice.post(f"{MESSAGES}/{reply_id}/like")):
        assert response.status_code == 404, response.data
    assert [r["Id"] for r in alice.get(f"{MESSAGES}?CommunityThreadId={thread_id}").data["Records"]] == [kept]
    assert alice.get(f"{THREADS}/{thread_id}").data["ReplyCount"] == 1


def test_a_page_spanning_more_groups_than_one_read_takes_shows_exactly_the_visible_threads(admin, member):
    """Groups and the caller's memberships are read 50 groups (100 keys) a BatchGetItem: a page whose threads sit
    in 60 Private groups needs two such reads, and shows the threads of the groups the caller belongs to only."""
    bob = member(102)
    expected = set()
    for n in range(60):
        group_id = admin.post(GROUPS, {"BusinessId": 1, "Name": f"P{n}", "AccessLevel": "Private"}).data["Value"]["Id"]
        thread_id = admin.new_thread(UserId=101, CommunityGroupId=group_id, Subject=f"In P{n}")
        if n % 3 == 0:
            assert admin.post(f"{GROUPS}/{group_id}/members", {"UserId": 102}).status_code == 200
            expected.add(thread_id)

    with counting() as counter:
        response = bob.get(f"{THREADS}?PageSize=100")
    assert response.status_code == 200, response.data
    assert {thread["Id"] for thread in response.data["Records"]} == expected
    assert counter.by_operation()["dynamodb.BatchGetItem"] == 2


def test_opening_a_thread_or_reply_reads_it_with_the_callers_reactions_in_one_call(admin, member):
    """Issue 22: a thread is read with the caller's like and follow in one BatchGetItem (then its group with the
    caller's membership, one more); a reply with the caller's like, then its thread (and group)."""
    alice, bob = member(101), member(102)
    group_id = admin.post(GROUPS, {"BusinessId": 1, "Name": "G", "AccessLevel": "Public"}).data["Value"]["Id"]
    loose, grouped = alice.new_thread(), alice.new_thread(CommunityGroupId=group_id)
    loose_reply, grouped_reply = alice.reply(loose), alice.reply(grouped)
    assert bob.post(f"{THREADS}/{grouped}/follow").status_code == 200
    assert bob.post(f"{MESSAGES}/{loose_reply}/like").status_code == 200

    def opened(path: str) -> tuple[dict, dict[str, int]]:
        with counting() as counter:
            response = bob.get(path)
        assert response.status_code == 200, response.data
        return response.data, {name: count for name, count in counter.by_operation().items()
                                        if name.startswith("dynamodb.")}

    thread, calls = opened(f"{THREADS}/{loose}")
    assert (thread["Liked"], thread["Following"], calls) == (False, False, {"dynamodb.BatchGetItem": 1})
    thread, calls = opened(f"{THREADS}/{grouped}")
    assert (thread["Liked"], thread["Following"], calls) == (False, True, {"dynamodb.BatchGetItem": 2})
    reply, calls = opened(f"{MESSAGES}/{loose_reply}")
    assert (reply["Liked"], calls) == (True, {"dynamodb.BatchGetItem": 1, "dynamodb.GetItem": 1})
    reply, calls = opened(f"{MESSAGES}/{grouped_reply}")
    assert (reply["Liked"], calls) == (False, {"dynamodb.BatchGetItem": 2, "dynamodb.GetItem": 1})
    # Someone who may not see the thread learns nothing, reactions read or not.
    private_group = admin.post(GROUPS, {"BusinessId": 1, "Name": "P", "AccessLevel": "Private"}).data["Value"]["Id"]
    hidden = admin.new_thread(UserId=101, CommunityGroupId=private_group)
    assert bob.get(f"{THREADS}/{hidden}").status_code == 404
    assert bob.get(f"{MESSAGES}/{admin.reply(hidden, UserId=101)}").status_code == 404
