"""`make bench`: every benchmark, one table, one JSON file (bench/results/latest.json).

- AWS calls per route and event handler on a small and a large tenant (growth must be flat);
- throughput in one process beside a bare boto3 client replaying the same DynamoDB calls;
- one user's digest and the 100,000-user projection;
- cold start (app import beside boto3 import) and the deployment package size.
`--quick` uses small data sets (CI's smoke run). Timings are printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
from datetime import UTC, datetime

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGETS = {"pixel open": 1, "click": 1, "unread-count": 1, "category-counts": 1, "list page (25)": 1,
           "community list page": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    arguments = parser.parse_args()
    small, large = (20, 200) if arguments.quick else (100, 10_000)

    # isort: off
    import tests.conftest  # noqa: F401 - first: the test environment (stage local, fake credentials)
    # isort: on
    from bench import coldstart, digest, routes

    print(f"seeding and measuring: {small} and {large} discussions / messages …", flush=True)
    few = routes.measure(small, small, throughput=50 if arguments.quick else 300,
                         timed_messages=2 if arguments.quick else 25)
    many = routes.measure(large, large)
    digests = digest.measure(20 if arguments.quick else 200, 5)
    cold = coldstart.measure(runs=3 if arguments.quick else 7, package=not arguments.quick)

    rows = []
    header = f"{'request or event':36} {'DynamoDB calls':>15} {'with ' + str(large):>12}  target"
    print(f"\n{header}  by operation ({small})")
    for name, figures in many.items():
        base = few[name]["dynamodb"]
        target = TARGETS.get(name, "add message" == name and "1 tx" or "")
        flat = "flat" if figures["dynamodb"] == base else "GROWS"
        rows.append({"name": name, "small": base, "large": figures["dynamodb"], "flat": flat == "flat",
                     "operations": few[name]["operations"]})
        print(f"{name:36} {base:>15} {figures['dynamodb']:>12}  {str(target):>6}  {few[name]['operations']}"
              + ("" if flat == "flat" else "  <- GROWS"))
    print(f"{'one user digest':36} {digests['dynamodb_calls_per_digest']:>15} {'(any N)':>12}  "
          f"{'':>6}  {digests['calls_by_operation']}")
    print("\nthroughput in one process (app ÷ bare boto3 replaying the same DynamoDB calls)")
    throughput = {name: figures for name, figures in few.items() if name.startswith("throughput")}
    throughput["throughput: digests"] = {"app_per_second": digests["digests_per_second"],
                                         "boto3_per_second": digests["boto3_replay_per_second"],
                                         "ratio": digests["ratio_to_boto3"]}
    for name, figures in throughput.items():
        print(f"  {name[12:]:20} {figures['app_per_second']:>8}/s  boto3 {figures['boto3_per_second']:>8}/s  "
              f"ratio {figures['ratio']}")
    sending = few["sending (timing)"]
    print(f"\nsending: {sending['fan_outs']} messages × 39 recipients = {sending['copies']} copies, "
          f"{sending['copies_per_second']} copies/s in one process (one job at a time, in-process moto); "
          f"{sending['dynamodb']} DynamoDB calls per copy {sending['operations']}")
    print(f"\ncold start: app import {cold['app_import_seconds']} s, boto3 import {cold['boto3_import_seconds']} s, "
          f"ratio {cold['app_to_boto3_ratio']} (target ≤ 1.5)" +
          (f"; function package {cold['package_megabytes']} MB, layer {cold['layer_megabytes']} MB"
           if "package_megabytes" in cold else ""))
    print(f"digest, 100,000 users: {digests['projection_100k_users']}")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine,
               "sizes": {"small": small, "large": large}, "requests": rows, "throughput": throughput,
               "sending": sending, "digest": digests, "cold_start": cold}
    out = pathlib.Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{machine}\nwritten to {out}")


if __name__ == "__main__":
    main()
