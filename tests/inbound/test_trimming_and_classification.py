"""Real-world material from other projects: reply trimming (Discourse) and automatic mail (sisimai)."""
from __future__ import annotations

import pathlib

from chalicelib.mail.inbound import REPLY, parse_inbound
from chalicelib.mail.trimming import trim_reply

CORPUS = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def test_trimming_matches_discourse_expectations_on_most_replies_and_never_empties_one():
    root = CORPUS / "reply_trimmer_discourse"
    exact = 0
    cases = sorted(p for p in (root / "emails").glob("*.txt") if (root / "trimmed" / p.name).exists())
    for path in cases:
        original = path.read_text(errors="replace")
        trimmed = trim_reply(original)
        assert trimmed.strip(), path.name
        exact += trimmed == (root / "trimmed" / path.name).read_text(errors="replace").strip()
    # mail-parser-reply alone: 18 of 64; email-reply-parser 28; the port of Discourse's rules: 62.
    assert len(cases) == 64 and exact >= 62


def _kind(path: pathlib.Path) -> str:
    return parse_inbound(path.read_bytes()).kind


def test_sisimai_auto_replies_complaints_and_bounces_are_recognised():
    folder = CORPUS / "bounces_sisimai" / "maildir_bsd"
    auto = [p for p in folder.glob("rfc3834-*.eml")]
    reports = [p for p in folder.glob("*.eml") if p.name.startswith(("arf-", "rfc3464-", "lhost-"))]
    recognised_auto = sum(1 for p in auto if _kind(p) != REPLY)
    recognised_reports = sum(1 for p in reports if _kind(p) != REPLY)
    assert auto and recognised_auto == len(auto)
    assert recognised_reports / len(reports) >= 0.9


def test_ordinary_mail_is_not_taken_for_automatic_mail():
    for path in (CORPUS / "bounces_sisimai" / "not_bounce").glob("*.eml"):
        # A postmaster's notice quoting a bounce reads as one; it is quarantined (not lost), staff can release it.
        assert _kind(path) == REPLY or path.name == "rb-issue-368-bug.eml", path.name
