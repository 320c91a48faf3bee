"""Job: tell people about a new thread or reply — the mentioned and guests, then followers, then group members.

Runs from the jobs queue, a page of at most PAGE people per run, so a group of any size is served in
bounded runs. Each person gets one notification per event (its id is the event's key, so a rerun or a
person met in two stages stores nothing twice) and only if they may see the thread. Threads with
InstantDelivery are emailed at once; the others wait for the person's digest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.community import invite, keys
from chalicelib.community.access import sees
from chalicelib.community.mentions import plain
from chalicelib.community.models import (
    CommunityGroup,
    CommunityGroupMember,
    CommunityMessage,
    CommunityReaction,
    CommunityThread,
)
from chalicelib.config import settings

PAGE = 100


@dataclass
class Event:
    tenant_id: str
    thread: CommunityThread
    reply: CommunityMessage | None
    group: CommunityGroup | None
    actor: int
    event_key: str


def _load(payload: dict[str, Any]) -> Event | None:
    tenant_id = payload["tenant_id"]
    try:
        thread = CommunityThread.get(tenant_id, int(payload["thread_id"]))
        reply = CommunityMessage.get(tenant_id, int(payload["message_id"])) if payload.get("message_id") else None
        group = CommunityGroup.get(tenant_id, int(thread.group_id)) if thread.group_id is not None else None
    except (CommunityThread.DoesNotExist, CommunityMessage.DoesNotExist, CommunityGroup.DoesNotExist):
        return None  # deleted since: nobody is told about it
    return Event(tenant_id, thread, reply, group, int(payload["actor"]), payload["event_key"])


def run(payload: dict[str, Any]) -> dict[str, Any] | None:
    """One run of the job; returns the continuation payload, or None when everyone has been told."""
    event = _load(payload)
    if event is None:
        return None
    stage, cursor = payload.get("stage", "mentions"), payload.get("cursor")
    if stage == "mentions":
        source = event.reply or event.thread
        addressed = payload.get("only") or [*(source.mentions or []), *(source.guests or [])]
        _tell(event, [int(user) for user in addressed], "mention")
        if payload.get("only"):
            return None
        # A new thread has no followers but its author; a reply tells the thread's followers.
        stage, cursor = ("followers" if event.reply else "group"), None
    if stage == "followers":
        results = CommunityReaction.query(keys.target_key(event.tenant_id, "thread", int(event.thread.thread_id)),
                                          CommunityReaction.reaction_key.startswith("follow#"), limit=PAGE,
                                          last_evaluated_key=cursor)
        _tell(event, [int(reaction.user_id) for reaction in results], "follower")
        if results.last_evaluated_key:
            return {**payload, "stage": "followers", "cursor": results.last_evaluated_key}
        if event.group is None:
            return None
        stage, cursor = "group", None
    if stage == "group" and event.group is not None:
        members = CommunityGroupMember.query(keys.group_key(event.tenant_id, int(event.group.group_id)), limit=PAGE,
                                             last_evaluated_key=cursor)
        _tell(event, [int(member.user_id) for member in members], "member", members=True)
        if members.last_evaluated_key:
            return {**payload, "stage": "group", "cursor": members.last_evaluated_key}
    return None


def _members(event: Event, users: list[int]) -> set[int]:
    if event.group is None or not users:
        return set()
    group_key = keys.group_key(event.tenant_id, int(event.group.group_id))
    return {int(m.user_id) for m in CommunityGroupMember.batch_get([(group_key, user) for user in users])}


def _tell(event: Event, users: list[int], reason: str, members: bool = False) -> None:
    from chalicelib.notifications import delivery, service

    users = [user for user in dict.fromkeys(users) if user != event.actor]
    if not users:
        return
    in_group = set(users) if members else (_members(event, users) if event.group is not None
                                           and event.group.access_level == "Private" else set())
    audience = [str(user) for user in users if sees(event.thread, event.group, user, user in in_group)]
    kind, title, why = _wording(event, reason)
    thread = event.thread
    link = settings().community_thread_url(int(thread.thread_id))  # the app's page, never the JSON API
    excerpt = plain((event.reply or thread).message)[:300]
    invitation = _invite_lines(event)
    # The invite is part of the stored notification too, so a digest (and the notification list) carries it.
    item = service.NewNotification(
        type=kind, title=title, body="\n\n".join([excerpt, "\n".join(invitation)]) if invitation else excerpt,
        community_thread_id=int(thread.thread_id),
        community_message_id=int(event.reply.message_id) if event.reply else None,
        instant=bool(thread.instant_delivery), context_label=thread.subject, link=link)
    delivery.deliver(event.tenant_id, audience, event.event_key, item,
                     _email(event, item.title, excerpt, invitation, why, link))


def _invite_lines(event: Event) -> list[str]:
    """The Zoom invite's lines, for the notifications of a new thread with IncludeZoomInvite."""
    if not event.thread.include_zoom_invite or event.reply is not None:
        return []
    return invite.lines(invite.meeting(event.thread.zoom_event_data))


def _wording(event: Event, reason: str) -> tuple[str, str, str]:
    subject = event.thread.subject
    if reason == "mention":
        where = "a reply in " if event.reply else ""
        return "community_mention", f"You were mentioned in {where}“{subject}”", \
            "You get this email because you were mentioned or invited."
    if reason == "follower":
        title = f"New reply in “{subject}”" if event.reply else f"New conversation “{subject}”"
        return "community_reply" if event.reply else "community_thread", title, \
            "You get this email because you follow this conversation."
    group_name = event.group.name if event.group else "the board"
    title = (f"New reply in “{subject}” ({group_name})" if event.reply
             else f"New conversation in {group_name}: “{subject}”")
    return "community_reply" if event.reply else "community_thread", title, \
        f"You get this email because you are a member of {group_name}."


def _email(event: Event, title: str, excerpt: str, invitation: list[str], why: str, link: str) -> Any:
    from chalicelib.mail.compose import Attachment
    from chalicelib.notifications.email import EmailContent

    thread = event.thread
    content = EmailContent(title=title, excerpt=excerpt, link=link, reason=why, extra_lines=invitation)
    if invitation:
        calendar = invite.ics(invite.meeting(thread.zoom_event_data),
                              uid=f"thread-{int(thread.thread_id)}@discussionhub", summary=thread.subject)
        if calendar:
            content.attachments.append(Attachment("invite.ics", "text/calendar", calendar,
                                                  {"method": "PUBLISH", "charset": "utf-8"}))
    return content
