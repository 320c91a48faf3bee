"""`make deploy STAGE=dev ...`: the whole system as one CloudFormation stack.

1. merge `infra/resources.yaml` (tables, buckets, topics, queues, SES, alarms) with `infra/chalice-merge.yaml`
   (least-privilege IAM, dead-letter queues, per-function alarms, parameters) into one merge template;
2. `chalice package --merge-template` it: the function zip (our code only), the layer zip (every library of
   requirements.txt, boto3 and botocore included, at the versions the tests ran with: `automatic_layer` in
   .chalice/config.json) and the SAM template with every function;
3. drop from the layer what no function reads (libraries' own test suites, pip's timestamp bytecode, Swagger UI's
   source maps and unused bundles: the docs page serves two of its files); add to the function zip its email
   templates compiled by Jinja2 (`add_compiled_templates`), and to both zips the bytecode of every module, compiled
   here for the runtime's Python (`add_bytecode`); check the template with cfn-lint;
4. upload both zips and the template to an artifacts bucket, deploy them with a change set and wait;
5. activate the SES receipt rule set (CloudFormation cannot) and print the stack's outputs.

`--dry-run` stops after step 3 (CI runs it). `teardown` deletes the stack; tables and buckets are kept
(DeletionPolicy: Retain) so no data is lost by accident.
"""
from __future__ import annotations

import argparse
import copy
import os
import pathlib
import subprocess
import sys
import zipfile
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
INFRA = ROOT / "infra"
PARAMETERS = {"reply_domain": "ReplyDomain", "from_address": "FromAddress", "jwt_issuer": "JwtIssuer",
              "jwt_audience": "JwtAudience", "alert_email": "AlertEmail", "public_base_url": "PublicBaseUrl",
              "app_discussion_url": "AppDiscussionUrl", "app_community_thread_url": "AppCommunityThreadUrl"}


def stack_name(stage: str) -> str:
    return f"discussion-hub-{stage}"


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merge_template() -> dict[str, Any]:
    """infra/resources.yaml and infra/chalice-merge.yaml as the one template Chalice merges its own into."""
    resources = yaml.safe_load((INFRA / "resources.yaml").read_text())
    extra = yaml.safe_load((INFRA / "chalice-merge.yaml").read_text())
    return _deep_merge(resources, extra)


def build(stage: str, out: pathlib.Path, region: str) -> pathlib.Path:
    """Package and lint; returns the path of the deployable SAM template."""
    out.mkdir(parents=True, exist_ok=True)
    merge = out / "merge.yaml"
    merge.write_text(yaml.safe_dump(merge_template(), sort_keys=False))
    package = out / "package"
    bin_dir = pathlib.Path(sys.executable).parent
    # app.py names its topics and queue from STAGE when Chalice imports it to package it.
    environment = {**os.environ, "AWS_DEFAULT_REGION": region, "STAGE": stage}
    for name in ("SES_EVENTS_TOPIC", "INBOUND_MAIL_TOPIC", "JOBS_QUEUE"):
        environment.pop(name, None)
    subprocess.run([str(bin_dir / "chalice"), "package", "--stage", stage, "--merge-template", str(merge),
                    str(package)], cwd=ROOT, env=environment, check=True)
    slim_layer(package / "layer-deployment.zip")
    add_bytecode(package / "layer-deployment.zip", "/opt")
    add_compiled_templates(package / "deployment.zip")
    add_bytecode(package / "deployment.zip", "/var/task")
    template = package / "sam.yaml"
    subprocess.run([str(bin_dir / "cfn-lint"), str(template)], check=True)
    return template


def slim_layer(layer: pathlib.Path) -> None:
    """Drop what no function reads from the layer: libraries' own tests and bytecode (icalendar ships 344 test
    files) and the Swagger UI files the docs page does not serve (chalicelib/docs_page.py; the wheel carries about
    11 MB of source maps, ES-module and standalone bundles, the page needs 1.6 MB). Licences stay in dist-info."""
    from chalicelib.docs_page import PACKAGED_ASSETS

    site_packages = "python/lib/python3.11/site-packages/"

    def dead_weight(name: str) -> bool:
        parts = name.removeprefix(site_packages).split("/")
        if "tests" in parts[1:3] or "__pycache__" in parts or name.endswith(".pyc"):
            return True
        return parts[:2] == ["swagger_ui_bundle", "vendor"] and not name.endswith("/") \
            and parts[-1] not in PACKAGED_ASSETS

    slim = layer.with_suffix(".slim.zip")
    with zipfile.ZipFile(layer) as source, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            if not dead_weight(entry.filename):
                target.writestr(entry, source.read(entry))  # the entry keeps its date, mode and compression
    slim.replace(layer)


def compile_templates(code: pathlib.Path) -> list[pathlib.Path]:
    """Compile every email template folder (`chalicelib/**/templates/`) of a copy of the function's code to the
    Python modules Jinja2 would generate at the first render (chalicelib/templating.py); returns them."""
    from chalicelib import templating

    modules: list[pathlib.Path] = []
    for templates in sorted((code / "chalicelib").glob("**/templates")):
        modules += templating.compile_folder(templates)
    return modules


def add_compiled_templates(archive: pathlib.Path) -> None:
    """Add to the function zip the compiled modules of its email templates (`compile_templates`), before
    `add_bytecode` gives them their bytecode: a container's first email then renders without Jinja2 lexing,
    parsing and compiling its templates (5 ms of CPU for a digest's two)."""
    import tempfile

    with tempfile.TemporaryDirectory() as work, zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as target:
        code = pathlib.Path(work)
        entries = {entry.filename: entry for entry in target.infolist()
                   if entry.filename.startswith("chalicelib/") and "/templates/" in entry.filename
                   and not entry.filename.endswith("/")}
        for name in entries:
            (code / name).parent.mkdir(parents=True, exist_ok=True)
            (code / name).write_bytes(target.read(name))
        for module in compile_templates(code):
            templates = module.parent.with_name(module.parent.name.removesuffix(".compiled"))
            like = next(entry for name, entry in entries.items()  # a module has the date and mode of its templates
                        if name.startswith(f"{templates.relative_to(code).as_posix()}/"))
            info = zipfile.ZipInfo(module.relative_to(code).as_posix(), date_time=like.date_time)
            info.external_attr = like.external_attr
            target.writestr(info, module.read_bytes(), zipfile.ZIP_DEFLATED)


def add_bytecode(archive: pathlib.Path, runtime_root: str) -> None:
    """Add to the zip the bytecode of each of its modules, hash-based and unchecked (PEP 552), beside its source.

    A Lambda's code (/var/task) and layers (/opt) are read-only: Python cannot keep what it compiles, so a module
    without usable bytecode is compiled again at every cold start. pip's bytecode is no use there: it is checked
    against the source's modification time, which a zip keeps only to two seconds. Unchecked hash-based bytecode is
    used as it is (https://docs.python.org/3/library/compileall.html, `--invalidation-mode unchecked-hash`); it is
    compiled by the interpreter that packages, the runtime's version (Chalice names the Lambda runtime after it),
    with the path the module has at run time in its tracebacks. A module that does not compile (a library's
    template, say) is left as source."""
    import importlib.util
    import py_compile
    import tempfile

    rebuilt = archive.with_suffix(".bytecode.zip")
    with tempfile.TemporaryDirectory() as work, zipfile.ZipFile(archive) as source, \
            zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            if entry.filename.endswith(".pyc") or "/__pycache__/" in f"/{entry.filename}":
                continue  # bytecode the packaging machine left (Chalice zips chalicelib/ as it is): ours replaces it
            data = source.read(entry)
            target.writestr(entry, data)
            if not entry.filename.endswith(".py"):
                continue
            module = pathlib.Path(work) / entry.filename
            module.parent.mkdir(parents=True, exist_ok=True)
            module.write_bytes(data)
            try:
                compiled = py_compile.compile(str(module), dfile=f"{runtime_root}/{entry.filename}", doraise=True,
                                              invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            except py_compile.PyCompileError:
                continue
            name = importlib.util.cache_from_source(entry.filename)
            info = zipfile.ZipInfo(name, date_time=entry.date_time)
            info.external_attr = entry.external_attr
            target.writestr(info, pathlib.Path(compiled).read_bytes(), zipfile.ZIP_DEFLATED)
    rebuilt.replace(archive)


def _upload(template: pathlib.Path, bucket: str, stage: str, region: str) -> str:
    """Put the zip and the template in S3 (templates over 51 KB must come from S3); returns the template URL."""
    import hashlib

    import boto3

    s3 = boto3.client("s3", region_name=region)
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        arguments: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**arguments)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
    uploaded = {}
    for name in ("deployment", "layer-deployment"):
        zip_path = template.parent / f"{name}.zip"
        digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()[:16]
        uploaded[name] = f"{stage}/{name}-{digest}.zip"
        s3.upload_file(str(zip_path), bucket, uploaded[name])
    body = yaml.safe_load(template.read_text())
    for resource in body["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{bucket}/{uploaded['deployment']}"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://{bucket}/{uploaded['layer-deployment']}"
    template_key = f"{stage}/template-{uploaded['deployment'].rsplit('-', 1)[1].removesuffix('.zip')}.yaml"
    s3.put_object(Bucket=bucket, Key=template_key, Body=yaml.safe_dump(body, sort_keys=False).encode())
    return f"https://{bucket}.s3.{region}.amazonaws.com/{template_key}"


def deploy(stage: str, region: str, parameters: dict[str, str], bucket: str | None) -> dict[str, str]:
    import boto3

    template = build(stage, ROOT / "build" / stage, region)
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    url = _upload(template, bucket or f"discussion-hub-artifacts-{account}-{region}", stage, region)
    cloudformation = boto3.client("cloudformation", region_name=region)
    name = stack_name(stage)
    try:
        cloudformation.describe_stacks(StackName=name)
        change_type = "UPDATE"
    except cloudformation.exceptions.ClientError:
        change_type = "CREATE"
    values = [{"ParameterKey": "Stage", "ParameterValue": stage}] + [
        {"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()]
    change_set = f"deploy-{os.urandom(4).hex()}"
    cloudformation.create_change_set(StackName=name, ChangeSetName=change_set, ChangeSetType=change_type,
                                     TemplateURL=url, Parameters=values,
                                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("change_set_create_complete").wait(StackName=name, ChangeSetName=change_set)
    cloudformation.execute_change_set(StackName=name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if change_type == "CREATE" else "stack_update_complete"
    cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    if "PublicBaseUrl" not in parameters and outputs.get("EndpointURL"):
        _point_links_at(cloudformation, stack, outputs["EndpointURL"].rstrip("/"))
    if parameters.get("ReplyDomain"):
        boto3.client("ses", region_name=region).set_active_receipt_rule_set(RuleSetName=f"discussion-hub-{stage}")
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _point_links_at(cloudformation: Any, stack: dict[str, Any], endpoint: str) -> None:
    """Without a custom domain, links in emails use the API's own endpoint, known only once it exists."""
    current = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    if current.get("PublicBaseUrl") == endpoint:
        return
    values = [{"ParameterKey": key, "UsePreviousValue": True} for key in current if key != "PublicBaseUrl"]
    values.append({"ParameterKey": "PublicBaseUrl", "ParameterValue": endpoint})
    cloudformation.update_stack(StackName=stack["StackName"], UsePreviousTemplate=True, Parameters=values,
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=stack["StackName"],
                                                            WaiterConfig={"Delay": 15, "MaxAttempts": 240})


def teardown(stage: str, region: str) -> None:
    import boto3

    cloudformation = boto3.client("cloudformation", region_name=region)
    cloudformation.delete_stack(StackName=stack_name(stage))
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_name(stage))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("deploy", "teardown"))
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION",
                                                                                          "us-east-1")))
    parser.add_argument("--artifacts-bucket")
    parser.add_argument("--dry-run", action="store_true", help="package and lint only")
    for option in PARAMETERS:
        parser.add_argument(f"--{option.replace('_', '-')}", default="")
    arguments = parser.parse_args()
    if arguments.command == "teardown":
        teardown(arguments.stage, arguments.region)
        print(f"deleted stack {stack_name(arguments.stage)}; its tables and buckets are kept (DeletionPolicy)")
        return
    if arguments.dry_run:
        template = build(arguments.stage, ROOT / "build" / arguments.stage, arguments.region)
        print(f"packaged and linted: {template}")
        return
    parameters = {name: getattr(arguments, option) for option, name in PARAMETERS.items()
                  if getattr(arguments, option)}
    missing = [f"--{o.replace('_', '-')}" for o in ("from_address", "jwt_issuer") if not getattr(arguments, o)]
    if missing:
        parser.error(f"deploying needs {' and '.join(missing)}")
    outputs = deploy(arguments.stage, arguments.region, parameters, arguments.artifacts_bucket)
    for key, value in sorted(outputs.items()):
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
