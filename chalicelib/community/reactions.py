"""Likes (threads and replies) and follows (threads): one per user, idempotent, counted in the same transaction.

A reaction is one read and one transaction, wherever the thread is (issue 22):
- the read is the target itself, the thread or the reply, which says what decides the thread's visibility: its
  location, its group and whether that group is Private (a reply keeps these of its thread: replies.thread_scope);
- the transaction writes the reaction with its count and checks, all or nothing, what the read did not see or may
  since have changed: the thread (still there, in that group, the caller still in a Private thread's audience), the
  group (still there, Private or not as guessed) and, in a Private group, the caller's membership. A condition holds
  at the moment of the write: a member removed from a Private group a moment before the like is refused, where a
  read of the membership before the write would have let the like in.
A guess proved wrong (a group made Private or no longer Private, a thread moved to another group since the reply was
written) costs one more transaction: the refused check hands back the item as it is (ReturnValuesOnConditionCheck-
Failure ALL_OLD), the transaction is built again from it, and its write corrects the guess kept on the thread or
the reply. A reply written before replies kept their thread's scope reads its thread once (3 calls), then is mended.
Whatever refuses — no such item, or one the caller may not see — the answer is the same 404 as a read's.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.expressions.update import Action

from chalicelib import clock
from chalicelib.community import keys
from chalicelib.community.access import Viewer, in_audience_condition
from chalicelib.community.envelope import CommunityError, forbidden, not_found
from chalicelib.community.models import (
    CommunityGroup,
    CommunityGroupMember,
    CommunityMessage,
    CommunityReaction,
    CommunityThread,
)
from chalicelib.db import VersionConflict, set_or_remove
from chalicelib.transactions import Tx

COUNTERS = {("thread", "like"): CommunityThread.like_count, ("thread", "follow"): CommunityThread.follower_count,
            ("message", "like"): CommunityMessage.like_count}
REPLY_SCOPE: tuple[Attribute[Any], ...] = (CommunityMessage.thread_business_id, CommunityMessage.thread_group_id,
                                           CommunityMessage.thread_group_private)  # in Scope's order
ATTEMPTS = 3  # the guess, the thread's group as it is, that group's level as it is: more only if they change meanwhile

Target = CommunityThread | CommunityMessage


@dataclass(frozen=True)
class Scope:
    """What decides who sees a thread, as last seen: its location, its group and whether that group is Private."""
    thread_id: int
    business_id: int
    group_id: int | None
    group_private: bool | None  # None: not known (a thread posted before it was kept); guessed not Private

    @classmethod
    def of_thread(cls, thread: CommunityThread) -> Scope:
        group_id = int(thread.group_id) if thread.group_id is not None else None
        return cls(int(thread.thread_id), int(thread.business_id), group_id,
                   thread.group_private if group_id is not None else None)

    @classmethod
    def of_reply(cls, reply: CommunityMessage) -> Scope | None:
        if reply.thread_business_id is None:
            return None  # a reply written before replies kept their thread's scope
        group_id = int(reply.thread_group_id) if reply.thread_group_id is not None else None
        return cls(int(reply.thread_id), int(reply.thread_business_id), group_id,
                   reply.thread_group_private if group_id is not None else None)


def _member(viewer: Viewer) -> int:
    if viewer.member_id is None:
        raise forbidden("the token carries no numeric user id (user_id claim or numeric sub)", "UserId")
    return viewer.member_id


def set_reaction(viewer: Viewer, kind: str, reaction: str, target_id: int, on: bool) -> dict[str, Any]:
    """Like/unlike or follow/unfollow; doing it twice changes nothing. Returns the new state and count."""
    user_id = _member(viewer)
    unseen = not_found("CommunityThread" if kind == "thread" else "CommunityMessage", attempted=target_id)
    target = _read(CommunityThread if kind == "thread" else CommunityMessage, viewer.tenant_id, target_id)
    if target is None:
        raise unseen
    scope = _scope(viewer, target, unseen)
    counter = COUNTERS[(kind, reaction)]
    for _ in range(ATTEMPTS):
        outcome = _transaction(viewer, kind, reaction, target, scope, on, user_id).commit()
        refused = outcome.refused
        if "thread" in refused:  # gone, hidden from the caller since, or in another group than the reply says
            thread = _seen_thread(viewer, outcome.old.get("thread"), unseen)
            scope = Scope.of_thread(thread)
            target = thread if kind == "thread" else target
            continue
        if "group" in refused:  # gone, or Private when guessed not (or the other way round)
            old = outcome.old.get("group")
            if old is None:
                raise unseen
            scope = replace(scope, group_private=CommunityGroup.from_raw_data(old).access_level == "Private")
            continue
        if refused & {"membership", "target"}:  # not a member of the Private group; the reply is gone
            raise unseen
        # Liked already (or not liked): nothing changed. The count as read a moment ago, moved by this change if it
        # was one: no read after the write; another member's like in between shows on the next read.
        count = int(getattr(target, counter.attr_name) or 0) + (0 if refused else (1 if on else -1))
        return {"Id": target_id, _state_name(reaction): on, _count_name(reaction): max(count, 0)}
    # Each attempt answered what the one before could not know; a third refusal means the thread's group or its level
    # changed again meanwhile: busy, a 503 as for any write that keeps losing to others (errors.as_unavailable).
    raise VersionConflict(f"{kind} {target_id}: its group or level kept changing")


def _read(model: type[Target], tenant_id: str, target_id: int) -> Any:
    try:
        return model.get(tenant_id, target_id)
    except model.DoesNotExist:
        return None


def _scope(viewer: Viewer, target: Target, unseen: CommunityError) -> Scope:
    """The target's thread's scope, from the target; refused here already when the target shows it hidden."""
    if isinstance(target, CommunityThread):
        if not viewer.sees_apart_from_group(target):
            raise unseen
        return Scope.of_thread(target)
    scope = Scope.of_reply(target)
    if scope is None:
        thread = _read(CommunityThread, viewer.tenant_id, int(target.thread_id))
        if thread is None or not viewer.sees_apart_from_group(thread):
            raise unseen
        return Scope.of_thread(thread)
    if not viewer.is_admin and not viewer.in_business(scope.business_id):
        raise unseen
    return scope


def _seen_thread(viewer: Viewer, old: dict[str, Any] | None, unseen: CommunityError) -> CommunityThread:
    """The thread as the refused check found it, if the caller may still see what the item alone decides."""
    if old is None:
        raise unseen
    thread = CommunityThread.from_raw_data(old)
    if not viewer.sees_apart_from_group(thread):
        raise unseen
    return thread


def _transaction(viewer: Viewer, kind: str, reaction: str, target: Target, scope: Scope, on: bool,
                 user_id: int) -> Tx:
    tenant_id, target_id = viewer.tenant_id, int(_target_id(target))
    item = CommunityReaction(keys.target_key(tenant_id, kind, target_id), f"{reaction}#{user_id}",
                             user_id=user_id, created_at=clock.now_iso())
    tx = Tx()
    if on:
        tx.save("reaction", item, condition=CommunityReaction.reaction_key.does_not_exist())
    else:
        tx.delete("reaction", item, condition=CommunityReaction.reaction_key.exists())
    group_id, private = scope.group_id, bool(scope.group_private)
    checks_group = not viewer.is_admin and group_id is not None
    if checks_group and group_id is not None:
        level = CommunityGroup.access_level == "Private" if private else CommunityGroup.access_level != "Private"
        tx.check("group", CommunityGroup, tenant_id, group_id, CommunityGroup.group_id.exists() & level,
                 return_old=True)
        if private:
            tx.check("membership", CommunityGroupMember, keys.group_key(tenant_id, group_id), user_id,
                     CommunityGroupMember.user_id.exists())
    counted: list[Action] = [COUNTERS[(kind, reaction)].add(1 if on else -1)]
    thread_condition = _thread_condition(viewer, scope, user_id)
    if isinstance(target, CommunityThread):
        if checks_group and target.group_private != private:  # the guess, confirmed if this commits
            counted.append(CommunityThread.group_private.set(private))
        tx.update("thread", CommunityThread(tenant_id, target_id), counted, condition=thread_condition,
                  return_old=True)
        return tx
    tx.check("thread", CommunityThread, tenant_id, scope.thread_id, thread_condition, return_old=True)
    kept = (scope.business_id, scope.group_id, private if scope.group_id is not None else None)
    if not viewer.is_admin and kept != (target.thread_business_id, target.thread_group_id,
                                        target.thread_group_private):
        counted += [set_or_remove(attribute, value) for attribute, value in zip(REPLY_SCOPE, kept, strict=True)]
    tx.update("target", CommunityMessage(tenant_id, target_id), counted,
              condition=CommunityMessage.message_id.exists())
    return tx


def _thread_condition(viewer: Viewer, scope: Scope, user_id: int) -> Any:
    """The thread exists and, for anyone but an administrator, is still in the scope checked and visible to them."""
    condition = CommunityThread.thread_id.exists()
    if viewer.is_admin:
        return condition
    condition &= (CommunityThread.group_id == scope.group_id if scope.group_id is not None
                  else CommunityThread.group_id.does_not_exist())
    if viewer.principal.business_ids is not None:
        condition &= CommunityThread.business_id == scope.business_id
    return condition & in_audience_condition(user_id)


def _target_id(target: Target) -> int:
    return int(target.thread_id if isinstance(target, CommunityThread) else target.message_id)


def _state_name(reaction: str) -> str:
    return "Liked" if reaction == "like" else "Following"


def _count_name(reaction: str) -> str:
    return "LikeCount" if reaction == "like" else "FollowerCount"
