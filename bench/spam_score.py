"""`make spam-score`: every kind of mail we send, rendered with production-like links, scored by SpamAssassin.

Runs in-process against moto (the test suite's stack), takes the raw bytes SES was given, replaces the Message-ID
as SES does, and asks Debian's SpamAssassin (`spamassassin -t -L`: local tests only, no network, no Bayes) for
its score. Needs `apt-get install -y spamassassin`. Prints one line per mail and the rules that fired; results
go to docs/mail-journeys.md with the date and this command.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update({"PUBLIC_BASE_URL": "https://api.example.com",
                   "APP_DISCUSSION_URL": "https://app.example.com/discussions/{id}",
                   "APP_COMMUNITY_THREAD_URL": "https://app.example.com/community/threads/{id}"})


def _mails() -> list[tuple[str, bytes]]:
    import pytest

    collected: list[tuple[str, bytes]] = []

    class Collect:
        def pytest_collection_modifyitems(self, items):
            items[:] = [i for i in items if i.name == "test_the_text_part_says_what_the_html_says"]

        def pytest_runtest_call(self, item):
            collected.extend(item.funcargs["every_kind"])

    test_file = str(ROOT / "tests/outbound/test_content_filters.py")
    code = pytest.main(["-q", "-p", "no:xdist", test_file], plugins=[Collect()])
    if code != 0 or not collected:
        raise SystemExit("could not render the mails")
    return collected


def main() -> None:
    binary = shutil.which("spamassassin")
    if not binary:
        raise SystemExit("spamassassin is not installed: apt-get install -y spamassassin")
    names = ["discussion (first message)", "discussion (follow-up with history)", "notification", "digest"]
    for name, (_, raw) in zip(names, _mails(), strict=True):
        ses_id = b"<0100018c1e2f3a4b-5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f-000000@email.amazonses.com>"
        raw = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: " + ses_id, raw, count=1)
        report = subprocess.run([binary, "-t", "-L"], input=raw, capture_output=True, check=False).stdout.decode()
        status = re.search(r"X-Spam-Status: (\w+), score=(-?[\d.]+) required=([\d.]+) tests=([^\n]*(?:\n\t[^\n]*)*)",
                           report)
        if not status:
            raise SystemExit(f"no X-Spam-Status for {name}")
        rules = " ".join(status.group(4).split())
        print(f"{name}: score {status.group(2)} (spam at {status.group(3)}): {rules}")


if __name__ == "__main__":
    main()
