"""SMS for urgent and high notifications only (cost), through Amazon SNS, when the tenant enables it.

Claimed on the notification before SNS is called, like email (chalicelib/claims.py): a rerun never texts twice, a
run that died before SNS is taken over, and one that died while SNS had the text is listed for an operator (a text
is a courtesy ping beside the email and the in-app notification: it is dismissed there, never resent).
"""
from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as NoConnection

from chalicelib import aws, claims
from chalicelib.notifications.models import Notification
from chalicelib.notifications.service import user_key

logger = logging.getLogger(__name__)
MAX_LENGTH = 160


def client() -> Any:
    return aws.client("sns")


def text_of(title: str) -> str:
    text = " ".join(title.split())
    return text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH - 1] + "…"


def _describe(item: Notification) -> tuple[str, dict[str, Any]]:
    return item.tenant_id, {"user_id": item.user_id, "notification_id": item.notification_id, "title": item.title}


SMS = claims.Work(kind="notification_sms", status=Notification.sms_status, claim=Notification.sms_claim,
                  ready=(None,), lease_seconds=330, describe=_describe)


def deliver_now(tenant_id: str, user_id: str, notification_id: str, phone: str, title: str) -> str:
    from chalicelib import jobs

    claim = claims.take(Notification(user_key(tenant_id, user_id), notification_id), SMS)
    if claim.state == claims.BUSY:
        raise jobs.RetryLater(claim.retry_in, f"notification {notification_id} is being texted by another run")
    if not claim.held:
        return claims.UNCERTAIN if claim.state == claims.UNCERTAIN else "already claimed"
    claim.reach(claims.CALLING)
    try:
        client().publish(PhoneNumber=phone, Message=text_of(title),
                         MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                                                    "StringValue": "Transactional"}})
        status = "sent"
    except (ClientError, NoConnection):  # SNS answered without sending, or was never reached
        logger.warning("SMS for notification %s not sent", notification_id, exc_info=True)
        status = "failed"
    claim.finish(status)
    return status
