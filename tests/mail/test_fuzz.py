"""Malformed mail never breaks the inbound parser or the reply trimmer (hypothesis, bounded examples).

The suite runs a fixed (derandomised) set of cases, so a run is red or green the same way on every machine; a
case a random search once found is kept below as an `@example`. A longer random search is one command:
    FUZZ_SCALE=20 FUZZ_RANDOM=1 .venv/bin/python -m pytest -q tests/mail/test_fuzz.py
"""
from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chalicelib.mail.inbound import parse_inbound
from chalicelib.mail.trimming import trim_reply
from tests.corpus import corpus_files

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"


def settings(max_examples: int, **kwargs):
    return hypothesis_settings(max_examples=max_examples * SCALE, derandomize=not RANDOM, database=None, **kwargs)


SEEDS = [path.read_bytes() for path in corpus_files("mail/mikel", "*.eml", 103) if path.stat().st_size < 200_000][:40]

HEADER_NAMES = st.sampled_from(["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References",
                                "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version",
                                "Auto-Submitted", "X-Autoreply", "Precedence", "Return-Path", "Delivered-To"])
TEXTISH = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)
HEADER_VALUES = st.one_of(
    TEXTISH,
    st.sampled_from(["=?utf-8?B?w6k=?=", "=?bogus?Q?x?=", "=?utf-8?Q?a=ZZb?=", "multipart/mixed; boundary=",
                     "multipart/report; report-type=delivery-status; boundary=\"b\"", "text/plain; charset=x-unknown",
                     "base64", "quoted-printable", "<>", "<a@b> <c@d", "\"unterminated <x@y>", "auto-replied", "bulk",
                     "attachment; filename*=utf-8''%E9%ZZ.pdf", "@@@", ""]))


@st.composite
def messages(draw) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=12))
    body = draw(st.one_of(st.binary(max_size=2000), TEXTISH.map(str.encode)))
    lines = [f"{name}: {value}".encode("utf-8", "surrogatepass") for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _mutations(seed: bytes, data: st.DataObject) -> bytes:
    """A real message, cut, spliced with junk or with bytes flipped."""
    cut = data.draw(st.integers(0, len(seed)))
    junk = data.draw(st.binary(max_size=200))
    where = data.draw(st.integers(0, len(seed)))
    return (seed[:cut] if data.draw(st.booleans()) else seed[:where] + junk + seed[where:])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_generated_mail_never_crashes_the_parser(raw):
    mail = parse_inbound(raw)

    assert mail.kind in ("reply", "automatic", "bounce", "complaint")
    assert isinstance(mail.text or "", str) and isinstance(mail.attachments, list)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_real_mail_never_crashes_the_parser(data):
    seed = data.draw(st.sampled_from(SEEDS))

    mail = parse_inbound(_mutations(seed, data))

    assert mail.kind in ("reply", "automatic", "bounce", "complaint")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_the_trimmer_never_crashes_and_never_grows_the_text(text):
    trimmed = trim_reply(text)

    assert isinstance(trimmed, str) and len(trimmed.strip()) <= len(text.replace("\u00a0", " ").strip()) + 1


HTML_PIECES = st.sampled_from([
    "<div>", "</div>", "<p>", "</p>", "<br>", "<hr>", "<blockquote>", "</blockquote>", '<div class="gmail_quote">',
    '<div id="divRplyFwdMsg">', '<div class="yahoo_quoted">', '<div style="border-top:solid 1px">', "<b>From:</b> a",
    "<b>Sent:</b> b", "<b>От:</b> c", '<div class="gmail_signature">', '<div class="moz-cite-prefix">', "<pre>",
    "</pre>", "On Mon, 2 Mar 2026, Ann wrote:", "text", "&nbsp;", "&amp", "<", ">", "<!--", "-->", "<style>", "\n"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(HTML_PIECES, TEXTISH), max_size=60))
@example(["0", '<div class="gmail_signature">', "</div>", "<b>From:</b> a"])  # a removed block glued "0From"
def test_html_replies_never_crash_and_never_invent_text(pieces):
    from chalicelib.mail.reply_html import reply_from_html

    html = "".join(pieces)
    reply = reply_from_html(html)

    words = set(re.findall(r"\w+", reply.full_text))
    assert set(re.findall(r"\w+", reply.text)) <= words


def test_deeply_nested_html_is_read_without_recursion_errors():
    from chalicelib.mail.reply_html import reply_from_html

    assert reply_from_html("<div>" * 20000 + "Deep reply" + "</div>" * 20000).text == "Deep reply"
