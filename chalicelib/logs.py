"""What may appear in a log line: email addresses only redacted (`c***@client.example`), as Zulip logs them.

Logs are read by more people and kept longer than the records they describe; the records (an inbound mail's,
a copy's) keep the address for those allowed to see it.
"""
from __future__ import annotations

import re

# Loose on purpose: anything that looks like local@domain in free text (a reason, an exception message).
_ADDRESS = re.compile(r"([^\s<>\"'@,;:()\[\]]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,63})")


def redact(text: str | None) -> str:
    """`text` with the local part of every address cut to its first character: cleo@client.example →
    c***@client.example (the domain stays: it says which organisation, and which mail system, is involved)."""
    return _ADDRESS.sub(lambda match: f"{match.group(1)[:1]}***@{match.group(2)}", text or "")
