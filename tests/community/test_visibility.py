"""Who sees which conversation: group access level x membership x Private x relation to the thread.

The rules (chalicelib/community/access.py), restated here as the oracle of the matrix:
- a thread in no group, or in a Public or Restricted group, is visible to everyone with CommunityThread-Read;
  a thread in a Private group only to the group's members;
- a Private thread, in addition, only to its author, its Guests and the users its Message mentions (@[Name](id));
- replying needs the thread to be visible and, in a Restricted or Private group, membership of the group;
- an invisible thread is indistinguishable from a missing one: 404 on GET, never listed, 400 on its replies.
"""
from __future__ import annotations

import pytest

from chalicelib.auth import issue_local_token
from tests.community.conftest import GROUPS, MESSAGES, THREADS, Member
from tests.conftest import JWT_SECRET

# Viewers of every board: four group members and four outsiders, one per relation to the thread.
MEMBERS = {"author": 111, "guest": 112, "mentioned": 113, "other": 114}
OUTSIDERS = {"author": 121, "guest": 122, "mentioned": 123, "other": 124}
VIEWERS = [*MEMBERS.values(), *OUTSIDERS.values()]
GUESTS = [MEMBERS["guest"], OUTSIDERS["guest"]]
MENTIONED = [MEMBERS["mentioned"], OUTSIDERS["mentioned"]]
MESSAGE = "Hello @[Mia](113) and @[Nico](123), see you there"


def _group(admin, access: str, business_id: int = 1, members: list[int] = ()) -> int:
    response = admin.post(GROUPS, {"BusinessId": business_id, "Name": f"{access} group", "AccessLevel": access})
    assert response.status_code == 200, response.data
    group_id = response.data["Value"]["Id"]
    for user_id in members:
        added = admin.post(f"{GROUPS}/{group_id}/members", {"UserId": user_id})
        assert added.status_code == 200, added.data
    return group_id


def _thread_by(admin, author: int, **fields) -> int:
    """A thread posted by an administrator on the author's behalf (so an outsider can be the author too)."""
    body = {"BusinessId": 1, "UserId": author, "Subject": f"By {author}", "Message": MESSAGE, **fields}
    response = admin.post(THREADS, body)
    assert response.status_code == 200, response.data
    return response.data["Value"]["Id"]


def _listed(caller, query: str = "") -> set[int]:
    response = caller.get(THREADS + query)
    assert response.status_code == 200, response.data
    return {record["Id"] for record in response.data["Records"]}


def _relation(viewer: int, author: int) -> str:
    if viewer == author:
        return "author"
    if viewer in GUESTS:
        return "guest"
    if viewer in MENTIONED:
        return "mentioned"
    return "other"


def _expected_visible(access: str | None, private: bool, is_member: bool, relation: str) -> bool:
    group_allows = access != "Private" or is_member
    audience_allows = not private or relation in ("author", "guest", "mentioned")
    return group_allows and audience_allows


def _expected_contributes(access: str | None, is_member: bool) -> bool:
    return access in (None, "Public") or is_member


def _assert_not_found(response, entity: str = "CommunityThread") -> None:
    assert response.status_code == 404, response.data
    assert response.data["Status"] == 404 and response.data["WasSuccessful"] is False
    assert response.data["Value"] is None
    assert response.data["Errors"][0]["Message"] == f"{entity} was not found."


def _assert_no_such_thread(response, thread_id: int) -> None:
    # A well-formed id of no thread the caller may see: 404, as the OpenAPI document says (issue 18).
    assert response.status_code == 404, response.data
    assert response.data["WasSuccessful"] is False
    assert response.data["Errors"] == [{"AttemptedValue": thread_id, "Message": "CommunityThread was not found.",
                                        "PropertyName": "CommunityThreadId"}]


def _check_reads(viewer, thread_id: int, first_reply: int, visible: bool, private: bool, case: str) -> None:
    """The thread, its replies and one reply: readable when visible, unknown (404 / no such thread) otherwise."""
    single = viewer.get(f"{THREADS}/{thread_id}")
    replies = viewer.get(f"{MESSAGES}?CommunityThreadId={thread_id}")
    seeded = viewer.get(f"{MESSAGES}/{first_reply}")
    if visible:
        assert single.status_code == 200, case
        assert single.data["Id"] == thread_id and single.data["Private"] is private, case
        assert replies.status_code == 200, case
        assert replies.data["Records"][0]["Id"] == first_reply, case  # oldest first
        assert seeded.status_code == 200, case
    else:
        _assert_not_found(single)
        _assert_no_such_thread(replies, thread_id)
        _assert_not_found(seeded, "CommunityMessage")


def _check_writes(viewer, viewer_id: int, thread_id: int, author: int, visible: bool, contributes: bool,
                  case: str) -> None:
    """Change, delete, like and reply: each refused, allowed or unknown exactly as the matrix says."""
    if viewer_id != author:  # someone else's thread: refused when visible, unknown when invisible
        changed = viewer.put(f"{THREADS}/{thread_id}", {"Subject": "Hijacked"})
        deleted = viewer.delete(f"{THREADS}/{thread_id}")
        for response in (changed, deleted):
            if visible:
                assert response.status_code == 403, case
            else:
                _assert_not_found(response)

    liked = viewer.post(f"{THREADS}/{thread_id}/like")
    if visible:
        assert liked.status_code == 200 and liked.data["Value"]["Liked"] is True, case
    else:
        _assert_not_found(liked)

    reply = viewer.post(MESSAGES, {"CommunityThreadId": thread_id, "UserId": viewer_id, "Message": "Hi"})
    if visible and contributes:
        assert reply.status_code == 200, (case, reply.data)
        assert reply.data["WasSuccessful"] is True
    elif visible:
        assert reply.status_code == 403, (case, reply.data)
        assert reply.data["Status"] == 403 and reply.data["WasSuccessful"] is False
        assert reply.data["Errors"][0]["PropertyName"] == "CommunityThreadId"
    else:
        _assert_no_such_thread(reply, thread_id)


@pytest.mark.parametrize("private", [False, True], ids=["open-thread", "private-thread"])
@pytest.mark.parametrize("access", [None, "Public", "Restricted", "Private"],
                         ids=["no-group", "Public", "Restricted", "Private"])
def test_the_visibility_matrix(admin, member, access, private):
    # Group membership is set up even without a group for the thread: membership elsewhere must not matter.
    group_id = _group(admin, access or "Private", members=list(MEMBERS.values()))
    located = {"CommunityGroupId": group_id} if access else {}
    by_member = _thread_by(admin, MEMBERS["author"], Private=private, Guests=GUESTS, **located)
    by_outsider = _thread_by(admin, OUTSIDERS["author"], Private=private, Guests=GUESTS, **located)
    authors = {by_member: MEMBERS["author"], by_outsider: OUTSIDERS["author"]}
    first_replies = {thread_id: admin.reply(thread_id, "Seeded by the admin") for thread_id in authors}

    table: dict[tuple[int, int], bool] = {}
    for viewer_id in VIEWERS:
        viewer = member(viewer_id)
        is_member = viewer_id in MEMBERS.values()
        contributes = _expected_contributes(access, is_member)
        for thread_id, author in authors.items():
            relation = _relation(viewer_id, author)
            visible = _expected_visible(access, private, is_member, relation)
            table[(viewer_id, thread_id)] = visible
            case = f"viewer {viewer_id} ({'member' if is_member else 'outsider'}, {relation}) on {thread_id}"

            _check_reads(viewer, thread_id, first_replies[thread_id], visible, private, case)
            _check_writes(viewer, viewer_id, thread_id, author, visible, contributes, case)

        assert _listed(viewer) == {t for t in authors if table[(viewer_id, t)]}, viewer_id
        assert _listed(viewer, "?BusinessId=1") == {t for t in authors if table[(viewer_id, t)]}, viewer_id
        in_group = {t for t in authors if table[(viewer_id, t)]} if access else set()
        assert _listed(viewer, f"?CommunityGroupId={group_id}") == in_group, viewer_id

    # The board really is the one described: the rule is not trivially "everyone" or "no one".
    if access == "Private":
        assert not any(table[(viewer_id, t)] for viewer_id in OUTSIDERS.values() for t in authors)
    if not private and access != "Private":
        assert all(table.values())
    if private:
        assert not table[(MEMBERS["other"], by_member)] and table[(MEMBERS["guest"], by_member)]

    # Nothing an invisible viewer tried has touched the threads, and the administrator sees everything.
    assert _listed(admin) == set(authors)
    assert _listed(admin, f"?CommunityGroupId={group_id}") == (set(authors) if access else set())
    for thread_id in authors:
        thread = admin.get(f"{THREADS}/{thread_id}").data
        assert thread["Subject"] == f"By {authors[thread_id]}"
        likers = sum(table[(viewer_id, thread_id)] for viewer_id in VIEWERS)
        repliers = sum(table[(viewer_id, thread_id)] and _expected_contributes(access, viewer_id in MEMBERS.values())
                       for viewer_id in VIEWERS)
        assert thread["LikeCount"] == likers
        assert thread["ReplyCount"] == 1 + repliers
        assert admin.post(MESSAGES, {"CommunityThreadId": thread_id, "UserId": 1, "Message": "ok"}).status_code == 200


@pytest.mark.parametrize("access", ["Public", "Restricted", "Private"])
def test_only_those_who_may_contribute_start_or_move_threads_into_a_group(admin, member, access):
    group_id = _group(admin, access, members=[111])
    insider, outsider = member(111), member(124)
    outside_thread = outsider.new_thread(Subject="Elsewhere")

    by_insider = insider.post(THREADS, {"BusinessId": 1, "UserId": 111, "Subject": "In", "Message": "x",
                                        "CommunityGroupId": group_id})
    by_outsider = outsider.post(THREADS, {"BusinessId": 1, "UserId": 124, "Subject": "Out", "Message": "x",
                                          "CommunityGroupId": group_id})
    moved = outsider.put(f"{THREADS}/{outside_thread}", {"CommunityGroupId": group_id})

    assert by_insider.status_code == 200, by_insider.data
    expected_group = {by_insider.data["Value"]["Id"]}
    if access == "Public":
        assert by_outsider.status_code == 200 and moved.status_code == 200
        expected_group |= {by_outsider.data["Value"]["Id"], outside_thread}
    elif access == "Restricted":
        for refused in (by_outsider, moved):
            assert refused.status_code == 403, refused.data
            assert refused.data["Status"] == 403 and refused.data["WasSuccessful"] is False
            assert refused.data["Errors"][0]["PropertyName"] == "CommunityGroupId"
    else:
        # A Private group is invisible to outsiders, so it is reported as unknown rather than forbidden.
        for refused in (by_outsider, moved):
            assert refused.status_code == 404, refused.data
            assert refused.data["Errors"] == [{"AttemptedValue": group_id, "Message": "CommunityGroup was not found.",
                                               "PropertyName": "CommunityGroupId"}]
    assert _listed(admin, f"?CommunityGroupId={group_id}") == expected_group
    assert admin.get(f"{GROUPS}/{group_id}").data["ThreadCount"] == len(expected_group)
    assert admin.get(f"{THREADS}/{outside_thread}").data["CommunityGroupId"] == (
        group_id if access == "Public" else None)


def test_editing_the_audience_of_a_thread_changes_who_sees_it_at_once(member):
    alice, bob, carol, dave = member(101), member(102), member(103), member(104)
    thread_id = alice.new_thread(Subject="Plans")

    def seen_by() -> set[int]:
        return {m.user_id for m in (bob, carol, dave) if m.get(f"{THREADS}/{thread_id}").status_code == 200
                and thread_id in _listed(m)}

    assert seen_by() == {102, 103, 104}
    assert alice.put(f"{THREADS}/{thread_id}", {"Private": True, "Guests": [102]}).status_code == 200
    assert seen_by() == {102}
    assert alice.put(f"{THREADS}/{thread_id}", {"Message": "Over to @[Carol](103)"}).status_code == 200
    assert seen_by() == {102, 103}
    assert alice.put(f"{THREADS}/{thread_id}", {"Guests": [], "Message": "Just me now"}).status_code == 200
    assert seen_by() == set()
    assert alice.get(f"{THREADS}/{thread_id}").status_code == 200
    assert alice.put(f"{THREADS}/{thread_id}", {"Private": False}).status_code == 200
    assert seen_by() == {102, 103, 104}


def test_changing_a_groups_access_level_changes_who_sees_and_replies_at_once(admin, member):
    group_id = _group(admin, "Public", members=[111])
    insider, outsider = member(111), member(124)
    thread_id = insider.new_thread(CommunityGroupId=group_id)

    def outsider_can() -> tuple[int, int]:
        read = outsider.get(f"{THREADS}/{thread_id}").status_code
        reply = outsider.post(MESSAGES, {"CommunityThreadId": thread_id, "UserId": 124, "Message": "hi"})
        return read, reply.status_code

    assert outsider_can() == (200, 200)
    assert admin.put(f"{GROUPS}/{group_id}", {"AccessLevel": "Restricted"}).status_code == 200
    assert outsider_can() == (200, 403)
    assert admin.put(f"{GROUPS}/{group_id}", {"AccessLevel": "Private"}).status_code == 200
    assert outsider_can() == (404, 404)
    assert thread_id not in _listed(outsider)
    assert insider.get(f"{THREADS}/{thread_id}").status_code == 200 and thread_id in _listed(insider)


def test_a_token_limited_to_some_locations_sees_only_their_threads(member, admin):
    alice = member(101)
    here = alice.new_thread(Subject="Here")
    there = alice.new_thread(Subject="There", BusinessId=2)
    local = member(102, claims={"business_ids": [1]})

    assert _listed(local) == {here}
    assert _listed(local, "?BusinessId=2") == set()
    _assert_not_found(local.get(f"{THREADS}/{there}"))
    _assert_no_such_thread(local.post(MESSAGES, {"CommunityThreadId": there, "UserId": 102, "Message": "x"}), there)
    assert local.get(f"{THREADS}/{here}").status_code == 200


def _visible_pages(viewer, query: str) -> list[dict]:
    pages, cursor = [], None
    for _ in range(20):
        response = viewer.get(f"{THREADS}?PageSize=1{query}" + (f"&Cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.data
        pages.append(response.data)
        cursor = response.data["NextCursor"]
        if cursor is None:
            return pages
    raise AssertionError("paging never ended")


@pytest.mark.parametrize("scope", ["all", "business", "group"])
def test_paging_skips_invisible_threads_without_empty_pages(admin, member, scope):
    group_id = _group(admin, "Public")
    query = {"all": "", "business": "&BusinessId=1", "group": f"&CommunityGroupId={group_id}"}[scope]
    alice, bob = member(101), member(102)
    created: list[tuple[int, bool]] = []
    for visible in (True, False, False, True, False, True, False):  # 3 visible, 4 invisible, interleaved
        thread_id = alice.new_thread(CommunityGroupId=group_id, Private=not visible, Subject=f"v={visible}")
        created.append((thread_id, visible))
    newest_first_visible = [thread_id for thread_id, visible in reversed(created) if visible]

    pages = _visible_pages(bob, query)

    assert [record["Id"] for page in pages for record in page["Records"]] == newest_first_visible
    assert [len(page["Records"]) for page in pages] == [1, 1, 1]
    assert [page["HasNextPage"] for page in pages] == [True, True, False]
    assert all(page["PageSize"] == 1 for page in pages)
    assert pages[-1]["NextCursor"] is None
    # The author sees all seven, in the same order.
    author_pages = _visible_pages(alice, query)
    assert [r["Id"] for page in author_pages for r in page["Records"]] == [t for t, _ in reversed(created)]


def test_a_tampered_or_foreign_cursor_is_refused(member, admin):
    alice = member(101)
    group_id = _group(admin, "Public")
    for n in range(3):
        alice.new_thread(Subject=f"Thread {n}", CommunityGroupId=group_id)
    cursor = alice.get(f"{THREADS}?PageSize=1").data["NextCursor"]
    assert cursor and alice.get(f"{THREADS}?PageSize=1&Cursor={cursor}").status_code == 200
    middle = len(cursor) // 2
    flipped = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1:]

    for bad in (flipped, f"x{cursor}", cursor[:-4], "garbage", "abc.%C3%A9", "%00", "A" * 5000):
        response = alice.get(f"{THREADS}?PageSize=1&Cursor={bad}")
        assert response.status_code == 400, bad
        assert response.data["WasSuccessful"] is False and response.data["Status"] == 400
        assert response.data["Errors"][0]["PropertyName"] == "Cursor"
    # A cursor is bound to its query: another filter cannot reuse it.
    assert alice.get(f"{THREADS}?PageSize=1&CommunityGroupId={group_id}&Cursor={cursor}").status_code == 400
    assert alice.get(f"{THREADS}?PageSize=1&BusinessId=1&Cursor={cursor}").status_code == 400


def test_another_tenant_sees_nothing_and_touches_nothing(client, member, admin):
    alice = member(101)
    group_id = _group(admin, "Public")
    thread_id = alice.new_thread(CommunityGroupId=group_id)
    secret_id = alice.new_thread(Private=True, Subject="Secret")
    reply_id = alice.reply(thread_id)
    cursor = alice.get(f"{THREADS}?PageSize=1").data["NextCursor"]
    stranger = member(201, claims=None, tenant_id="tenant-b")
    namesake = member(101, tenant_id="tenant-b")  # the same numeric user id, in another tenant
    foreign_admin = Member(client, 1, ["admin"], tenant_id="tenant-b")

    for outsider in (stranger, namesake, foreign_admin):
        uid = outsider.user_id
        for target in (thread_id, secret_id):
            _assert_not_found(outsider.get(f"{THREADS}/{target}"))
            _assert_no_such_thread(outsider.get(f"{MESSAGES}?CommunityThreadId={target}"), target)
            _assert_no_such_thread(outsider.post(MESSAGES, {"CommunityThreadId": target, "UserId": uid,
                                                            "Message": "hi"}), target)
            _assert_not_found(outsider.post(f"{THREADS}/{target}/like"))
            _assert_not_found(outsider.post(f"{THREADS}/{target}/follow"))
            _assert_not_found(outsider.put(f"{THREADS}/{target}", {"Subject": "Mine now"}))
            _assert_not_found(outsider.delete(f"{THREADS}/{target}"))
        _assert_not_found(outsider.get(f"{MESSAGES}/{reply_id}"), "CommunityMessage")
        _assert_not_found(outsider.post(f"{MESSAGES}/{reply_id}/like"), "CommunityMessage")
        _assert_not_found(outsider.get(f"{GROUPS}/{group_id}"), "CommunityGroup")
        assert _listed(outsider) == set()
        assert _listed(outsider, f"?CommunityGroupId={group_id}") == set()
        assert outsider.get(GROUPS).data["Records"] == []
        assert outsider.get(f"{THREADS}?PageSize=1&Cursor={cursor}").status_code == 400

    # Tenant-a is untouched, and tenant-b's own thread stays in tenant-b.
    thread = alice.get(f"{THREADS}/{thread_id}").data
    assert (thread["Subject"], thread["ReplyCount"], thread["LikeCount"], thread["FollowerCount"]) == (
        "Hello", 1, 0, 1)
    assert alice.get(f"{THREADS}/{secret_id}").data["Subject"] == "Secret"
    theirs = stranger.new_thread(Subject="Tenant b")
    assert _listed(stranger) == {theirs}
    assert _listed(alice) == {thread_id, secret_id}
    _assert_not_found(alice.get(f"{THREADS}/{theirs}"))
    _assert_not_found(admin.get(f"{THREADS}/{theirs}"))


def test_a_token_without_a_numeric_user_id_sees_no_private_thread(client, member):
    alice = member(101)
    open_id = alice.new_thread(Subject="Open")
    private_id = alice.new_thread(Subject="Closed", Private=True, Guests=[101])
    token = issue_local_token("tenant-a", "someone@example.com", ["CommunityThread-Read"], JWT_SECRET)
    nameless = member(999)
    nameless.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    assert _listed(nameless) == {open_id}
    assert nameless.get(f"{THREADS}/{open_id}").status_code == 200
    _assert_not_found(nameless.get(f"{THREADS}/{private_id}"))


