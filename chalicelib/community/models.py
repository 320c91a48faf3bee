"""PynamoDB models of the community board, one table each, keyed for the board's reads (no Scan anywhere).

- CommunityThread: (tenant_id, thread_id). GSIs list a tenant's threads newest activity first: all of them,
  one location's (business_key) or one group's (group_key). activity_key = last activity + id.
- CommunityMessage: a reply, (tenant_id, message_id); GSI by_thread lists a thread's replies oldest first. It
  carries its thread's location and group as last seen, so a like of it reads the reply alone.
- CommunityGroup: (tenant_id, group_id) with its access level and counts.
- CommunityGroupMember: (group_key, user_id); GSI by_user lists a user's groups.
- CommunityReaction: likes and follows, (target_key, reaction_key) with reaction_key `like#<user>` or
  `follow#<user>`, so a thread's followers are one Query on a key prefix and a like is one conditional Put.
- CommunityThreadTag: one tag of a thread, (thread_key, tag); GSI by_tag lists a tag's threads newest activity
  first (tag_key = tenant#tag). Written with the thread in its own transactions (chalicelib/community/tags.py).
Ids are random positive integers below 2**53, as the seed's API uses integer ids.
"""
from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    NumberSetAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.db import table_meta
from chalicelib.tables import Table

ACCESS_LEVELS = ("Public", "Restricted", "Private")


class ThreadsByActivity(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_activity"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class ThreadsByBusiness(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_business"
        projection = AllProjection()

    business_key = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class ThreadsByGroup(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_group"
        projection = AllProjection()

    group_key = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class CommunityThread(Table):
    Meta = table_meta("community-threads")

    tenant_id = UnicodeAttribute(hash_key=True)
    thread_id = NumberAttribute(range_key=True)
    business_id = NumberAttribute()
    business_key = UnicodeAttribute()                  # tenant#business
    group_id = NumberAttribute(null=True)
    group_key = UnicodeAttribute(null=True)            # tenant#group, only when in a group (sparse index)
    # Whether the group was Private when last seen (posting, moving, a reaction): a guess that spares a like the
    # read of the group; the reaction's transaction checks the group itself (chalicelib/community/reactions.py).
    group_private = BooleanAttribute(null=True)
    user_id = NumberAttribute()
    coworker_id = NumberAttribute(null=True)
    subject = UnicodeAttribute()
    # subject.lower(): what a `?Subject=` list's Query filters on in DynamoDB (threads written before it have none,
    # and are checked by the app: threads.list_page)
    subject_folded = UnicodeAttribute(null=True)
    message = UnicodeAttribute()
    tags = UnicodeAttribute(null=True)                 # as given, comma-separated
    tag_set = UnicodeSetAttribute(null=True)           # normalised (lower-case, trimmed) for the tag filter
    private = BooleanAttribute(default=False)
    # PynamoDB types the elements of a list as their attribute class; [Any] says they are plain values (ints).
    guests = ListAttribute[Any](of=NumberAttribute, null=True)
    mentions = ListAttribute[Any](of=NumberAttribute, null=True)
    instant_delivery = BooleanAttribute(default=False)
    include_zoom_invite = BooleanAttribute(default=False)
    zoom_event_data = UnicodeAttribute(null=True)
    reply_count = NumberAttribute(default=0)
    like_count = NumberAttribute(default=0)
    follower_count = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute(null=True)
    last_activity_at = UnicodeAttribute()
    activity_key = UnicodeAttribute()
    # Moved by every edit of what the tag items mirror (not by a reply): the condition that keeps them in step.
    revision = NumberAttribute(null=True)

    by_activity = ThreadsByActivity()
    by_business = ThreadsByBusiness()
    by_group = ThreadsByGroup()

    def audience(self) -> set[int]:
        """Who may read a Private thread: its author, its guests and the people its message mentions."""
        return {int(self.user_id), *(int(g) for g in self.guests or []), *(int(m) for m in self.mentions or [])}


class RepliesByThread(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_thread"
        projection = AllProjection()

    thread_key = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class CommunityMessage(Table):
    """A reply posted on a thread (the seed's `communitymessages`)."""
    Meta = table_meta("community-messages")

    tenant_id = UnicodeAttribute(hash_key=True)
    message_id = NumberAttribute(range_key=True)
    thread_id = NumberAttribute()
    thread_key = UnicodeAttribute()                    # tenant#thread
    created_key = UnicodeAttribute()                   # created_at#message_id
    user_id = NumberAttribute()
    coworker_id = NumberAttribute(null=True)
    message = UnicodeAttribute()
    # PynamoDB types the elements of a list as their attribute class; [Any] says they are plain values (ints).
    guests = ListAttribute[Any](of=NumberAttribute, null=True)
    mentions = ListAttribute[Any](of=NumberAttribute, null=True)
    like_count = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute(null=True)
    # The thread's location (it never changes), group and whether that group was Private, as last seen: so a like
    # of the reply needs no read of the thread; the like's transaction checks them on the thread and its group
    # (chalicelib/community/reactions.py). Absent on replies written before: the like reads the thread then.
    thread_business_id = NumberAttribute(null=True)
    thread_group_id = NumberAttribute(null=True)
    thread_group_private = BooleanAttribute(null=True)

    by_thread = RepliesByThread()


class CommunityGroup(Table):
    Meta = table_meta("community-groups")

    tenant_id = UnicodeAttribute(hash_key=True)
    group_id = NumberAttribute(range_key=True)
    business_id = NumberAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    access_level = UnicodeAttribute()                  # Public | Restricted | Private
    member_count = NumberAttribute(default=0)
    thread_count = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute(null=True)


class GroupsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_key = UnicodeAttribute(hash_key=True)
    group_id = NumberAttribute(range_key=True)


class CommunityGroupMember(Table):
    Meta = table_meta("community-group-members")

    group_key = UnicodeAttribute(hash_key=True)        # tenant#group
    user_id = NumberAttribute(range_key=True)
    user_key = UnicodeAttribute()                      # tenant#user
    group_id = NumberAttribute()
    joined_at = UnicodeAttribute()

    by_user = GroupsByUser()


class CommunityReaction(Table):
    """One like or follow: target_key is tenant#thread#<id> or tenant#message#<id>."""
    Meta = table_meta("community-reactions")

    target_key = UnicodeAttribute(hash_key=True)
    reaction_key = UnicodeAttribute(range_key=True)    # like#<user> | follow#<user>
    user_id = NumberAttribute()
    created_at = UnicodeAttribute()


class ThreadTagsByActivity(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_tag"
        projection = AllProjection()

    tag_key = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class CommunityThreadTag(Table):
    """One tag of a thread, with what a `?Tag=` page needs to choose threads before reading them."""
    Meta = table_meta("community-thread-tags")

    thread_key = UnicodeAttribute(hash_key=True)       # tenant#thread
    tag = UnicodeAttribute(range_key=True)             # normalised as the thread's tag_set
    tag_key = UnicodeAttribute()                       # tenant#tag
    activity_key = UnicodeAttribute()                  # the thread's
    thread_id = NumberAttribute()
    business_id = NumberAttribute()
    group_id = NumberAttribute(null=True)
    private = BooleanAttribute(default=False)
    readers = NumberSetAttribute(null=True)            # a Private thread's audience
    subject = UnicodeAttribute()

    by_tag = ThreadTagsByActivity()

    def audience(self) -> set[int]:
        return {int(reader) for reader in self.readers or ()}


MODELS = (CommunityThread, CommunityMessage, CommunityGroup, CommunityGroupMember, CommunityReaction,
          CommunityThreadTag)
