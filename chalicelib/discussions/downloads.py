"""Download links for attachments too large to travel in an email: our own signed link, not a presigned S3 URL.

A presigned URL lives at most as long as the credentials that signed it, and a Lambda's role credentials last
hours, not the days an email is kept (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html).
So the email carries `/f/{token}`: the object and an expiry, signed with SIGNING_SECRET. Following it checks the
signature and the expiry, then redirects to a presigned URL made at that moment and valid for minutes.
"""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import clock, signing, storage
from chalicelib.config import settings

blueprint = Blueprint(__name__)
PURPOSE = "download"
REDIRECT_SECONDS = 300
NO_CACHE = {"Cache-Control": "no-store"}


def link_for(s3_key: str, filename: str, seconds: int) -> str:
    """A link that works for `seconds` (ATTACHMENT_LINK_SECONDS), whatever credentials signed it."""
    expires = int(clock.now().timestamp()) + seconds
    return f"{settings().public_base_url}/f/{signing.sign_token(PURPOSE, [s3_key, filename, expires])}"


def _error(status: int, code: str, message: str) -> Response:
    return Response(body={"error": {"code": code, "message": message}}, status_code=status,
                    headers={"Content-Type": "application/json", **NO_CACHE})


@blueprint.route("/f/{token}", methods=["GET"])
def download(token: str) -> Response:
    """302 to a fresh short-lived S3 URL; 404 for a forged or altered link, 410 once it has expired."""
    values = signing.verify_token(PURPOSE, token)
    if values is None or len(values) != 3 or not isinstance(values[0], str) or not isinstance(values[1], str) \
            or not isinstance(values[2], int) or isinstance(values[2], bool):
        return _error(404, "not_found", "unknown link")
    s3_key, filename, expires = values
    if clock.now().timestamp() > expires:
        return _error(410, "expired", "this download link has expired; ask the sender for the file again")
    url = storage.download_url(settings().attachments_bucket, s3_key, filename, REDIRECT_SECONDS)
    return Response(body="", status_code=302, headers={"Location": url, **NO_CACHE})
