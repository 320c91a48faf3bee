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
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
