"""Mail at a reply address that is not a person's reply: recorded, never posted, never answered; and the
receipt notification's other delivery, the mail inline in an SNS action."""
from __future__ import annotations

import base64
import copy
import json
from email.message import EmailMessage
from email.policy import SMTP

import boto3
import pytest

from scripts.deliver_mail import deliver
from tests.corpus import fixture
from tests.inbound.test_receive import CLEO, INBOUND, _messages, _reply

SES_BOUNCE = fixture("ses/identity_bounce_permanent_general_with_dsn.json").read_text()
SES_DELIVERY = fixture("ses/identity_delivery.json").read_text()


def _sns_email(reply_to: str, notification: str) -> bytes:
    """An SES notification sent by Amazon SNS's email protocol, as it reaches an address subscribed to a topic."""
    message = EmailMessage(policy=SMTP)
    message["From"] = "AWS Notifications <no-reply@sns.amazonaws.com>"
    message["To"], message["Subject"] = reply_to, "AWS Notification Message"
    message["Message-ID"] = f"<sns-{abs(hash(notification))}@email.amazonses.com>"
    message.set_content(json.dumps(json.loads(notification)) + "\n\n--\nIf you wish to stop receiving notifications "
                        "from this topic, please click or visit the link below to unsubscribe:\n"
                        "https://sns.us-east-1.amazonaws.com/unsubscribe.html?SubscriptionArn=arn:aws:sns:x\n")
    return message.as_bytes()


@pytest.mark.parametrize("notification, outcome", [(SES_BOUNCE, "bounce"), (SES_DELIVERY, "automatic")],
                         ids=["bounce", "delivery"])
def test_ses_notifications_mailed_by_sns_are_not_replies(api, client, conversation, outbox, make_api, notification,
                                                         outcome):
    discussion, reply_to, _ = conversation
    sent_before = len(outbox())

    result = deliver(client, _sns_email(reply_to, notification), [reply_to])

    assert result[0]["status"] == outcome and "Amazon SNS notification" in result[0]["reason"]
    assert len(_messages(api, discussion)) == 1 and len(outbox()) == sent_before
    [record] = make_api(roles=["staff"]).get(f"{INBOUND}?outcome={outcome}").data["items"]
    assert record["sender"] == "no-reply@sns.amazonaws.com" and record["preview"].startswith('{"notificationType"')


def _sns_action_event(client, reply_to: str, raw: bytes, encoding: str) -> dict:
    notification = copy.deepcopy(json.loads(fixture("ses/received_sns_action_utf8_content.json").read_text()))
    notification["receipt"]["recipients"] = [reply_to]
    notification["receipt"]["action"]["encoding"] = encoding
    notification["content"] = base64.b64encode(raw).decode() if encoding == "BASE64" else raw.decode()
    return client.events.generate_sns_event(message=json.dumps(notification))


@pytest.mark.parametrize("encoding", ["UTF8", "BASE64"])
def test_a_mail_delivered_inline_by_an_sns_action_is_posted_and_kept_in_s3(api, client, conversation, make_api,
                                                                            encoding):
    discussion, reply_to, _ = conversation
    raw = _reply(reply_to, body=f"Inline {encoding} delivery works.")

    result = client.lambda_.invoke("inbound_mail", _sns_action_event(client, reply_to, raw, encoding)).payload

    assert result[0]["status"] == "posted"
    assert _messages(api, discussion)[-1] == {**_messages(api, discussion)[-1], "author": CLEO,
                                              "body": f"Inline {encoding} delivery works."}
    from chalicelib.mail.models import InboundRecord

    [record] = InboundRecord.query("tenant-a")
    bucket, _, key = record.raw_s3_key.removeprefix("s3://").partition("/")
    assert boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == raw


def test_a_notification_that_is_not_a_receipt_is_acknowledged_and_changes_nothing(api, client, conversation):
    discussion, _, _ = conversation
    setup = {"notificationType": "AMAZON_SES_SETUP_NOTIFICATION", "receipt": {}}

    result = client.lambda_.invoke("inbound_mail", client.events.generate_sns_event(message=json.dumps(setup)))

    assert result.payload[0]["status"] == "automatic" and len(_messages(api, discussion)) == 1
