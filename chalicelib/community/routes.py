"""The community API (`/api/community/...`): threads, replies, groups, likes and follows, in the seed's envelope."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.community.envelope import FieldError, community_route, invalid, success
from chalicelib.community.fields import page_size, parse_body, path_id, query_integer
from chalicelib.community.keys import public_time
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.community import access, groups, reactions, replies, threads
else:
    groups = lazy_module("chalicelib.community.groups")
    reactions = lazy_module("chalicelib.community.reactions")
    replies = lazy_module("chalicelib.community.replies")
    threads = lazy_module("chalicelib.community.threads")
    access = lazy_module("chalicelib.community.access")

blueprint = Blueprint(__name__)
THREADS = "/api/community/communitythreads"
MESSAGES = "/api/community/communitymessages"
GROUPS = "/api/community/communitygroups"


def _query(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def _page(records: list[dict[str, Any]], cursor: str | None, size: int) -> dict[str, Any]:
    return {"Records": records, "PageSize": size, "NextCursor": cursor, "HasNextPage": cursor is not None}


def _body_id(body: dict[str, Any]) -> int:
    """`Id` read as every other integer of the board is (chalicelib/community/fields.py): 20.0 is 20."""
    from chalicelib.community.fields import Form

    form = Form({"Id": body.get("Id")}, ("Id",))
    value = form.integer("Id", required=True)
    form.done()
    assert value is not None
    return value


# Threads ---------------------------------------------------------------------------------------------------


@community_route(blueprint, THREADS, methods=("POST",), roles=("CommunityThread-Create",))
def create_thread(principal: Principal, request: Any) -> dict[str, Any]:
    thread = threads.create(access.Viewer(principal), parse_body(request))
    return success("CommunityThread was successfully created.", {"Id": int(thread.thread_id)},
                   public_time(thread.updated_at), thread.updated_by)


@community_route(blueprint, THREADS, roles=("CommunityThread-Read",))
def list_threads(principal: Principal, request: Any) -> dict[str, Any]:
    query = _query(request)
    size = page_size(query)
    tag = (query.get("Tag") or "").strip().lower() or None
    text = (query.get("Subject") or "").strip().lower() or None
    filters = threads.ListFilter(business_id=query_integer(query, "BusinessId"),
                                 group_id=query_integer(query, "CommunityGroupId"), tag=tag, text=text)
    items, cursor = threads.list_page(access.Viewer(principal), filters, size, query.get("Cursor"))
    return _page([threads.as_json(item) for item in items], cursor, size)


@community_route(blueprint, THREADS + "/{thread_id}", roles=("CommunityThread-Read",))
def get_thread(principal: Principal, request: Any, thread_id: str) -> dict[str, Any]:
    return threads.get(access.Viewer(principal), path_id(thread_id))


def _updated_thread(principal: Principal, thread_id: int, body: dict[str, Any]) -> dict[str, Any]:
    thread = threads.update(access.Viewer(principal), thread_id, body)
    return success("CommunityThread was successfully updated.", {"Id": thread_id}, public_time(thread.updated_at),
                   thread.updated_by)


@community_route(blueprint, THREADS + "/{thread_id}", methods=("PUT",), roles=("CommunityThread-Update",))
def update_thread(principal: Principal, request: Any, thread_id: str) -> dict[str, Any]:
    return _updated_thread(principal, path_id(thread_id), parse_body(request))


@community_route(blueprint, THREADS, methods=("PUT",), roles=("CommunityThread-Update",))
def update_thread_by_body(principal: Principal, request: Any) -> dict[str, Any]:
    body = parse_body(request)
    return _updated_thread(principal, _body_id(body), body)


@community_route(blueprint, THREADS + "/{thread_id}", methods=("DELETE",), roles=("CommunityThread-Delete",))
def delete_thread(principal: Principal, request: Any, thread_id: str) -> dict[str, Any]:
    viewer = access.Viewer(principal)
    thread = threads.delete(viewer, path_id(thread_id))
    return success("CommunityThread was successfully deleted.", {"Id": int(thread.thread_id)}, None, viewer.name)


def _reaction(principal: Principal, kind: str, reaction: str, raw_id: str, on: bool) -> dict[str, Any]:
    viewer = access.Viewer(principal)
    state = reactions.set_reaction(viewer, kind, reaction, path_id(raw_id), on)
    entity = "CommunityThread" if kind == "thread" else "CommunityMessage"
    verb = {("like", True): "liked", ("like", False): "unliked",
            ("follow", True): "followed", ("follow", False): "unfollowed"}[(reaction, on)]
    return success(f"{entity} was successfully {verb}.", state, None, viewer.name)


@community_route(blueprint, THREADS + "/{thread_id}/like", methods=("POST", "DELETE"), roles=("CommunityThread-Read",))
def like_thread(principal: Principal, request: Any, thread_id: str) -> dict[str, Any]:
    return _reaction(principal, "thread", "like", thread_id, request.method == "POST")


@community_route(blueprint, THREADS + "/{thread_id}/follow", methods=("POST", "DELETE"),
                 roles=("CommunityThread-Read",))
def follow_thread(principal: Principal, request: Any, thread_id: str) -> dict[str, Any]:
    return _reaction(principal, "thread", "follow", thread_id, request.method == "POST")


# Replies ---------------------------------------------------------------------------------------------------


@community_route(blueprint, MESSAGES, methods=("POST",), roles=("CommunityMessage-Create",))
def create_message(principal: Principal, request: Any) -> dict[str, Any]:
    reply = replies.create(access.Viewer(principal), parse_body(request))
    return success("CommunityMessage was successfully created.", {"Id": int(reply.message_id)},
                   public_time(reply.updated_at), reply.updated_by)


@community_route(blueprint, MESSAGES, roles=("CommunityMessage-Read",))
def list_messages(principal: Principal, request: Any) -> dict[str, Any]:
    query = _query(request)
    size = page_size(query)
    thread_id = query_integer(query, "CommunityThreadId")
    if thread_id is None:
        raise invalid([FieldError("CommunityThreadId", "is a required field", None)])
    items, cursor = replies.list_page(access.Viewer(principal), thread_id, size, query.get("Cursor"))
    return _page([replies.as_json(item) for item in items], cursor, size)


@community_route(blueprint, MESSAGES + "/{message_id}", roles=("CommunityMessage-Read",))
def get_message(principal: Principal, request: Any, message_id: str) -> dict[str, Any]:
    return replies.get(access.Viewer(principal), path_id(message_id))


@community_route(blueprint, MESSAGES + "/{message_id}", methods=("PUT",), roles=("CommunityMessage-Update",))
def update_message(principal: Principal, request: Any, message_id: str) -> dict[str, Any]:
    reply = replies.update(access.Viewer(principal), path_id(message_id), parse_body(request))
    return success("CommunityMessage was successfully updated.", {"Id": int(reply.message_id)},
                   public_time(reply.updated_at), reply.updated_by)


@community_route(blueprint, MESSAGES + "/{message_id}", methods=("DELETE",), roles=("CommunityMessage-Delete",))
def delete_message(principal: Principal, request: Any, message_id: str) -> dict[str, Any]:
    viewer = access.Viewer(principal)
    reply = replies.delete(viewer, path_id(message_id))
    return success("CommunityMessage was successfully deleted.", {"Id": int(reply.message_id)}, None, viewer.name)


@community_route(blueprint, MESSAGES + "/{message_id}/like", methods=("POST", "DELETE"),
                 roles=("CommunityMessage-Read",))
def like_message(principal: Principal, request: Any, message_id: str) -> dict[str, Any]:
    return _reaction(principal, "message", "like", message_id, request.method == "POST")


# Groups ----------------------------------------------------------------------------------------------------


@community_route(blueprint, GROUPS, methods=("POST",), roles=("CommunityGroup-Create",))
def create_group(principal: Principal, request: Any) -> dict[str, Any]:
    group = groups.create(access.Viewer(principal), parse_body(request))
    return success("CommunityGroup was successfully created.", {"Id": int(group.group_id)},
                   public_time(group.updated_at), group.updated_by)


@community_route(blueprint, GROUPS, roles=("CommunityGroup-Read",))
def list_groups(principal: Principal, request: Any) -> dict[str, Any]:
    query = _query(request)
    size = page_size(query)
    items, cursor = groups.list_page(access.Viewer(principal), query_integer(query, "BusinessId"), size,
                                     query.get("Cursor"))
    return _page([groups.as_json(group, member) for group, member in items], cursor, size)


@community_route(blueprint, GROUPS + "/{group_id}", roles=("CommunityGroup-Read",))
def get_group(principal: Principal, request: Any, group_id: str) -> dict[str, Any]:
    return groups.get(access.Viewer(principal), path_id(group_id))


@community_route(blueprint, GROUPS + "/{group_id}", methods=("PUT",), roles=("CommunityGroup-Update",))
def update_group(principal: Principal, request: Any, group_id: str) -> dict[str, Any]:
    group = groups.update(access.Viewer(principal), path_id(group_id), parse_body(request))
    return success("CommunityGroup was successfully updated.", {"Id": int(group.group_id)},
                   public_time(group.updated_at), group.updated_by)


@community_route(blueprint, GROUPS + "/{group_id}", methods=("DELETE",), roles=("CommunityGroup-Delete",))
def delete_group(principal: Principal, request: Any, group_id: str) -> dict[str, Any]:
    viewer = access.Viewer(principal)
    group = groups.delete(viewer, path_id(group_id))
    return success("CommunityGroup was successfully deleted.", {"Id": int(group.group_id)}, None, viewer.name)


@community_route(blueprint, GROUPS + "/{group_id}/members", methods=("GET",), roles=("CommunityGroup-Read",))
def list_members(principal: Principal, request: Any, group_id: str) -> dict[str, Any]:
    query = _query(request)
    size = page_size(query)
    users, cursor = groups.members_page(access.Viewer(principal), path_id(group_id), size, query.get("Cursor"))
    return _page([{"UserId": user} for user in users], cursor, size)


@community_route(blueprint, GROUPS + "/{group_id}/members", methods=("POST",),
                 roles=("CommunityGroup-Update", "CommunityGroup-Read"))
def add_member(principal: Principal, request: Any, group_id: str) -> dict[str, Any]:
    viewer = access.Viewer(principal)
    state = groups.add_member(viewer, path_id(group_id), parse_body(request))
    return success("CommunityGroup member was successfully added.", state, None, viewer.name)


@community_route(blueprint, GROUPS + "/{group_id}/members/{user_id}", methods=("DELETE",),
                 roles=("CommunityGroup-Update", "CommunityGroup-Read"))
def remove_member(principal: Principal, request: Any, group_id: str, user_id: str) -> dict[str, Any]:
    viewer = access.Viewer(principal)
    state = groups.remove_member(viewer, path_id(group_id), path_id(user_id, "UserId"))
    return success("CommunityGroup member was successfully removed.", state, None, viewer.name)
