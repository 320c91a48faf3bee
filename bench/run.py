"""`make bench`: every benchmark, Markdown tables on stdout, one JSON file (bench/results/latest.json).

- AWS calls per request, event and job, counted inside the application's entry points only (bench/calls.py),
  median and worst of several runs with varied data, on tenants of growing size (no row may grow);
- sending: the request, and the jobs as a + b·R for R recipients (bench/sending.py);
- one user's digest and the 100,000-user projection (bench/digest.py);
- time in one process beside bare boto3 clients making the same AWS calls (median ÷ median);
- cold start: import, and import plus the first request of each kind, beside a bare boto3 handler
  (bench/coldstart.py), and the deployment package size.
`--quick` uses small data sets (CI's smoke run, tests/test_bench.py). Timings are printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUICK_SIZES = (20, 200)
FULL_SIZES = (100, 10_000, 100_000)
TARGETS = {"pixel open": "1", "click": "1", "unread-count": "1", "category-counts": "1", "list page (25)": "1",
           "community list page": "1", "add message": "2", "mark read": "1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=lambda text: tuple(int(n) for n in text.split(",")), default=None,
                        help="discussions (and messages in the measured one) per tenant, e.g. 100,10000")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--memory-limit-gb", type=float, default=12.0,
                        help="address space for this process: moto's MemoryError, not the machine's OOM killer")
    parser.add_argument("--calls-only", action="store_true",
                        help="only the calls per request and the sending costs of each size (no timing beside "
                             "boto3, digest or cold start): a partial run, e.g. --sizes 100000 --calls-only is the "
                             "100,000 column as the full run measures it")
    arguments = parser.parse_args()
    sizes = arguments.sizes or (QUICK_SIZES if arguments.quick else FULL_SIZES)
    limit = int(arguments.memory_limit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    # isort: off
    import tests.conftest  # noqa: F401 - first: the test environment (stage local, fake credentials)
    # isort: on
    from bench import coldstart, digest, routes

    worlds = []
    for index, size in enumerate(sizes):
        print(f"seeding and measuring a tenant of {size:,} discussions …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        throughput = 0 if arguments.calls_only or index else 20 if arguments.quick else 200
        world = routes.measure(size, throughput=throughput, sending=1 if arguments.quick else 2)
        world["seconds"] = round(time.perf_counter() - started, 1)
        print(f"{size:,} discussions: {world['seconds']:g} s (seeding {world['seeding_seconds']:g} s)",
              file=sys.stderr, flush=True)
        worlds.append(world)
    if arguments.calls_only:
        digests: dict[str, Any] = {}
        cold: dict[str, Any] = {}
    else:
        digests = digest.measure(20 if arguments.quick else 200, 5)
        cold = coldstart.measure(runs=3 if arguments.quick else 7, package=not arguments.quick)

    command = "make bench QUICK=1" if arguments.quick else "make bench"
    if arguments.sizes or arguments.calls_only:
        command = " ".join(["bench/run.py", *sys.argv[1:]])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    when = datetime.now(UTC)
    print(f"`{command}`, {when:%Y-%m-%d %H:%M} UTC, {machine}\n")
    rows = _print_calls(worlds, digests)
    if "sending" in worlds[0]:
        _print_sending(worlds[0]["sending"])
    if digests:
        _print_time(worlds[0]["throughput"], digests)
        _print_cold_start(cold)
    results = {"when": when.isoformat(timespec="seconds"), "command": command, "machine": machine,
               "sizes": list(sizes), "requests": rows, "sending": worlds[0].get("sending"),
               "throughput": worlds[0].get("throughput"), "digest": digests, "cold_start": cold,
               "seconds_per_size": {str(w["size"]): w["seconds"] for w in worlds},
               "row_seconds_per_size": {str(w["size"]): w["row_seconds"] for w in worlds},
               "incomplete": {str(w["size"]): w["incomplete"] for w in worlds if w["incomplete"]},
               "seeding_seconds_per_size": {str(w["size"]): w["seeding_seconds"] for w in worlds}}
    out = pathlib.Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}", file=sys.stderr)


def _operations(operations: dict[str, int]) -> str:
    return ", ".join(f"{count} {name.split('.', 1)[1]}" + ("" if name.startswith("dynamodb.") else
                                                           f" ({name.split('.')[0].upper()})")
                     for name, count in operations.items())


def _print_calls(worlds: list[dict[str, Any]], digests: dict[str, Any]) -> list[dict[str, Any]]:
    sizes = [world["size"] for world in worlds]
    print("DynamoDB calls per request, event or job: median / worst of the runs, counted inside the entry point "
          f"only; tenants of {', '.join(f'{size:,}' for size in sizes)} discussions (as many messages in the "
          "measured discussion)\n")
    print("| request, event or job | runs | " + " | ".join(f"{size:,}" for size in sizes)
          + " | target | entry point | calls of a median run (AWS calls other than DynamoDB in brackets) |")
    print("|---|---|" + "---|" * len(sizes) + "---|---|---|")
    rows = []
    figures = [{**world["figures"], **({"send request (varied sends)": world["sending"]["send request"]}
                                       if "sending" in world else {})} for world in worlds]
    for name in figures[0]:
        cells = [figure.get(name) for figure in figures]
        present = [cell for cell in cells if cell is not None]
        flat = len({(cell["median"], cell["worst"]) for cell in present}) == 1
        first = present[0]
        worst_ops = "" if first["worst_operations"] == first["operations"] else \
            f"; worst: {_operations(first['worst_operations'])}"
        print(f"| {name} | {first['runs']} | " + " | ".join(
            f"{_number(cell['median'])} / {cell['worst']}" if cell else "—" for cell in cells)
            + f" | {TARGETS.get(name, '')} | {', '.join(first['entry_points'])} | "
            f"{_operations(first['operations'])}{worst_ops}{'' if flat else ' **GROWS**'} |")
        rows.append({"name": name, "by_size": {str(size): {"median": cell["median"], "worst": cell["worst"]}
                                               for size, cell in zip(sizes, cells, strict=True) if cell},
                     "flat": flat, "runs": first["runs"], "entry_points": first["entry_points"],
                     "operations": first["operations"], "worst_operations": first["worst_operations"]})
    if digests:
        print(f"| one user's digest (job body) | {digests['users']} | "
              f"{_number(digests['dynamodb_calls_per_digest'])} / {digests['worst_dynamodb_calls_per_digest']} "
              "(any number of users) |" + " |" * (len(sizes) - 1)
              + f" | digest.user job: digest.send_digest | {_operations(digests['calls_by_operation'])}; worst (the "
              f"first in a container, settings and template not cached yet): "
              f"{_operations(digests['worst_calls_by_operation'])} |")
    for world in worlds:
        if world["incomplete"]:
            print(f"\n{world['size']:,} discussions: {world['incomplete']}; the rows after it are not measured "
                  "(the process's address space is capped by --memory-limit-gb)")
    print()
    return rows


def _number(value: float) -> str:
    return f"{value:g}"


def _print_sending(sending: dict[str, Any]) -> None:
    fit = sending["jobs fit"]
    request = sending["send request"]
    print(f"Sending: the request is {_number(request['median'])} DynamoDB calls (worst {request['worst']}) whatever "
          f"it queues ({_operations(request['operations'])}); the jobs of one message to R recipients (its fan-out "
          f"and every copy) cost **{fit['a']:g} + {fit['b']:g}·R** DynamoDB calls (least squares over R = "
          f"{', '.join(sending['jobs of a send'])}, {sending['sends_each']} send(s) each; largest residual "
          f"{fit['largest_residual']:g})\n")
    print("| jobs of a send | DynamoDB calls (median / worst) | per copy (worst) | calls of one send |")
    print("|---|---|---|---|")
    for recipients, figures in sending["jobs of a send"].items():
        print(f"| 1 message × {recipients} | {_number(figures['median'])} / {figures['worst']} | "
              f"{figures['per_copy_worst']:g} | {_operations(figures['operations'])} |")
    for name in ("jobs after a late joiner (3 copies, 11 messages before)", "jobs of a backlog send (25 messages × 2)",
                 "jobs of the rest of the backlog (5 messages × 2)"):
        figures = sending[name]
        print(f"| {name[8:] if name.startswith('jobs of ') else name[5:]} | {figures['dynamodb']} | "
              f"{figures['per_copy']:g} (a group's job at most {figures['worst_copy']:g} a copy, "
              f"{figures['group_reads']} read(s)) | "
              f"{_operations(figures['operations'])} |")
    print(f"\n{sending['copies_per_second']:g} copies/s, one job at a time in one process against in-process moto "
          f"({sending['timed_copies']} copies)\n")


def _print_time(throughput: dict[str, Any], digests: dict[str, Any]) -> None:
    print("Time per operation in one process, beside bare boto3 clients making the same AWS calls "
          "(medians; ratio = app median ÷ boto3 median, above 1 the app is slower; moto's in-process latency "
          "dominates both)\n")
    print("| | app | boto3 | ratio |")
    print("|---|---|---|---|")
    rows = {**throughput, "digests": digests}
    for name, figures in rows.items():
        print(f"| {name} | {figures['app_ms']:g} ms | {figures['boto3_ms']:g} ms | {figures['ratio']:g} |")
    print()


def _print_cold_start(cold: dict[str, Any]) -> None:
    imports = cold["import"]
    print(f"Cold start, CPU seconds in a fresh interpreter each run, median / worst of {imports['app']['runs']}; "
          f"ratio = median ÷ median, target ≤ {cold['target_ratio']}\n")
    print("| | app | bare boto3 | ratio | of which import (app / boto3) | AWS calls |")
    print("|---|---|---|---|---|---|")
    print(f"| import only | {imports['app']['median']:g} / {imports['app']['worst']:g} | "
          f"{imports['boto3']['median']:g} / {imports['boto3']['worst']:g} | {cold['import_ratio']:g} | | |")
    for kind, figures in cold["first_request"].items():
        flag = "" if figures["ratio"] <= cold["target_ratio"] else " **over**"
        print(f"| import + first {kind} | {figures['app']['median']:g} / {figures['app']['worst']:g} | "
              f"{figures['boto3']['median']:g} / {figures['boto3']['worst']:g} | {figures['ratio']:g}{flag} | "
              f"{figures['app_import']['median']:g} / {figures['boto3_import']['median']:g} | "
              f"{_operations(figures['calls'])} |")
    if "package_megabytes" in cold:
        print(f"\nfunction package {cold['package_megabytes']:g} MB, layer {cold['layer_megabytes']:g} MB")
    print()


if __name__ == "__main__":
    main()
