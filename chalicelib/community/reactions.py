"""Likes (threads and replies) and follows (threads): one per user, idempotent, counted in the same transaction."""
from __future__ import annotations

from typing import Any

from chalicelib import clock
from chalicelib.community import keys
from chalicelib.community.access import Viewer
from chalicelib.community.envelope import forbidden, not_found
from chalicelib.community.models import CommunityMessage, CommunityReaction, CommunityThread
from chalicelib.transactions import Tx

COUNTERS = {("thread", "like"): CommunityThread.like_count, ("thread", "follow"): CommunityThread.follower_count,
            ("message", "like"): CommunityMessage.like_count}


def _member(viewer: Viewer) -> int:
    if viewer.member_id is None:
        raise forbidden("the token carries no numeric user id (user_id claim or numeric sub)", "UserId")
    return viewer.member_id


def _target(viewer: Viewer, kind: str, target_id: int) -> tuple[Any, Any, Any]:
    """The visible thread or reply as read now, the model instance whose counter moves, and its key attribute."""
    if kind == "thread":
        from chalicelib.community import threads

        return threads.load(viewer, target_id), CommunityThread(viewer.tenant_id, target_id), CommunityThread.thread_id
    from chalicelib.community import replies

    reply, _ = replies.load(viewer, target_id)
    return reply, CommunityMessage(viewer.tenant_id, target_id), CommunityMessage.message_id


def set_reaction(viewer: Viewer, kind: str, reaction: str, target_id: int, on: bool) -> dict[str, Any]:
    """Like/unlike or follow/unfollow; doing it twice changes nothing. Returns the new state and count."""
    user_id = _member(viewer)
    loaded, counted, exists = _target(viewer, kind, target_id)
    counter = COUNTERS[(kind, reaction)]
    item = CommunityReaction(keys.target_key(viewer.tenant_id, kind, target_id), f"{reaction}#{user_id}",
                             user_id=user_id, created_at=clock.now_iso())
    tx = Tx()
    if on:
        tx.save("reaction", item, condition=CommunityReaction.reaction_key.does_not_exist())
    else:
        tx.delete("reaction", item, condition=CommunityReaction.reaction_key.exists())
    tx.update("target", counted, [counter.add(1 if on else -1)], condition=exists.exists())
    refused = tx.commit().refused
    if "target" in refused and "reaction" not in refused:
        raise not_found("CommunityThread" if kind == "thread" else "CommunityMessage", attempted=target_id)
    # The count as read a moment ago, moved by this change if it was one (already liked: unchanged): no read after
    # the write. Another member's like in between shows on the next read of the thread.
    count = int(getattr(loaded, counter.attr_name) or 0) + (0 if refused else (1 if on else -1))
    return {"Id": target_id, _state_name(reaction): on, _count_name(reaction): max(count, 0)}


def _state_name(reaction: str) -> str:
    return "Liked" if reaction == "like" else "Following"


def _count_name(reaction: str) -> str:
    return "LikeCount" if reaction == "like" else "FollowerCount"
