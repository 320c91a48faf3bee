"""Documents attached to a discussion: checked, stored in S3, listed with time-limited download URLs."""
from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock, ids, storage
from chalicelib.auth import Principal
from chalicelib.config import settings
from chalicelib.discussions import service
from chalicelib.discussions.models import Attachment, AttachmentMap
from chalicelib.errors import Conflict, NotFound, PayloadTooLarge, ValidationError

ALLOWED_CONTENT_TYPES = {
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "text/csv",
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/zip", "message/rfc822", "text/calendar",
}
EXECUTABLE_EXTENSIONS = {
    "exe", "bat", "cmd", "com", "scr", "pif", "msi", "msp", "dll", "js", "jse", "vbs", "vbe", "wsf", "wsh",
    "ps1", "psm1", "jar", "sh", "app", "apk", "hta", "cpl", "reg", "lnk", "iso", "dmg",
}
MAX_ATTACHMENTS_PER_MESSAGE = 10
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_DISPLAY_NAME = re.compile(r"[^\w. -]+")   # letters and digits of any script: "Offre été.pdf" stays as typed


def safe_filename(filename: str) -> str:
    """A name safe for an S3 key and a Content-Disposition header."""
    name = _SAFE_NAME.sub("_", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return name[:200] or "attachment"


def display_filename(filename: str) -> str:
    """The name people see (download, email attachment): any script's letters kept, no path or punctuation."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    return _DISPLAY_NAME.sub("_", name).strip(" .")[:200] or "attachment"


def check_file(filename: str, content_type: str, size: int) -> None:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in EXECUTABLE_EXTENSIONS:
        raise ValidationError(f"files of type .{extension} are not accepted", field="filename")
    if content_type not in ALLOWED_CONTENT_TYPES:
        raise ValidationError("content_type is not an accepted document type", field="content_type")
    if size > settings().attachment_max_bytes:
        raise PayloadTooLarge(f"an attachment is at most {settings().attachment_max_bytes} bytes",
                              field="content_base64")
    if size == 0:
        raise ValidationError("the file is empty", field="content_base64")


def decode_content(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise ValidationError("content_base64 is required (the file, base64-encoded)", field="content_base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("content_base64 is not valid base64", field="content_base64") from None


def store(tenant_id: str, discussion_id: str, *, filename: str, content_type: str, content: bytes,
          uploaded_by: str, message_id: str | None = None) -> Attachment:
    """Store the bytes in S3, then the record; an S3 object without a record is harmless and expires."""
    name = display_filename(filename)
    check_file(name, content_type, len(content))
    attachment_id = ids.new_id()
    key = f"tenants/{tenant_id}/discussions/{discussion_id}/attachments/{attachment_id}/{safe_filename(name)}"
    storage.put_object(settings().attachments_bucket, key, content, content_type)
    record = Attachment(service.discussion_key(tenant_id, discussion_id), attachment_id, tenant_id=tenant_id,
                        discussion_id=discussion_id, message_id=message_id, filename=name,
                        content_type=content_type, size=len(content), s3_key=key, uploaded_by=uploaded_by,
                        created_at=clock.now_iso())
    record.save()
    return record


def upload(principal: Principal, discussion_id: str, *, filename: str, content_type: str,
           content: bytes) -> Attachment:
    discussion = service.load(principal.tenant_id, discussion_id)
    if discussion.status == "closed":
        raise Conflict("the discussion is closed; reopen it to attach documents", field="status")
    return store(principal.tenant_id, discussion_id, filename=filename, content_type=content_type,
                 content=content, uploaded_by=principal.user_id)


def for_message(tenant_id: str, discussion_id: str, attachment_ids: list[str]) -> list[AttachmentMap]:
    """The attachments a new message refers to, all of this discussion; one BatchGet."""
    if len(attachment_ids) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise ValidationError(f"a message has at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments",
                              field="attachment_ids")
    key = service.discussion_key(tenant_id, discussion_id)
    found = {a.attachment_id: a for a in Attachment.batch_get([(key, i) for i in attachment_ids])}
    missing = [i for i in attachment_ids if i not in found]
    if missing:
        raise NotFound(f"attachment {missing[0]} does not exist in this discussion", field="attachment_ids")
    return [AttachmentMap(id=a.attachment_id, filename=a.filename, content_type=a.content_type, size=a.size,
                          s3_key=a.s3_key) for a in (found[i] for i in attachment_ids)]


def get(tenant_id: str, discussion_id: str, attachment_id: str) -> Attachment | None:
    try:
        return Attachment.get(service.discussion_key(tenant_id, discussion_id), attachment_id)
    except DoesNotExist:
        return None


def list_for_discussion(tenant_id: str, discussion_id: str, limit: int, cursor: str | None) -> service.Page:
    from chalicelib.db import decode_cursor, encode_cursor

    key = service.discussion_key(tenant_id, discussion_id)
    scope = f"{key}|attachments"
    results = Attachment.query(key, limit=limit, last_evaluated_key=decode_cursor(cursor, scope))
    items = list(results)
    return service.Page(items, encode_cursor(results.last_evaluated_key, scope))


def describe(filename: str, content_type: str, size: int, s3_key: str, attachment_id: str) -> dict[str, Any]:
    seconds = settings().attachment_url_seconds
    return {
        "id": attachment_id, "filename": filename, "content_type": content_type, "size": int(size),
        "download_url": storage.download_url(settings().attachments_bucket, s3_key, safe_filename(filename), seconds),
        "download_url_expires_in": seconds,
    }
