"""Queries read without pydantic (chalicelib/contract/params.py) read as their models do, and the first list page of
a fresh interpreter loads no pydantic at all when answers are sent as made (CHECK_RESPONSES off, as deployed)."""
from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

from chalicelib.discussions import queries, schemas
from tests.conftest import auth_headers

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent

VALUES = {
    "status": ["active", "archived", "closed", "ACTIVE", "", " active", "deleted", "\ud800"],
    "discussion_type": ["general", "GENERAL", "", "nope", "a" * 300],
    "participant": ["bob@client.example", "user-7", "", "   ", "@", "x" * 129, "a@b", "line\nbreak", "\x00"],
    "limit": ["1", "25", "100", "0", "101", "", "abc", "25.0", " 5", "+5", "\u0663", "00025", "99999"],
    "cursor": ["", "opaque", "\ud800"],
    "next_cursor": ["", "opaque"],
    "other": ["ignored"],
}


def _cases() -> list[dict[str, str]]:
    cases: list[dict[str, str]] = [{}]
    for name, values in VALUES.items():
        cases += [{name: value} for value in values]
    cases += [{"status": "archived", "limit": "5", "cursor": "c", "participant": "bob@client.example"},
              {"limit": "0", "status": "nope"}]
    return cases


def _model_reads(model, raw):
    from pydantic import ValidationError

    from chalicelib.errors import ApiError

    try:
        read = model.model_validate(raw)
    except (ValidationError, ApiError) as error:
        return ("refused", type(error).__name__)
    return ("read", {name: getattr(read, name) for name in model.model_fields})


def _params_read(params, raw):
    try:
        read = params.read(raw)
    except Exception as error:  # noqa: BLE001 - any refusal; http.py then lets the model answer
        return ("refused", type(error).__name__)
    return ("read", {name: getattr(read, name) for name in params.fields()})


@pytest.mark.parametrize("raw", _cases(), ids=repr)
@pytest.mark.parametrize("name", ["ListQuery", "StatusQuery"])
def test_a_query_is_read_as_its_model_reads_it(name, raw):
    model_kind, model_value = _model_reads(getattr(schemas, name), raw)
    params_kind, params_value = _params_read(getattr(queries, name), raw)
    assert params_kind == model_kind
    if model_kind == "read":
        assert params_value == model_value
    else:  # the model's own error is what the client gets: the same kind of refusal as the check's
        assert model_value in ("ValidationError", params_value)


def test_the_models_are_made_of_the_params_fields():
    for name in ("ListQuery", "StatusQuery"):
        model, params = getattr(schemas, name), getattr(queries, name)
        assert list(model.model_fields) == list(params.fields())
        for field, (_, check, default) in params.fields().items():
            assert model.model_fields[field].default == default
            assert check in model.model_fields[field].metadata
    assert schemas.ListQuery.model_json_schema()["properties"]["next_cursor"]["deprecated"] is True


def test_a_refused_parameter_is_answered_in_the_models_words(client):
    for query, field in (("limit=0", "limit"), ("status=deleted", "status"), ("participant=%40", "participant")):
        response = client.http.get(f"/api/tenant/threads?{query}", headers=auth_headers())
        body = json.loads(response.body)
        assert response.status_code == 400 and body["error"]["code"] == "validation_error", body
        assert body["error"]["field"] == field, body


def test_an_answer_the_model_would_change_is_a_500_where_answers_are_checked(client, monkeypatch):
    from chalicelib.discussions import routes

    monkeypatch.setattr(routes, "page_json", lambda page, principal: {"items": []})  # next_cursor left out
    response = client.http.get("/api/tenant/threads", headers=auth_headers())
    assert response.status_code == 500


FIRST_LIST_PAGE = r"""
import json, sys
from chalice.test import Client
import app
from chalicelib.auth import issue_local_token

from chalicelib.config import settings

settings()  # read now, from this process's environment (the Client applies the config's only during a request)
token = issue_local_token("tenant-a", "1", ["staff"], sys.argv[1])
before = set(sys.modules)
with Client(app.app, stage_name="local") as client:
    response = client.http.get("/api/tenant/threads?status=active&limit=5",
                               headers={"Authorization": "Bearer " + token})
loaded = sorted(name for name in set(sys.modules) - before if name.split(".")[0] in ("pydantic", "pydantic_core"))
print(json.dumps({"status": response.status_code, "body": json.loads(response.body), "pydantic": loaded}))
"""


def test_the_first_list_page_loads_no_pydantic_when_answers_are_sent_as_made():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Its own process: an in-process moto server would share this test session's AWS.
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
               **config["environment_variables"], "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(ROOT)}
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        bootstrap = "from scripts.bootstrap import bootstrap; bootstrap('local')"
        bootstrapped = subprocess.run([sys.executable, "-c", bootstrap],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert bootstrapped.returncode == 0, bootstrapped.stderr[-3000:]
        answers = {}
        for checked in ("false", "true"):
            run = subprocess.run([sys.executable, "-c", FIRST_LIST_PAGE, env["JWT_SECRET"]], cwd=ROOT,
                                 env={**env, "CHECK_RESPONSES": checked}, capture_output=True, text=True, timeout=60,
                                 check=False)
            assert run.returncode == 0, run.stderr[-3000:]
            answers[checked] = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert answers["false"]["status"] == 200 and answers["false"]["body"] == {"items": [], "next_cursor": None}
    assert answers["false"]["pydantic"] == []  # as deployed: no pydantic module on the first list page
    assert answers["true"]["body"] == answers["false"]["body"]  # the same answer where it is checked
    assert "pydantic" in answers["true"]["pydantic"]  # (the check itself is what loads it)
