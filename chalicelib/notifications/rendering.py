"""NotificationTemplates: the wording of each notification type and of the digest, as Jinja2 (text and HTML).

The repository's files (`templates/<type>.txt|html`, else `notification.txt|html`) are the defaults; a tenant
may override the subject, text and HTML of any type. Tenant templates are untrusted input: rendered in Jinja2's
immutable sandbox, HTML autoescaped, with undefined names an error, no loader (no include/import), bounded
repetition and bounded output. An override is refused when it is saved unless it renders against both a full
and a sparse sample of exactly what its type is given; one that still fails at send time (stored before these
checks) falls back to the default wording, so a tenant's template can never stop an email.
"""
from __future__ import annotations

import functools
import logging
import pathlib
from dataclasses import dataclass
from typing import Any

from chalicelib import cache
from chalicelib.notifications.models import NotificationTemplate

logger = logging.getLogger(__name__)

TEMPLATES = pathlib.Path(__file__).parent / "templates"
TYPES = ("discussion_message", "inbound_reply", "email_bounced", "community_mention", "community_thread",
         "community_reply", "digest")
MAX_OUTPUT = 200_000     # characters one tenant template may produce (the sandbox's budget: sandbox.py)

# What a template is given, with example values: an override is checked against the full sample and against
# the sparse one (every optional value missing), for its own type only.
NOTIFICATION_SAMPLE = {
    "title": "New reply in “Spring event”", "excerpt": "Sounds good to me.", "link": "https://example.com/x",
    "reason": "You get this email because you follow this conversation.", "extra_lines": ["Join: https://x"],
    "recipient_name": "Ann", "unsubscribe_url": "https://example.com/u"}
NOTIFICATION_SPARSE = {**NOTIFICATION_SAMPLE, "excerpt": None, "link": None, "extra_lines": [],
                       "recipient_name": None}
DIGEST_SAMPLE = {
    "subject": "Your daily summary: 1 notification", "recipient_name": "Ann", "count": 1,
    "period": "daily:2026-11-23", "unsubscribe_url": "https://example.com/u",
    "groups": [{"label": "Spring event", "items": [
        {"title": "New reply in “Spring event”", "excerpt": "Sounds good.", "created_at": "2026-11-23T10:00:00Z",
         "link": "https://example.com/x"}]}]}
DIGEST_SPARSE = {**DIGEST_SAMPLE, "recipient_name": None, "groups": [{"label": "Spring event", "items": [
    {"title": "New reply", "excerpt": None, "created_at": "2026-11-23T10:00:00Z", "link": None}]}]}


def samples_for(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return (DIGEST_SAMPLE, DIGEST_SPARSE) if kind == "digest" else (NOTIFICATION_SAMPLE, NOTIFICATION_SPARSE)


class TemplateRefused(Exception):
    """A tenant template that does not render (syntax, undefined name, sandbox violation, too much output)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.lru_cache(maxsize=1)
def _files() -> Any:
    from chalicelib import templating

    return templating.environment(TEMPLATES)  # precompiled when packaged


def _render_tenant(source: str, context: dict[str, Any], html: bool) -> str:
    chunks: list[str] = []
    size = 0
    from chalicelib.notifications import sandbox  # Jinja2 loads only when a tenant template is rendered

    token = sandbox.BUDGET.set(sandbox.Budget())
    try:
        for chunk in sandbox.environment(html).from_string(source).generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateRefused(f"renders more than {MAX_OUTPUT} characters")
            chunks.append(chunk)
    finally:
        sandbox.BUDGET.reset(token)
    return "".join(chunks)


def check(kind: str, subject: str | None, text: str | None, html: str | None) -> tuple[str, str] | None:
    """(field, problem) for the first part of a tenant template that does not render for its type, or None."""
    for field, source, as_html in (("subject", subject, False), ("text", text, False), ("html", html, True)):
        if not source:
            continue
        for sample in samples_for(kind):
            try:
                _render_tenant(source, sample, as_html)
            except Exception as error:  # noqa: BLE001 - anything a template raises is a refusal, never a 500
                return field, f"{type(error).__name__}: {error}"[:300]
    return None


def override_of(tenant_id: str, kind: str) -> NotificationTemplate | None:
    try:
        return NotificationTemplate.get(tenant_id, kind)
    except NotificationTemplate.DoesNotExist:
        return None


def one_line(subject: str) -> str:
    """A subject is one header line: whitespace (CR/LF included) collapses, at most 300 characters."""
    return " ".join(subject.split())[:300]


@cache.for_a_minute
def _recent_override(tenant_id: str, kind: str) -> NotificationTemplate | None:
    return override_of(tenant_id, kind)


def forget_override(tenant_id: str, kind: str) -> None:
    """A template was just saved or deleted here: this container reads it again at its next render."""
    _recent_override.forget(tenant_id, kind)


def render(tenant_id: str, kind: str, context: dict[str, Any]) -> Rendered:
    """An email from the tenant's template of `kind` (read at most a minute ago: renders come user after user)
    or, when it has none or it fails, from the default files."""
    override = _recent_override(tenant_id, kind)
    files = _files()
    default = Rendered(one_line(context.get("subject") or context.get("title") or "Notification"),
                       files.get_template(_file_for(kind, "txt")).render(context),
                       files.get_template(_file_for(kind, "html")).render(context))
    if override is None:
        return default
    try:
        subject = one_line(_render_tenant(override.subject, context, False)) if override.subject else ""
        return Rendered(subject or default.subject,
                        _render_tenant(override.text, context, False) if override.text else default.text,
                        _render_tenant(override.html, context, True) if override.html else default.html)
    except Exception:  # noqa: BLE001 - a tenant template must never stop an email: the default goes instead
        logger.warning("tenant %s template %s failed; using the default", tenant_id, kind, exc_info=True)
        return default


def _file_for(kind: str, extension: str) -> str:
    name = f"{kind}.{extension}"
    return name if (TEMPLATES / name).exists() else f"notification.{extension}"
