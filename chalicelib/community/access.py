"""Who may do what on the board: roles (`Entity-Action`, or `admin` for everything) and visibility.

Visibility of a thread to a person:
- not in a group, or in a Public or Restricted group: everyone with board access; in a Private group: its members;
- and, when the thread is Private: only its author, its guests and the people its message mentions.
Contributing (posting a thread or reply in a group): Public groups are open to all, Restricted and Private
groups to their members. Administrators see and do everything.
"""
from __future__ import annotations

from collections.abc import Iterable

from pynamodb.expressions.condition import Condition

from chalicelib import db
from chalicelib.auth import Principal
from chalicelib.community.envelope import forbidden
from chalicelib.community.keys import group_key
from chalicelib.community.models import CommunityGroup, CommunityGroupMember, CommunityThread, CommunityThreadTag

GROUPS_PER_READ = 50  # a group and the caller's membership of it: two keys of the 100 a BatchGetItem takes

Shown = CommunityThread | CommunityThreadTag  # a thread, or a tag item standing for it in a tag's list


def sees(thread: Shown, group: CommunityGroup | None, user_id: int | None, is_member: bool) -> bool:
    """Whether a (non-administrator) user may read this thread; `group` is the thread's group, if any."""
    if thread.group_id is not None:
        if group is None:
            return False
        if group.access_level == "Private" and not is_member:
            return False
    return in_audience(thread, user_id)


def in_audience(thread: Shown, user_id: int | None) -> bool:
    """The Private thread's rule: only its author, its guests and the people its message mentions."""
    return not thread.private or (user_id is not None and user_id in thread.audience())


def in_audience_condition(user_id: int) -> Condition:
    """`in_audience` as a condition on the thread item, for a transaction to hold it at the moment it writes."""
    return (CommunityThread.private.does_not_exist() | (CommunityThread.private == False)  # noqa: E712
            | (CommunityThread.user_id == user_id) | CommunityThread.guests.contains(user_id)
            | CommunityThread.mentions.contains(user_id))


def contributes(group: CommunityGroup | None, is_member: bool) -> bool:
    return group is None or group.access_level == "Public" or is_member


class Viewer:
    """The caller on the community routes, with the groups and memberships a request has looked up."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.tenant_id = principal.tenant_id
        self.member_id = principal.member_id
        self.is_admin = principal.is_admin
        self._groups: dict[int, CommunityGroup | None] = {}
        self._memberships: dict[int, bool] = {}

    @property
    def name(self) -> str:
        return self.principal.email or self.principal.user_id

    def acting_as(self, user_id: int | None) -> None:
        """Only administrators post on behalf of someone else; everyone else posts as themselves."""
        if self.is_admin or user_id is None:
            return
        if self.member_id is None:
            raise forbidden("the token carries no numeric user id (user_id claim or numeric sub)", "UserId")
        if user_id != self.member_id:
            raise forbidden("must be the id of the signed-in user", "UserId")

    def in_business(self, business_id: int) -> bool:
        business_ids = self.principal.business_ids
        return self.is_admin or business_ids is None or business_id in business_ids

    def load(self, group_ids: Iterable[int]) -> None:
        """Fetch the groups and this user's memberships not yet known: one BatchGetItem across both tables for up
        to 50 groups (a BatchGetItem takes at most 100 keys)."""
        wanted = sorted({int(g) for g in group_ids} - set(self._groups))
        for start in range(0, len(wanted), GROUPS_PER_READ):
            chunk = wanted[start:start + GROUPS_PER_READ]
            asked: list[CommunityGroup | CommunityGroupMember] = [CommunityGroup(self.tenant_id, g) for g in chunk]
            if self.member_id is not None:
                asked += [CommunityGroupMember(group_key(self.tenant_id, g), self.member_id) for g in chunk]
            found = db.get_many(*asked)
            for index, group_id in enumerate(chunk):
                self._groups[group_id] = found[index]
                self._memberships[group_id] = self.member_id is not None and found[len(chunk) + index] is not None

    def group(self, group_id: int | None) -> CommunityGroup | None:
        if group_id is None:
            return None
        self.load([group_id])
        return self._groups[int(group_id)]

    def is_member(self, group_id: int | None) -> bool:
        if group_id is None:
            return False
        self.load([group_id])
        return self._memberships[int(group_id)]

    def sees_group(self, group: CommunityGroup) -> bool:
        return (self.is_admin or (self.in_business(int(group.business_id))
                                  and (group.access_level != "Private" or self.is_member(int(group.group_id)))))

    def contributes_to(self, group: CommunityGroup | None) -> bool:
        return self.is_admin or contributes(group, group is not None and self.is_member(int(group.group_id)))

    def sees(self, thread: Shown) -> bool:
        if not self.sees_apart_from_group(thread):
            return False
        if self.is_admin:
            return True
        group_id = int(thread.group_id) if thread.group_id is not None else None
        return sees(thread, self.group(group_id), self.member_id, self.is_member(group_id))

    def sees_apart_from_group(self, thread: Shown) -> bool:
        """What the thread item alone decides: its location and, when Private, its audience (no group read)."""
        return self.is_admin or (self.in_business(int(thread.business_id)) and in_audience(thread, self.member_id))

    def contributes(self, thread: CommunityThread) -> bool:
        group_id = int(thread.group_id) if thread.group_id is not None else None
        return self.sees(thread) and self.contributes_to(self.group(group_id))
