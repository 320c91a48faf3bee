"""Cold start: the app's import, and its import plus the first request of each kind, beside bare boto3.

Every figure is a fresh interpreter (`python bench/coldstart.py --child …`), several runs, median and worst, in CPU
time of the child (`time.process_time`, so moto's work, which runs in this process, is not in it):
- `import app` beside `import boto3`;
- for each kind of first request (a list page, a pixel open, an SES delivery event, one user's digest job):
  `import app` and the Lambda entry point called once with a fresh event, beside a bare boto3 handler that
  imports boto3 and makes the same AWS calls (recorded from a cold run of the app on another item of the same
  kind) with plain clients. Ratio = median ÷ median (app ÷ boto3; target ≤ 1.2).
The app's child has Lambda's `_HANDLER` set to the handler it runs (`app.app` for the API, `app.ses_events`,
`app.jobs`), as Lambda sets it for each function. The AWS behind both is a moto server in this process
(AWS_ENDPOINT_URL), prepared by `--prepare` in another fresh interpreter. `chalice package` builds the deployment
zip whose size is reported.

The app runs as it is packaged: a copy of `app.py` and `chalicelib/` with unchecked hash-based bytecode beside each
module (scripts/deploy.py `add_bytecode`), as the libraries in the virtualenv have theirs; nothing is compiled at a
cold start, by either side, and nothing is written (PYTHONDONTWRITEBYTECODE).
"""
from __future__ import annotations

import json
import os
import pathlib
import pickle
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
KINDS = ("list page", "pixel open", "SES delivery event", "one user's digest (job)")
HANDLERS = {"list page": "app", "pixel open": "app", "SES delivery event": "ses_events",
            "one user's digest (job)": "jobs"}
TARGET_RATIO = 1.2


def _environment(endpoint: str | None = None, code: pathlib.Path | None = None) -> dict[str, str]:
    """The child's environment; `code`: the packaged copy of the app its imports come from (else the source)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(config["stages"]["local"]["environment_variables"])
    # As deployed: the dev and prod stages send each answer as the view made it (the tests check it against its
    # response model, CHECK_RESPONSES, on in stage local only).
    env["CHECK_RESPONSES"] = "false"
    env.update({"STAGE": "local", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": os.pathsep.join([str(code), str(ROOT)] if code else [str(ROOT)])})
    if code:
        env["COLDSTART_CODE"] = str(code)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def _child(env: dict[str, str], *arguments: str) -> dict[str, Any]:
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "coldstart.py"), "--child", *arguments], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"cold-start child {arguments} failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "worst": round(max(values), 4), "runs": len(values)}


def _packaged_copy(folder: pathlib.Path) -> pathlib.Path:
    """`app.py` and `chalicelib/` as the function zip carries them: with the email templates compiled to modules
    (scripts/deploy.py) and unchecked hash-based bytecode."""
    import compileall
    import py_compile
    import shutil

    from scripts.deploy import compile_templates

    code = folder / "code"
    code.mkdir()
    shutil.copy2(ROOT / "app.py", code / "app.py")
    shutil.copytree(ROOT / "chalicelib", code / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    compile_templates(code)
    compileall.compile_dir(str(code), quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return code


def measure(runs: int = 7, package: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        return _measure(runs, package, _packaged_copy(pathlib.Path(folder)))


def _measure(runs: int, package: bool, code: pathlib.Path) -> dict[str, Any]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request log

    imports: dict[str, list[float]] = {"app": [], "boto3": []}
    plain = _environment(code=code)
    for module in ("boto3", "app"):  # warm the file cache once
        _child(plain, "import", module)
    for _ in range(runs):
        for module in ("boto3", "app"):
            imports[module].append(_child(plain, "import", module)["cpu"])
    result: dict[str, Any] = {
        "import": {module: _summary(values) for module, values in imports.items()},
        "import_ratio": round(statistics.median(imports["app"]) / statistics.median(imports["boto3"]), 2),
        "statistic": "median ÷ median of CPU seconds, each run a fresh interpreter", "target_ratio": TARGET_RATIO}

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        env = _environment(f"http://127.0.0.1:{port}", code)
        with tempfile.TemporaryDirectory() as folder:
            events_file = str(pathlib.Path(folder) / "events.pickle")
            _child(env, "prepare", events_file, str(runs + 2))
            first: dict[str, Any] = {}
            for kind in KINDS:
                calls_file = str(pathlib.Path(folder) / f"{KINDS.index(kind)}.pickle")
                _child(env, "app", events_file, kind, "0", calls_file)  # warm-up and the recorded calls
                recorded = pickle.loads(pathlib.Path(calls_file).read_bytes())
                app_runs, boto3_runs = [], []
                for index in range(1, runs + 1):
                    app_runs.append(_child(env, "app", events_file, kind, str(index)))
                    boto3_runs.append(_child(env, "boto3", calls_file))
                app_cpu = [run["cpu"] for run in app_runs]
                boto3_cpu = [run["cpu"] for run in boto3_runs]
                first[kind] = {
                    "app": _summary(app_cpu), "boto3": _summary(boto3_cpu),
                    "app_import": _summary([run["import_cpu"] for run in app_runs]),
                    "boto3_import": _summary([run["import_cpu"] for run in boto3_runs]),
                    "aws_calls": len(recorded), "calls": _operations(recorded),
                    "ratio": round(statistics.median(app_cpu) / statistics.median(boto3_cpu), 2)}
            result["first_request"] = first
    finally:
        server.stop()
    result["worst_first_request_ratio"] = max(figures["ratio"] for figures in result["first_request"].values())
    if package:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([str(pathlib.Path(sys.executable).parent / "chalice"), "package", "--stage", "dev", out],
                           cwd=ROOT, env={**_environment(), "STAGE": "dev"}, capture_output=True, check=True)
            # The function zip holds our code; the libraries, the SDK included, go in the layer (automatic_layer);
            # both as `make deploy` ships them: the layer slimmed, both with their bytecode (scripts/deploy.py).
            from scripts.deploy import add_bytecode, slim_layer

            slim_layer(pathlib.Path(out) / "layer-deployment.zip")
            add_bytecode(pathlib.Path(out) / "layer-deployment.zip", "/opt")
            add_bytecode(pathlib.Path(out) / "deployment.zip", "/var/task")
            result["package_megabytes"] = round((pathlib.Path(out) / "deployment.zip").stat().st_size / 1e6, 2)
            result["layer_megabytes"] = round((pathlib.Path(out) / "layer-deployment.zip").stat().st_size / 1e6, 1)
    return result


def _operations(recorded: list[tuple[str, str, dict]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for service, operation, _ in recorded:
        counts[f"{service}.{operation}"] = counts.get(f"{service}.{operation}", 0) + 1
    return dict(sorted(counts.items()))


class _Context:
    """What the Lambda runtime hands a handler, as far as the app reads it."""
    function_name = "discussion-hub-local"
    memory_limit_in_mb = 512
    aws_request_id = "cold-start"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:discussion-hub-local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _child_import(module: str) -> dict[str, float]:
    started = time.process_time()
    __import__(module)
    return {"cpu": time.process_time() - started}


def _child_app(events_file: str, kind: str, index: int, calls_file: str | None) -> dict[str, float]:
    """`import app`, then its entry point once; with `calls_file`, the AWS calls it made are written there."""
    event = pickle.loads(pathlib.Path(events_file).read_bytes())[kind][index]
    context = _Context()
    os.environ["_HANDLER"] = f"app.{HANDLERS[kind]}"  # as Lambda sets it: the handler this function runs (app.py)
    started = time.process_time()
    import app

    imported = time.process_time()
    if calls_file:
        from bench.calls import recording

        with recording() as recorded:
            answer = getattr(app, HANDLERS[kind])(event, context)
        pathlib.Path(calls_file).write_bytes(pickle.dumps(recorded))
    else:
        answer = getattr(app, HANDLERS[kind])(event, context)
    finished = time.process_time()
    status = answer.get("statusCode", 200) if isinstance(answer, dict) else 200
    assert status < 400, answer
    return {"cpu": finished - started, "import_cpu": imported - started}


def _child_boto3(calls_file: str) -> dict[str, float]:
    """A bare handler: import boto3, make the recorded calls with plain clients (failed conditions count as done)."""
    recorded = pickle.loads(pathlib.Path(calls_file).read_bytes())
    started = time.process_time()
    import boto3

    imported = time.process_time()
    from botocore.exceptions import ClientError

    clients: dict[str, Any] = {}
    for service, operation, parameters in recorded:
        if service not in clients:
            clients[service] = boto3.client(service)
        try:
            clients[service]._make_api_call(operation, parameters)
        except ClientError:
            pass
    return {"cpu": time.process_time() - started, "import_cpu": imported - started}


def _child_prepare(events_file: str, count: int) -> dict[str, int]:
    """Against the moto server: the tables, a tenant, a discussion sent to `count` recipients, `count` users with a
    digest due; then `count` fresh events of each kind (a pixel, an SES id, a user each), none run yet."""
    import copy
    from datetime import UTC, datetime

    from chalice.test import Client

    import app as application
    from bench import sending
    from chalicelib import clock
    from chalicelib.auth import issue_local_token
    from chalicelib.discussions.service import discussion_key
    from chalicelib.tracking.ids import pixel_name
    from scripts.bootstrap import bootstrap
    from tests.outbound.test_ses_events import _aim, _example

    bootstrap("local")
    app = application.app
    token = issue_local_token("bench", "staff-1", ["admin", "staff"], os.environ["JWT_SECRET"],
                              email="staff-1@bench.example")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    events: dict[str, list[Any]] = {kind: [] for kind in KINDS}
    with Client(app, stage_name="local") as client:
        def call(method: str, path: str, body: Any = None) -> Any:
            response = client.http.request(method, path, headers=headers,
                                           body=json.dumps(body).encode() if body is not None else b"")
            assert response.status_code < 400, (path, response.status_code, response.body[:300])
            return json.loads(response.body)

        call("POST", "/api/tenant/identities", {"identity": "bench.example"})
        call("PUT", "/api/tenant/settings/communication", {
            "email_integration_enabled": True, "email_reply_domain": "reply.bench.example",
            "from_address": "hub@bench.example"})
        discussion = call("POST", "/api/tenant/threads", {
            "subject": "Cold", "initial_message": "Hello", "participants": [
                {"email": f"cold{n}@client.example"} for n in range(count)]})["id"]
        call("POST", f"/api/tenant/threads/{discussion}/send", {})
        sending.drain(app, client)
        copies = call("GET", f"/api/tenant/threads/{discussion}/tracking?limit=50")["recipients"]

        captured: list[dict] = []
        original = type(app).__call__

        def capture(self: Any, event: dict, context: Any) -> dict:
            captured.append(copy.deepcopy(event))
            return {"statusCode": 200, "headers": {}, "multiValueHeaders": {}, "body": ""}

        type(app).__call__ = capture  # type: ignore[method-assign]
        try:
            for _ in range(count):
                client.http.get("/api/tenant/threads?limit=25", headers=headers)
            for record in copies[:count]:  # the pixel as the mail carries it: one call (tracking/ids.py)
                name = pixel_name(record["tracking_pixel_id"], discussion_key("bench", discussion),
                                  record["message_id"])
                client.http.get(f"/t/o/{name}.gif", headers={"Accept": "image/gif"})
        finally:
            type(app).__call__ = original  # type: ignore[method-assign]
        events["list page"], events["pixel open"] = captured[:count], captured[count:]
        for n, record in enumerate(copies[:count]):
            event = _aim(_example("event_delivery"), record["ses_message_id"], record["recipient_email"],
                         f"2026-11-23T10:00:{n:02d}.000Z")
            events["SES delivery event"].append(client.events.generate_sns_event(message=json.dumps(event)))

        from chalicelib import jobs
        from chalicelib.notifications import delivery
        from chalicelib.notifications.email import EmailContent
        from chalicelib.notifications.service import NewNotification
        from chalicelib.users.models import UserProfile

        users = [str(7000 + n) for n in range(count)]
        with UserProfile.batch_write() as batch:
            for user in users:
                batch.save(UserProfile("bench", user, email=f"u{user}@bench.example"))
        clock.set_clock(lambda: datetime(2026, 11, 23, 10, 0, tzinfo=UTC))  # due long before the children run
        item = NewNotification(type="community_reply", title="New reply", body="Sounds good", community_thread_id=42,
                               context_label="Cold thread")
        delivery.deliver("bench", users, "000000000001", item, EmailContent("t", None, None, "r"))
        for user in users:
            body = json.dumps({"kind": "digest.user", "payload": {"tenant_id": "bench", "user_id": user}})
            events["one user's digest (job)"].append(client.events.generate_sqs_event(
                message_bodies=[body], queue_name=jobs.QUEUE_NAME))
    pathlib.Path(events_file).write_bytes(pickle.dumps(events))
    return {kind: len(values) for kind, values in events.items()}


def _child_main(arguments: list[str]) -> None:
    mode = arguments[0]
    if mode == "import":
        answer: dict[str, Any] = _child_import(arguments[1])
    elif mode == "app":
        answer = _child_app(arguments[1], arguments[2], int(arguments[3]), arguments[4] if len(arguments) > 4 else None)
    elif mode == "boto3":
        answer = _child_boto3(arguments[1])
    else:
        answer = _child_prepare(arguments[1], int(arguments[2]))
    print(json.dumps(answer))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.path[:0] = [os.environ["COLDSTART_CODE"], str(ROOT)] if "COLDSTART_CODE" in os.environ else [str(ROOT)]
        _child_main(sys.argv[2:])
    else:  # `python bench/coldstart.py [runs]`: the cold-start part alone, imports from the repository's root
        sys.path.insert(0, str(ROOT))
        figures = measure(runs=int(sys.argv[1]) if len(sys.argv) > 1 else 7, package=False)
        print(json.dumps(figures, indent=2))
