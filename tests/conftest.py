"""Test set-up: the environment is set before `app` is imported, and each test gets a fresh moto AWS."""
from __future__ import annotations

import copy
import copyreg
import json
import os
import pathlib
import sys
import threading

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Settings are read at import time by the PynamoDB models (NOTES.md: chalice.test.Client applies the
# config's environment only during a request), so the test environment is fixed here, first.
_CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
os.environ.update(_CONFIG["stages"]["local"]["environment_variables"])
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
})
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(_name, None)

import pytest  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib import aws as aws_clients  # noqa: E402
from chalicelib import cache, clock, db  # noqa: E402
from chalicelib.auth import issue_local_token  # noqa: E402
from scripts.bootstrap import bootstrap  # noqa: E402

JWT_SECRET = os.environ["JWT_SECRET"]


def _reset_cached_clients() -> None:
    db.connection.cache_clear()
    aws_clients.reset_clients()
    from chalicelib import jobs
    from chalicelib.mail import ses
    from chalicelib.tables import all_models

    jobs.reset_clients()
    ses.reset_pace()
    for model in all_models():
        model._connection = None


class MotoWorld:
    """One in-process moto AWS for the whole session, with infra/resources.yaml deployed into it once.

    Deploying the stack costs about half a second; copying moto's in-memory state costs a millisecond. So the
    stack is deployed once, the state of every service the app uses is kept, and each test starts from a copy
    of it: every test sees exactly the freshly deployed stack, as if it had deployed it itself.
    """

    SERVICES = ("dynamodb", "s3", "ses", "sesv2", "sns", "sqs", "cloudwatch", "secretsmanager")

    def __init__(self) -> None:
        from moto.backends import get_backend

        # A few moto objects hold locks (an SQS queue a Condition), which cannot be copied: a copy gets its own.
        for make_lock in (threading.Lock, threading.RLock, threading.Condition):
            copyreg.pickle(type(make_lock()), lambda lock, make_lock=make_lock: (make_lock, ()))
        self._backends = {name: get_backend(name) for name in self.SERVICES}
        self._saved = {(name, account, region): copy.deepcopy(backend.__dict__)
                       for name, backends in self._backends.items()
                       for account, regions in backends.items() for region, backend in regions.items()}

    def restore(self) -> None:
        """Every service back to the state just after the deploy (services first used later are emptied)."""
        for name, backends in self._backends.items():
            for account, regions in backends.items():
                for region, backend in list(regions.items()):
                    saved = self._saved.get((name, account, region))
                    if saved is None:
                        backend.reset()
                    else:
                        backend.__dict__.clear()
                        backend.__dict__.update(copy.deepcopy(saved))


@pytest.fixture(scope="session")
def moto_world():
    with mock_aws():
        _reset_cached_clients()
        bootstrap("local")
        yield MotoWorld()
    _reset_cached_clients()


@pytest.fixture
def aws(moto_world):
    """AWS (moto) exactly as the stack deploys it: every resource of infra/resources.yaml, no data."""
    moto_world.restore()
    cache.clear()  # tenant settings kept per container by background work belong to the world just restored
    yield moto_world
    clock.reset_clock()


@pytest.fixture
def app(aws):
    from app import app as chalice_app

    return chalice_app


@pytest.fixture
def client(app):
    with Client(app, stage_name="local") as test_client:
        yield test_client


def token_for(tenant_id: str = "tenant-a", user_id: str = "user-1", roles: list[str] | None = None,
              email: str | None = None) -> str:
    return issue_local_token(tenant_id, user_id, roles if roles is not None else ["staff"], JWT_SECRET,
                             email=email)


def auth_headers(tenant_id: str = "tenant-a", user_id: str = "user-1", roles: list[str] | None = None,
                 email: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(tenant_id, user_id, roles, email)}",
            "Content-Type": "application/json"}


class Api:
    """Small JSON helper over chalice.test.Client, as one user of one tenant."""

    def __init__(self, client: Client, tenant_id: str = "tenant-a", user_id: str = "user-1",
                 roles: list[str] | None = None) -> None:
        self.client = client
        self.headers = auth_headers(tenant_id, user_id, roles)

    def call(self, method: str, path: str, body: object = None, raw: str | None = None):
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=self.headers,
                                            body=payload.encode() if payload else b"")
        response.data = json.loads(response.body) if response.body else None
        return response

    def get(self, path: str):
        return self.call("GET", path)

    def post(self, path: str, body: object = None, raw: str | None = None):
        return self.call("POST", path, body if body is not None else {}, raw)

    def delete(self, path: str):
        return self.call("DELETE", path)


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def make_api(client):
    def make(tenant_id: str = "tenant-a", user_id: str = "user-1", roles: list[str] | None = None) -> Api:
        return Api(client, tenant_id, user_id, roles)

    return make


@pytest.fixture
def aws_server(aws, monkeypatch):
    """A moto server on loopback, for tests where many threads talk to AWS at once.

    In-process moto is not thread-safe (its transactions copy whole tables); a single-threaded server
    applies each request atomically, as DynamoDB does, while the clients still interleave freely. The server
    serves the same in-process backends as the session's world, so the deployed stack is already there.
    """
    import socket

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = make_server("127.0.0.1", port, DomainDispatcherApplication(create_backend_app), threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    _reset_cached_clients()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    _reset_cached_clients()


@pytest.fixture
def run_jobs(client):
    """Deliver every queued job to the `jobs` Lambda, as SQS would, until the queue is empty.

    A job put back with a delay (jobs.RetryLater) waits, as in SQS, unless `skip_delays`: then its delay is over at
    once, as if that time had passed (moto's SQS keeps real time); so is the visibility timeout of a message whose
    run died (raised something that is not an Exception, as a killed Lambda runs no handler)."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    from chalicelib import jobs

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]

    def end_delays() -> bool:
        """Time passes for the queue: delays are over, and messages taken by a run that died are shown again (their
        visibility timeout is over). True if any message became available."""
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[jobs.QUEUE_NAME]
        waiting = [message for message in queue._messages if message.delayed or not message.visible]
        for message in waiting:
            message.delayed_until = 0.0
            message.visible_at = 0.0
        return bool(waiting)

    def run(max_rounds: int = 200, skip_delays: bool = False) -> list[str]:
        outcomes: list[str] = []
        for _ in range(max_rounds):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                if skip_delays and end_delays():
                    continue
                return outcomes
            for message in messages:
                event = client.events.generate_sqs_event(message_bodies=[message["Body"]],
                                                         queue_name=jobs.QUEUE_NAME)
                try:
                    response = client.lambda_.invoke("jobs", event)
                except Exception:
                    # As SQS does after a failed run: the message becomes visible again for a later delivery.
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                                  VisibilityTimeout=0)
                    raise
                outcomes += response.payload
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        raise AssertionError("jobs kept coming")

    run.time_passes = end_delays  # type: ignore[attr-defined]
    return run
