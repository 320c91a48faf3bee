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
    # management, GetSendQuota, CloudWatch PutMetricData) can only be granted on "*" (https://docs.aws.amazon.com/
    # service-authorization/latest/reference/list_amazonses.html); nothing else may be.
    unscoped = {"ses:VerifyDomainDkim", "ses:VerifyEmailIdentity", "ses:GetIdentityVerificationAttributes",
                "ses:GetIdentityDkimAttributes", "ses:DeleteIdentity", "ses:DescribeActiveReceiptRuleSet",
                "ses:CreateReceiptRule", "ses:GetSendQuota", "cloudwatch:PutMetricData"}
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
    [layer] = [r["Properties"]["ContentUri"] for r in _of_type(uploaded, "AWS::Serverless::LayerVersion").values()]
    [uri] = code
    assert uri.startswith("s3://artifacts-bucket/dev/deployment-") and uri.endswith(".zip")
    assert layer.startswith("s3://artifacts-bucket/dev/layer-deployment-") and layer.endswith(".zip")
    for s3_uri, local in ((uri, "deployment.zip"), (layer, "layer-deployment.zip")):
        zipped = s3.get_object(Bucket="artifacts-bucket", Key=s3_uri.split("/", 3)[3])["Body"].read()
        assert zipped == (packaged.parent / local).read_bytes()
    assert s3.get_public_access_block(Bucket="artifacts-bucket")["PublicAccessBlockConfiguration"][
        "BlockPublicAcls"] is True


def test_the_layer_ships_the_sdk_and_libraries_the_tests_ran_with(packaged):
    """Production runs the pinned lock, boto3 and botocore included, not whatever SDK the Lambda runtime carries."""
    prefix = "python/lib/python3.11/site-packages/"
    names = zipfile.ZipFile(packaged.parent / "layer-deployment.zip").namelist()
    pattern = re.compile(re.escape(prefix) + r"([^/]+)-([^-/]+)\.dist-info/METADATA$")
    shipped = {m.group(1).lower().replace("_", "-"): m.group(2) for m in map(pattern.match, names) if m}

    for package in ("boto3", "botocore", "pynamodb", "jinja2", "markupsafe", "pyjwt", "cryptography"):
        assert shipped.get(package) == version(package), package
    assert not [name for name in names if "/tests/" in name]


def test_the_function_package_holds_our_code_only_and_every_function_uses_the_layer(packaged, template):
    function_zip = packaged.parent / "deployment.zip"
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(function_zip).namelist()}

    assert function_zip.stat().st_size <= 8 * 1024 * 1024
    assert top_level == {"app.py", "__pycache__", "chalicelib", "chalice"}  # app.py's bytecode in __pycache__
    for function in _of_type(template, "AWS::Serverless::Function").values():
        assert function["Properties"]["Layers"] == [{"Ref": "ManagedLayer"}]


def test_the_package_carries_the_docs_page_files_and_not_the_rest_of_swagger_ui(packaged):
    """GET /docs works when deployed, and Swagger UI's 10 MB of source maps and other bundles stay out."""
    from chalicelib.docs_page import PACKAGED_ASSETS

    archive = zipfile.ZipFile(packaged.parent / "layer-deployment.zip")  # a library: in the layer
    prefix = "python/lib/python3.11/site-packages/"
    vendored = [info for info in archive.infolist()
                if info.filename.startswith(prefix + "swagger_ui_bundle/vendor/") and not info.filename.endswith("/")]

    assert sorted(info.filename.rsplit("/", 1)[-1] for info in vendored) == sorted(PACKAGED_ASSETS)
    assert sum(info.compress_size for info in vendored) < 600_000
    assert prefix + "swagger_ui_bundle/__init__.py" in archive.namelist()


def _bytecode_flags(data: bytes) -> int:
    """PEP 552: the pyc header's second word, 0b01 for hash-based and unchecked."""
    return int.from_bytes(data[4:8], "little")


@pytest.mark.parametrize("archive", ["deployment.zip", "layer-deployment.zip"])
def test_every_module_ships_with_bytecode_python_uses_without_checking_its_source(packaged, archive):
    """Lambda's /var/task and /opt are read-only, so a module without usable bytecode compiles at every cold
    start: each .py has its unchecked hash-based .pyc for the runtime's Python beside it (scripts/deploy.py)."""
    import importlib.util

    with zipfile.ZipFile(packaged.parent / archive) as zipped:
        listed = zipped.namelist()
        names = set(listed)
        modules = [name for name in names if name.endswith(".py")]
        missing = [name for name in modules if importlib.util.cache_from_source(name) not in names]
        flags = {_bytecode_flags(zipped.read(importlib.util.cache_from_source(name)))
                 for name in modules if name not in missing}

    assert len(missing) <= len(modules) // 100, missing[:10]  # only sources that are not Python 3 (templates)
    assert not [name for name in missing if name.startswith(("app.py", "chalicelib/", "python/lib/python3.11/"
                                                                "site-packages/botocore/", "python/lib/python3.11/"
                                                                "site-packages/boto3/"))]
    assert flags == {0b01}
    assert len(listed) == len(names)  # one entry a name: bytecode the packaging machine left is replaced, not doubled


def test_the_function_ships_its_email_templates_compiled(packaged):
    """A container's first email renders from the modules Jinja2 compiled at packaging (chalicelib/templating.py;
    that they render the same bytes: tests/notifications/test_precompiled_templates.py)."""
    with zipfile.ZipFile(packaged.parent / "deployment.zip") as zipped:
        names = zipped.namelist()
    for folder in ("chalicelib/mail/templates", "chalicelib/notifications/templates"):
        templates = [name for name in names if name.startswith(f"{folder}/") and not name.endswith("/")]
        module = re.compile(re.escape(folder) + r"\.compiled/tmpl_[0-9a-f]{40}\.py")
        compiled = [name for name in names if module.fullmatch(name)]
        assert templates and len(compiled) == len(templates)


def test_bytecode_left_in_the_input_zip_is_replaced_not_doubled(tmp_path):
    """Chalice zips chalicelib/ as it is, __pycache__ included when the packaging machine wrote one."""
    from scripts.deploy import add_bytecode

    archive = tmp_path / "deployment.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("chalicelib/a.py", "X = 1\n")
        zipped.writestr("chalicelib/__pycache__/a.cpython-311.pyc", b"stale timestamp bytecode")
    add_bytecode(archive, "/var/task")

    with zipfile.ZipFile(archive) as zipped:
        listed = zipped.namelist()
        pyc = zipped.read("chalicelib/__pycache__/a.cpython-311.pyc")
    assert sorted(listed) == ["chalicelib/__pycache__/a.cpython-311.pyc", "chalicelib/a.py"]
    assert _bytecode_flags(pyc) == 0b01


def test_the_function_imports_its_modules_from_the_shipped_bytecode_not_by_compiling(packaged, tmp_path):
    """The function zip as Lambda unpacks it (read-only, every file's time changed): importing the app compiles
    nothing of ours (`python -v` names each module's source of code)."""
    import os
    import stat
    import subprocess
    import sys

    with zipfile.ZipFile(packaged.parent / "deployment.zip") as zipped:
        zipped.extractall(tmp_path)
    for path in tmp_path.rglob("*"):
        os.utime(path, (1, 1))  # no timestamp could vouch for the bytecode
        if path.is_file():
            path.chmod(stat.S_IRUSR)
    run = subprocess.run([sys.executable, "-v", "-c", "import app, chalicelib.mail.send"], cwd=tmp_path,
                         capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
                                                              "PYTHONPATH": str(tmp_path)}, check=True)
    ours = [line for line in run.stderr.splitlines() if "code object from" in line and str(tmp_path) in line]
    assert len(ours) > 20 and all("__pycache__" in line and ".pyc" in line for line in ours), ours[:5]
