"""A like, unlike, follow or unfollow is one read and one transaction wherever the thread is (issue 22).

Measured before the change (2026-12-03, the same routes through chalice.test.Client): 2 calls on a thread outside a
group, 3 in a group (a BatchGetItem of the group and the caller's membership), 3 on a reply outside a group and 4 in
one (the reply, then its thread, then the group). Now the target is read alone and the transaction checks the thread,
the group and, in a Private group, the membership — refusing with the very 404 a read gives, never more often or less.
"""
from __future__ import annotations

import pytest

from bench.calls import counting
from chalicelib.community import keys, reactions
from chalicelib.community.models import CommunityGroupMember, CommunityMessage, CommunityThread
from tests.community.conftest import GROUPS, MESSAGES, THREADS

TENANT = "tenant-a"
ONE_READ_ONE_WRITE = {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1}
MESSAGE = "Hello @[Bob](102)"


def _cost(caller, method: str, path: str):
    with counting() as counter:
        response = getattr(caller, method)(path)
    return response, {name: n for name, n in counter.by_operation().items() if name.startswith("dynamodb.")}


def _group(admin, level: str, members: tuple[int, ...] = ()) -> int:
    group_id = admin.post(GROUPS, {"BusinessId": 1, "Name": level, "AccessLevel": level}).data["Value"]["Id"]
    for user_id in members:
        assert admin.post(f"{GROUPS}/{group_id}/members", {"UserId": user_id}).status_code == 200
    return group_id


def _paths(thread_id: int, reply_id: int) -> list[tuple[str, str, str]]:
    """(path, state field, count field) of the three reactions on a thread and its reply."""
    return [(f"{THREADS}/{thread_id}/like", "Liked", "LikeCount"),
            (f"{THREADS}/{thread_id}/follow", "Following", "FollowerCount"),
            (f"{MESSAGES}/{reply_id}/like", "Liked", "LikeCount")]


def _unseen(caller, path: str):
    """What a read of the same record answers: the 404 a reaction must give, word for word."""
    record = path.rsplit("/", 1)[0]
    return caller.get(record).data


@pytest.mark.parametrize("where", ["no group", "Public", "Restricted", "Private", "Private thread"])
def test_every_reaction_is_one_read_and_one_transaction_wherever_the_thread_is(admin, member, where):
    bob = member(102)  # a member of the group, mentioned in the Private thread
    if where == "no group":
        fields = {}
    elif where == "Private thread":
        fields = {"Private": True, "Message": MESSAGE}
    else:
        fields = {"CommunityGroupId": _group(admin, where, members=(102,))}
    thread_id = admin.new_thread(UserId=101, **fields)
    reply_id = admin.reply(thread_id, UserId=101)

    for caller in (bob, admin):
        for path, state, count in _paths(thread_id, reply_id):
            counts = []
            for method, on in (("post", True), ("post", True), ("delete", False), ("delete", False)):
                response, calls = _cost(caller, method, path)
                assert response.status_code == 200, (where, path, response.data)
                assert calls == ONE_READ_ONE_WRITE, (where, path, method, calls)
                assert response.data["Value"][state] is on, (where, path)
                counts.append(response.data["Value"][count])
            assert counts == [counts[0], counts[0], counts[0] - 1, counts[0] - 1], (where, path)  # twice: once
            assert caller.post(path).status_code == 200
    thread, reply = admin.get(f"{THREADS}/{thread_id}").data, admin.get(f"{MESSAGES}/{reply_id}").data
    assert (thread["LikeCount"], thread["FollowerCount"], reply["LikeCount"]) == (2, 3, 2)  # the author follows


def test_who_may_not_see_the_thread_gets_the_reads_404_in_at_most_two_calls(admin, member):
    bob, carol, dan = member(102), member(103), member(104, claims={"business_ids": [2]})
    private_group = _group(admin, "Private", members=(102, 103))
    restricted = _group(admin, "Restricted")
    in_private = admin.new_thread(UserId=101, CommunityGroupId=private_group)
    private_thread = admin.new_thread(UserId=101, Private=True, Message=MESSAGE)
    in_restricted = admin.new_thread(UserId=101, CommunityGroupId=restricted)
    targets = {name: (thread_id, admin.reply(thread_id, UserId=101))
               for name, thread_id in (("private group", in_private), ("private thread", private_thread),
                                       ("restricted group", in_restricted))}
    assert admin.delete(f"{GROUPS}/{private_group}/members/103").status_code == 200  # carol removed

    refused = [(carol, "private group", 2, 2), (member(105), "private group", 2, 2),
               (carol, "private thread", 1, 2), (dan, "private group", 1, 1)]
    for caller, name, thread_calls, reply_calls in refused:
        for path, _, _ in _paths(*targets[name]):
            expected = _unseen(caller, path)
            for method in ("post", "delete"):
                response, calls = _cost(caller, method, path)
                assert response.status_code == 404 and response.data == expected, (caller.user_id, name, path)
                assert sum(calls.values()) == (reply_calls if MESSAGES in path else thread_calls), (name, path)
    for path, _, _ in _paths(*targets["private group"]):  # bob, still a member
        assert bob.post(path).status_code == 200
    # Reacting needs only to see the thread: a Restricted group's threads are seen by everyone (access.py).
    for path, _, _ in _paths(*targets["restricted group"]):
        response, calls = _cost(carol, "post", path)
        assert response.status_code == 200 and calls == ONE_READ_ONE_WRITE
    thread, reply = admin.get(f"{THREADS}/{in_private}").data, admin.get(f"{MESSAGES}/{targets['private group'][1]}")
    assert (thread["LikeCount"], thread["FollowerCount"], reply.data["LikeCount"]) == (1, 2, 1)
    for path in (f"{THREADS}/987654321/like", f"{MESSAGES}/987654321/like"):
        response, calls = _cost(bob, "post", path)
        assert response.status_code == 404 and response.data == _unseen(bob, path) and sum(calls.values()) == 1


def test_a_member_removed_while_the_like_is_on_its_way_is_refused(admin, member, monkeypatch):
    """The membership is a condition of the write, not a read before it: a removal between the two wins."""
    bob = member(102)
    group_id = _group(admin, "Private", members=(102,))
    thread_id = admin.new_thread(UserId=101, CommunityGroupId=group_id)
    reply_id = admin.reply(thread_id, UserId=101)
    commit = reactions.Tx.commit

    def removed_first(tx):
        CommunityGroupMember(keys.group_key(TENANT, group_id), 102).delete()
        return commit(tx)

    monkeypatch.setattr(reactions.Tx, "commit", removed_first)
    for path, _, _ in _paths(thread_id, reply_id):
        response = bob.post(path)
        assert response.status_code == 404 and response.data == _unseen(bob, path), response.data
    monkeypatch.undo()
    thread, reply = admin.get(f"{THREADS}/{thread_id}").data, admin.get(f"{MESSAGES}/{reply_id}").data
    assert (thread["LikeCount"], thread["FollowerCount"], reply["LikeCount"]) == (0, 1, 0)


def test_a_group_whose_level_changed_costs_one_more_transaction_once(admin, member):
    bob, carol = member(102), member(103)
    opened, closed = _group(admin, "Private", members=(102,)), _group(admin, "Public", members=(102,))
    was_private = admin.new_thread(UserId=101, CommunityGroupId=opened)
    was_public = admin.new_thread(UserId=101, CommunityGroupId=closed)
    replies = {was_private: admin.reply(was_private, UserId=101), was_public: admin.reply(was_public, UserId=101)}
    assert admin.put(f"{GROUPS}/{opened}", {"AccessLevel": "Public"}).status_code == 200
    assert admin.put(f"{GROUPS}/{closed}", {"AccessLevel": "Private"}).status_code == 200

    for thread_id, allowed in ((was_private, (bob, carol)), (was_public, (bob,))):
        like, follow, reply_like = _paths(thread_id, replies[thread_id])
        # The first reaction on the thread, and the first on the reply, learn the level and mend their guess.
        for path, extra in ((like[0], 1), (follow[0], 0), (reply_like[0], 1)):
            response, calls = _cost(allowed[0], "post", path)
            assert response.status_code == 200, response.data
            assert calls == {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1 + extra}, path
        for caller in allowed[1:]:
            for path, _, _ in (like, follow, reply_like):
                response, calls = _cost(caller, "post", path)
                assert response.status_code == 200 and calls == ONE_READ_ONE_WRITE, path
    for path, _, _ in _paths(was_public, replies[was_public]):
        response, calls = _cost(carol, "post", path)
        assert response.status_code == 404 and response.data == _unseen(carol, path)
        assert calls == ONE_READ_ONE_WRITE, path
    assert CommunityThread.get(TENANT, was_public).group_private is True
    assert CommunityMessage.get(TENANT, replies[was_private]).thread_group_private is False


def test_a_reply_whose_thread_moved_to_another_group_follows_the_thread(admin, member):
    bob, carol = member(102), member(103)
    public, private = _group(admin, "Public"), _group(admin, "Private", members=(102,))
    thread_id = admin.new_thread(UserId=101, CommunityGroupId=public)
    reply_id = admin.reply(thread_id, UserId=101)
    assert admin.put(f"{THREADS}/{thread_id}", {"CommunityGroupId": private}).status_code == 200
    path = f"{MESSAGES}/{reply_id}/like"

    refused, calls = _cost(carol, "post", path)
    assert refused.status_code == 404 and refused.data == _unseen(carol, path) and sum(calls.values()) == 3
    liked, calls = _cost(bob, "post", path)
    assert liked.status_code == 200 and liked.data["Value"]["LikeCount"] == 1
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 2}
    unliked, calls = _cost(bob, "delete", path)
    assert unliked.status_code == 200 and calls == ONE_READ_ONE_WRITE
    assert CommunityMessage.get(TENANT, reply_id).thread_group_id == private


def test_a_reply_written_before_it_kept_its_threads_scope_reads_the_thread_once(admin, member):
    bob = member(102)
    group_id = _group(admin, "Private", members=(102,))
    thread_id = admin.new_thread(UserId=101, CommunityGroupId=group_id)
    reply_id = admin.reply(thread_id, UserId=101)
    CommunityMessage(TENANT, reply_id).update(actions=[  # as replies were stored until 2026-12-03
        CommunityMessage.thread_business_id.remove(), CommunityMessage.thread_group_id.remove(),
        CommunityMessage.thread_group_private.remove()])
    CommunityThread(TENANT, thread_id).update(actions=[CommunityThread.group_private.remove()])
    path = f"{MESSAGES}/{reply_id}/like"

    first, calls = _cost(bob, "post", path)
    assert first.status_code == 200 and calls == {"dynamodb.GetItem": 2, "dynamodb.TransactWriteItems": 2}
    again, calls = _cost(bob, "delete", path)
    assert again.status_code == 200 and calls == ONE_READ_ONE_WRITE
    kept = CommunityMessage.get(TENANT, reply_id)
    assert (kept.thread_business_id, kept.thread_group_id, kept.thread_group_private) == (1, group_id, True)
