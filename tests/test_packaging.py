"""`make deploy`'s template: Chalice's, merged with infra/, is valid, least-privilege, alarmed and per stage."""
from __future__ import annotations

import re
import zipfile
from importlib.metadata import version

import pytest
import yaml

from scripts.deploy import build

pytestmark = pytest.mark.slow  # builds the Lambda package with `chalice package`


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """The packaged, merged and cfn-linted template of stage `dev` (what `make deploy STAGE=dev` deploys)."""
    return build("dev", tmp_path_factory.mktemp("deploy"), "us-east-1")


@pytest.fixture(scope="module")
def template(packaged):
    return yaml.safe_load(packaged.read_text())


def _of_type(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_every_function_has_an_error_alarm_to_the_alerts_topic(template):
    functions = _of_type(template, "AWS::Serverless::Function")
    alarmed = {alarm["Properties"]["Dimensions"][0]["Value"]["Ref"]
               for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values()
               if alarm["Properties"]["MetricName"] == "Errors"}

    assert set(functions) == alarmed == {"APIHandler", "SesEvents", "InboundMail", "Jobs", "DigestTick",
                                         "RetryFailedSends", "SweepJobs"}
    for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertsTopic"}]


def test_ses_reputation_and_dead_letter_alarms_are_at_the_review_levels(template):
    alarms = {a["Properties"]["MetricName"] + ":" + str(a["Properties"].get("Dimensions", "")): a["Properties"]
              for a in _of_type(template, "AWS::CloudWatch::Alarm").values()}
    bounce = next(a for k, a in alarms.items() if k.startswith("Reputation.BounceRate"))
    complaint = next(a for k, a in alarms.items() if k.startswith("Reputation.ComplaintRate"))
    queues = {a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for k, a in alarms.items()
              if k.startswith("ApproximateNumberOfMessagesVisible")}

    assert (bounce["Threshold"], bounce["ComparisonOperator"]) == (0.05, "GreaterThanThreshold")
    assert (complaint["Threshold"], complaint["ComparisonOperator"]) == (0.001, "GreaterThanThreshold")
    assert queues == {"SesEventsDeadLetterQueue", "InboundMailDeadLetterQueue", "JobsDeadLetterQueue"}


def test_functions_get_only_what_they_need(template):
    roles = _of_type(template, "AWS::IAM::Role")
    app = template["Resources"]["AppAccessPolicy"]["Properties"]
    statements = app["PolicyDocument"]["Statement"]

    assert {role["Ref"] for role in app["Roles"]} == set(roles)
    for role in roles.values():  # Chalice's own policy: logs only
        [policy] = role["Properties"]["Policies"]
        assert [s["Action"] for s in policy["PolicyDocument"]["Statement"]] == [
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]]
    # Actions with no resource type in the Service Authorization Reference (SES v1 identity and receipt-rule
    # management, CloudWatch PutMetricData) can only be granted on "*"; nothing else may be.
    unscoped = {"ses:VerifyDomainDkim", "ses:VerifyEmailIdentity", "ses:GetIdentityVerificationAttributes",
                "ses:GetIdentityDkimAttributes", "ses:DeleteIdentity", "ses:DescribeActiveReceiptRuleSet",
                "ses:CreateReceiptRule", "cloudwatch:PutMetricData"}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions
        assert statement.get("Resource") != "*" or set(actions) <= unscoped, statement
    tables = next(s for s in statements if s["Sid"] == "Tables")["Resource"][0]["Fn::Sub"]
    assert tables.endswith(":table/discussion-hub-${Stage}-*")
    assert not any(action.endswith(("Scan", "DeleteTable", "CreateTable")) for s in statements
                   for action in s["Action"])


def test_handlers_have_dead_letter_queues_and_stage_named_sources(template):
    resources = template["Resources"]
    for function, queue in (("SesEvents", "SesEventsDeadLetterQueue"), ("InboundMail", "InboundMailDeadLetterQueue")):
        assert resources[function]["Properties"]["DeadLetterQueue"] == {
            "Type": "SQS", "TargetArn": {"Fn::GetAtt": [queue, "Arn"]}}
    assert resources["JobsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    topic = resources["SesEvents"]["Properties"]["Events"]["SesEventsSnsSubscription"]["Properties"]["Topic"]
    queue = resources["Jobs"]["Properties"]["Events"]["JobsSqsEventSource"]["Properties"]["Queue"]
    assert topic["Fn::Sub"].endswith(":discussion-hub-dev-ses-events")
    assert queue["Fn::Sub"].endswith(":discussion-hub-dev-jobs")
    assert resources["SesEventsTopic"]["Properties"]["TopicName"] == {"Fn::Sub": "discussion-hub-${Stage}-ses-events"}
    assert resources["Jobs"]["Properties"]["Timeout"] < resources["JobsQueue"]["Properties"]["VisibilityTimeout"]


def test_deploy_parameters_and_secrets_reach_every_function(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]

    assert set(template["Parameters"]) >= {"Stage", "ReplyDomain", "FromAddress", "JwtIssuer", "JwtAudience",
                                           "AlertEmail", "PublicBaseUrl"}
    assert variables["JWT_ISSUER"] == {"Ref": "JwtIssuer"}
    assert "secretsmanager:${AppSecret}" in variables["SIGNING_SECRET"]["Fn::Sub"]
    assert "secretsmanager:${AppSecret}" in variables["CURSOR_SECRET"]["Fn::Sub"]
    for function in _of_type(template, "AWS::Serverless::Function").values():
        own = function["Properties"]["Environment"]["Variables"]
        assert not {"JWT_ISSUER", "SIGNING_SECRET", "CURSOR_SECRET"} & set(own)  # would shadow the globals


def test_ses_sending_and_receiving_are_declared(template):
    resources = template["Resources"]
    rule = resources["InboundRule"]["Properties"]["Rule"]

    assert resources["SesConfigurationSetToSns"]["Properties"]["EventDestination"]["SnsDestination"] == {
        "TopicARN": {"Ref": "SesEventsTopic"}}
    assert rule["Recipients"] == [{"Ref": "ReplyDomain"}] and rule["ScanEnabled"] is True
    assert rule["Actions"][0]["S3Action"]["TopicArn"] == {"Ref": "InboundMailTopic"}
    assert resources["SenderDomain"]["Properties"]["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}


def test_a_deployed_stage_refuses_to_run_on_the_built_in_secrets():
    from dataclasses import replace

    from chalicelib.config import settings

    deployed = replace(settings(), stage="dev", signing_secret_value=None, cursor_secret_value=None)

    with pytest.raises(RuntimeError, match="SIGNING_SECRET"):
        _ = deployed.signing_secret
    with pytest.raises(RuntimeError, match="CURSOR_SECRET"):
        _ = deployed.cursor_secret
    assert replace(deployed, signing_secret_value="s3cret").signing_secret == "s3cret"


def test_deploy_uploads_the_code_and_points_every_function_at_it(packaged, aws):
    import boto3

    from scripts.deploy import _upload

    url = _upload(packaged, "artifacts-bucket", "dev", "us-east-1")

    s3 = boto3.client("s3", region_name="us-east-1")
    key = url.split(".amazonaws.com/", 1)[1]
    uploaded = yaml.safe_load(s3.get_object(Bucket="artifacts-bucket", Key=key)["Body"].read())
    code = {f["Properties"]["CodeUri"] for f in _of_type(uploaded, "AWS::Serverless::Function").values()}
    [uri] = code
    assert uri.startswith("s3://artifacts-bucket/dev/deployment-") and uri.endswith(".zip")
    zipped = s3.get_object(Bucket="artifacts-bucket", Key=uri.split("/", 3)[3])["Body"].read()
    assert zipped == (packaged.parent / "deployment.zip").read_bytes()
    assert s3.get_public_access_block(Bucket="artifacts-bucket")["PublicAccessBlockConfiguration"][
        "BlockPublicAcls"] is True


def test_the_package_ships_the_sdk_and_libraries_the_tests_ran_with(packaged):
    """The function runs on the pinned lock, boto3 and botocore included, not on whatever the runtime carries."""
    names = zipfile.ZipFile(packaged.parent / "deployment.zip").namelist()
    shipped = dict(re.match(r"([^/]+)-([^-/]+)\.dist-info/METADATA$", name).groups()
                   for name in names if re.match(r"[^/]+\.dist-info/METADATA$", name))
    shipped = {name.lower().replace("_", "-"): number for name, number in shipped.items()}

    for package in ("boto3", "botocore", "pynamodb", "jinja2", "markupsafe", "pyjwt", "cryptography"):
        assert shipped.get(package) == version(package), package
