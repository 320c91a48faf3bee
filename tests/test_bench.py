"""A quick smoke run of `make bench`: it runs and reports. Call counts are behaviour; timings are never asserted."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # runs `make bench QUICK=1` in a subprocess


def test_the_benchmarks_run_and_request_costs_do_not_grow_with_the_data(tmp_path):
    out = tmp_path / "latest.json"
    run = subprocess.run([sys.executable, "bench/run.py", "--quick", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text())
    costs = {row["name"]: row for row in results["requests"]}
    assert all(row["flat"] for row in results["requests"]), [r["name"] for r in results["requests"] if not r["flat"]]
    for name in ("pixel open", "click", "unread-count", "category-counts", "list page (25)", "community list page"):
        assert costs[name]["small"] == 1, name
    assert costs["add message"]["operations"]["dynamodb.TransactWriteItems"] == 1
    # 7: profile, pending Query, suppression BatchGet, pause check, the claim taken at its calling step, its end
    # with the notifications' marks in one transaction, the next digest time; tenant settings and templates are
    # read once a minute per container (chalicelib/cache.py).
    assert results["digest"]["dynamodb_calls_per_digest"] == 7 and results["digest"]["rerun_outcomes"] == ["not due"]
    # A send request costs the same whatever it queues: 2 copies or 975 (25 messages × 39 recipients).
    small, large = costs["send request: 1 message × 2 recipients"], costs["send request: 25 messages × 39 recipients"]
    # 6: also the tenant's sending-pause check (one GetItem, issue 18).
    assert small["small"] == large["small"] == large["large"] == 6
    assert large["operations"]["dynamodb.TransactWriteItems"] == 1 and "ses.SendRawEmail" not in large["operations"]
    assert costs["jobs of a send, per copy"]["operations"]["ses.SendRawEmail"] == 1
    assert results["sending"]["copies"] == 78 and results["sending"]["copies_per_second"] > 0
    fan_out = results["digest"]["fan_out"]  # the bench itself fails if a due user is missed or queued twice
    assert fan_out["user_jobs_queued"] == fan_out["users"] and fan_out["full_shard_runs"] > 0
    assert fan_out["per_full_shard_run"]["dynamodb_calls"] == 1 and fan_out["tick"]["dynamodb_calls"] == 0
    assert results["cold_start"]["app_to_boto3_ratio"] > 0
    assert "throughput in one process" in run.stdout
