"""A quick smoke run of the benchmarks: they run and report; their timings are never asserted."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_the_digest_benchmark_runs_and_reports_a_constant_call_count(tmp_path):
    out = tmp_path / "digest.json"
    run = subprocess.run([sys.executable, "bench/digest.py", "--users", "4", "--notifications", "2", "--out",
                          str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(out.read_text())
    assert results["dynamodb_calls_per_digest"] == 9 and results["ses_calls_per_digest"] == 1
    assert results["rerun_outcomes"] == ["not due"]
    assert "100,000 users" in run.stdout
