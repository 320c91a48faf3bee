"""`make package`: Chalice's template merged with infra/chalice-merge.yaml is valid and gives handlers DLQs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT


def test_packaged_template_has_dead_letter_queues_and_passes_cfn_lint(tmp_path):
    environment = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run([str(chalice), "package", "--stage", "dev", "--merge-template", "infra/chalice-merge.yaml",
                    str(tmp_path)], cwd=ROOT, env=environment, check=True, capture_output=True, timeout=600)
    template = yaml.safe_load((tmp_path / "sam.yaml").read_text())
    resources = template["Resources"]
    for function, queue in (("SesEvents", "SesEventsDeadLetterQueue"), ("InboundMail", "InboundMailDeadLetterQueue")):
        assert resources[function]["Properties"]["DeadLetterQueue"] == {
            "Type": "SQS", "TargetArn": {"Fn::GetAtt": [queue, "Arn"]}}
        assert resources[queue]["Type"] == "AWS::SQS::Queue"
    assert resources["DeadLetterQueuesPolicy"]["Properties"]["Roles"] == [{"Ref": "DefaultRole"}]
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(tmp_path / "sam.yaml")],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr
