"""Replies, likes (one per user) and follows (the author follows automatically) on the board."""
from __future__ import annotations

from tests.community.conftest import MESSAGES, THREADS


def test_a_reply_is_listed_counted_and_moves_its_thread_up(member):
    alice, bob = member(101), member(102)
    older = alice.new_thread(Subject="Older")
    newer = alice.new_thread(Subject="Newer")

    response = bob.post(MESSAGES, {"CommunityThreadId": older, "UserId": 102, "Message": "Me too"})
    reply_id = response.data["Value"]["Id"]
    replies = alice.get(f"{MESSAGES}?CommunityThreadId={older}").data
    thread = alice.get(f"{THREADS}/{older}").data

    assert response.status_code == 200 and response.data["Message"] == "CommunityMessage was successfully created."
    assert [(r["Id"], r["UserId"], r["Message"]) for r in replies["Records"]] == [(reply_id, 102, "Me too")]
    assert thread["ReplyCount"] == 1
    assert [record["Id"] for record in alice.get(THREADS).data["Records"]] == [older, newer]
    assert bob.get(f"{MESSAGES}/{reply_id}").data["CommunityThreadId"] == older


def test_replies_come_oldest_first_in_pages(member):
    alice = member(101)
    thread_id = alice.new_thread()
    posted = [alice.reply(thread_id, f"reply {n}") for n in range(5)]

    first = alice.get(f"{MESSAGES}?CommunityThreadId={thread_id}&PageSize=3").data
    second = alice.get(f"{MESSAGES}?CommunityThreadId={thread_id}&PageSize=3&Cursor={first['NextCursor']}").data

    assert [r["Id"] for r in first["Records"] + second["Records"]] == posted
    assert second["HasNextPage"] is False


def test_a_reply_needs_a_thread_and_a_message(member):
    alice = member(101)

    response = alice.post(MESSAGES, {"UserId": 101, "Message": " "})
    unknown = alice.post(MESSAGES, {"CommunityThreadId": 123456789, "UserId": 101, "Message": "hi"})

    assert [(e["PropertyName"], e["Message"]) for e in response.data["Errors"]] == [
        ("CommunityThreadId", "is a required field"), ("Message", "is a required field")]
    assert unknown.status_code == 404 and unknown.data["Errors"][0]["PropertyName"] == "CommunityThreadId"
    assert alice.get(MESSAGES).data["Errors"][0]["PropertyName"] == "CommunityThreadId"


def test_editing_and_deleting_a_reply_belong_to_its_author(member, admin):
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread()
    reply_id = bob.reply(thread_id, "typo")

    by_other = alice.put(f"{MESSAGES}/{reply_id}", {"Message": "hijacked"})
    by_author = bob.put(f"{MESSAGES}/{reply_id}", {"Message": "fixed"})
    deleted_by_other = alice.delete(f"{MESSAGES}/{reply_id}")
    deleted_by_admin = admin.delete(f"{MESSAGES}/{reply_id}")

    assert by_other.status_code == 403 and by_author.status_code == 200
    assert deleted_by_other.status_code == 403 and deleted_by_admin.status_code == 200
    assert bob.get(f"{MESSAGES}/{reply_id}").status_code == 404
    assert alice.get(f"{THREADS}/{thread_id}").data["ReplyCount"] == 0


def test_liking_twice_counts_once_and_unliking_twice_never_goes_negative(member):
    alice, bob, carol = member(101), member(102), member(103)
    thread_id = alice.new_thread()

    first = bob.post(f"{THREADS}/{thread_id}/like")
    again = bob.post(f"{THREADS}/{thread_id}/like")
    carol.post(f"{THREADS}/{thread_id}/like")
    after_likes = alice.get(f"{THREADS}/{thread_id}").data
    bob.delete(f"{THREADS}/{thread_id}/like")
    unliked_again = bob.delete(f"{THREADS}/{thread_id}/like")
    as_bob = bob.get(f"{THREADS}/{thread_id}").data

    assert first.data["Value"] == {"Id": thread_id, "Liked": True, "LikeCount": 1}
    assert again.status_code == 200 and again.data["Value"]["LikeCount"] == 1
    assert after_likes["LikeCount"] == 2
    assert unliked_again.data["Value"] == {"Id": thread_id, "Liked": False, "LikeCount": 1}
    assert as_bob["Liked"] is False and as_bob["LikeCount"] == 1


def test_a_reply_can_be_liked_once_per_user(member):
    alice, bob = member(101), member(102)
    reply_id = alice.reply(alice.new_thread(), "nice")

    bob.post(f"{MESSAGES}/{reply_id}/like")
    bob.post(f"{MESSAGES}/{reply_id}/like")

    reply = bob.get(f"{MESSAGES}/{reply_id}").data
    assert reply["LikeCount"] == 1 and reply["Liked"] is True


def test_the_author_follows_automatically_and_others_follow_and_unfollow(member):
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread()

    followed = bob.post(f"{THREADS}/{thread_id}/follow")
    bob.post(f"{THREADS}/{thread_id}/follow")
    with_bob = alice.get(f"{THREADS}/{thread_id}").data
    unfollowed = bob.delete(f"{THREADS}/{thread_id}/follow")
    author_unfollows = alice.delete(f"{THREADS}/{thread_id}/follow")

    assert followed.data["Message"] == "CommunityThread was successfully followed."
    assert with_bob["FollowerCount"] == 2 and with_bob["Following"] is True
    assert unfollowed.data["Value"] == {"Id": thread_id, "Following": False, "FollowerCount": 1}
    assert author_unfollows.data["Value"]["FollowerCount"] == 0


def test_reacting_to_an_unknown_thread_is_404(member):
    bob = member(102)

    response = bob.post(f"{THREADS}/987654321/like")

    assert response.status_code == 404 and response.data["WasSuccessful"] is False
    assert bob.post(f"{THREADS}/not-a-number/follow").status_code == 400
