"""Settings from the environment, read once per process (lazily, so tests and `chalice local` can set them first)."""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import overload


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    attachments_bucket: str
    jwt_secret: str | None
    jwt_issuer: str | None
    jwt_audience: str | None
    jwt_jwks_url: str | None
    cursor_secret_value: str | None
    default_reply_domain: str
    attachment_max_bytes: int
    attachment_url_seconds: int
    max_request_bytes: int
    public_base_url: str
    ses_message_id_domain: str
    ses_configuration_set: str | None
    signing_secret_value: str | None
    static_pixel_url: str
    app_discussion_url: str
    app_community_thread_url: str
    engagement_tracker: str
    email_max_raw_bytes: int
    attachment_link_seconds: int
    ses_max_send_rate: float

    def discussion_url(self, discussion_id: str) -> str:
        """Where a person opens a discussion in the app (APP_DISCUSSION_URL); never a JSON API URL."""
        return self.app_discussion_url.replace("{id}", discussion_id)

    def community_thread_url(self, thread_id: int | str) -> str:
        """Where a member opens a community thread in the app (APP_COMMUNITY_THREAD_URL)."""
        return self.app_community_thread_url.replace("{id}", str(thread_id))

    @property
    def our_tracker(self) -> bool:
        """True (default): our pixel and click links count opens and clicks, and SES's Open/Click events are
        ignored. ENGAGEMENT_TRACKER=ses turns ours off; SES's tracker then needs a configuration-set event
        destination with OPEN and CLICK, which infra/resources.yaml deliberately does not have."""
        return self.engagement_tracker != "ses"
    cors_allowed_origins: tuple[str, ...]
    # Each answer of a route checked against its response model (stage local, so the tests; chalicelib/http.py).
    check_responses: bool

    def table_name(self, short_name: str) -> str:
        return f"{self.table_prefix}-{short_name}"

    @property
    def signing_secret(self) -> str:
        """Key of reply keys, tracking ids and unsubscribe links."""
        return self._secret(self.signing_secret_value, "SIGNING_SECRET", "local-signing-secret")

    @property
    def cursor_secret(self) -> str:
        return self._secret(self.cursor_secret_value, "CURSOR_SECRET", "local-cursor-secret")

    def _secret(self, value: str | None, name: str, local_default: str) -> str:
        if value:
            return value
        if self.stage != "local":
            # Fail closed: on a built-in default anyone could forge reply keys, tracking ids, unsubscribe links
            # and cursors. The deploy template sets both secrets from Secrets Manager.
            raise RuntimeError(f"{name} must be set on a deployed stage")
        return local_default

    @property
    def uses_local_tokens(self) -> bool:
        """Stage `local` verifies HS256 tokens signed with JWT_SECRET; every other stage RS256 via JWKS."""
        return self.stage == "local"


def stage_resource(suffix: str) -> str:
    """`discussion-hub-STAGE-suffix`: SNS topics and SQS queues are named per stage, so stages share an account.

    Read from the environment directly (not `settings()`): app.py names its event sources when `chalice package`
    imports it, with STAGE set by the deploy script."""
    return f"discussion-hub-{os.environ.get('STAGE') or 'local'}-{suffix}"


@overload
def _env(name: str, default: str) -> str: ...
@overload
def _env(name: str, default: None = None) -> str | None: ...
def _env(name: str, default: str | None = None) -> str | None:
    """An environment variable; unset and empty both mean `default`."""
    value = os.environ.get(name)
    return value if value else default


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    stage = _env("STAGE", "local")
    issuer = _env("JWT_ISSUER")
    return Settings(
        stage=stage,
        region=_env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1")),
        table_prefix=_env("TABLE_PREFIX", f"discussion-hub-{stage}"),
        attachments_bucket=_env("ATTACHMENTS_BUCKET", f"discussion-hub-{stage}-attachments"),
        jwt_secret=_env("JWT_SECRET"),
        jwt_issuer=issuer,
        jwt_audience=_env("JWT_AUDIENCE"),
        jwt_jwks_url=_env("JWT_JWKS_URL", f"{issuer.rstrip('/')}/.well-known/jwks.json" if issuer else None),
        cursor_secret_value=_env("CURSOR_SECRET", _env("JWT_SECRET")),
        default_reply_domain=_env("DEFAULT_REPLY_DOMAIN", "reply.discussionhub.local"),
        attachment_max_bytes=int(_env("ATTACHMENT_MAX_BYTES", str(4 * 1024 * 1024))),
        attachment_url_seconds=int(_env("ATTACHMENT_URL_SECONDS", "900")),
        max_request_bytes=int(_env("MAX_REQUEST_BYTES", str(6 * 1024 * 1024))),
        public_base_url=_env("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        # SES rewrites Message-ID to <SES-ID@DOMAIN>; the domain is not promised, so it is a setting.
        ses_message_id_domain=_env("SES_MESSAGE_ID_DOMAIN", _default_ses_domain(
            _env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1")))),
        ses_configuration_set=_env("SES_CONFIGURATION_SET"),
        signing_secret_value=_env("SIGNING_SECRET", _env("JWT_SECRET")),
        static_pixel_url=_env("STATIC_PIXEL_URL", "https://static.discussionhub.local/pixel.gif"),
        # Links meant for a person open the web app, not the JSON API (which answers 401 in a browser).
        app_discussion_url=_env("APP_DISCUSSION_URL", "http://localhost:3000/discussions/{id}"),
        app_community_thread_url=_env("APP_COMMUNITY_THREAD_URL", "http://localhost:3000/community/threads/{id}"),
        engagement_tracker=_env("ENGAGEMENT_TRACKER", "hub").lower(),
        # SES v1 SendRawEmail takes at most 10 MB per raw message, attachments and base64 included.
        email_max_raw_bytes=int(_env("EMAIL_MAX_RAW_BYTES", str(10_000_000))),
        attachment_link_seconds=int(_env("ATTACHMENT_LINK_SECONDS", str(7 * 24 * 3600))),
        # Browser origins allowed to call the API and read /openapi.json (chalicelib/cors.py); none unless set.
        cors_allowed_origins=origins(_env("CORS_ALLOWED_ORIGINS", "")),
        # Emails per second for the whole account; 0 (default) reads it from SES (GetSendQuota). moto answers 1.
        ses_max_send_rate=float(_env("SES_MAX_SEND_RATE", "0")),
        check_responses=_env("CHECK_RESPONSES", "false").lower() == "true",
    )


def origins(value: str) -> tuple[str, ...]:
    """`https://a.example, http://localhost:5173` → each origin as a browser sends it (no trailing slash)."""
    return tuple(origin.strip().rstrip("/") for origin in re.split(r"[,\s]+", value) if origin.strip())


def _default_ses_domain(region: str) -> str:
    return "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
