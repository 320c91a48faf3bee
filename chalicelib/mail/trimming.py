"""Keep only the new text of a reply: mail-parser-reply first, then our fixes where it falls short.

Measured on Discourse's email_reply_trimmer corpus (tests/mail_in/test_trimming.py keeps the floor).
"""
from __future__ import annotations

import functools
import re

LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "pt", "sv", "ja", "zh", "ru", "cs", "da", "fi", "ko", "tr"]

# Lines that open quoted history in clients the library misses (one regex per line, case-insensitive).
_QUOTE_HEADERS = [
    r"^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"oorspronkelijk bericht|messaggio originale|wiadomość oryginalna|исходное сообщение)\s*-{2,}",
    r"^-{2,}\s*on .+ wrote\s*-{2,}",
    r"^-{2,} ?forwarded message ?-{2,}",
    r"^(begin forwarded message|début du message réexpédié|anfang der weitergeleiteten nachricht)\s*:",
    r"^.{0,200}\b(wrote|schrieb|a écrit|escribió|schreef|scrisse|napisał|написал|написала|написав|skrev|kirjoitti|"
    r"escreveu)\s*:\s*$",
    r"^(am|le|el|op|il|w dniu|dnia|den|em) .{1,200}(schrieb|a écrit|escribió|schreef|scrisse|napisał|skrev|"
    r"escreveu)\s*.{0,60}:?\s*$",
    r"^\*?(from|von|de|van|da|od|от|från|fra|lähettäjä)\s*:\*?\s.+",
    r"^_{10,}\s*$",
    r"^>",
]
_HEADER_BLOCK = re.compile(r"^\*?(sent|gesendet|envoyé|enviado|verzonden|inviato|wysłane|отправлено|skickat|"
                           r"sendt|date|datum|to|an|à|para|aan|a|do|кому|reply-to|subject|betreff|objet|asunto|onderwerp|oggetto|cc)\s*:",
                           re.IGNORECASE)
_QUOTE = [re.compile(pattern, re.IGNORECASE) for pattern in _QUOTE_HEADERS]
_DELIMITER = re.compile(r"^\s*([-_=*#~+ᐧ]\s*)+$")
_SIGNATURE = re.compile(r"^(-- ?|sent from .+|envoyé de mon .+|von meinem .+ gesendet|get outlook for .+)$",
                        re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _parser():
    from mailparser_reply import EmailReplyParser  # imported on first inbound mail only

    return EmailReplyParser(languages=LANGUAGES)


def _cut_at_quote(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        stripped = line.strip()
        if index == 0 or not stripped:
            continue
        if any(pattern.match(stripped) for pattern in _QUOTE):
            # A "From:" line only opens history when header lines follow it (Outlook's block).
            if stripped.lower().lstrip("*").startswith(("from", "von", "de", "van", "da", "od", "от", "från", "fra",
                                                         "lähettäjä")):
                following = [ln.strip() for ln in lines[index + 1:index + 5] if ln.strip()]
                if not any(_HEADER_BLOCK.match(ln) for ln in following):
                    continue
            return lines[:index]
    return lines


def _drop_trailer(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index and _SIGNATURE.match(line.strip()):
            lines = lines[:index]
            break
    while lines and (not lines[-1].strip() or _DELIMITER.match(lines[-1])):
        lines = lines[:-1]
    return lines


def trim_reply(text: str) -> str:
    """The new text of a reply, never empty when the reply has text of its own."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        trimmed = _parser().parse_reply(text=text) or text
    except Exception:  # noqa: BLE001 - the library must never lose a reply; fall back to our rules alone
        trimmed = text
    lines = _drop_trailer(_cut_at_quote(trimmed.split("\n")))
    result = "\n".join(lines).strip()
    return result or text.strip()
