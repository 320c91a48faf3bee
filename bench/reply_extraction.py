"""`make bench-replies`: how often each reply extractor keeps exactly the new text of a reply.

Runs ours (`chalicelib.mail.inbound.parse_inbound`, the path every inbound mail takes) and the two PyPI libraries
email-reply-parser and mail-parser-reply over every reply fixture in tests/fixtures/mail that has an expected new
text, and prints exact-match counts per corpus, then how many mails of known kind our classifier gets wrong (see
docs/inbound-mail.md for what each corpus is and how it was made).

The libraries read plain text only: they get what a user of them would give them, the mail's text/plain part as the
standard library decodes it, or, for HTML-only mail, the HTML as text (blockquotes as '> ' lines, `html_to_text`).
mail-parser-reply is given every language it knows. A case counts when the extracted text equals the expected one
after stripping surrounding whitespace; talon's HTML cases are compared ignoring all whitespace, as talon's own
tests do.

    python bench/reply_extraction.py [--show-failures]
"""
from __future__ import annotations

import argparse
import email
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures" / "mail"
TALON_REPLY = "Hi. I am fine.\n\nThanks,\nAlex"


@dataclass(frozen=True)
class Case:
    corpus: str
    name: str
    raw: bytes              # the mail as our pipeline receives it
    expected: str
    whitespace_blind: bool = False


def _mail_of(body: str, subtype: str) -> bytes:
    return (f"From: a@example.org\nTo: b@example.com\nSubject: Re: x\nMIME-Version: 1.0\n"
            f"Content-Type: text/{subtype}; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}").encode()


def cases() -> list[Case]:
    found: list[Case] = []
    for path in sorted((FIXTURES / "discourse" / "emails").glob("*.txt")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        expected = (FIXTURES / "discourse" / "trimmed" / path.name).read_bytes().decode("utf-8", errors="replace")
        found.append(Case("discourse", path.stem, _mail_of(text, "plain"), expected.strip()))
    for path in sorted((FIXTURES / "talon" / "html_replies").glob("*.html")):
        found.append(Case("talon", path.stem, _mail_of(path.read_text(encoding="utf-8"), "html"), TALON_REPLY, True))
    for name, expected in (("OLK_SRC_BODY_SECTION", "Reply"), ("reply-separated-by-hr", "Hi\nthere\nBob")):
        html = (FIXTURES / "talon" / f"{name}.html").read_text(encoding="utf-8")
        found.append(Case("talon", name, _mail_of(html, "html"), expected, True))
    for path in sorted((FIXTURES / "replies" / "emails").glob("*.eml")):
        expected = (FIXTURES / "replies" / "expected" / f"{path.stem}.txt").read_text(encoding="utf-8")
        found.append(Case("replies", path.stem, path.read_bytes(), expected.strip()))
    for path in sorted((FIXTURES / "crisp" / "emails").glob("*.txt")):
        expected = (FIXTURES / "crisp" / "expected" / path.name).read_text(encoding="utf-8")
        found.append(Case("crisp", path.stem, _mail_of(path.read_text(encoding="utf-8"), "plain"), expected.strip()))
    return found


def library_input(raw: bytes) -> str:
    """What a user of a text-only library would hand it: the text part, else the HTML as text."""
    from chalicelib.mail.reply_html import html_to_text

    msg = email.message_from_bytes(raw.lstrip(), policy=policy.default)
    try:
        part = msg.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
        content = part.get_content() if part is not None else ""
    except (LookupError, KeyError, ValueError):
        content = ""
    if part is not None and part.get_content_type() == "text/html":
        return html_to_text(content)
    return str(content).replace("\r\n", "\n")


def ours(raw: bytes) -> str:
    from chalicelib.mail.inbound import parse_inbound

    return parse_inbound(raw).text


def email_reply_parser(raw: bytes) -> str:
    from email_reply_parser import EmailReplyParser

    return EmailReplyParser.parse_reply(library_input(raw)) or ""


def mail_parser_reply(raw: bytes) -> str:
    from mailparser_reply import EmailReplyParser
    from mailparser_reply.constants import MAIL_LANGUAGES

    parser = EmailReplyParser(languages=[code for code in MAIL_LANGUAGES if code != "david"])
    return parser.parse_reply(library_input(raw)) or ""


EXTRACTORS: dict[str, Callable[[bytes], str]] = {
    "ours": ours, "email-reply-parser 0.5.12": email_reply_parser, "mail-parser-reply 1.36": mail_parser_reply}


def matches(case: Case, got: str) -> bool:
    if case.whitespace_blind:
        return re.sub(r"\s", "", got) == re.sub(r"\s", "", case.expected)
    return got.strip() == case.expected


def score() -> tuple[dict[str, dict[str, int]], dict[str, int], dict[str, list[str]]]:
    """{extractor: {corpus: exact matches}}, {corpus: cases}, {extractor: failed case names}."""
    totals: dict[str, int] = {}
    results: dict[str, dict[str, int]] = {name: {} for name in EXTRACTORS}
    failures: dict[str, list[str]] = {name: [] for name in EXTRACTORS}
    for case in cases():
        totals[case.corpus] = totals.get(case.corpus, 0) + 1
        for name, extract in EXTRACTORS.items():
            try:
                ok = matches(case, extract(case.raw))
            except Exception:  # noqa: BLE001 - a library crashing on a mail is a miss, not the end of the run
                ok = False
            results[name][case.corpus] = results[name].get(case.corpus, 0) + ok
            if not ok:
                failures[name].append(f"{case.corpus}/{case.name}")
    return results, totals, failures


# sisimai names files by what its own parser reports (e.g. the sending host for SES mail), not always by kind: these
# five are labelled by what they are, read by hand.
RELABELLED = {
    "lhost-amazonses-11.eml": "complaint",   # an SES Complaint notification mailed by SNS
    "lhost-amazonses-12.eml": "automatic",   # an SES Delivery notification mailed by SNS: neither bounce nor reply
    "lhost-amazonses-13.eml": "automatic",   # the same
    "arf-26.eml": "automatic",               # Apple Mail's one-click unsubscribe mail: Auto-Submitted, no report
    "rb-issue-368-bug.eml": "bounce",        # a postmaster's "mailbox full" notice, in not_bounce/
}


def sisimai_kind(path: Path) -> str:
    if path.name in RELABELLED:
        return RELABELLED[path.name]
    if path.parent.name == "not_bounce":
        return "reply"
    return {"arf": "complaint", "rfc3834": "automatic"}.get(path.name.split("-")[0], "bounce")


def classification() -> tuple[int, int, list[str], list[str]]:
    """(mails, misclassified, their names, real replies taken for something else) over every fixture whose kind is
    known: sisimai's bounces, complaints, auto-replies and ordinary mail (kind by file name), and every reply fixture
    above that is a whole mail (the replies corpus)."""
    from chalicelib.mail.inbound import parse_inbound

    known = [(path, sisimai_kind(path)) for path in sorted((FIXTURES / "sisimai").rglob("*.eml"))]
    known += [(path, "reply") for path in sorted((FIXTURES / "replies" / "emails").glob("*.eml"))]
    wrong, lost = [], []
    for path, kind in known:
        got = parse_inbound(path.read_bytes()).kind
        if got != kind:
            wrong.append(f"{path.parent.name}/{path.name} ({kind} read as {got})")
            if kind == "reply":
                lost.append(path.name)
    return len(known), len(wrong), wrong, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show-failures", action="store_true")
    arguments = parser.parse_args()
    results, totals, failures = score()
    corpora = list(totals)
    print("| extractor | " + " | ".join(f"{c} ({totals[c]})" for c in corpora) + f" | all ({sum(totals.values())}) |")
    print("|---|" + "---|" * (len(corpora) + 1))
    for name, per_corpus in results.items():
        all_ok = sum(per_corpus.values())
        cells = [f"{per_corpus.get(c, 0)} ({100 * per_corpus.get(c, 0) / totals[c]:.0f}%)" for c in corpora]
        print(f"| {name} | " + " | ".join(cells) + f" | {all_ok} ({100 * all_ok / sum(totals.values()):.0f}%) |")
    mails, misclassified, wrong, lost = classification()
    print(f"\nclassification (ours): {misclassified} of {mails} mails misclassified, {len(lost)} real replies lost")
    if arguments.show_failures:
        for name, failed in failures.items():
            print(f"\n{name} missed {len(failed)}: {', '.join(failed)}")
        print("\nmisclassified: " + "; ".join(wrong))


if __name__ == "__main__":
    main()
