"""Keep only the new text of a reply: a Python port of the rules of Discourse's email_reply_trimmer.

email_reply_trimmer is Copyright (c) Discourse, MIT licence (https://github.com/discourse/email_reply_trimmer).
The approach: classify every line (empty, delimiter, signature, embedded-email marker, email header,
quote, text) into one letter, then cut the reply with regular expressions over that string of letters.

Rules as of email_reply_trimmer 0.1.13. On that project's 64 test cases (tests/mail/test_trimming.py keeps
the floor) this port matches 62; the PyPI libraries did worse: mail-parser-reply 1.36 18, email-reply-parser
0.5.12 28. Not ported: the fenced-code-block matchers (block_code_spacers) and the spam_1 case.
"""
from __future__ import annotations

import re

_BLANK = r"\t \xa0\u2000-\u200a\u202f\u3000"  # Ruby's [[:blank:]] (horizontal space, NBSP included)
_B = f"[{_BLANK}]"


def _rx(pattern: str, flags: int = 0) -> re.Pattern:
    """re.compile with Ruby's [:blank:] class spelled out inside brackets."""
    return re.compile(pattern.replace("[:blank:]", _BLANK), flags)

EMPTY, DELIMITER, SIGNATURE, EMBEDDED, HEADER, QUOTE, TEXT = "e", "d", "s", "b", "h", "q", "t"

_EMPTY = _rx(rf"^{_B}*$")
_DELIMITER = _rx(rf"^{_B}*[-_,=+~#*ᐧ]+{_B}*$")
_QUOTE = _rx(rf"^{_B}*>")

_SIGNATURES = [_rx(rf"^{_B}*{p}", re.IGNORECASE) for p in (
    r"從我的 iPhone 傳送", r"\w+ from mobile", r"[(<]*Sent (from|via|with|by) .+[)>]*", r"From my .{1,20}",
    r"Get Outlook for ", r"Envoyé depuis (mon|Yahoo Mail)", r"Von meinem .+ gesendet",
    r"Diese Nachricht wurde von .+ gesendet", r"Inviato da ", r"Sendt fra min ", r"Enviado do meu ",
    r"Enviado desde mi ", r"Verzonden met ", r"Verstuurd vanaf mijn ", r"från min ",
    # added here (not in email_reply_trimmer): more clients' "sent from" lines
    r"Envoyé de mon ", r"Enviado do (meu|Yahoo Mail)", r"Inviato dal mio ", r"Wysłano z ", r"Отправлено (из|с) ",
    r"Outlook (voor|für|pour|para|per) (iOS|Android)", r"(Télécharger|Obtenir) Outlook pour ", r"Skickat från ",
    r"iPhoneから送信", r"从我的 ?iPhone ?发送", r"Get Outlook for ", r"Gesendet von Outlook für ",
)]
_MARKDOWN_LINK = _rx(r"\[([^\]]+)\]\([^)]+\)")

# "On <date>, <someone> wrote:" in several languages; may span several lines (joined first).
_MARKER_END = r"[[:blank:].:>-]*$"
_ON_DATE_SOMEONE_WROTE = [_rx(rf"^[[:blank:]<>-]*{on} (?:(?!\b(?>{stop})\b).)+?{wrote}{_MARKER_END}",
                                     re.IGNORECASE | re.DOTALL | re.MULTILINE) for on, stop, wrote in (
    ("在", "在|写道", "写道"),
    ("Op", r"Op|het\svolgende\sgeschreven|schreef", r"(het\svolgende\sgeschreven|schreef[^:]+)"),
    ("In message", "In message|writes", "writes"),
    ("(On|At)", "On|wrote|writes|says|said", "(wrote|writes|says|said)"),
    ("Le", r"Le|nous\sa\sdit|a\s+écrit", r"(nous\sa\sdit|a\s+écrit)"),
    ("Am", r"Am|schrieben\sSie", r"schrieben\sSie"),
    ("Am", "Am|geschrieben", "(geschrieben|schrieb[^:]+)"),
    ("(Il|In data)", r"Il|In\sdata|ha\sscritto", r"ha\sscritto"),
    ("(Dnia|Dňa)", "Dnia|Dňa|napisał", r"napisał(\(a\))?"),
    ("Em", "Em|escreveu", "escreveu"),
    ("El", "El|escribió", "escribió"),
)]

_DATE_SOMEONE_WROTE = [
    _rx(r"\d{4}.{1,80}пользователь.{0,80}\n?.{0,80}?написал:", re.MULTILINE),
    _rx(r"\d{4}.{1,80}\n?.{0,80}?napisał\(a\):", re.MULTILINE),
    _rx(r"\d{4}.{1,80}\n?.{0,80}?пише:", re.MULTILINE),
    _rx(r"\d{4}.{1,80}\n?.{0,80}?kirjoitti:", re.MULTILINE),  # Finnish (added here)
]
_DATE_SOMEONE_EMAIL = _rx(r"\d{4}.{1,80}\s?<[^@<>]+@[^@<>.]+\.[^@<>]+>:?$", re.MULTILINE)
_SOMEONE_WROTE_ON_DATE = [
    _rx(r"^.+\bwrote\b\s+\bon\b.+[^:]+:", re.MULTILINE),
    _rx(r"^.+\bschrieb\b\s+\bam\b.+[^:]+:", re.MULTILINE),
]
_JOINABLE = _ON_DATE_SOMEONE_WROTE + _SOMEONE_WROTE_ON_DATE + _DATE_SOMEONE_WROTE + [_DATE_SOMEONE_EMAIL]

_EMBEDDED = _ON_DATE_SOMEONE_WROTE + [
    _rx(rf"^[[:blank:]>]*{on}\s.+\s{wrote}\s[^:]+:")
    for on, wrote in (("Op", "schreef"), ("Am", "schrieb"), ("Den", "skrev"), (r"søn\.", "skrev"))
] + _DATE_SOMEONE_WROTE + [_DATE_SOMEONE_EMAIL] + _SOMEONE_WROTE_ON_DATE + [
    _rx(r"^[[:blank:]>]*20\d\d-\d\d-\d\d \d\d:\d\d GMT\+\d\d:\d\d [\w \t]+$"),
    _rx(r"^.+ via .+ wrote:?[[:blank:]]*$"),
    _rx(r"^.+ via .+ schrieb:?[[:blank:]]*$"),
    _rx(r"^.+\b[\w.+-]+@[\w.-]+\.\w{2,}\b.+wrote:?$"),
    _rx(r"^[[:blank:]>]*Posted by .+ on \d{2}/\d{2}/\d{4}$", re.IGNORECASE),
    _rx(r"^[[:blank:]>]*Begin forwarded message:", re.IGNORECASE),
    _rx(r"^[[:blank:]>*]*-{2,}[[:blank:]]*(Forwarded|Original|Reply) Message[[:blank:]]*-{2,}", re.IGNORECASE),
    _rx(r"^[[:blank:]>]*Début du message transféré :", re.IGNORECASE),
    _rx(r"^[[:blank:]>*]*-{2,}[[:blank:]]*Message transféré[[:blank:]]*-{2,}", re.IGNORECASE),
    _rx(r"^[[:blank:]>*]*-{2,}[[:blank:]]*Ursprüngliche Nachricht[[:blank:]]*-{2,}", re.IGNORECASE),
    _rx(r"^[[:blank:]>*]*-{2,}[[:blank:]]*Mensaje original[[:blank:]]*-{2,}", re.IGNORECASE),
    _rx(r"^[[:blank:]>*]*-{2,}[[:blank:]]*原始邮件[[:blank:]]*-{2,}", re.IGNORECASE),
    # added here (not in email_reply_trimmer): Outlook's "Original Message" line in more languages
    _rx(r"^[[:blank:]>*]*-{2,}[[:blank:]]*(Message d'origine|Oorspronkelijk bericht|Originalnachricht|"
        r"Messaggio originale|Mensagem original|Исходное сообщение|Wiadomość oryginalna|Původní zpráva|"
        r"Ursprungligt meddelande|Oprindelig meddelelse|Oprindelig besked|Opprinnelig melding|"
        r"Alkuperäinen viesti|Eredeti üzenet|"
        r"Orijinal İleti|元のメッセージ|원본 메시지|原始郵件)[[:blank:]]*-{2,}", re.IGNORECASE),
]

_HEADER_WITH_DATE = ["Sendt", "Sent", "Date", "Le", "Gesendet", "Enviada em", "Enviado", "Fecha", "Data", "Datum",
                     "Skickat", "发送时间",
                     # added here (not in email_reply_trimmer): Outlook's labels in more languages
                     "Envoyé", "Inviato", "Verzonden", "Отправлено", "Дата", "Wysłano", "Odesláno", "Lähetetty",
                     "Elküldve", "Gönderildi", "送信日時", "寄件日期", "날짜"]
_HEADER_WITH_TEXT = ["Fra", "Til", "Emne", "From", "To", "Cc", "Reply-To", "Subject", "De", "Expéditeur", "À",
                     "Destinataire", "Répondre à", "Objet", "Von", "An", "Betreff", "Para", "Assunto", "Asunto", "Da",
                     "Risposta", "A", "Oggetto", "Van", "Beantwoorden - Aan", "Aan", "Onderwerp", "Från", "Till",
                     "Ämne", "发件人", "收件人", "主题",
                     # added here (not in email_reply_trimmer): Outlook's labels in more languages
                     "От", "Кому", "Тема", "Копия", "Od", "Do", "Temat", "Komu", "Předmět", "Lähettäjä",
                     "Vastaanottaja", "Aihe", "Feladó", "Címzett", "Tárgy", "Kimden", "Kime", "Konu", "差出人",
                     "宛先", "件名", "寄件者", "收件者", "主旨", "보낸 사람", "받는 사람", "제목"]
_HEADERS = [
    _rx(rf"^[[:blank:]*]*(?:{'|'.join(_HEADER_WITH_DATE)})[[:blank:]*]*:.*\d+"),
    _rx(rf"^[[:blank:]*]*(?:{'|'.join(_HEADER_WITH_TEXT)})[[:blank:]*]*:.*\w+", re.IGNORECASE),
]


def classify(line: str) -> str:
    """One letter for what a line is (the order of the checks matters)."""
    if _EMPTY.match(line):
        return EMPTY
    if _DELIMITER.match(line):
        return DELIMITER
    if any(r.search(_MARKDOWN_LINK.sub(r"\1", line)) for r in _SIGNATURES):
        return SIGNATURE
    if any(r.search(line) for r in _EMBEDDED):
        return EMBEDDED
    if any(r.search(line) for r in _HEADERS):
        return HEADER
    if _QUOTE.match(line):
        return QUOTE
    return TEXT


def _drop_all(pattern: str, lines: list[str], letter: str) -> tuple[str, list[str]]:
    if letter not in pattern:  # also keeps lines when the pattern was emptied ("reply below the quote")
        return pattern, lines
    keep = [i for i, c in enumerate(pattern) if c != letter]
    return "".join(pattern[i] for i in keep), [lines[i] for i in keep]


def _preprocess(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"\A-----BEGIN PGP SIGNED MESSAGE-----\n(?:Hash: \w+)?\s+", "", text, flags=re.IGNORECASE)
    text = re.sub(r"^-----BEGIN PGP SIGNATURE-----$[\s\S]+^-----END PGP SIGNATURE-----", "", text, flags=re.MULTILINE)
    text = re.sub(r"^Unsubscribe: .+@.+(\n.+http:.+)?\s*\Z", "", text, flags=re.IGNORECASE | re.MULTILINE)
    text = re.sub(r"^.*>{5} \"[^\"\n]+\" == .+ writes:", "", text, flags=re.MULTILINE)
    text = re.sub(r"^>>> ?(.+) ?>>>$\n([\s\S]+?)\n^<<< ?\1 ?<<<$",
                  lambda m: re.sub("^", "> ", m.group(2), flags=re.MULTILINE), text, flags=re.MULTILINE)
    text = re.sub(r"^>{4,}[\t ]*$\n([\s\S]+?)\n^<{4,}[\t ]*$",
                  lambda m: re.sub("^", "> ", m.group(1), flags=re.MULTILINE), text, flags=re.MULTILINE)
    # every quote style ("|", "AB>") becomes ">"
    text = re.sub(r"^((?:[\t ]*[^\W\d_]*[>|])+)", lambda m: re.sub(r"([^\W\d_]+>|\|)", ">", m.group(1)), text,
                  flags=re.MULTILINE)
    for regex in _JOINABLE:  # a marker split over a few lines becomes one line
        text = regex.sub(lambda m: m.group(0) if m.group(0).count("\n") > 4 else re.sub(r"\n+\s*", " ", m.group(0)),
                         text)
    return text.strip()


def _cut(pattern: str, lines: list[str], rule: str, keep_match_start: bool = True) -> tuple[str, list[str]]:
    match = re.search(rule, pattern)
    if match:
        end = match.start() + 1 if keep_match_start else match.start()
        return pattern[:end], lines[:end]
    return pattern, lines


def _trim(text: str) -> str:
    lines = _preprocess(text).split("\n")
    pattern = "".join(classify(line) for line in lines)

    pattern, lines = _cut(pattern, lines, DELIMITER, keep_match_start=False)  # all after the first delimiter
    pattern, lines = _drop_all(pattern, lines, SIGNATURE)  # mobile signatures

    below = re.search(r"t[et]*$", pattern) if re.search(r"^b[^t]+t[et]*$", pattern) else None
    if below:  # the reply is below the quote
        pattern, lines = "", lines[below.start():]
    pattern, lines = _cut(pattern, lines, r"te*b[^q]*$")  # a marker not followed by a quote
    match = re.search(r"te*b[eqbh]*([te]*)$", pattern)  # a marker followed by a long quote
    if match and match.group(1).count(TEXT) < 7:
        pattern, lines = pattern[:match.start() + 1], lines[:match.start() + 1]
    pattern, lines = _cut(pattern, lines, r"t?e*[qbe]+$")  # text, then a quote to the end
    pattern, lines = _drop_all(pattern, lines, EMBEDDED)

    match = re.search(r"h+[hte]+h+e", pattern)  # headers spanning several lines
    if match:
        pattern = pattern[:match.start()] + HEADER * len(match.group(0)) + pattern[match.end():]
    pattern, lines = _cut(pattern, lines, r"t[eq]*h{3,}")  # a block of 3+ headers
    pattern, lines = _drop_all(pattern, lines, HEADER)

    match = re.search(r"[eq]+$", pattern)
    if TEXT in pattern and match:  # trailing quotes after some text
        lines = lines[:match.start()]
    while lines and re.match(r"^[\s>]*$", lines[0]):  # an attribution's empty quote lines left at the top
        lines = lines[1:]
    return "\n".join(lines).strip()


def trim_reply(text: str) -> str:
    """The new text of a reply, never empty when the reply has text of its own."""
    if not text or not text.strip():
        return ""
    try:
        trimmed = _trim(text)
    except RecursionError:  # pathological input: keep the whole text rather than lose it
        trimmed = ""
    return trimmed or text.replace("\r\n", "\n").strip()
