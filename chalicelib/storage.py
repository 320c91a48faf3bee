"""The one place that talks to S3: attachment and raw-mail objects, and time-limited download URLs."""
from __future__ import annotations

from typing import Any

from chalicelib import aws


def s3() -> Any:
    # Created on first use (aws.client): routes that never touch S3 do not pay for it at cold start.
    return aws.client("s3")


def put_object(bucket: str, key: str, body: bytes, content_type: str) -> None:
    s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type,
                    ServerSideEncryption="AES256")


def download_url(bucket: str, key: str, filename: str, seconds: int) -> str:
    return s3().generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{filename}"'},
        ExpiresIn=seconds,
    )


def get_object(bucket: str, key: str) -> bytes:
    return s3().get_object(Bucket=bucket, Key=key)["Body"].read()
