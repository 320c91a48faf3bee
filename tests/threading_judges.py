"""Two independent judges of whether a recipient's copies form one conversation in their mailbox.

- notmuch (Debian's `notmuch`, a maintained mail indexer that threads a Maildir by Message-ID, In-Reply-To and
  References, as mutt and JWZ-style clients do). A message whose parent is not in the mailbox becomes a root of
  its thread, so "one thread with one root" means every message hangs under one the recipient really has.
- The Gmail rule (as issue 16 states it): a message joins a conversation when its normalized subject is the
  same and its References or In-Reply-To name a message already in that conversation in this mailbox.

Both read raw bytes (tests/rawmail.py), never the `email` package that wrote them.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests import rawmail

_PREFIXES = re.compile(r"^\s*((re|fwd?|aw|sv|wg)\s*:\s*)+", re.IGNORECASE)


def notmuch_binary() -> str:
    found = shutil.which("notmuch")
    if not found:
        raise AssertionError("notmuch is not installed: `apt-get install -y notmuch` (.ci/run installs it)")
    return found


def notmuch_threads(mailbox: list[bytes], workdir: Path) -> list[dict]:
    """notmuch's threads of this mailbox: [{"messages": [ids], "roots": [ids]}], ids without brackets."""
    binary = notmuch_binary()
    maildir = workdir / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for number, raw in enumerate(mailbox):
        (maildir / "cur" / f"{number:04d}.hub:2,S").write_bytes(raw)
    config = workdir / "notmuch-config"
    config.write_text(f"[database]\npath={maildir}\n[new]\ntags=inbox\n[maildir]\nsynchronize_flags=false\n"
                      "[user]\nname=Test\nprimary_email=test@example.invalid\n")
    env = {**os.environ, "NOTMUCH_CONFIG": str(config), "HOME": str(workdir)}

    def run(*args: str) -> str:
        return subprocess.run([binary, *args], env=env, check=True, capture_output=True, text=True).stdout

    run("new", "--quiet")
    threads = []
    for thread in json.loads(run("search", "--format=json", "--output=threads", "*")):
        shown = json.loads(run("show", "--format=json", "--entire-thread=true", f"thread:{thread}"))
        roots: list[str] = []
        messages: list[str] = []
        for tree in shown[0]:   # one thread: a list of [message, replies] roots
            roots.append(tree[0]["id"])
            _walk(tree, messages)
        threads.append({"messages": messages, "roots": roots})
    return threads


def _walk(node: list, into: list[str]) -> None:
    message, replies = node
    into.append(message["id"])
    for reply in replies:
        _walk(reply, into)


def normalized_subject(raw: bytes) -> str:
    subject = rawmail.header(raw, "Subject") or ""
    return " ".join(_PREFIXES.sub("", subject).split()).lower()


def gmail_conversations(mailbox: list[bytes]) -> list[list[str]]:
    """The mailbox, in arrival order, grouped by the Gmail rule: lists of Message-IDs."""
    conversations: list[tuple[str, list[str]]] = []
    for raw in mailbox:
        own = rawmail.header(raw, "Message-ID")
        assert own and rawmail.message_ids(own) == [own], f"Message-ID {own!r} is not one literal msg-id"
        subject = normalized_subject(raw)
        named = set(rawmail.message_ids(rawmail.header(raw, "References")) +
                    rawmail.message_ids(rawmail.header(raw, "In-Reply-To")))
        home = next((ids for topic, ids in conversations if topic == subject and named & set(ids)), None)
        if home is None:
            conversations.append((subject, [own]))
        else:
            home.append(own)
    return [ids for _, ids in conversations]
