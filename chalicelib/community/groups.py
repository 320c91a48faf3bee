"""Community groups and their members. The access level decides who sees and who contributes (see access.py).

Members are added by whoever holds CommunityGroup-Update (or admin); anyone with board access may join a
Public group on their own and leave any group.
"""
from __future__ import annotations

from typing import Any

from chalicelib import clock, jobs
from chalicelib.community import cleanup, keys
from chalicelib.community.access import Viewer
from chalicelib.community.envelope import conflict, forbidden, not_found
from chalicelib.community.models import CommunityGroup, CommunityGroupMember
from chalicelib.community.threads import keep
from chalicelib.db import decode_cursor, encode_cursor
from chalicelib.transactions import Tx

ENTITY = "CommunityGroup"
LIST_BUDGET = 400  # groups a list request may examine to fill one page of visible groups
QUERY_CHUNK = 100


def create(viewer: Viewer, values: dict[str, Any]) -> CommunityGroup:
    """A new group from checked values (chalicelib/community/schemas.py); the route checked the role."""
    if not viewer.in_business(values["BusinessId"]):
        raise forbidden("is not a location you belong to", "BusinessId")
    for _ in range(3):
        now = clock.now_iso()
        group = CommunityGroup(viewer.tenant_id, keys.new_id(), business_id=values["BusinessId"],
                               name=values["Name"], description=values["Description"],
                               access_level=values["AccessLevel"], created_at=now, updated_at=now,
                               updated_by=viewer.name)
        tx = Tx()
        # A creator who is not an administrator joins the group, or a Private group would hide from its maker.
        joiner = None if viewer.is_admin else viewer.member_id
        if joiner is not None:
            group.member_count = 1
            tx.save("member", CommunityGroupMember(
                keys.group_key(viewer.tenant_id, int(group.group_id)), joiner,
                user_key=keys.user_key(viewer.tenant_id, joiner), group_id=int(group.group_id),
                joined_at=now))
        tx.save("group", group, condition=CommunityGroup.group_id.does_not_exist())
        if tx.commit().committed:
            return group
    raise conflict("could not allocate an id; try again", "Id")


def load(viewer: Viewer, group_id: int) -> CommunityGroup:
    group = viewer.group(group_id)
    if group is None or not viewer.sees_group(group):
        raise not_found(ENTITY, attempted=group_id)
    return group


def get(viewer: Viewer, group_id: int) -> dict[str, Any]:
    return as_json(load(viewer, group_id), viewer.is_member(group_id))


def update(viewer: Viewer, group_id: int, values: dict[str, Any]) -> CommunityGroup:
    keep({"BusinessId": int(load(viewer, group_id).business_id)}, values)
    actions = [CommunityGroup.updated_at.set(clock.now_iso()), CommunityGroup.updated_by.set(viewer.name)]
    for name, attribute in (("Name", CommunityGroup.name), ("AccessLevel", CommunityGroup.access_level),
                            ("Description", CommunityGroup.description)):
        if name in values:
            actions.append(attribute.set(values[name]) if values[name] is not None else attribute.remove())
    tx = Tx()
    tx.update("group", CommunityGroup(viewer.tenant_id, group_id), actions, condition=CommunityGroup.group_id.exists())
    if not tx.commit().committed:
        raise not_found(ENTITY, attempted=group_id)
    return CommunityGroup.get(viewer.tenant_id, group_id)


def delete(viewer: Viewer, group_id: int) -> CommunityGroup:
    """Only an empty group goes: its conversations must be moved or deleted first, so none is orphaned.
    Its memberships follow in the `community.purge` job."""
    group = load(viewer, group_id)
    job = jobs.new_job("community.purge", cleanup.group_payload(viewer.tenant_id, group_id))
    tx = Tx()
    tx.delete("group", CommunityGroup(viewer.tenant_id, group_id),
              condition=CommunityGroup.group_id.exists() & (CommunityGroup.thread_count <= 0))
    tx.save("job", job)
    if not tx.commit().committed:
        raise conflict("the group still has conversations; move or delete them first", "Id")
    jobs.dispatch(job)
    return group


def list_page(viewer: Viewer, business_id: int | None, limit: int,
              cursor: str | None) -> tuple[list[tuple[CommunityGroup, bool]], str | None]:
    """The groups the viewer can see (Private ones only to members), with whether the viewer is a member.

    At most LIST_BUDGET groups are examined per page (a few Queries); a page cut short by the budget carries a
    sealed cursor, so the invisible group it stopped on is never revealed."""
    scope = f"{viewer.tenant_id}|groups|{business_id}"
    start = decode_cursor(cursor, scope, field="Cursor")
    shown: list[CommunityGroup] = []
    examined = 0
    while True:
        results = CommunityGroup.query(viewer.tenant_id, limit=QUERY_CHUNK, last_evaluated_key=start)
        page = list(results)
        examined += len(page)
        viewer.load(int(group.group_id) for group in page)
        for group in page:
            if (business_id is None or int(group.business_id) == business_id) and viewer.sees_group(group):
                if len(shown) == limit:
                    last = shown[-1]
                    key = {"tenant_id": {"S": last.tenant_id}, "group_id": {"N": str(int(last.group_id))}}
                    return _with_membership(viewer, shown), encode_cursor(key, scope)
                shown.append(group)
        start = results.last_evaluated_key
        if not start or examined >= LIST_BUDGET:
            return _with_membership(viewer, shown), encode_cursor(start, scope)


def _with_membership(viewer: Viewer, groups: list[CommunityGroup]) -> list[tuple[CommunityGroup, bool]]:
    return [(group, viewer.is_member(int(group.group_id))) for group in groups]


def add_member(viewer: Viewer, group_id: int, user_id: int) -> dict[str, Any]:
    """The route let in CommunityGroup-Update (adds anyone) and CommunityGroup-Read (joins a Public group)."""
    group = load(viewer, group_id) if viewer.is_admin or viewer.principal.has_role(f"{ENTITY}-Update") else None
    if group is None:
        # Joining on one's own: only oneself, only a Public group.
        viewer.acting_as(user_id)
        group = load(viewer, group_id)
        if group.access_level != "Public":
            raise forbidden(f"joining a {group.access_level} group needs the {ENTITY}-Update role", "Id")
    now = clock.now_iso()
    tx = Tx()
    tx.save("member", CommunityGroupMember(keys.group_key(viewer.tenant_id, group_id), user_id,
                                           user_key=keys.user_key(viewer.tenant_id, user_id), group_id=group_id,
                                           joined_at=now),
            condition=CommunityGroupMember.user_id.does_not_exist())
    tx.update("group", CommunityGroup(viewer.tenant_id, group_id), [CommunityGroup.member_count.add(1)],
              condition=CommunityGroup.group_id.exists())
    refused = tx.commit().refused
    if "group" in refused and "member" not in refused:
        raise not_found(ENTITY, attempted=group_id)
    return {"Id": group_id, "UserId": user_id, "IsMember": True}


def remove_member(viewer: Viewer, group_id: int, user_id: int) -> dict[str, Any]:
    if not (viewer.is_admin or viewer.principal.has_role(f"{ENTITY}-Update")):
        viewer.acting_as(user_id)  # leaving on one's own (the route let in CommunityGroup-Read)
    load(viewer, group_id)
    tx = Tx()
    tx.delete("member", CommunityGroupMember(keys.group_key(viewer.tenant_id, group_id), user_id),
              condition=CommunityGroupMember.user_id.exists())
    tx.update("group", CommunityGroup(viewer.tenant_id, group_id), [CommunityGroup.member_count.add(-1)],
              condition=CommunityGroup.group_id.exists())
    tx.commit()  # not a member (any more): nothing changes
    return {"Id": group_id, "UserId": user_id, "IsMember": False}


def members_page(viewer: Viewer, group_id: int, limit: int, cursor: str | None) -> tuple[list[int], str | None]:
    load(viewer, group_id)
    scope = f"{viewer.tenant_id}|members|{group_id}"
    results = CommunityGroupMember.query(keys.group_key(viewer.tenant_id, group_id), limit=limit,
                                         last_evaluated_key=decode_cursor(cursor, scope, field="Cursor"))
    return [int(member.user_id) for member in results], encode_cursor(results.last_evaluated_key, scope)


def as_json(group: CommunityGroup, is_member: bool) -> dict[str, Any]:
    return {"Id": int(group.group_id), "BusinessId": int(group.business_id), "Name": group.name,
            "Description": group.description, "AccessLevel": group.access_level,
            "MemberCount": int(group.member_count or 0), "ThreadCount": int(group.thread_count or 0),
            "IsMember": is_member, "CreatedOn": keys.public_time(group.created_at),
            "UpdatedOn": keys.public_time(group.updated_at), "UpdatedBy": group.updated_by}
