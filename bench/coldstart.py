"""Cold start: importing the app beside importing boto3 alone (each in a fresh interpreter), and package sizes.

Each figure is the median of several fresh `python -c` runs timing the import itself, and the
`python -X importtime` total; `chalice package` builds the deployment zip whose size is reported.
"""
from __future__ import annotations

import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENV = {**os.environ, "STAGE": "local", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}


def _import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True,
                         check=True)
    return float(run.stdout.strip())


def _importtime_total(module: str) -> float:
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT, env=ENV,
                         capture_output=True, text=True, check=True)
    line = [entry for entry in run.stderr.splitlines() if re.search(rf"\|\s{re.escape(module)}$", entry)][-1]
    return int(line.split("|")[1]) / 1e6


def measure(runs: int = 7, package: bool = True) -> dict[str, Any]:
    for module in ("boto3", "app"):  # warm the file cache and bytecode once
        _import_seconds(module)
    boto3 = statistics.median(_import_seconds("boto3") for _ in range(runs))
    app = statistics.median(_import_seconds("app") for _ in range(runs))
    result: dict[str, Any] = {
        "boto3_import_seconds": round(boto3, 4), "app_import_seconds": round(app, 4),
        "app_to_boto3_ratio": round(app / boto3, 2),
        "importtime_boto3_seconds": round(_importtime_total("boto3"), 4),
        "importtime_app_seconds": round(_importtime_total("app"), 4),
    }
    if package:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([str(pathlib.Path(sys.executable).parent / "chalice"), "package", "--stage", "dev", out],
                           cwd=ROOT, env={**ENV, "STAGE": "dev"}, capture_output=True, check=True)
            # The function zip holds our code; the libraries, the SDK included, go in the layer (automatic_layer).
            result["package_megabytes"] = round((pathlib.Path(out) / "deployment.zip").stat().st_size / 1e6, 2)
            result["layer_megabytes"] = round((pathlib.Path(out) / "layer-deployment.zip").stat().st_size / 1e6, 1)
    return result


if __name__ == "__main__":
    figures = measure()
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
