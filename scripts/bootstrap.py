"""Create every AWS resource the app needs, from infra/resources.yaml, in whatever AWS boto3 points at.

Used by `make run` against the embedded moto server and by the tests against in-process moto, so local
resources always come from the template that deploys to AWS.
"""
from __future__ import annotations

import pathlib
from typing import Any

import boto3
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESOURCES_TEMPLATE = ROOT / "infra" / "resources.yaml"


def load_template() -> dict[str, Any]:
    return yaml.safe_load(RESOURCES_TEMPLATE.read_text())


def bootstrap(stage: str = "local", region: str = "us-east-1") -> dict[str, str]:
    """Deploy the resources stack for `stage` and return its outputs."""
    cloudformation = boto3.client("cloudformation", region_name=region)
    stack_name = f"discussion-hub-{stage}-resources"
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=RESOURCES_TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"resources stack ended in {stack['StackStatus']}")
    configure_ses(stage, region)
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


# Never open or click: AWS turns SES's own open/click tracking on for a configuration set "that has an event
# destination whose MatchingEventTypes include the OPEN or CLICK event types" (SESv2 TrackingConfigurationOverrides,
# https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_TrackingConfigurationOverrides.html): SES would add its
# pixel and rewrite every link, counting each open and click a second time. Ours is the one tracker
# (docs/mail-journeys.md, ENGAGEMENT_TRACKER).
SES_EVENT_TYPES = ["send", "reject", "bounce", "complaint", "delivery", "renderingFailure", "deliveryDelay"]


def configure_ses(stage: str, region: str) -> None:
    """The configuration set whose events (delivery, bounce, complaint, reject…) go to SNS.

    CloudFormation's SES resources are not in moto, so this step is done with the SES API, here and in
    the deploy script alike.
    """
    ses = boto3.client("ses", region_name=region)
    sns = boto3.client("sns", region_name=region)
    topic_arn = sns.create_topic(Name=f"discussion-hub-{stage}-ses-events")["TopicArn"]  # idempotent: the ARN
    name = f"discussion-hub-{stage}"
    try:
        ses.create_configuration_set(ConfigurationSet={"Name": name})
    except ses.exceptions.ConfigurationSetAlreadyExistsException:
        return  # created by the template (where CloudFormation supports SES)
    ses.create_configuration_set_event_destination(ConfigurationSetName=name, EventDestination={
        "Name": "to-sns", "Enabled": True,
        "MatchingEventTypes": SES_EVENT_TYPES,
        "SNSDestination": {"TopicARN": topic_arn}})


def route_identity_notifications(identity: str, region: str = "us-east-1", stage: str = "local") -> None:
    """Bounce, complaint and delivery notifications of a sending identity → the same SNS topic."""
    ses = boto3.client("ses", region_name=region)
    topic_arn = boto3.client("sns", region_name=region).create_topic(
        Name=f"discussion-hub-{stage}-ses-events")["TopicArn"]
    for kind in ("Bounce", "Complaint", "Delivery"):
        ses.set_identity_notification_topic(Identity=identity, NotificationType=kind, SnsTopic=topic_arn)


def configure_receiving(stage: str, reply_domain: str, region: str = "us-east-1") -> None:
    """SES receiving for a reply domain: store the raw mail in S3 and notify the inbound topic.

    On AWS the rule set must then be made active (`aws ses set-active-receipt-rule-set`), which
    CloudFormation cannot do.
    """
    ses = boto3.client("ses", region_name=region)
    topic_arn = boto3.client("sns", region_name=region).create_topic(
        Name=f"discussion-hub-{stage}-inbound-mail")["TopicArn"]
    rule_set = f"discussion-hub-{stage}"
    ses.create_receipt_rule_set(RuleSetName=rule_set)
    ses.create_receipt_rule(RuleSetName=rule_set, Rule={
        "Name": f"reply-{reply_domain}", "Enabled": True, "ScanEnabled": True, "TlsPolicy": "Optional",
        "Recipients": [reply_domain],
        "Actions": [{"S3Action": {"BucketName": f"discussion-hub-{stage}-inbound-mail", "ObjectKeyPrefix": "inbound/",
                                  "TopicArn": topic_arn}}]})
    ses.set_active_receipt_rule_set(RuleSetName=rule_set)
