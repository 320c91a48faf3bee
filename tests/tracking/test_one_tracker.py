"""One engagement tracker: the SES configuration set never asks for open or click events (which would switch SES's
own pixel and link rewriting on: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_TrackingConfigurationOverrides.html)."""
from __future__ import annotations

import pathlib

import boto3
import yaml

from scripts.bootstrap import SES_EVENT_TYPES

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
ENGAGEMENT = {"open", "click"}


class _CloudFormation(yaml.SafeLoader):
    """Reads the template's short-form tags (!Ref, !Sub …) as plain values."""


_CloudFormation.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_the_template_has_no_open_or_click_event_destination():
    template = yaml.load((ROOT / "infra" / "resources.yaml").read_text(), Loader=_CloudFormation)
    destinations = [r["Properties"]["EventDestination"] for r in template["Resources"].values()
                    if r["Type"] == "AWS::SES::ConfigurationSetEventDestination"]
    assert destinations, "the template routes SES events somewhere"
    for destination in destinations:
        types = {t.lower() for t in destination["MatchingEventTypes"]}
        assert {"bounce", "complaint", "delivery"} <= types and not types & ENGAGEMENT


def test_the_bootstrapped_configuration_set_has_no_open_or_click_event_destination(aws):
    assert not {t.lower() for t in SES_EVENT_TYPES} & ENGAGEMENT
    described = boto3.client("ses", region_name="us-east-1").describe_configuration_set(
        ConfigurationSetName="discussion-hub-local", ConfigurationSetAttributeNames=["eventDestinations"])
    [destination] = described["EventDestinations"]
    types = {t.lower() for t in destination["MatchingEventTypes"]}
    assert "bounce" in types and not types & ENGAGEMENT
