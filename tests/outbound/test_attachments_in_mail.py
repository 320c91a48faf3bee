"""A message's attachments reach the email: MIME parts while the raw message stays under SES's limit, a
time-limited link beyond. Asserted on the raw bytes SES was given."""
from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests import rawmail

THREADS = "/api/tenant/threads"
CLEO = "cleo@client.example"
LIMIT = 1_000_000   # the raw-message limit for this test (SES's is 10 MB): the big file must not fit


def _pdf() -> bytes:
    """A small but well-formed one-page PDF (objects, xref table with exact offsets, trailer)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


@pytest.fixture
def small_limit(monkeypatch):
    from chalicelib.config import settings

    monkeypatch.setenv("EMAIL_MAX_RAW_BYTES", str(LIMIT))
    settings.cache_clear()
    yield
    monkeypatch.undo()
    settings.cache_clear()


def _part(raw: bytes, disposition_pattern: bytes) -> tuple[bytes, bytes]:
    """(headers, base64-decoded body) of the MIME part whose unfolded headers match the pattern."""
    for chunk in re.split(rb"\r\n--=+\d+==(?:--)?\r\n", raw):
        head, _, body = chunk.partition(b"\r\n\r\n")
        unfolded = re.sub(rb"\r\n[ \t]+", b" ", head)
        if re.search(disposition_pattern, unfolded):
            return unfolded, base64.b64decode(body)
    raise AssertionError(f"no part matches {disposition_pattern!r}")


def test_files_travel_as_parts_with_rfc2231_names_and_a_large_one_as_a_link(api, client, enabled, small_limit,
                                                                          send):
    pdf, big = _pdf(), bytes(range(256)) * 2400   # 614,400 bytes: 819 KB in base64, over this test's budget
    discussion = api.post(THREADS, {"subject": "Quote 1042", "participants": [{"email": CLEO}]}).data
    ids = []
    for name, content_type, data in (("quote.pdf", "application/pdf", pdf),
                                     ("Offre été 2027.pdf", "application/pdf", pdf),
                                     ("plans.zip", "application/zip", big)):
        uploaded = api.post(f"{THREADS}/{discussion['id']}/attachments", {
            "filename": name, "content_type": content_type, "content_base64": base64.b64encode(data).decode()})
        assert uploaded.status_code == 201, uploaded.data
        ids.append(uploaded.data["id"])
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "The quote, in two languages.", "attachment_ids": ids})
    send(discussion["id"])
    raw = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[-1].raw_data.encode()

    assert len(raw) < LIMIT and rawmail.long_lines(raw) == []
    head, data = _part(raw, rb'Content-Disposition: attachment; filename="quote.pdf"')
    assert b"Content-Type: application/pdf" in head and data == pdf
    head, data = _part(raw, rb"filename\*=utf-8''Offre%20%C3%A9t%C3%A9%202027\.pdf")   # RFC 2231
    assert data == pdf
    assert b"name=\"plans.zip\"" not in raw   # the big file is no part
    text = re.sub(rb"=\r\n", b"", raw).decode("ascii")
    link = re.search(r"- plans\.zip: (https?://\S+) \(until (.+?)\)", text.replace("=3D", "="))
    assert link, text[:3000]
    # Our own signed link, not a presigned URL: a Lambda role's credentials would expire long before 7 days.
    path = urlparse(link.group(1)).path
    assert path.startswith("/f/") and "X-Amz" not in link.group(1)
    followed = client.http.get(path)
    assert followed.status_code == 302
    target = urlparse(followed.headers["Location"])
    assert parse_qs(target.query)["X-Amz-Expires"] == ["300"]   # minted when followed, valid minutes
    assert unquote(target.path).endswith("/plans.zip")
    stored = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=target.netloc.split(".")[0], Key=unquote(target.path).lstrip("/"))["Body"].read()
    assert stored == big


def test_a_download_link_is_refused_when_forged_altered_or_expired(client, aws):
    from chalicelib import clock
    from chalicelib.discussions import downloads

    token = urlparse(downloads.link_for("tenants/t/discussions/d/attachments/a/x.zip", "x.zip", 60)).path[3:]
    payload, tag = token.split(".")
    other = urlparse(downloads.link_for("tenants/OTHER/discussions/d/attachments/a/x.zip", "x.zip", 60)).path[3:]

    assert client.http.get(f"/f/{token}").status_code == 302
    # A changed first character of the tag (its last may differ in padding bits only, or already be the new one).
    altered = ("B" if tag[0] == "A" else "A") + tag[1:]
    for forged in (f"{other.split('.')[0]}.{tag}", f"{payload}.{altered}", "garbage", f"{payload}.é"):
        assert client.http.get(f"/f/{forged}").status_code == 404, forged
    later = clock.now() + timedelta(seconds=61)
    clock.set_clock(lambda: later)
    try:
        expired = client.http.get(f"/f/{token}")
    finally:
        clock.reset_clock()
    assert expired.status_code == 410 and json.loads(expired.body)["error"]["code"] == "expired"
