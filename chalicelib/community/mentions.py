"""Mentions in board messages: `@[Display Name](123)`, the markup mention pickers (react-mentions, Tiptap) emit.

The id in the markup is the mentioned user's UserId; the display name is only shown. Plain-text renderings
(emails, digests) show `@Display Name`.
"""
from __future__ import annotations

import re

MAX_MENTIONS = 50
_MENTION = re.compile(r"@\[([^\[\]\r\n]{1,100})\]\((\d{1,16})\)")


def mentioned_ids(message: str) -> list[int]:
    """The distinct user ids mentioned, in order of appearance (at most MAX_MENTIONS)."""
    found = dict.fromkeys(int(match.group(2)) for match in _MENTION.finditer(message or ""))
    return [user_id for user_id in found if 0 < user_id < 2**53][:MAX_MENTIONS]


def plain(message: str) -> str:
    return _MENTION.sub(lambda match: "@" + match.group(1), message or "")
