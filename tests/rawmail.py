"""Reading raw mail bytes the way a mail client does, without the `email` package that wrote them.

`email` with policy.default decodes RFC 2047 encoded-words back when it parses, so a test that re-parses with it
cannot see a Message-ID or URL that was encoded on the way out (NOTES.md). This reader follows RFC 5322 by hand:
the header block ends at the first empty line (§2.1), unfolding removes each CRLF that is followed by
whitespace (§2.2.3), and a field is `name ":" value` (§2.2). Nothing is decoded.
"""
from __future__ import annotations

import re

CRLF = b"\r\n"
HARD_LINE = 998
_MSG_ID = re.compile(r"<[^<>\s]+>")


def header_block(raw: bytes) -> bytes:
    head, separator, _ = raw.partition(CRLF + CRLF)
    assert separator, "no empty line ends the header block"
    return head


def physical_lines(raw: bytes) -> list[bytes]:
    """Every line of the message as sent, without its CRLF (a bare LF is a defect and shows up as too long)."""
    return raw.split(CRLF)


def long_lines(raw: bytes) -> list[bytes]:
    """RFC 5322 §2.1.1: every line at most 998 octets, without the CRLF."""
    return [line for line in physical_lines(raw) if len(line) > HARD_LINE]


def unfolded_headers(raw: bytes) -> list[tuple[str, str]]:
    """(name, value) for each header field, unfolded, value left exactly as written (leading space removed)."""
    unfolded = re.sub(rb"\r\n(?=[ \t])", b"", header_block(raw))
    fields = []
    for line in unfolded.split(CRLF):
        name, colon, value = line.partition(b":")
        assert colon and re.fullmatch(rb"[\x21-\x39\x3b-\x7e]+", name), f"not a header field: {line[:80]!r}"
        fields.append((name.decode("ascii"), value.decode("ascii").lstrip(" \t")))
    return fields


def header(raw: bytes, name: str) -> str | None:
    """The one field named `name` (case-insensitive), unfolded; None if absent; two of them is an error."""
    values = [value for field, value in unfolded_headers(raw) if field.lower() == name.lower()]
    assert len(values) <= 1, f"{name} appears {len(values)} times"
    return values[0] if values else None


def message_ids(value: str | None) -> list[str]:
    """The msg-ids in an In-Reply-To or References value, as a threading client extracts them."""
    return _MSG_ID.findall(value or "")


def replace_header(raw: bytes, name: str, value: str) -> bytes:
    """The message with one header's value replaced, as SES replaces Message-ID (NOTES.md)."""
    head, _, body = raw.partition(CRLF + CRLF)
    lines = re.sub(rb"\r\n(?=[ \t])", b"", head).split(CRLF)
    replaced = [f"{name}: {value}".encode("ascii") if line.lower().startswith(name.lower().encode() + b":")
                else line for line in lines]
    assert replaced != lines, f"no {name} header to replace"
    return CRLF.join(replaced) + CRLF + CRLF + body
