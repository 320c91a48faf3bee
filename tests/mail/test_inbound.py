"""Inbound mail parsing and classification on real-world corpora (sisimai, mikel/mail) and SES receipts."""
import json

import pytest

from bench.reply_extraction import sisimai_kind
from chalicelib.discussions.attachments import safe_filename
from chalicelib.mail.inbound import (
    AUTOMATIC,
    BOUNCE,
    REPLY,
    parse_inbound,
    parse_received_notification,
)
from tests.corpus import FIXTURES, corpus_files

SISIMAI = FIXTURES / "mail" / "sisimai"
MIKEL = FIXTURES / "mail" / "mikel"
SES = FIXTURES / "ses"


def test_sisimai_classification_is_right_for_every_mail():
    """Bounces, complaints, auto-replies and ordinary mail, kind by file name (five relabelled by hand, see
    bench.reply_extraction.RELABELLED): none is misread, so no reply is lost and no machine mail is posted."""
    wrong = [(path.name, parse_inbound(path.read_bytes()).kind, sisimai_kind(path))
             for path in corpus_files("mail/sisimai", "*.eml", 185)]
    assert [w for w in wrong if w[1] != w[2]] == []


def test_bounced_recipients_from_delivery_status():
    mail = parse_inbound((SISIMAI / "maildir_bsd" / "rfc3464-01.eml").read_bytes())
    assert mail.kind == BOUNCE
    assert mail.bounced_recipients, "a DSN names its recipients"
    first = mail.bounced_recipients[0]
    assert "@" in first.address and first.address == first.address.lower()
    assert first.status and first.status[0] in "245"
    dsns = [parse_inbound(p.read_bytes()) for p in corpus_files("mail/sisimai/maildir_bsd", "rfc3464-*.eml", 36)]
    assert sum(bool(m.bounced_recipients) for m in dsns) >= 0.8 * len(dsns)


@pytest.mark.parametrize("path", corpus_files("mail/mikel", "*.eml", 103), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_mikel_corpus_never_crashes(path):
    mail = parse_inbound(path.read_bytes())
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)
    assert all(safe_filename(a.filename) and "/" not in safe_filename(a.filename) for a in mail.attachments)


def test_thunderbird_reply_keeps_new_text_only():
    mail = parse_inbound((MIKEL / "plain_emails" / "raw_email_reply.eml").read_bytes())
    assert mail.kind == REPLY
    assert mail.text and len(mail.text) <= len(mail.full_text)
    assert mail.in_reply_to and mail.in_reply_to.startswith("<")
    assert all(r.startswith("<") and r.endswith(">") for r in mail.references)


RAW = b"""From: "Ann Example" <Ann@Example.ORG>
To: reply+tok@reply.example.com, Bob <BOB@example.com>
Cc: bob@example.com
Delivered-To: reply+tok@reply.example.com
Subject: =?utf-8?q?Re=3A_caf=C3=A9?=
Message-ID: <new@example.org>
In-Reply-To: <orig@hub.example.com>
References: <a@x> <orig@hub.example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=XX

--XX
Content-Type: multipart/alternative; boundary=YY

--YY
Content-Type: text/html; charset=utf-8

<div>Sounds good &amp; thanks!</div><div>On Mon, 1 Jan 2024, Hub wrote:</div><blockquote>old text</blockquote>
--YY--
--XX
Content-Type: application/pdf; name="../../etc/passwd.pdf"
Content-Disposition: attachment; filename="../../etc/passwd.pdf"
Content-Transfer-Encoding: base64

JVBERi0=
--XX--
"""


def test_headers_html_body_and_attachment():
    mail = parse_inbound(RAW)
    assert mail.kind == REPLY and mail.automatic_reason is None
    assert (mail.from_address, mail.from_name) == ("ann@example.org", "Ann Example")
    assert mail.recipients == ["reply+tok@reply.example.com", "bob@example.com"]
    assert mail.subject == "Re: café"
    assert (mail.message_id, mail.in_reply_to) == ("<new@example.org>", "<orig@hub.example.com>")
    assert mail.references == ["<a@x>", "<orig@hub.example.com>"]
    assert mail.text == "Sounds good & thanks!"
    assert "old text" in mail.full_text
    [att] = mail.attachments
    assert (att.filename, att.content_type, att.content) == ("../../etc/passwd.pdf", "application/pdf", b"%PDF-")
    assert safe_filename(att.filename) == "passwd.pdf"  # the one sanitiser, applied where the file is stored


@pytest.mark.parametrize("headers,reason", [
    ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
    ("X-Autoreply: yes", "X-Autoreply: yes"),
    ("X-Autorespond: yes", "X-Autorespond: yes"),
    ("Precedence: bulk\nReturn-Path: <>", "Precedence: bulk and Return-Path: <>"),
    ("Precedence: junk\nSubject: Out of office", "Precedence: junk and Subject: Out of office"),
    ("Subject: Automatic reply: Quote\nReturn-Path: <>", "Subject: Automatic reply: Quote and Return-Path: <>"),
])
def test_automatic_mail_headers(headers, reason):
    raw = f"From: a@example.org\nTo: b@example.com\n{headers}\n\nI am away.\n".encode()
    mail = parse_inbound(raw)
    assert (mail.kind, mail.automatic_reason) == (AUTOMATIC, reason)


@pytest.mark.parametrize("headers", [
    "X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply",  # Exchange asks others not to auto-reply: a person wrote
    "X-Auto-Response-Suppress: All\nSubject: Automatic reply wanted?",
    "Precedence: bulk",                                          # a sign, not enough alone
    "Subject: Out of office tomorrow, can we talk today?",
    "X-Autoreply: no",
])
def test_one_weak_sign_or_a_suppression_request_is_still_a_reply(headers):
    raw = f"From: a@example.org\nTo: b@example.com\n{headers}\n\nYes, that works.\n".encode()
    mail = parse_inbound(raw)
    assert (mail.kind, mail.automatic_reason, mail.text) == (REPLY, None, "Yes, that works.")


def test_auto_submitted_no_is_a_reply_and_mailer_daemon_is_a_bounce():
    raw = b"From: a@example.org\nAuto-Submitted: no\nSubject: hi\n\nhello\n"
    assert parse_inbound(raw).kind == REPLY
    raw = b"From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n\nSorry, could not deliver.\n"
    assert parse_inbound(raw).kind == BOUNCE


def test_garbage_never_crashes():
    garbage = (b"", b"\x00\xff\xfe",
               b"From: <<<\nSubject: =?bogus?q?x?=\n\n\xff", b"Content-Type: multipart/mixed\n\nx")
    for raw in garbage:
        parse_inbound(raw)


def test_received_sns_utf8_content():
    n = parse_received_notification(json.loads((SES / "received_sns_action_utf8_content.json").read_text()))
    assert n.recipients == ["recipient@example.com"] and n.s3_bucket is None
    assert n.content and b"Subject:" in n.content
    assert (n.verdicts.spam, n.verdicts.virus, n.verdicts.spf, n.verdicts.dkim, n.verdicts.dmarc) == (
        "PASS", "PASS", "PASS", "PASS", None)
    assert parse_inbound(n.content).subject


def test_received_sns_base64_content():
    data = json.loads((SES / "received_sns_action_base64_content.json").read_text())
    n = parse_received_notification(data)
    assert n.message_id == data["mail"]["messageId"]
    assert (n.verdicts.dkim, n.verdicts.dmarc) == ("GRAY", "GRAY")
    assert n.content and b"Subject:" in n.content


def test_received_s3_alert_and_lambda_shapes():
    n = parse_received_notification(json.loads((SES / "received_s3_action_alert.json").read_text()))
    assert (n.s3_bucket, n.s3_key, n.content) == ("my-S3-bucket", "\\email", None)
    lam = parse_received_notification(json.loads((SES / "received_lambda_action_event.json").read_text()))
    assert lam.verdicts.dmarc == "GRAY" and lam.recipients == ["recipient@example.com"] and lam.content is None
    wrapped = json.loads((SES / "lambda_sns_event_wrapping_received_notification.json").read_text())
    w = parse_received_notification(wrapped)
    assert w.message_id == "12345678901example" and w.recipients == ["recipient@example.com"]
    assert parse_received_notification(wrapped["Records"][0]["Sns"]).message_id == "12345678901example"


def test_received_rejects_non_receipt():
    with pytest.raises(ValueError):
        parse_received_notification({"foo": 1})


# ---------------------------------------------------------------- charsets (issue 17, item 3)

def _plain(body: bytes, content_type: str = "text/plain", headers: bytes = b"") -> bytes:
    return (b"From: a@example.org\nTo: b@example.com\nSubject: Re: x\n" + headers +
            b"MIME-Version: 1.0\nContent-Type: " + content_type.encode() + b"\nContent-Transfer-Encoding: 8bit\n\n"
            + body)


@pytest.mark.parametrize("content_type, body, text", [
    ("text/plain", "We’ll sign today.".encode(), "We’ll sign today."),                      # no charset, UTF-8 bytes
    ("text/plain; charset=big5", "好的，週一見。".encode(), "好的，週一見。"),                  # mislabelled UTF-8
    ("text/plain; charset=iso-8859-1", "C’est à jeudi.".encode("cp1252"), "C’est à jeudi."),  # cp1252 labelled latin-1
    ("text/plain; charset=big5", "好的，週一見。".encode("big5"), "好的，週一見。"),            # honest big5
    ("text/plain; charset=iso-2022-jp", "承知しました。".encode("iso-2022-jp"), "承知しました。"),
    ("text/plain; charset=x-unknown", "Добрый день! Приём, всё в порядке. Счёт получили.".encode("koi8-r"),
     "Добрый день! Приём, всё в порядке. Счёт получили."),                                       # unknown label
    ("text/plain", "Bonjour, c’est parfait pour nous, à jeudi. Amélie".encode("cp1252"),
     "Bonjour, c’est parfait pour nous, à jeudi. Amélie"),                                       # unlabelled cp1252
])
def test_text_is_decoded_by_its_bytes_not_only_its_label(content_type, body, text):
    mail = parse_inbound(_plain(body, content_type))
    assert mail.text == text and "\ufffd" not in mail.full_text


def test_an_eight_bit_header_is_read_like_a_body():
    mail = parse_inbound(_plain(b"ok", headers=b"X-Note: 1\n").replace(b"Subject: Re: x", "Subject: Re: café €".encode(
        "cp1252")))
    assert mail.subject == "Re: café €"


# ---------------------------------------------------------------- raw framing (item 4)

@pytest.mark.parametrize("prefix", [b"\n", b"\r\n\r\n", b"  \n", b"From a@example.org Mon Mar  2 10:00:00 2026\n",
                                    b"\nFrom a@example.org Mon Mar  2 10:00:00 2026\r\n"])
def test_leading_blank_lines_and_an_mbox_from_line_keep_the_headers(prefix):
    raw = prefix + b"From: Ann <ann@example.org>\r\nSubject: Re: x\nContent-Type: text/plain\r\n" \
                   b"Content-Transfer-Encoding: base64\n\nVGhhbmtzIQ==\n"
    mail = parse_inbound(raw)
    assert (mail.from_address, mail.subject, mail.text) == ("ann@example.org", "Re: x", "Thanks!")


# ---------------------------------------------------------------- HTML replies (item 5)

OUTLOOK_RU = ('<div class="elementToProof">Спасибо, получили.</div><div id="appendonsend"></div><hr style="display:'
              'inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>От:</b>'
              ' Acme &lt;hub@acme.example&gt;<br><b>Отправлено:</b> 2 марта 2026 г. 10:00<br><b>Кому:</b> Ольга<br>'
              '<b>Тема:</b> Предложение</font><div>&nbsp;</div></div><div>Здравствуйте, вот предложение.</div>')
OUTLOOK_BORDER = ('<div class="WordSection1"><p class="MsoNormal">Approved.<o:p></o:p></p><div style="border:none;'
                  'border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> Acme\n'
                  'Events &lt;hub@acme.example&gt;\n<br><b>Sent:</b> Monday,\nMarch 2, 2026 10:00<br><b>To:</b> Cleo'
                  '<br><b>Subject:</b> Quote</p></div><p class="MsoNormal">Hello, see the quote</p></div>')
GMAIL_SIGNATURE = ('<div dir="ltr">Confirmed.<br clear="all"><div><br></div><span class="gmail_signature_prefix">-- '
                   '</span><br><div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature">Cleo Client<br>'
                   'Head of Operations</div></div>')
HR = '<div>Fine by us.</div><hr><b>De :</b> Acme<br><b>Envoyé :</b> lundi 2 mars<br><b>Objet :</b> Devis<p>Old</p>'
APPLE = ('<body>Works for me<br><div><br><blockquote type="cite"><div>On 2 Mar 2026, at 10:00, Acme &lt;hub@acme.'
         'example&gt; wrote:</div><br class="Apple-interchange-newline"><div>Old text</div></blockquote></div></body>')
YAHOO = ('<div class="ydp1yahoo-style-wrap"><div>Great, thanks!</div></div><div id="yahoo_quoted_1" class="'
         'yahoo_quoted"><div>On Monday, March 2, 2026, Acme wrote:</div><div>Old text</div></div>')
THUNDERBIRD = ('<p>Passt.</p><div class="moz-cite-prefix">Am 02.03.26 um 10:00 schrieb Acme:<br></div><blockquote '
               'type="cite">Alt</blockquote><div class="moz-signature">-- <br>Jürgen</div>')


@pytest.mark.parametrize("html, text", [
    (OUTLOOK_RU, "Спасибо, получили."), (OUTLOOK_BORDER, "Approved."), (GMAIL_SIGNATURE, "Confirmed."),
    (HR, "Fine by us."), (APPLE, "Works for me"), (YAHOO, "Great, thanks!"), (THUNDERBIRD, "Passt."),
], ids=["outlook-web-russian", "outlook-desktop-border", "gmail-signature", "hr", "apple", "yahoo", "thunderbird"])
def test_html_replies_lose_the_quote_their_client_marked(html, text):
    assert parse_inbound(_plain(html.encode(), "text/html; charset=utf-8")).text == text


def test_the_html_part_wins_when_the_text_part_lost_the_quote_marks():
    """Outlook's text part of a localized reply: no '>' and labels the text trimmer may not know."""
    plain = "Спасибо, получили.\r\n\r\nОт: Acme\r\nПослано: 2 марта\r\nПолучатель: Ольга\r\n\r\nЗдравствуйте, вот."
    raw = (b"From: a@example.org\nSubject: Re: x\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n"
           b"\n--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + plain.encode() +
           b"\n--b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + OUTLOOK_RU.encode()
           + b"\n--b--\n")
    assert parse_inbound(raw).text == "Спасибо, получили."
