"""The HTML part of a reply → its text, with the quoted history cut where the writer's mail client marked it.

Each big client marks the quote in its HTML, and that structure is lost once the HTML is text, so it is read
first, on a small tree built with the standard library's tolerant HTMLParser:
- a hard boundary ends the reply, everything after it (in document order) is history: Outlook's
  `divRplyFwdMsg` / `appendonsend` / `OLK_SRC_BODY_SECTION` / `OutlookMessageHeader`, Hotmail's `stopSpelling`
  rule, Yahoo's `yahoo_quoted`, a Gmail `gmail_quote` that holds only an attribution and quotes, and a rule
  (`<hr>`) or a box with a solid top border (Outlook desktop, Windows Mail) followed by a header block
  (`From:`/`Sent:`/`To:`/`Subject:` in any of the languages below);
- signatures the client marked (`gmail_signature`, `moz-signature`, Outlook's `Signature`, Apple's
  `AppleMailSignature`, any id or class naming a signature) are removed;
- `<blockquote>` (Apple Mail `type=cite`, Thunderbird, Gmail inline) and its attribution line (Thunderbird's
  `moz-cite-prefix`, Gmail's `gmail_attr`, or the dated line ending in ':' just before it) become '> ' lines,
  which the text trimmer (`trimming.py`) then removes like a plain-text quote.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from chalicelib.mail.trimming import trim_reply

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_BLOCK = {"p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
          "section", "article", "header", "footer", "dl", "dt", "dd", "center", "address", "form", "hr", "br"}
_SKIP = {"script", "style", "head", "title", "xml", "template"}
_BOUNDARY_IDS = {"divrplyfwdmsg", "appendonsend", "olk_src_body_section", "stopspelling"}
_BOUNDARY_CLASSES = {"yahoo_quoted", "outlookmessageheader", "moz-forward-container"}
# The first word of each line of a quoted header block, in the languages the big clients are used in.
HEADER_LABELS = (
    "from", "sent", "date", "to", "cc", "subject", "reply-to",                                    # English
    "de", "envoyé", "date", "à", "objet", "expéditeur", "destinataire", "cc",                   # French
    "von", "gesendet", "an", "betreff", "datum",                                                  # German
    "de", "enviado", "enviado el", "para", "asunto", "fecha", "enviada em", "assunto", "data",   # Spanish, Portuguese
    "da", "inviato", "a", "oggetto", "data",                                                      # Italian
    "van", "verzonden", "aan", "onderwerp", "datum",                                              # Dutch
    "от", "отправлено", "кому", "тема", "копия", "дата",                                          # Russian
    "od", "wysłano", "do", "temat", "data",                                                       # Polish
    "od", "odesláno", "komu", "předmět",                                                          # Czech
    "från", "skickat", "till", "ämne", "fra", "sendt", "til", "emne",                             # Swedish, Danish
    "lähettäjä", "lähetetty", "vastaanottaja", "aihe",                                            # Finnish
    "feladó", "elküldve", "címzett", "tárgy", "kimden", "gönderildi", "kime", "konu",             # Hungarian, Turkish
    "差出人", "送信日時", "宛先", "件名",                                                          # Japanese
    "发件人", "发送时间", "收件人", "主题", "寄件者", "寄件日期", "收件者", "主旨",                        # Chinese
    "보낸 사람", "받는 사람", "날짜", "제목",                                                          # Korean
)
_LABELS = "|".join(sorted({re.escape(label) for label in HEADER_LABELS}, key=len, reverse=True))
_LABEL_LINE = re.compile(rf"^\s*[*>]*\s*(?:{_LABELS})\s*[:：]", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"(\d|@).*[:：]\s*$")


class Node:
    __slots__ = ("tag", "attrs", "children", "parent")

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def has_class(self, *names: str) -> bool:
        classes = set(self.attrs.get("class", "").lower().split())
        return any(name in classes for name in names)


MAX_DEPTH = 200  # deeper elements are flattened into their ancestor: the tree is walked recursively


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK and tag != "br" and self.current.tag == "p":  # a block inside <p> closes it, as browsers do
            self.current = self.current.parent or self.root
            self.depth -= 1
        node = Node(tag, {k.lower(): (v or "") for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in _VOID and self.depth < MAX_DEPTH:
            self.current = node
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, {k.lower(): (v or "") for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        closed = 0
        while node is not None and node.tag != tag:
            node, closed = node.parent, closed + 1
        if node is not None and node.parent is not None:  # an end tag nothing opened is ignored
            self.current = node.parent
            self.depth -= closed + 1

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    try:
        builder.feed(html)
        builder.close()
    except (AssertionError, ValueError):  # HTMLParser's own complaints about broken markup: keep what was read
        pass
    return builder.root


# ---------------------------------------------------------------------------------------------- rendering

class _Renderer:
    """Tree → text as a reader sees it: blocks on their own lines, `<br>` a line break, a paragraph (`<p>`, but
    not Outlook's line-per-paragraph `MsoNormal`) a blank line around it, whitespace collapsed, quotes as '> '."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, bool]] = []
        self.line: list[str] = []
        self.quoted = 0
        self.line_quoted = False
        self.pre = 0

    def newline(self, hard: bool = False) -> None:
        raw = "".join(self.line)
        text = raw.replace("\xa0", " ").rstrip() if self.pre else " ".join(raw.replace("\xa0", " ").split())
        if text or hard or "\xa0" in raw:  # a block holding only &nbsp; is an empty line (Outlook's blank lines)
            self.lines.append((text, self.line_quoted and bool(text)))
        self.line, self.line_quoted = [], False

    def blank(self) -> None:
        self.newline()
        if self.lines and self.lines[-1][0]:
            self.lines.append(("", False))

    def text(self, data: str) -> None:
        if not self.pre:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
        if data.strip() and self.quoted:
            self.line_quoted = True
        if self.pre and "\n" in data:
            first, *rest = data.split("\n")
            self.line.append(first)
            for piece in rest:
                self.newline(hard=True)
                self.line.append(piece)
            return
        self.line.append(data)

    def node(self, node: Node | str) -> None:
        if isinstance(node, str):
            self.text(node)
            return
        if node.tag in _SKIP:
            return
        if node.tag == "br":
            self.newline(hard=True)
            return
        paragraph = node.tag == "p" and not node.has_class("msonormal")
        quote = node.tag == "blockquote" or node.attrs.get("data-quote") == "1"
        if paragraph:
            self.blank()
        elif node.tag in _BLOCK:
            self.newline()
        if node.tag == "li":
            self.line.append("- ")
        self.quoted += quote
        self.pre += node.tag == "pre"
        for child in node.children:
            self.node(child)
        self.quoted -= quote
        self.pre -= node.tag == "pre"
        if paragraph:
            self.blank()
        elif node.tag in _BLOCK:
            self.newline()

    def result(self) -> str:
        self.newline()
        out: list[str] = []
        for text, quoted in self.lines:
            line = ("> " + text.strip()) if quoted else text
            if line or (out and out[-1]):
                out.append(line)
        return "\n".join(out).strip()


def render(node: Node) -> str:
    renderer = _Renderer()
    renderer.node(node)
    return renderer.result()


def html_to_text(html: str) -> str:
    """The whole HTML as text, quotes marked with '> ' (nothing cut)."""
    root = parse(html)
    _mark_attributions(root)
    return render(root)


# ---------------------------------------------------------------------------------------------- structure

def _walk(node: Node) -> list[Node]:
    out = [node]
    for child in node.children:
        if isinstance(child, Node):
            out.extend(_walk(child))
    return out


def _detach(node: Node) -> None:
    if node.parent is not None:
        node.parent.children = [c for c in node.parent.children if c is not node]


def _cut_from(node: Node) -> None:
    """Remove the node and everything after it in document order."""
    current: Node | None = node
    while current is not None and current.parent is not None:
        siblings = current.parent.children
        index = next(i for i, c in enumerate(siblings) if c is current)
        del siblings[index + 1:]
        current = current.parent
    _detach(node)


def _following_text(node: Node, lines: int = 8, budget: int = 60) -> list[str]:
    """The first non-empty lines of text after the node in document order (at most `budget` nodes are read)."""
    holder = Node("#following", {}, None)
    current: Node | None = node
    text: list[str] = []
    while current is not None and current.parent is not None and budget > 0:
        siblings = current.parent.children
        index = next(i for i, c in enumerate(siblings) if c is current)
        part = Node("div", {}, holder)
        holder.children.append(part)
        for sibling in siblings[index + 1:index + 1 + budget]:
            part.children.append(sibling)
            budget -= 1
        text = [line for line in render(holder).split("\n") if line.strip()]
        if len(text) >= lines:
            break
        current = current.parent
    return text[:lines]


def _starts_header_block(lines: list[str]) -> bool:
    return bool(lines) and bool(_LABEL_LINE.match(lines[0])) and sum(bool(_LABEL_LINE.match(x)) for x in lines) >= 2


def _own_text(node: Node) -> str:
    text = render(node)
    return "\n".join(line for line in text.split("\n") if line.strip())


def _is_signature(node: Node) -> bool:
    names = (node.attrs.get("id", "") + " " + node.attrs.get("class", "")).lower()
    return "signature" in names or node.attrs.get("data-smartmail") == "gmail_signature"


def _is_boundary(node: Node) -> bool:
    if node.attrs.get("id", "").lower().removeprefix("x_") in _BOUNDARY_IDS:
        return True
    if node.has_class(*_BOUNDARY_CLASSES) or any("yahoo_quoted" in c for c in node.attrs.get("class", "").split()):
        return True
    if node.tag == "div" and node.has_class("gmail_quote", "gmail_quote_container"):
        return _only_quotes(node)
    if node.tag == "hr":
        return _starts_header_block(_following_text(node))
    style = node.attrs.get("style", "").lower().replace(" ", "")
    if node.tag in ("div", "p") and "border-top" in style and "solid" in style:
        lines = [line for line in _own_text(node).split("\n")][:8]
        return _starts_header_block(lines)
    return False


def _only_quotes(node: Node) -> bool:
    """A Gmail quote container that holds only the attribution line and quotes (no answers written inline)."""
    copy = Node(node.tag, dict(node.attrs), None)
    copy.children = [c for c in node.children if not (isinstance(c, Node) and (
        c.tag == "blockquote" or c.has_class("gmail_attr", "gmail_quote")))]
    text = _own_text(copy).strip()
    return not text or (len(text) < 300 and text.rstrip().endswith((":", "：")))


def _mark_attributions(root: Node) -> None:
    """The attribution line of a quote ('On ..., X wrote:') is part of the quote."""
    for node in _walk(root):
        if node.has_class("moz-cite-prefix", "gmail_attr"):
            node.attrs["data-quote"] = "1"
        elif node.tag == "blockquote" and node.parent is not None:
            siblings = node.parent.children
            index = next(i for i, c in enumerate(siblings) if c is node)
            before = [c for c in siblings[:index] if not (isinstance(c, str) and not c.strip())
                      and not (isinstance(c, Node) and c.tag == "br")]
            last = before[-1] if before else None
            own = _own_text(last) if isinstance(last, Node) else ""
            if isinstance(last, Node) and len(own) < 300 and own.count("\n") < 2 and _ATTRIBUTION.search(own):
                last.attrs["data-quote"] = "1"


MAX_BOUNDARY_CHECKS = 5000  # a quote boundary is near the top; a pathological document is not searched to its end


@dataclass(frozen=True)
class HtmlReply:
    text: str          # the new text (structure cut, then the text trimmer)
    full_text: str     # the whole HTML as text
    structural: bool   # the HTML marks its quote (a client's boundary, or a blockquote)


def reply_from_html(html: str) -> HtmlReply:
    root = parse(html)
    full_text = render(root)
    for node in _walk(root):
        if node.parent is not None and _is_signature(node):
            node.children = []  # emptied, not removed: a signature block still separates the text around it
    candidates = [node for node in _walk(root) if node.parent is not None][:MAX_BOUNDARY_CHECKS]
    boundary = next((node for node in candidates if _is_boundary(node)), None)
    if boundary is not None:
        _cut_from(boundary)
    _mark_attributions(root)
    rendered = _inline_attribution(render(root))
    marked = boundary is not None or any(node.tag == "blockquote" for node in _walk(root))
    return HtmlReply(trim_reply(rendered) if rendered.strip() else "", full_text, marked)


def _inline_attribution(text: str) -> str:
    """A dated line ending in ':' right before a '> ' quote (mail.ru, Yandex write it as bare text) is quoted too."""
    lines = text.split("\n")
    for index in range(1, len(lines)):
        if lines[index].startswith("> "):
            previous = index - 1
            while previous >= 0 and not lines[previous].strip():
                previous -= 1
            if previous >= 0 and not lines[previous].startswith(">") and _ATTRIBUTION.search(lines[previous]) \
                    and len(lines[previous]) < 300:
                lines[previous] = "> " + lines[previous]
    return "\n".join(lines)
