"""The local mailbox page: a small WSGI app (Werkzeug, Jinja2) that `make run` serves on its own port.

Pages: `/` the mailboxes (one per recipient), `/box/ADDRESS` a mailbox's conversations, `/mail/KEY` one email with
its conversation, the discussion it belongs to (read from the API by the browser, across origins: CORS) and the
recipient's buttons. The email's HTML is served apart (`/mail/KEY/html`) into a sandboxed frame, scripts off and
remote images blocked until "Show images" (which loads the tracking pixel, as a mail client does on that click).
Nothing here is deployed; it reads moto's SES through `GET /moto-api/data.json` on every page.
"""
from __future__ import annotations

import pathlib
import urllib.parse
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import Forbidden, HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from scripts.local_stack import Ports, ses_messages
from scripts.mailbox.recipient import REPORTS, Recipient, compose_reply
from scripts.mailbox.store import Mail, conversations, from_ses

HERE = pathlib.Path(__file__).resolve().parent
STATIC = {"mailbox.css": "text/css; charset=utf-8", "discussion.js": "application/javascript; charset=utf-8"}
# The page itself: its own scripts and styles; the API (for the discussion panel) is the only other origin.
PAGE_POLICY = "default-src 'self'; frame-src 'self'; img-src 'self' data:; connect-src 'self' {api}"
# An email's HTML: no script, no form, no plugin; remote images only after "Show images".
MAIL_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: {images}; "
               "sandbox allow-popups allow-popups-to-escape-sandbox")


class MailboxApp:
    def __init__(self, ports: Ports, token: str, message_id_domain: str, recipient: Recipient | None = None) -> None:
        self.ports = ports
        self.token = token
        self.message_id_domain = message_id_domain
        self.recipient = recipient or Recipient()
        self.sent: list[Mail] = []  # replies written on this page (a mail client's Sent folder)
        self.first_seen: dict[str, datetime] = {}  # SES message id → when this page first read it
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(default=True))
        self.urls = Map([
            Rule("/", endpoint="index"),
            Rule("/box/<address>", endpoint="mailbox"),
            Rule("/mail/<key>", endpoint="mail"),
            Rule("/mail/<key>/html", endpoint="mail_html"),
            Rule("/mail/<key>/raw", endpoint="mail_raw"),
            Rule("/mail/<key>/reply", endpoint="reply", methods=["POST"]),
            Rule("/mail/<key>/report", endpoint="report", methods=["POST"]),
            Rule("/mail/<key>/follow", endpoint="follow", methods=["POST"]),
            Rule("/static/<name>", endpoint="static"),
        ])

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, values = self.urls.bind_to_environ(environ).match()
            if request.method == "POST":
                self._same_origin(request)
            response = getattr(self, f"on_{endpoint}")(request, **values)
        except HTTPException as error:
            response = error.get_response(environ)
        return response(environ, start_response)

    def _same_origin(self, request: Request) -> None:
        """The buttons act as someone: a form posted from another site's page may not press them."""
        origin = request.headers.get("Origin")
        if origin and origin not in (self.ports.mailbox_url, f"http://localhost:{self.ports.mailbox}"):
            raise Forbidden("only this page may act as the recipient")

    def _page(self, template: str, **context: Any) -> Response:
        html = self.templates.get_template(template).render(
            ports=self.ports, token=self.token, message_id_domain=self.message_id_domain,
            notice=context.pop("notice", ""), **context)
        return Response(html, mimetype="text/html", headers={
            "Content-Security-Policy": PAGE_POLICY.format(api=self.ports.api_url), "Cache-Control": "no-store"})

    # ------------------------------------------------------------------ reading

    def mails(self) -> list[Mail]:
        return from_ses(ses_messages(self.ports), self.message_id_domain, self.first_seen) + self.sent

    def _mail(self, key: str) -> tuple[Mail, list[Mail]]:
        """The mail and every mail of its mailbox."""
        mails = self.mails()
        for mail in mails:
            if mail.key == key:
                return mail, [other for other in mails if other.mailbox == mail.mailbox]
        raise NotFound(f"no email {key}")

    def on_index(self, request: Request) -> Response:
        boxes: dict[str, list[Mail]] = {}
        for mail in self.mails():
            boxes.setdefault(mail.mailbox, []).append(mail)
        listed = sorted(boxes.items(), key=lambda item: max(mail.date for mail in item[1]), reverse=True)
        return self._page("index.html", boxes=listed)

    def on_mailbox(self, request: Request, address: str) -> Response:
        mails = [mail for mail in self.mails() if mail.mailbox == address.lower()]
        if not mails:
            raise NotFound(f"no email for {address}")
        return self._page("mailbox.html", address=address.lower(), threads=conversations(mails))

    def on_mail(self, request: Request, key: str) -> Response:
        mail, mailbox = self._mail(key)
        thread = next(thread for thread in conversations(mailbox) if mail in thread.mails)
        return self._page("mail.html", mail=mail, thread=thread, reports=REPORTS,
                          images=request.args.get("images") == "1", notice=request.args.get("notice", ""))

    def on_mail_html(self, request: Request, key: str) -> Response:
        mail, _ = self._mail(key)
        images = "http: https:" if request.args.get("images") == "1" else ""
        # Links open in a new tab, as a webmail opens them, rather than inside the frame.
        html = '<base target="_blank">' + (mail.html or "<p>(this email has no HTML part)</p>")
        return Response(html, mimetype="text/html", headers={
            "Content-Security-Policy": MAIL_POLICY.format(images=images), "Cache-Control": "no-store"})

    def on_mail_raw(self, request: Request, key: str) -> Response:
        mail, _ = self._mail(key)
        return Response(mail.raw, mimetype="text/plain", headers={"Cache-Control": "no-store"})

    def on_static(self, request: Request, name: str) -> Response:
        if name not in STATIC:
            raise NotFound()
        return Response((HERE / "static" / name).read_bytes(), content_type=STATIC[name])

    # ------------------------------------------------------------------ acting as the recipient

    def _back(self, key: str, notice: str) -> Response:
        return redirect(f"/mail/{urllib.parse.quote(key)}?" + urllib.parse.urlencode({"notice": notice}), code=303)

    def on_reply(self, request: Request, key: str) -> Response:
        mail, _ = self._mail(key)
        text = request.form.get("text", "").strip()
        sender = request.form.get("from", "").strip() or mail.mailbox
        if not text:
            return self._back(key, "Nothing sent: the reply is empty.")
        raw = compose_reply(mail, sender, text)
        outcome = self.recipient.deliver(raw, mail.reply_address)
        status = outcome.get("status", "?")
        described = f"{status}: {outcome['reason']}" if outcome.get("reason") else status
        self.sent.append(Mail(key=f"sent-{len(self.sent) + 1}", mailbox=mail.mailbox, raw=raw, delivered=raw,
                              sent_here=True, outcome=described))
        return self._back(key, f"Reply delivered to {mail.reply_address} through SES receiving; the inbound "
                               f"handler answered: {described}.")

    def on_report(self, request: Request, key: str) -> Response:
        mail, _ = self._mail(key)
        kind = request.form.get("kind", "")
        if kind not in REPORTS or mail.sent_here:
            return self._back(key, f"Nothing reported: {kind!r} is not one of {', '.join(REPORTS)}.")
        payload = self.recipient.report(kind, mail)
        return self._back(key, f"SES {kind} event for {mail.mailbox} through the SNS handler: {payload}.")

    def on_follow(self, request: Request, key: str) -> Response:
        mail, _ = self._mail(key)
        url = request.form.get("url", "")
        if url not in mail.links:
            return self._back(key, "Nothing followed: that link is not in this email.")
        status, location = self.recipient.follow(url, request.headers.get("User-Agent", ""))
        where = f", to {location}" if location else ""
        return self._back(key, f"Followed the link: the API answered {status}{where}.")
