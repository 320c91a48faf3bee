"""`?Tag=` through the tag index: one Query a page, newest activity first, never out of step with the threads.

Every write that moves what a tag item mirrors (create, edit, reply, delete) writes the items in the thread's own
transaction; after each scenario the whole index is compared with what the threads say it must hold.
"""
from __future__ import annotations

import pytest

from bench.calls import counting
from chalicelib.auth import Principal
from chalicelib.community import keys, replies, tags, threads
from chalicelib.community.access import Viewer
from chalicelib.community.models import CommunityThread, CommunityThreadTag
from chalicelib.community.schemas import CommunityMessageCreate, CommunityThreadUpdate
from scripts import backfill_tag_index as backfill
from tests.community.conftest import GROUPS, THREADS

TENANT = "tenant-a"


def _listed(viewer, query: str) -> list[int]:
    response = viewer.get(THREADS + query)
    assert response.status_code == 200, response.data
    return [record["Id"] for record in response.data["Records"]]


def _all_pages(viewer, query: str) -> tuple[list[list[int]], list[dict]]:
    pages, answers, cursor = [], [], None
    for _ in range(50):
        response = viewer.get(THREADS + query + (f"&Cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.data
        answers.append(response.data)
        pages.append([record["Id"] for record in response.data["Records"]])
        cursor = response.data["NextCursor"]
        if cursor is None:
            return pages, answers
    raise AssertionError("the pages never ended")


def _index_agrees_with_the_threads() -> None:
    expected = {}
    for thread in CommunityThread.scan():
        mirror = tags.Mirror.of(thread)
        for tag in mirror.tags:
            expected[(keys.thread_key(thread.tenant_id, int(thread.thread_id)), tag)] = (
                keys.tag_key(thread.tenant_id, tag), mirror.activity_key, int(thread.thread_id), mirror.business_id,
                mirror.group_id, mirror.private, mirror.readers, mirror.subject)
    actual = {(item.thread_key, item.tag): (
        item.tag_key, item.activity_key, int(item.thread_id), int(item.business_id),
        int(item.group_id) if item.group_id is not None else None, bool(item.private),
        frozenset(item.audience()), item.subject) for item in CommunityThreadTag.scan()}
    assert actual == expected


def _group(admin, access: str, members: list[int] = ()) -> int:
    created = admin.post(GROUPS, {"BusinessId": 1, "Name": f"{access} group", "AccessLevel": access})
    group_id = created.data["Value"]["Id"]
    for user_id in members:
        assert admin.post(f"{GROUPS}/{group_id}/members", {"UserId": user_id}).status_code == 200
    return group_id


def test_a_tag_lists_its_threads_newest_activity_first_whatever_the_case(member):
    alice = member(101)
    first = alice.new_thread(Tags="Books, Café")
    alice.new_thread(Tags="Garden")
    second = alice.new_thread(Tags=" books ")
    alice.new_thread()

    assert _listed(alice, "?Tag=BOOKS") == [second, first]
    assert _listed(alice, "?Tag=%20caf%C3%89%20") == [first]
    assert _listed(alice, "?Tag=book") == []
    assert _listed(alice, "?Tag=" + "x" * 51) == []
    _index_agrees_with_the_threads()


def test_a_reply_moves_the_thread_to_the_top_of_each_of_its_tags(member):
    alice, bob = member(101), member(102)
    older = alice.new_thread(Tags="books, garden")
    newer = alice.new_thread(Tags="books, garden")

    bob.reply(older)

    assert _listed(bob, "?Tag=books") == [older, newer]
    assert _listed(bob, "?Tag=garden") == [older, newer]
    _index_agrees_with_the_threads()


def test_an_edited_thread_leaves_the_tags_it_lost_and_joins_those_it_gained(member):
    alice = member(101)
    thread_id = alice.new_thread(Subject="Reading club", Tags="books, garden")
    other = alice.new_thread(Tags="books, films")

    assert alice.put(f"{THREADS}/{thread_id}", {"Tags": "Garden, Films"}).status_code == 200

    assert _listed(alice, "?Tag=books") == [other]
    assert _listed(alice, "?Tag=films") == [other, thread_id]  # an edit is not activity
    assert _listed(alice, "?Tag=garden") == [thread_id]
    assert alice.put(f"{THREADS}/{thread_id}", {"Subject": "Film club", "Tags": None}).status_code == 200
    assert _listed(alice, "?Tag=films") == [other]
    assert _listed(alice, "?Tag=garden") == []
    _index_agrees_with_the_threads()


def test_a_deleted_thread_leaves_every_tag(member, run_jobs):
    alice = member(101)
    kept = alice.new_thread(Tags="books")
    deleted = alice.new_thread(Tags="books, garden")
    alice.reply(deleted)

    assert alice.delete(f"{THREADS}/{deleted}").status_code == 200
    run_jobs()

    assert _listed(alice, "?Tag=books") == [kept]
    assert _listed(alice, "?Tag=garden") == []
    _index_agrees_with_the_threads()


def test_a_tag_shows_each_caller_only_what_they_may_see(admin, member):
    alice, bob, carol = member(101), member(102), member(103)
    private_group = _group(admin, "Private", members=[101, 103])
    public_group = _group(admin, "Public")
    open_thread = alice.new_thread(Tags="plans")
    for_carol = alice.new_thread(Tags="plans", Private=True, Guests=[103])
    in_private_group = alice.new_thread(Tags="plans", CommunityGroupId=private_group)
    in_public_group = alice.new_thread(Tags="plans", CommunityGroupId=public_group)

    assert _listed(bob, "?Tag=plans") == [in_public_group, open_thread]
    assert _listed(carol, "?Tag=plans") == [in_public_group, in_private_group, for_carol, open_thread]
    assert _listed(carol, f"?Tag=plans&CommunityGroupId={private_group}") == [in_private_group]
    assert _listed(bob, f"?Tag=plans&CommunityGroupId={private_group}") == []
    assert _listed(admin, "?Tag=plans&BusinessId=2") == []

    # Moving a thread into the Private group, or making it Private, hides it from the tag list at once.
    assert alice.put(f"{THREADS}/{in_public_group}", {"CommunityGroupId": private_group}).status_code == 200
    assert alice.put(f"{THREADS}/{open_thread}", {"Private": True, "Message": "Only @[Carol](103)"}).status_code == 200
    assert _listed(bob, "?Tag=plans") == []
    assert _listed(carol, "?Tag=plans") == [in_public_group, in_private_group, for_carol, open_thread]
    _index_agrees_with_the_threads()


def test_tag_and_subject_together(member):
    alice = member(101)
    printer = alice.new_thread(Subject="Printer broken", Tags="office")
    alice.new_thread(Subject="Coffee machine", Tags="office")
    alice.new_thread(Subject="Printer toner", Tags="supplies")

    assert _listed(alice, "?Tag=office&Subject=PRINT") == [printer]


def test_tag_pages_follow_each_other_without_gaps_repeats_or_revealing_hidden_threads(member, monkeypatch):
    monkeypatch.setattr(threads, "TAG_PAGE_ITEMS", 3)  # a page reads 3 tag items (at least PageSize + 1)
    alice, bob = member(101), member(102)
    visible, hidden = [], []
    for n in range(6):
        visible.append(alice.new_thread(Subject=f"Open {n}", Tags="x"))
        hidden += [alice.new_thread(Subject=f"Hidden {n}.{k}", Tags="x", Private=True) for k in range(n % 3)]
        alice.new_thread(Subject=f"Other {n}", Tags="y")

    pages, answers = _all_pages(bob, "?Tag=x&PageSize=2")

    shown = [thread_id for page in pages for thread_id in page]
    assert shown == visible[::-1]
    assert all(len(page) <= 2 for page in pages)
    for answer in answers:
        assert answer["HasNextPage"] == (answer["NextCursor"] is not None)
        for thread_id in hidden:
            assert str(thread_id) not in (answer["NextCursor"] or "")
    assert bob.get(f"{THREADS}?Tag=y&Cursor={answers[0]['NextCursor']}").status_code == 400  # bound to its query


def test_a_tag_page_costs_the_same_dynamodb_calls_however_many_threads_have_other_tags(admin, member):
    alice, bob = member(101), member(102)
    group_id = _group(admin, "Public")
    wanted = [alice.new_thread(Tags="books", CommunityGroupId=group_id if n % 2 else None) for n in range(12)]
    alice.new_thread(Tags="garden")

    def page_cost() -> dict[str, int]:
        with counting() as counter:
            assert _listed(bob, "?Tag=books&PageSize=10") == wanted[::-1][:10]
        return {name: count for name, count in counter.by_operation().items() if name.startswith("dynamodb.")}

    small = page_cost()
    with CommunityThread.batch_write() as thread_batch, CommunityThreadTag.batch_write() as tag_batch:
        for n in range(600):  # newer than every `books` thread, with other tags
            thread_id = 700_000_000 + n
            moment = f"2999-01-01T00:00:00.{n:06d}+00:00"
            thread = CommunityThread(TENANT, thread_id, business_id=1, business_key=keys.business_key(TENANT, 1),
                                     user_id=101, subject=f"Other {n}", message="m", tag_set={f"tag{n % 7}"},
                                     tags=f"tag{n % 7}", created_at=moment, updated_at=moment,
                                     last_activity_at=moment, activity_key=keys.activity_key(moment, thread_id))
            thread_batch.save(thread)
            for tag in thread.tag_set:
                tag_batch.save(CommunityThreadTag(
                    keys.thread_key(TENANT, thread_id), tag, tag_key=keys.tag_key(TENANT, tag),
                    activity_key=thread.activity_key, thread_id=thread_id, business_id=1, subject=thread.subject))
    large = page_cost()

    assert large == small
    assert small["dynamodb.Query"] == 1
    # The threads shown (one BatchGet), and the groups of the page with the caller's memberships (one, across tables).
    assert small["dynamodb.BatchGetItem"] == 2
    assert sum(small.values()) == 3


def test_a_reply_that_read_the_thread_before_an_edit_reads_it_again(member, monkeypatch):
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread(Tags="before")
    real_load = replies.load_thread
    edits = []

    def load_then_edited_elsewhere(viewer, wanted_id, *args):
        thread = real_load(viewer, wanted_id, *args)
        if not edits:  # the author changes the tags between the reply's read and its write
            author = Viewer(Principal(TENANT, "101", frozenset({"admin"}), member_id=101))
            edits.append(threads.update(author, thread_id, CommunityThreadUpdate.model_validate({"Tags": "after"})))
        return thread

    monkeypatch.setattr(replies, "load_thread", load_then_edited_elsewhere)
    later = alice.new_thread(Tags="after")
    bob.reply(thread_id)

    assert _listed(bob, "?Tag=before") == []
    assert _listed(bob, "?Tag=after") == [thread_id, later]
    _index_agrees_with_the_threads()


def test_an_edit_that_read_the_thread_before_a_reply_reads_it_again(member, monkeypatch):
    alice = member(101)
    thread_id = alice.new_thread(Tags="a")
    newer = alice.new_thread(Tags="a, b")
    real_load = threads.load
    posted = []

    def load_then_replied_elsewhere(viewer, wanted_id, *args):
        thread = real_load(viewer, wanted_id, *args)
        if not posted:  # someone replies between the edit's read and its write: the thread's activity moves
            bob = Viewer(Principal(TENANT, "102", frozenset({"admin"}), member_id=102))
            body = CommunityMessageCreate.model_validate({"CommunityThreadId": thread_id, "UserId": 102,
                                                          "Message": "Me too"})
            posted.append(replies.create(bob, body))
        return thread

    monkeypatch.setattr(threads, "load", load_then_replied_elsewhere)
    assert alice.put(f"{THREADS}/{thread_id}", {"Tags": "a, b"}).status_code == 200

    assert _listed(alice, "?Tag=b") == [thread_id, newer]
    _index_agrees_with_the_threads()


@pytest.mark.parametrize("page_size", [1, 50])
def test_the_backfill_indexes_threads_written_before_the_index_and_can_run_again(member, monkeypatch, page_size):
    monkeypatch.setattr(backfill, "BACKFILL_PAGE", page_size)
    alice = member(101)
    moments = [f"2020-01-0{n + 1}T00:00:00.000000+00:00" for n in range(3)]
    with CommunityThread.batch_write() as batch:
        for n, moment in enumerate(moments):  # as the board stored them before the index existed
            thread_id = 600_000_000 + n
            batch.save(CommunityThread(
                TENANT, thread_id, business_id=1, business_key=keys.business_key(TENANT, 1), user_id=101,
                subject=f"Old {n}", message="m", tags="Legacy", tag_set={"legacy"}, private=n == 1,
                created_at=moment, updated_at=moment, last_activity_at=moment,
                activity_key=keys.activity_key(moment, thread_id)))
    untagged = alice.new_thread()
    assert _listed(alice, "?Tag=legacy") == []

    for _ in range(2):
        after, pages = backfill.backfill_page(None), 1
        while after is not None:
            after, pages = backfill.backfill_page(after), pages + 1
        assert pages >= 4 // page_size  # a page at a time
        _index_agrees_with_the_threads()

    assert _listed(alice, "?Tag=legacy") == [600_000_002, 600_000_001, 600_000_000]
    assert _listed(member(102), "?Tag=legacy") == [600_000_002, 600_000_000]
    assert untagged not in _listed(alice, "?Tag=legacy")
