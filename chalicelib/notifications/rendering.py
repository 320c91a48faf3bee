"""NotificationTemplates: the wording of each notification type and of the digest, as Jinja2 (text and HTML).

The repository's files (`templates/<type>.txt|html`, else `notification.txt|html`) are the defaults; a tenant
may override the subject, text and HTML of any type. Tenant templates are untrusted input and are rendered
in Jinja2's sandbox, HTML autoescaped; a tenant template that fails falls back to the default.
"""
from __future__ import annotations

import functools
import logging
import pathlib
from dataclasses import dataclass
from typing import Any

from chalicelib.notifications.models import NotificationTemplate

logger = logging.getLogger(__name__)

TEMPLATES = pathlib.Path(__file__).parent / "templates"
TYPES = ("discussion_message", "inbound_reply", "email_bounced", "community_mention", "community_thread",
         "community_reply", "digest")
# What a template may use, with example values: the sample context an override is checked against.
SAMPLE = {"title": "New reply in “Spring event”", "excerpt": "Sounds good to me.", "link": "https://example.com/x",
          "reason": "You get this email because you follow this conversation.", "extra_lines": ["Join: https://x"],
          "recipient_name": "Ann", "groups": [{"label": "Spring event", "items": [
              {"title": "New reply in “Spring event”", "excerpt": "Sounds good.", "created_at": "2026-11-23T10:00:00Z",
               "link": None}]}], "count": 1, "period": "daily:2026-11-23", "unsubscribe_url": "https://example.com/u"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.lru_cache(maxsize=1)
def _files() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              autoescape=jinja2.select_autoescape(["html"]), keep_trailing_newline=True)


@functools.lru_cache(maxsize=2)
def _sandbox(html: bool) -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(autoescape=html)


def _file_for(kind: str, extension: str) -> str:
    name = f"{kind}.{extension}"
    return name if (TEMPLATES / name).exists() else f"notification.{extension}"


def check(subject: str | None, text: str | None, html: str | None) -> str | None:
    """The first problem of a tenant template (syntax, sandbox violation), or None when it renders."""
    from jinja2 import TemplateError

    for source, as_html in ((subject, False), (text, False), (html, True)):
        if source:
            try:
                _sandbox(as_html).from_string(source).render(SAMPLE)
            except TemplateError as error:
                return str(error)
    return None


def override_of(tenant_id: str, kind: str) -> NotificationTemplate | None:
    try:
        return NotificationTemplate.get(tenant_id, kind)
    except NotificationTemplate.DoesNotExist:
        return None


def render(tenant_id: str, kind: str, context: dict[str, Any]) -> Rendered:
    from jinja2 import TemplateError

    override = override_of(tenant_id, kind)
    files = _files()
    default = Rendered(context.get("subject") or context.get("title") or "Notification",
                       files.get_template(_file_for(kind, "txt")).render(context),
                       files.get_template(_file_for(kind, "html")).render(context))
    if override is None:
        return default
    try:
        return Rendered(
            _sandbox(False).from_string(override.subject).render(context).strip()[:300] if override.subject
            else default.subject,
            _sandbox(False).from_string(override.text).render(context) if override.text else default.text,
            _sandbox(True).from_string(override.html).render(context) if override.html else default.html)
    except TemplateError:
        logger.warning("tenant %s template %s failed; using the default", tenant_id, kind, exc_info=True)
        return default
