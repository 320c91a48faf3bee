"""SMS for urgent and high notifications only (cost), through Amazon SNS, when the tenant enables it.

Claimed on the notification before SNS is called, like email: a rerun never texts twice.
"""
from __future__ import annotations

import functools
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import UpdateError

from chalicelib.config import settings
from chalicelib.notifications.models import Notification
from chalicelib.notifications.service import user_key

logger = logging.getLogger(__name__)
MAX_LENGTH = 160


@functools.lru_cache(maxsize=1)
def client() -> Any:
    import boto3

    return boto3.client("sns", region_name=settings().region)


def text_of(title: str) -> str:
    text = " ".join(title.split())
    return text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH - 1] + "…"


def deliver_now(tenant_id: str, user_id: str, notification_id: str, phone: str, title: str) -> str:
    record = Notification(user_key(tenant_id, user_id), notification_id)
    try:
        record.update(actions=[Notification.sms_status.set("sending")],
                      condition=Notification.notification_id.exists() & Notification.sms_status.does_not_exist())
    except UpdateError:
        return "already claimed"
    try:
        client().publish(PhoneNumber=phone, Message=text_of(title),
                         MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                                                    "StringValue": "Transactional"}})
        status = "sent"
    except (BotoCoreError, ClientError):
        logger.warning("SMS for notification %s not sent", notification_id, exc_info=True)
        status = "failed"
    record.update(actions=[Notification.sms_status.set(status)])
    return status
