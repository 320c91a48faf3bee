"""What is loaded on first use (chalicelib/lazy.py, the models' deferred validators, the collector paused during a
container's first call) behaves on that first call as it does later: each check runs in a fresh interpreter, as a
Lambda's first invocation does (bench/coldstart.py measures the same path)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

FIRST_CALLS = r"""
import gc, json, sys
import app

lean = [name for name in ("pydantic", "pynamodb", "jwt", "boto3") if name in sys.modules]
from chalice.test import Client
from chalicelib.auth import issue_local_token
from chalicelib.tracking.ses_events import parse_ses_events

token = issue_local_token("tenant-a", "1", ["admin", "staff"], sys.argv[1], email="admin@example.com")
headers = {"Authorization": f"Bearer " + token, "Content-Type": "application/json"}
answers = []
with Client(app.app, stage_name="local") as client:
    for path, body in json.loads(sys.argv[2]):
        response = client.http.post(path, headers=headers, body=json.dumps(body))
        answers.append([response.status_code, json.loads(response.body)])
event = parse_ses_events(sys.argv[3])[0]
print(json.dumps({"lean": lean, "answers": answers, "gc": [gc.isenabled(), gc.get_freeze_count() > 0],
                  "event": [event.kind, event.recipient]}))
"""


def test_the_first_call_in_a_fresh_interpreter_validates_and_answers_as_later_ones():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"]["environment_variables"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **config,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           # Nothing here may reach AWS: a call would fail at once on this closed port rather than wait.
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "PYTHONPATH": str(ROOT)}
    calls = [["/api/tenant/threads", {"subject": "S", "participants": [{"email": "not-an-address"}]}],
             ["/api/community/communitythreads", {"BusinessId": 1, "UserId": 7, "Subject": "Hello",
                                                  "Message": "Body", "Private": 1}]]
    ses_event = (ROOT / "tests" / "fixtures" / "ses" / "event_delivery.json").read_text()

    run = subprocess.run([sys.executable, "-c", FIRST_CALLS, config["JWT_SECRET"], json.dumps(calls), ses_event],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["lean"] == []  # importing the app loads none of them: each handler loads what it uses
    (tenant_status, tenant), (board_status, board) = result["answers"]
    assert tenant_status == 400 and tenant["error"]["field"] == "participants[0].email"
    assert tenant["error"]["code"] == "validation_error" and "valid email" in tenant["error"]["message"]
    assert board_status == 400 and board["Errors"] == [
        {"AttemptedValue": 1, "Message": "must be true or false", "PropertyName": "Private"}]
    assert result["gc"] == [True, True]  # collecting again after the first call, what it loaded frozen
    assert result["event"] == ["delivery", "recipient@example.com"]


EVENT_FUNCTION = r"""
import json, sys
import app

routes = sorted(app.app.routes)
route_modules = sorted(name for name in sys.modules if name.startswith("chalicelib.") and name.endswith("routes"))
sns = {"MessageId": "m-1", "Message": "not JSON", "Subject": None, "Timestamp": "2026-12-03T07:00:00.000Z",
       "MessageAttributes": {}}
answer = app.ses_events({"Records": [{"EventSource": "aws:sns", "Sns": sns}]}, None) \
    if "ses_events" in sys.argv[1] else None
if sys.argv[1] == "app.jobs":  # every job's handler loads without the routes (their import is their only tie)
    import importlib
    from chalicelib import jobs
    answer = sorted(kind for kind, target in jobs._HANDLERS.items()
                    if callable(getattr(importlib.import_module(target.partition(":")[0]), target.partition(":")[2])))
print(json.dumps({"routes": routes, "route_modules": route_modules, "answer": answer}))
"""


def _event_function(handler: str | None) -> dict:
    """`import app` in a fresh interpreter whose `_HANDLER` is `handler`, as Lambda sets it (None: not in Lambda)."""
    env = {k: v for k, v in os.environ.items() if k != "_HANDLER"} | {"PYTHONPATH": str(ROOT)}
    if handler is not None:
        env["_HANDLER"] = handler
    run = subprocess.run([sys.executable, "-c", EVENT_FUNCTION, str(handler)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_function_of_an_event_handler_loads_no_route_and_handles_its_events():
    api, outside_lambda = _event_function("app.app"), _event_function(None)
    assert api["routes"] == outside_lambda["routes"] and "/api/tenant/threads" in api["routes"]
    assert "chalicelib.discussions.routes" in api["route_modules"]

    for handler in ("app.ses_events", "app.jobs", "app.inbound_mail", "app.digest_tick", "app.sweep_jobs",
                    "app.retry_failed_sends"):
        function = _event_function(handler)
        assert (function["routes"], function["route_modules"]) == ([], []), handler
    from chalicelib import jobs

    assert _event_function("app.jobs")["answer"] == sorted(jobs._HANDLERS)
    # The SES-events function still answers its events: a message that is not an SES event is acknowledged.
    assert _event_function("app.ses_events")["answer"] == [
        {"applied": 0, "duplicate": 0, "unknown": 0, "malformed": 1, "ignored": 0}]
