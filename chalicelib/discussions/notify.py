"""Job: tell a discussion's staff participants about a new message (an inbound email reply included).

Queued in the same transaction as the message (jobs outbox), so a message is never stored without its
notifications following. The notification id is the message id: a rerun stores nothing twice.
"""
from __future__ import annotations

from typing import Any

from chalicelib import db
from chalicelib.config import settings
from chalicelib.discussions.models import Discussion, Message
from chalicelib.discussions.service import discussion_key, preview_of


def _name_of(tenant_id: str, discussion: Discussion, message: Message) -> str:
    """The author as people know them: participant name, else the users directory; never an internal user id."""
    if message.author_type == "email":
        return message.author  # the sender's address (an inbound reply's job payload carries their name)
    named = next((p.name for p in discussion.participants if p.user_id == message.author and p.name), None)
    if named:
        return named
    from chalicelib.users import service as users

    profile = users.profile_of(tenant_id, message.author)
    return profile.name if profile and profile.name else "A colleague"


def run(payload: dict[str, Any]) -> None:
    from chalicelib.notifications import delivery
    from chalicelib.notifications.email import EmailContent
    from chalicelib.notifications.service import NewNotification

    tenant_id, discussion_id = payload["tenant_id"], payload["discussion_id"]
    discussion, message = db.get_many(Discussion(tenant_id, discussion_id),  # one BatchGetItem for both
                                      Message(discussion_key(tenant_id, discussion_id), payload["message_id"]))
    if discussion is None or message is None:
        return None
    author = payload.get("author_user_id")
    # Everyone with an account hears of a message; an internal note only the staff (it never leaves the business).
    staff = [p.user_id for p in discussion.participants if p.user_id and p.user_id != author
             and (p.is_staff or not message.is_internal)]
    inbound = message.author_type == "email"
    who = payload.get("author_name") or _name_of(tenant_id, discussion, message)
    title = (f"{who} replied: {discussion.subject}" if inbound
             else f"New message from {who}: {discussion.subject}")
    if message.is_internal:
        title = f"Internal note from {who}: {discussion.subject}"
    link = settings().discussion_url(discussion_id)
    item = NewNotification(type="inbound_reply" if inbound else "discussion_message", title=title,
                           body=preview_of(message.body), discussion_id=discussion_id,
                           context_label=discussion.subject, link=link,
                           internal=bool(message.is_internal))
    delivery.deliver(tenant_id, staff, message.message_id, item, EmailContent(
        title=title, excerpt=item.body, link=link,
        reason="You get this email because you take part in this discussion."))
    return None
