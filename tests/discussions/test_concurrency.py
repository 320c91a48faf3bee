"""Concurrent writers on one discussion: every message stored once and the counters equal the data."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.auth import Principal
from chalicelib.discussions import service
from chalicelib.discussions.models import Message


def test_concurrent_messages_are_all_counted(aws_server):
    owner = Principal("tenant-a", "user-1", frozenset())
    discussion, _ = service.create_discussion(
        owner, subject="busy", participants=[service.ParticipantInput("user-2", None, None, "participant", None,
                                                                      None, False)])

    def write(number: int) -> None:
        service.add_message("tenant-a", discussion.discussion_id, service.MessageInput(body=f"m{number}"),
                            author="user-1", author_user_id="user-1")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(40)))

    stored = list(Message.query(service.discussion_key("tenant-a", discussion.discussion_id)))
    assert sorted(m.body for m in stored) == sorted(f"m{n}" for n in range(40))
    assert service.load("tenant-a", discussion.discussion_id).message_count == 40
    assert service.unread_count(Principal("tenant-a", "user-2", frozenset())) == 1
