"""The community API (`/api/community/...`): threads, replies, groups, likes and follows, in the seed's envelope.

Each route names the role it needs (`admin`, or `Entity-Action`): the one check, made by the route decorator
(chalicelib/http.py) before anything of the request is read."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.community.envelope import success
from chalicelib.community.keys import public_time
from chalicelib.http import Api, Roles
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.community import access, groups, reactions, replies, schemas, threads
else:
    groups = lazy_module("chalicelib.community.groups")
    reactions = lazy_module("chalicelib.community.reactions")
    replies = lazy_module("chalicelib.community.replies")
    threads = lazy_module("chalicelib.community.threads")
    access = lazy_module("chalicelib.community.access")

blueprint = Blueprint(__name__)
api = Api(blueprint, tag="community", models="chalicelib.community.schemas")
THREADS = "/api/community/communitythreads"
MESSAGES = "/api/community/communitymessages"
GROUPS = "/api/community/communitygroups"


def role(entity: str, action: str, *others: str) -> Roles:
    return Roles(f"{entity}-{action}", *others)


def _page(records: list[dict[str, Any]], cursor: str | None, size: int) -> dict[str, Any]:
    return {"Records": records, "PageSize": size, "NextCursor": cursor, "HasNextPage": cursor is not None}


# Threads ---------------------------------------------------------------------------------------------------


@api.route(THREADS, "POST", body="CommunityThreadCreate", response="CommunityIdEnvelope",
           roles=role("CommunityThread", "Create"), errors=(404, 409), name="community_create_thread")
def create_thread(principal: Principal, request: Any, body: schemas.CommunityThreadCreate) -> dict[str, Any]:
    """Create a conversation

    Non-administrators post as themselves (`UserId`). Unknown fields are refused. The author follows it."""
    thread = threads.create(access.Viewer(principal), body)
    return success("CommunityThread was successfully created.", {"Id": int(thread.thread_id)},
                   public_time(thread.updated_at), thread.updated_by)


@api.route(THREADS, query="ThreadsQuery", response="CommunityThreadPage", roles=role("CommunityThread", "Read"),
           name="community_list_threads")
def list_threads(principal: Principal, request: Any, query: schemas.ThreadsQuery) -> dict[str, Any]:
    """List conversations, newest activity first

    Only conversations the caller may see."""
    filters = threads.ListFilter(business_id=query.BusinessId, group_id=query.CommunityGroupId,
                                 tag=(query.Tag or "").strip().lower() or None,
                                 text=(query.Subject or "").strip().lower() or None)
    items, cursor = threads.list_page(access.Viewer(principal), filters, query.PageSize, query.Cursor)
    return _page([threads.as_json(item) for item in items], cursor, query.PageSize)


@api.route(THREADS + "/{thread_id}", path_model="ThreadPath", response="CommunityThreadDetail",
           roles=role("CommunityThread", "Read"), errors=(404,), name="community_get_thread")
def get_thread(principal: Principal, request: Any, thread_id: int) -> dict[str, Any]:
    """One conversation"""
    return threads.get(access.Viewer(principal), thread_id)


def _updated_thread(principal: Principal, thread_id: int, body: schemas.CommunityThreadUpdate) -> dict[str, Any]:
    thread = threads.update(access.Viewer(principal), thread_id, body)
    return success("CommunityThread was successfully updated.", {"Id": thread_id}, public_time(thread.updated_at),
                   thread.updated_by)


@api.route(THREADS + "/{thread_id}", "PUT", path_model="ThreadPath", body="CommunityThreadUpdate",
           response="CommunityIdEnvelope", roles=role("CommunityThread", "Update"), errors=(404, 409),
           name="community_update_thread")
def update_thread(principal: Principal, request: Any, thread_id: int,
                  body: schemas.CommunityThreadUpdate) -> dict[str, Any]:
    """Change a conversation

    Only its author or an administrator; only the fields sent change."""
    return _updated_thread(principal, thread_id, body)


@api.route(THREADS, "PUT", body="CommunityThreadUpdateById", response="CommunityIdEnvelope",
           roles=role("CommunityThread", "Update"), errors=(404, 409), name="community_update_thread_by_body")
def update_thread_by_body(principal: Principal, request: Any,
                          body: schemas.CommunityThreadUpdateById) -> dict[str, Any]:
    """Change a conversation named by `Id` in the body"""
    return _updated_thread(principal, body.Id, body)


@api.route(THREADS + "/{thread_id}", "DELETE", path_model="ThreadPath", response="CommunityIdEnvelope",
           roles=role("CommunityThread", "Delete"), errors=(404,), name="community_delete_thread")
def delete_thread(principal: Principal, request: Any, thread_id: int) -> dict[str, Any]:
    """Delete a conversation

    Only its author or an administrator; its replies and reactions follow."""
    viewer = access.Viewer(principal)
    thread = threads.delete(viewer, thread_id)
    return success("CommunityThread was successfully deleted.", {"Id": int(thread.thread_id)}, None, viewer.name)


def _reaction(principal: Principal, kind: str, reaction: str, target_id: int, on: bool) -> dict[str, Any]:
    viewer = access.Viewer(principal)
    state = reactions.set_reaction(viewer, kind, reaction, target_id, on)
    entity = "CommunityThread" if kind == "thread" else "CommunityMessage"
    verb = {("like", True): "liked", ("like", False): "unliked",
            ("follow", True): "followed", ("follow", False): "unfollowed"}[(reaction, on)]
    return success(f"{entity} was successfully {verb}.", state, None, viewer.name)


def _reaction_routes(path: str, path_model: str, kind: str, reaction: str, entity: str, words: tuple[str, str],
                     envelope: str) -> None:
    for method, on, summary in (("POST", True, words[0]), ("DELETE", False, words[1])):
        def react(principal: Principal, request: Any, on: bool = on, **ids: int) -> dict[str, Any]:
            return _reaction(principal, kind, reaction, next(iter(ids.values())), on)

        react.__name__ = f"community_{'' if on else 'un'}{reaction}_{kind}"
        api.route(path, method, path_model=path_model, response=envelope, roles=role(entity, "Read"), errors=(404,),
                  summary=summary)(react)


_reaction_routes(THREADS + "/{thread_id}/like", "ThreadPath", "thread", "like", "CommunityThread",
                 ("Like a conversation", "Unlike a conversation"), "CommunityLikeEnvelope")
_reaction_routes(THREADS + "/{thread_id}/follow", "ThreadPath", "thread", "follow", "CommunityThread",
                 ("Follow a conversation", "Unfollow a conversation"), "CommunityFollowEnvelope")
_reaction_routes(MESSAGES + "/{message_id}/like", "MessagePath", "message", "like", "CommunityMessage",
                 ("Like a reply", "Unlike a reply"), "CommunityLikeEnvelope")


# Replies ---------------------------------------------------------------------------------------------------


@api.route(MESSAGES, "POST", body="CommunityMessageCreate", response="CommunityIdEnvelope",
           roles=role("CommunityMessage", "Create"), errors=(404,), name="community_create_message")
def create_message(principal: Principal, request: Any, body: schemas.CommunityMessageCreate) -> dict[str, Any]:
    """Reply to a conversation"""
    reply = replies.create(access.Viewer(principal), body)
    return success("CommunityMessage was successfully created.", {"Id": int(reply.message_id)},
                   public_time(reply.updated_at), reply.updated_by)


@api.route(MESSAGES, query="MessagesQuery", response="CommunityMessagePage", roles=role("CommunityMessage", "Read"),
           errors=(404,), name="community_list_messages")
def list_messages(principal: Principal, request: Any, query: schemas.MessagesQuery) -> dict[str, Any]:
    """A conversation's replies, oldest first"""
    items, cursor = replies.list_page(access.Viewer(principal), query.CommunityThreadId, query.PageSize, query.Cursor)
    return _page([replies.as_json(item) for item in items], cursor, query.PageSize)


@api.route(MESSAGES + "/{message_id}", path_model="MessagePath", response="CommunityMessageDetail",
           roles=role("CommunityMessage", "Read"), errors=(404,), name="community_get_message")
def get_message(principal: Principal, request: Any, message_id: int) -> dict[str, Any]:
    """One reply"""
    return replies.get(access.Viewer(principal), message_id)


@api.route(MESSAGES + "/{message_id}", "PUT", path_model="MessagePath", body="CommunityMessageUpdate",
           response="CommunityIdEnvelope", roles=role("CommunityMessage", "Update"), errors=(404, 409),
           name="community_update_message")
def update_message(principal: Principal, request: Any, message_id: int,
                   body: schemas.CommunityMessageUpdate) -> dict[str, Any]:
    """Change a reply"""
    reply = replies.update(access.Viewer(principal), message_id, body)
    return success("CommunityMessage was successfully updated.", {"Id": int(reply.message_id)},
                   public_time(reply.updated_at), reply.updated_by)


@api.route(MESSAGES + "/{message_id}", "DELETE", path_model="MessagePath", response="CommunityIdEnvelope",
           roles=role("CommunityMessage", "Delete"), errors=(404,), name="community_delete_message")
def delete_message(principal: Principal, request: Any, message_id: int) -> dict[str, Any]:
    """Delete a reply"""
    viewer = access.Viewer(principal)
    reply = replies.delete(viewer, message_id)
    return success("CommunityMessage was successfully deleted.", {"Id": int(reply.message_id)}, None, viewer.name)


# Groups ----------------------------------------------------------------------------------------------------


@api.route(GROUPS, "POST", body="CommunityGroupCreate", response="CommunityIdEnvelope",
           roles=role("CommunityGroup", "Create"), errors=(409,), name="community_create_group")
def create_group(principal: Principal, request: Any, body: schemas.CommunityGroupCreate) -> dict[str, Any]:
    """Create a group"""
    group = groups.create(access.Viewer(principal), body.values())
    return success("CommunityGroup was successfully created.", {"Id": int(group.group_id)},
                   public_time(group.updated_at), group.updated_by)


@api.route(GROUPS, query="GroupsQuery", response="CommunityGroupPage", roles=role("CommunityGroup", "Read"),
           name="community_list_groups")
def list_groups(principal: Principal, request: Any, query: schemas.GroupsQuery) -> dict[str, Any]:
    """The groups the caller can see"""
    items, cursor = groups.list_page(access.Viewer(principal), query.BusinessId, query.PageSize, query.Cursor)
    return _page([groups.as_json(group, member) for group, member in items], cursor, query.PageSize)


@api.route(GROUPS + "/{group_id}", path_model="GroupPath", response="CommunityGroup",
           roles=role("CommunityGroup", "Read"), errors=(404,), name="community_get_group")
def get_group(principal: Principal, request: Any, group_id: int) -> dict[str, Any]:
    """One group"""
    return groups.get(access.Viewer(principal), group_id)


@api.route(GROUPS + "/{group_id}", "PUT", path_model="GroupPath", body="CommunityGroupUpdate",
           response="CommunityIdEnvelope", roles=role("CommunityGroup", "Update"), errors=(404, 409),
           name="community_update_group")
def update_group(principal: Principal, request: Any, group_id: int,
                 body: schemas.CommunityGroupUpdate) -> dict[str, Any]:
    """Change a group"""
    group = groups.update(access.Viewer(principal), group_id, body.values())
    return success("CommunityGroup was successfully updated.", {"Id": int(group.group_id)},
                   public_time(group.updated_at), group.updated_by)


@api.route(GROUPS + "/{group_id}", "DELETE", path_model="GroupPath", response="CommunityIdEnvelope",
           roles=role("CommunityGroup", "Delete"), errors=(404, 409), name="community_delete_group")
def delete_group(principal: Principal, request: Any, group_id: int) -> dict[str, Any]:
    """Delete a group without conversations"""
    viewer = access.Viewer(principal)
    group = groups.delete(viewer, group_id)
    return success("CommunityGroup was successfully deleted.", {"Id": int(group.group_id)}, None, viewer.name)


@api.route(GROUPS + "/{group_id}/members", path_model="GroupPath", query="MembersQuery",
           response="CommunityGroupMemberPage", roles=role("CommunityGroup", "Read"), errors=(404,),
           name="community_list_members")
def list_members(principal: Principal, request: Any, group_id: int, query: schemas.MembersQuery) -> dict[str, Any]:
    """A group's members"""
    users, cursor = groups.members_page(access.Viewer(principal), group_id, query.PageSize, query.Cursor)
    return _page([{"UserId": user} for user in users], cursor, query.PageSize)


@api.route(GROUPS + "/{group_id}/members", "POST", path_model="GroupPath", body="CommunityAddMember",
           response="CommunityMembershipEnvelope", roles=role("CommunityGroup", "Update", "CommunityGroup-Read"),
           errors=(404,), name="community_add_member")
def add_member(principal: Principal, request: Any, group_id: int, body: schemas.CommunityAddMember) -> dict[str, Any]:
    """Add a member, or join a Public group

    `CommunityGroup-Update` adds anyone; with `CommunityGroup-Read` only, one joins a Public group oneself."""
    viewer = access.Viewer(principal)
    state = groups.add_member(viewer, group_id, body.UserId)
    return success("CommunityGroup member was successfully added.", state, None, viewer.name)


@api.route(GROUPS + "/{group_id}/members/{user_id}", "DELETE", path_model="MemberPath",
           response="CommunityMembershipEnvelope", roles=role("CommunityGroup", "Update", "CommunityGroup-Read"),
           errors=(404,), name="community_remove_member")
def remove_member(principal: Principal, request: Any, group_id: int, user_id: int) -> dict[str, Any]:
    """Remove a member, or leave

    `CommunityGroup-Update` removes anyone; with `CommunityGroup-Read` only, one leaves oneself."""
    viewer = access.Viewer(principal)
    state = groups.remove_member(viewer, group_id, user_id)
    return success("CommunityGroup member was successfully removed.", state, None, viewer.name)
