"""Attachments: stored in S3 under the tenant, checked for type and size, returned with a time-limited URL."""
from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

THREADS = "/api/tenant/threads"
PDF = base64.b64encode(b"%PDF-1.4 the quote").decode()


def _upload(api, discussion_id, **overrides):
    body = {"filename": "quote.pdf", "content_type": "application/pdf", "content_base64": PDF, **overrides}
    return api.post(f"{THREADS}/{discussion_id}/attachments", body)


def test_upload_stores_the_file_and_returns_a_download_url(api):
    discussion = api.post(THREADS, {"subject": "S"}).data["id"]
    response = _upload(api, discussion)
    assert response.status_code == 201
    attachment = response.data
    assert (attachment["filename"], attachment["content_type"], attachment["size"]) == \
        ("quote.pdf", "application/pdf", len(b"%PDF-1.4 the quote"))
    url = urlparse(attachment["download_url"])
    assert f"tenants/tenant-a/discussions/{discussion}/attachments/{attachment['id']}/quote.pdf" in url.path
    assert parse_qs(url.query)["X-Amz-Expires"] == ["900"]
    key = f"tenants/tenant-a/discussions/{discussion}/attachments/{attachment['id']}/quote.pdf"
    stored = boto3.client("s3").get_object(Bucket="discussion-hub-local-attachments", Key=key)
    assert stored["Body"].read() == b"%PDF-1.4 the quote"
    listed = api.get(f"{THREADS}/{discussion}/attachments").data["items"]
    assert [a["id"] for a in listed] == [attachment["id"]]


def test_a_message_can_carry_uploaded_attachments(api):
    discussion = api.post(THREADS, {"subject": "S"}).data["id"]
    attachment = _upload(api, discussion).data
    message = api.post(f"{THREADS}/{discussion}/messages",
                       {"body": "see attached", "attachment_ids": [attachment["id"]]}).data["message"]
    assert [(a["id"], a["filename"]) for a in message["attachments"]] == [(attachment["id"], "quote.pdf")]
    assert message["attachments"][0]["download_url"].startswith("http")


def test_attachments_of_another_discussion_cannot_be_referenced(api):
    first = api.post(THREADS, {"subject": "a"}).data["id"]
    second = api.post(THREADS, {"subject": "b"}).data["id"]
    attachment = _upload(api, first).data
    response = api.post(f"{THREADS}/{second}/messages", {"body": "x", "attachment_ids": [attachment["id"]]})
    assert response.status_code == 404 and response.data["error"]["field"] == "attachment_ids"


@pytest.mark.parametrize("overrides, status, field", [
    ({"filename": "invoice.exe", "content_type": "application/pdf"}, 400, "filename"),
    ({"filename": "run.js"}, 400, "filename"),
    ({"content_type": "application/x-msdownload"}, 400, "content_type"),
    ({"content_base64": "not base64!"}, 400, "content_base64"),
    ({"content_base64": ""}, 400, "content_base64"),
    ({"filename": ""}, 400, "filename"),
])
def test_refused_uploads_name_the_field(api, overrides, status, field):
    discussion = api.post(THREADS, {"subject": "S"}).data["id"]
    response = _upload(api, discussion, **overrides)
    assert response.status_code == status and response.data["error"]["field"] == field
    assert api.get(f"{THREADS}/{discussion}/attachments").data["items"] == []


def test_oversized_upload_is_413(api, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("ATTACHMENT_MAX_BYTES", "10")
    config.settings.cache_clear()
    discussion = api.post(THREADS, {"subject": "S"}).data["id"]
    try:
        response = _upload(api, discussion)
    finally:
        config.settings.cache_clear()
    assert response.status_code == 413


def test_filenames_are_made_safe(api):
    discussion = api.post(THREADS, {"subject": "S"}).data["id"]
    response = _upload(api, discussion, filename="../../etc/pass\"wd;.pdf")
    assert response.data["filename"] == "pass_wd_.pdf"


def test_closed_discussions_take_no_attachments(api):
    discussion = api.post(THREADS, {"subject": "S"}).data["id"]
    api.post(f"{THREADS}/{discussion}/close")
    assert _upload(api, discussion).status_code == 409
