"""`make run`: an embedded moto server as AWS, every resource from infra/, then `chalice local`.

Prints a bearer token for a demo tenant and a curl command that works as printed. Ctrl-C stops both.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


def local_environment(moto_port: int) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    environment = dict(os.environ)
    environment.pop("AWS_PROFILE", None)
    environment.update(FAKE_CREDENTIALS)
    environment.update(config["stages"]["local"]["environment_variables"])
    environment["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"
    environment["STATIC_PIXEL_URL"] = f"http://127.0.0.1:{moto_port}/{STATIC_BUCKET}/pixel.gif"
    return environment


STATIC_BUCKET = "discussion-hub-local-static"
DEMO_SENDER = "hub@demo.discussionhub.local"


def prepare_demo_tenant() -> None:
    """Email integration on for the demo tenant, with an SES-verified sender, so `send` works at once."""
    import boto3

    from chalicelib.mail.models import CommunicationSettings
    from chalicelib.tracking.routes import PIXEL
    from scripts.bootstrap import configure_receiving, route_identity_notifications

    boto3.client("ses").verify_email_identity(EmailAddress=DEMO_SENDER)
    route_identity_notifications(DEMO_SENDER)
    configure_receiving("local", "reply.demo.local")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=STATIC_BUCKET)
    s3.put_object(Bucket=STATIC_BUCKET, Key="pixel.gif", Body=PIXEL, ContentType="image/gif", ACL="public-read")
    CommunicationSettings("demo-tenant", email_integration_enabled=True, email_reply_domain="reply.demo.local",
                          from_address=DEMO_SENDER, from_name="Demo Events",
                          email_signature="Demo Events · https://demo.example").save()


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


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} seconds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", 5555)))
    arguments = parser.parse_args()

    environment = local_environment(arguments.moto_port)
    environment["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{arguments.port}"
    os.environ.update(environment)

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log would bury the token

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=arguments.moto_port, verbose=False)
    moto.start()
    print(f"moto (AWS stand-in) on http://127.0.0.1:{arguments.moto_port}", flush=True)

    from chalicelib.auth import issue_local_token
    from scripts.bootstrap import bootstrap

    bootstrap("local")
    prepare_demo_tenant()
    print("created every table and bucket from infra/resources.yaml; demo tenant can send mail", flush=True)
    stop_jobs = threading.Event()
    start_job_worker(stop_jobs)

    chalice = subprocess.Popen(
        [str(pathlib.Path(sys.executable).parent / "chalice"), "local", "--stage", "local", "--host", "127.0.0.1",
         "--port", str(arguments.port)],
        cwd=ROOT, env=environment, start_new_session=True)
    base = f"http://127.0.0.1:{arguments.port}"
    try:
        wait_for_http(f"{base}/api/tenant/threads")
        token = issue_local_token("demo-tenant", "demo-user", ["admin"], environment["JWT_SECRET"],
                                  email="demo-user@example.com")
        print(f"\nDiscussion Hub is running on {base}\n", flush=True)
        print(f"TOKEN={token}\n", flush=True)
        print("Try it:", flush=True)
        print(f"  curl -s -X POST {base}/api/tenant/threads -H \"Authorization: Bearer {token}\" "
              "-H 'Content-Type: application/json' "
              "-d '{\"subject\": \"Quote 1042 for the spring event\", \"initial_message\": \"Hello!\"}'",
              flush=True)
        print(f"  curl -s {base}/api/tenant/threads -H \"Authorization: Bearer {token}\"", flush=True)
        print(f"The API, as OpenAPI 3.1 (no token needed): curl -s {base}/openapi.json\n", flush=True)
        print("Email: add a participant {\"email\": \"someone@example.com\"}, POST .../threads/ID/send (202: queued; "
              "the worker in this process sends the copies within a second), then "
              f"`make mails` (or MOTO_PORT={arguments.moto_port} .venv/bin/python scripts/show_mail.py) "
              "prints the raw MIME that SES was given; reply by saving an answer as reply.eml (To: the Reply-To "
              "address) and `make deliver FILE=reply.eml`.\n", flush=True)
        print("Community board: POST /api/community/communitythreads with "
              "{\"BusinessId\": 1, \"UserId\": 1, \"Subject\": \"Hello\", \"Message\": \"Hi @[Ann](2)\"}; "
              "queued notifications are delivered by a worker in this process, as SQS would.\n", flush=True)
        print("Ctrl-C stops both servers.", flush=True)
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
        stop_jobs.set()
        moto.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sys.exit(main())
