"""The benchmark's call counts as behaviour (bench/routes.py, bench/sending.py, bench/digest.py, small data).

Only the application's calls are counted (inside its entry points); every row is measured several times with
varied data and must not grow from a tenant of 20 discussions to one of 200. Timings are never asserted.
"""
from __future__ import annotations

import pytest

from tests.conftest import ROOT  # noqa: F401 - first: the test environment (stage local, fake credentials)

pytestmark = pytest.mark.slow  # about 40 s: two tenants, 150 copies sent, 20 digests, 2,000 users fanned out

HARNESS_CALLS = {"sqs.ReceiveMessage", "sqs.DeleteMessage", "sqs.GetQueueUrl", "sqs.PurgeQueue", "s3.PutObject"}


@pytest.fixture(scope="module")
def measured():
    from bench import digest, routes

    return routes.measure(20, sending=1), routes.measure(200, sending=0), digest.measure(20, 5)


def test_no_request_event_or_job_costs_more_on_a_larger_tenant_in_any_run(measured):
    small, large, _ = measured

    assert small["figures"].keys() == large["figures"].keys()
    grows = [name for name, figure in small["figures"].items()
             if (figure["median"], figure["worst"]) != (large["figures"][name]["median"],
                                                        large["figures"][name]["worst"])]
    assert grows == []


def test_only_the_applications_own_calls_are_counted(measured):
    small, _, _ = measured
    figures = small["figures"]

    for name, figure in figures.items():
        assert not HARNESS_CALLS & (figure["operations"].keys() | figure["worst_operations"].keys()), name
        assert figure["entry_points"], name
    assert figures["inbound reply"]["entry_points"] == ["inbound_mail"]
    assert figures["inbound reply"]["operations"]["s3.GetObject"] == 1
    assert figures["job discussion.notify"]["entry_points"] == ["jobs: discussion.notify"]
    assert figures["pixel open"]["entry_points"] == ["HTTP GET /t/o/{pixel_file}"]


def test_the_key_rows_cost_what_they_cost_today_median_and_worst(measured):
    figures = measured[0]["figures"]
    costs = {name: (figure["median"], figure["worst"]) for name, figure in figures.items()}

    for name in ("list page (25)", "unread-count", "category-counts", "community list page", "community create"):
        assert costs[name] == (1, 1), name
    assert costs["create discussion"] == costs["get discussion (a page of messages)"] == (2, 2)
    assert costs["add message"] == costs["mark read"] == (2, 2)
    assert costs["pixel open"] == costs["click"] == (1.5, 2)  # the first open or click of a copy: 2 UpdateItem
    assert costs["inbound reply"] == (5, 5)
    assert costs["SES event: delivery"] == (2, 2)  # Query + one transaction
    # A bounce or complaint while the tenant is over a level below the minimum volume marks it watched (+1).
    assert costs["SES event: bounce"] == (16, 16) and costs["SES event: complaint"] == (11, 11)
    assert costs["SES event: open"] == costs["SES event: click"] == (0, 0)  # opens and clicks are our tracker's
    assert costs["job discussion.notify"] == (5, 5)


def test_a_send_request_costs_the_same_whatever_it_queues(measured):
    sending = measured[0]["sending"]

    # 1 or 25 messages, 1 to 39 recipients, after a late joiner, a backlog of 30.
    assert sending["send request"]["median"] == sending["send request"]["worst"] == 6
    assert sending["send request"]["runs"] == 8
    assert "ses.SendRawEmail" not in sending["send request"]["worst_operations"]


def test_the_jobs_of_a_send_cost_a_constant_plus_a_constant_per_recipient(measured):
    sending = measured[0]["sending"]
    jobs = {int(r): figure["worst"] for r, figure in sending["jobs of a send"].items()}

    assert jobs == {1: 17, 2: 22, 10: 62, 39: 208}
    assert sending["jobs fit"]["b"] == pytest.approx(5.03, abs=0.01) and sending["jobs fit"]["largest_residual"] < 1
    # No copy reads the history: a late joiner's or a backlog's copy job costs what any copy job costs.
    for name in ("jobs after a late joiner (3 copies, 11 messages before)", "jobs of a backlog send (25 messages × 2)",
                 "jobs of the rest of the backlog (5 messages × 2)"):
        assert sending[name]["worst_copy"] == 8, name
    backlog = sending["jobs of a backlog send (25 messages × 2)"]
    rest = sending["jobs of the rest of the backlog (5 messages × 2)"]
    assert backlog["dynamodb"] / 25 <= rest["dynamodb"] / 5  # per message, 25 at once cost no more than 5


def test_one_users_digest_costs_seven_calls_eight_the_first_in_a_container(measured):
    digests = measured[2]

    assert digests["dynamodb_calls_per_digest"] == 7 and digests["worst_dynamodb_calls_per_digest"] == 8
    assert digests["rerun_outcomes"] == ["not due"]
    fan_out = digests["fan_out"]  # the bench itself fails if a due user is missed or queued twice
    assert fan_out["user_jobs_queued"] == fan_out["users"] and fan_out["full_shard_runs"] > 0
    assert fan_out["per_full_shard_run"]["dynamodb_calls"] == 1 and fan_out["tick"]["dynamodb_calls"] == 0
