"""Faults injected into DynamoDB, and load on one item: nothing lost, nothing counted twice."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from pynamodb.connection.base import Connection
from pynamodb.exceptions import TransactWriteError

THREADS = "/api/tenant/threads"


def _failing_transactions(monkeypatch, code: str, times: int) -> list[int]:
    """The next `times` TransactWriteItems calls fail with `code`, as DynamoDB would answer them (and as PynamoDB
    raises them: a VerboseClientError carrying the per-item cancellation reasons)."""
    from pynamodb.exceptions import CancellationReason, VerboseClientError

    original = Connection._make_api_call
    failures = [times]

    def call(self, operation_name, operation_kwargs, *args, **kwargs):
        if operation_name == "TransactWriteItems" and failures[0] > 0:
            failures[0] -= 1
            reasons = [CancellationReason(code="TransactionConflict")] if code == "TransactionCanceledException" \
                else []
            error = VerboseClientError({"Error": {"Code": code, "Message": "injected"}}, "TransactWriteItems",
                                       cancellation_reasons=reasons)
            raise TransactWriteError("injected", cause=error)
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", call)
    return failures


def test_transaction_conflicts_mid_write_are_retried_and_store_the_message_once(api, monkeypatch):
    created = api.post(THREADS, {"subject": "Busy", "participants": [{"user_id": "user-2"}]}).data
    left = _failing_transactions(monkeypatch, "TransactionCanceledException", 2)

    response = api.post(f"{THREADS}/{created['id']}/messages", {"body": "Once"})

    assert response.status_code == 201 and left == [0]
    monkeypatch.undo()
    discussion = api.get(f"{THREADS}/{created['id']}").data
    assert [m["body"] for m in discussion["messages"]] == ["Once"] and discussion["message_count"] == 1


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttling_beyond_the_sdk_retries_is_a_503_and_writes_nothing(api, make_api, monkeypatch, code):
    created = api.post(THREADS, {"subject": "Busy", "participants": [{"user_id": "user-2"}]}).data
    _failing_transactions(monkeypatch, code, 1)

    refused = api.post(f"{THREADS}/{created['id']}/messages", {"body": "Lost?"})
    retried = api.post(f"{THREADS}/{created['id']}/messages", {"body": "Lost?"})

    assert refused.status_code == 503 and refused.data["error"]["code"] == "unavailable"
    assert refused.headers["Retry-After"] == "1"
    assert retried.status_code == 201
    monkeypatch.undo()
    discussion = api.get(f"{THREADS}/{created['id']}").data
    assert discussion["message_count"] == 1 and len(discussion["messages"]) == 1
    assert make_api(user_id="user-2").get(f"{THREADS}/unread-count").data["unread_count"] == 1


def test_throttling_on_the_board_is_a_503_in_the_envelope(client, monkeypatch):
    from tests.community.conftest import THREADS as BOARD
    from tests.community.conftest import Member

    alice = Member(client, 101, ["CommunityThread-Create", "CommunityThread-Read"])
    _failing_transactions(monkeypatch, "ProvisionedThroughputExceededException", 100)

    response = alice.post(BOARD, {"BusinessId": 1, "UserId": 101, "Subject": "x", "Message": "y"})

    assert response.status_code == 503
    assert response.data["Status"] == 503 and response.data["WasSuccessful"] is False
    monkeypatch.undo()
    assert alice.get(BOARD).data["Records"] == []


def test_many_opens_of_one_pixel_at_once_are_all_counted(aws_server):
    from chalicelib import clock
    from chalicelib.tracking import service
    from chalicelib.tracking.models import EmailTracking

    pixel = "a" * 32
    EmailTracking(pixel, tenant_id="tenant-a", discussion_id="d1", message_id="m1", recipient_email="x@example.com",
                  discussion_key="tenant-a#d1", message_recipient="m1#x@example.com", state="sent",
                  sent_at=clock.now_iso()).save()
    agents = ["Mozilla/5.0 (Macintosh) AppleWebKit", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
              "AppleWebKit/537.36 (KHTML, like Gecko; GoogleImageProxy)"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: service.record_open(pixel, agents[n % 2], "203.0.113.9"), range(60)))

    record = EmailTracking.get(pixel, consistent_read=True)
    assert all(results) and int(record.open_count) == 60 and int(record.machine_open_count) == 30


def test_many_members_liking_one_thread_at_once_count_once_each(aws_server):
    from chalicelib.auth import Principal
    from chalicelib.community import reactions, threads
    from chalicelib.community.access import Viewer
    from chalicelib.community.schemas import CommunityThreadCreate

    def viewer(user: int) -> Viewer:
        return Viewer(Principal("tenant-a", str(user), frozenset({"CommunityThread-Create", "CommunityThread-Read"}),
                                member_id=user))

    body = CommunityThreadCreate.model_validate({"BusinessId": 1, "UserId": 1, "Subject": "Hot", "Message": "Take"})
    thread = threads.create(viewer(1), body)
    thread_id = int(thread.thread_id)
    likers = [2 + n % 20 for n in range(60)]  # 20 members, each liking three times at once

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda user: reactions.set_reaction(viewer(user), "thread", "like", thread_id, True), likers))

    assert threads.get(viewer(1), thread_id)["LikeCount"] == 20
