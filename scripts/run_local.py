"""`make run`: an embedded moto server as AWS, every resource from infra/, `chalice local`, and the local mailbox page.

Prints where everything is, a bearer token for a demo tenant and curl commands that work as printed. Everything lives
in memory: Ctrl-C stops it all and forgets the data.
"""
from __future__ import annotations

import argparse
import logging
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from typing import IO, TYPE_CHECKING

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.local_stack import STATE_FILE, STATIC_BUCKET, Ports, environment, forget, record  # noqa: E402

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

DEMO_TENANT, DEMO_USER, DEMO_NAME = "demo-tenant", "demo-user", "Demo User"
DEMO_EMAIL = "demo-user@example.com"
DEMO_SENDER = "hub@demo.discussionhub.local"
DEMO_REPLY_DOMAIN = "reply.demo.local"
# Lines of `chalice local` that say nothing to a person using the stack.
NOISE = ("Found credentials in environment variables.", "Serving on http://")


def quiet_moto() -> None:
    """moto says, resource by resource, which types of infra/resources.yaml it cannot create (alarms, the secret, SES
    configuration sets…): true, expected, and worded like a failure. The bootstrap does the SES part with the API."""
    warnings.filterwarnings("ignore", category=UserWarning, module="moto.cloudformation.parsing")
    logging.getLogger("moto").addFilter(
        lambda record: not str(record.msg).startswith("No Moto CloudFormation support"))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's and the mailbox's request logs


def prepare_demo_tenant() -> None:
    """Email on for the demo tenant (an SES-verified sender, receiving for its reply domain), and the demo user in the
    users directory with an address and a name, so their notifications and digests reach the mailbox page."""
    import boto3

    from chalicelib.auth import Principal
    from chalicelib.mail.models import CommunicationSettings
    from chalicelib.tracking.routes import PIXEL
    from chalicelib.users import service as users
    from scripts.bootstrap import configure_receiving, route_identity_notifications

    boto3.client("ses").verify_email_identity(EmailAddress=DEMO_SENDER)
    route_identity_notifications(DEMO_SENDER)
    configure_receiving("local", DEMO_REPLY_DOMAIN)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=STATIC_BUCKET)
    s3.put_object(Bucket=STATIC_BUCKET, Key="pixel.gif", Body=PIXEL, ContentType="image/gif", ACL="public-read")
    CommunicationSettings(DEMO_TENANT, email_integration_enabled=True, email_reply_domain=DEMO_REPLY_DOMAIN,
                          from_address=DEMO_SENDER, from_name="Demo Events",
                          email_signature="Demo Events · https://demo.example").save()
    admin = Principal(DEMO_TENANT, DEMO_USER, frozenset({"admin"}), email=DEMO_EMAIL)
    users.update(admin, DEMO_USER, {"email": DEMO_EMAIL, "name": DEMO_NAME})


JOB_WORKERS = 8  # jobs run at once, as parallel Lambdas would (copies of a send go out side by side)


def start_job_worker(stop: threading.Event, workers: int = JOB_WORKERS) -> list[threading.Thread]:
    """What SQS → Lambda does in AWS: run each queued job (sending copies, notification fan-out, purges) in
    `workers` threads at once, one message at a time each; sweep now and then."""
    import boto3

    from chalicelib import jobs
    from chalicelib.mail import send

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]
    last_sweep = [time.monotonic()]
    sweeping = threading.Lock()

    def work() -> None:
        while not stop.is_set():
            try:
                for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1,
                                                   WaitTimeSeconds=1).get("Messages", []):
                    jobs.run_message(message["Body"])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                if time.monotonic() - last_sweep[0] > 60 and sweeping.acquire(blocking=False):
                    try:
                        last_sweep[0] = time.monotonic()
                        jobs.sweep()
                        send.sweep()  # the retry_failed_sends schedule, which chalice local does not run
                    finally:
                        sweeping.release()
            except Exception:
                logging.getLogger("jobs").exception("job failed; it will be retried")
                time.sleep(1)

    threads = [threading.Thread(target=work, name=f"jobs-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    return threads


def start_mailbox(ports: Ports, token: str) -> BaseWSGIServer:
    """The mailbox page on its own port, in this process (it acts through the app's handlers, as the helpers do)."""
    from werkzeug.serving import make_server

    from chalicelib.config import settings
    from scripts.mailbox.server import MailboxApp

    server = make_server("127.0.0.1", ports.mailbox, MailboxApp(ports, token, settings().ses_message_id_domain),
                         threaded=True)
    threading.Thread(target=server.serve_forever, name="mailbox", daemon=True).start()
    return server


def forward_output(stream: IO[str], started: threading.Event, held: list[str]) -> None:
    """chalice local's output, less its noise; what it says before it is up is held, and shown if it fails."""
    for line in stream:
        if any(line.startswith(noise) for noise in NOISE):
            continue
        if started.is_set():
            print(line, end="", flush=True)
        else:
            held.append(line)


def check_free(ports: Ports) -> None:
    """Stop at once, and say which, if a port is taken (another `make run`?), rather than half-start."""
    for name, port in (("PORT", ports.api), ("MOTO_PORT", ports.moto), ("MAILBOX_PORT", ports.mailbox)):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no owner
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise SystemExit(f"port {port} is in use (another `make run`?): pick another, e.g. "
                                 f"`make run {name}={port + 100}`") from None


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chalice local stopped (exit {process.returncode})")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} seconds")


def banner(ports: Ports, token: str) -> str:
    api, json = ports.api_url, "-H 'Content-Type: application/json'"
    create = (f"curl -s -X POST {api}/api/tenant/threads -H \"Authorization: Bearer {token}\" {json} "
              "-d '{\"subject\": \"Quote 1042 for the spring event\", \"initial_message\": \"Hello!\", "
              "\"participants\": [{\"email\": \"casey@example.com\", \"name\": \"Casey Client\"}]}'")
    return f"""
Discussion Hub is running (stage local). Data lives in memory: Ctrl-C stops everything and forgets it.

  API docs   {api + "/docs":<28}  Swagger UI over /openapi.json; Authorize with the token below
  Mailbox    {ports.mailbox_url:<28}  every email SES was given, as each recipient sees it; reply from there
  API        {api}
  AWS (moto) {ports.moto_url}

TOKEN={token}

(tenant {DEMO_TENANT}, user {DEMO_USER} "{DEMO_NAME}" <{DEMO_EMAIL}>, role admin; `make token` makes others)

Try it: create a discussion with an external participant, list, then email it (ID: the "id" the first answer gives):
  {create}
  curl -s {api}/api/tenant/threads -H "Authorization: Bearer {token}"
  curl -s -X POST {api}/api/tenant/threads/ID/send -H "Authorization: Bearer {token}" {json} -d '{{}}'
Then open the mailbox page, read the email as casey@example.com sees it, and reply: the reply lands in the discussion.

Helpers (they find this stack by themselves): make mails · make deliver FILE=reply.eml ·
  make ses-event KIND=bounce SES_ID=... TO=... · make digest [AT=2026-12-03T09:00:00Z] · make token
The board: POST /api/community/communitythreads; queued jobs run in this process, as SQS → Lambda would.
Ctrl-C stops everything.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT") or 5555))
    parser.add_argument("--mailbox-port", type=int, default=int(os.environ.get("MAILBOX_PORT") or 8025))
    parser.add_argument("--reload", action="store_true", default=bool(os.environ.get("RELOAD")),
                        help="restart the API when a file of the project changes (it polls every file each second)")
    parser.add_argument("--state-file", type=pathlib.Path, default=STATE_FILE, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    ports = Ports(api=arguments.port, moto=arguments.moto_port, mailbox=arguments.mailbox_port)
    check_free(ports)

    env = environment(ports)
    # The mailbox page reads discussions from the API in the browser: its origin may (and any the caller names).
    env["CORS_ALLOWED_ORIGINS"] = " ".join(filter(None, [
        os.environ.get("CORS_ALLOWED_ORIGINS", ""), ports.mailbox_url, f"http://localhost:{ports.mailbox}"]))
    os.environ.update(env)
    quiet_moto()

    from moto.server import ThreadedMotoServer

    print(f"Starting moto (the AWS stand-in) on {ports.moto_url} …", flush=True)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=ports.moto, verbose=False)
    moto.start()

    from chalicelib.auth import issue_local_token
    from scripts.bootstrap import bootstrap

    print("Deploying infra/resources.yaml into it (tables, buckets, topics, queues) and the demo tenant …", flush=True)
    bootstrap("local")
    prepare_demo_tenant()
    stop_jobs = threading.Event()
    start_job_worker(stop_jobs)
    token = issue_local_token(DEMO_TENANT, DEMO_USER, ["admin"], env["JWT_SECRET"], email=DEMO_EMAIL)
    mailbox = start_mailbox(ports, token)

    print(f"Starting the API (chalice local) on {ports.api_url} …", flush=True)
    chalice = subprocess.Popen(
        [str(pathlib.Path(sys.executable).parent / "chalice"), "local", "--stage", "local", "--host", "127.0.0.1",
         "--port", str(ports.api), "--autoreload" if arguments.reload else "--no-autoreload"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started, held = threading.Event(), []
    assert chalice.stdout is not None
    threading.Thread(target=forward_output, args=(chalice.stdout, started, held), daemon=True).start()
    try:
        try:
            wait_for_http(f"{ports.api_url}/openapi.json", chalice)
        except RuntimeError:
            print("".join(held), end="", flush=True)
            raise
        record(ports, arguments.state_file)
        print(banner(ports, token), flush=True)
        started.set()
        return chalice.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if chalice.poll() is None:
            os.killpg(chalice.pid, signal.SIGTERM)
            try:
                chalice.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(chalice.pid, signal.SIGKILL)
        forget(ports, arguments.state_file)
        stop_jobs.set()
        mailbox.shutdown()
        moto.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sys.exit(main())
