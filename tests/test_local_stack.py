"""`make run` as a person uses it: moto server + chalice local, a printed token, real HTTP calls, clean Ctrl-C."""
from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # starts the local stack (moto server + chalice local)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_local_stack(state_file: pathlib.Path) -> tuple[subprocess.Popen, list[str], str]:
    """`make run` on free ports: the process, what it printed up to the token, and the token."""
    port, moto_port, mailbox_port = _free_port(), _free_port(), _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen([sys.executable, "scripts/run_local.py", "--port", str(port), "--moto-port",
                                str(moto_port), "--mailbox-port", str(mailbox_port), "--state-file", str(state_file)],
                               cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    output, token, deadline = [], None, time.monotonic() + 90
    while token is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        match = re.match(r"^TOKEN=(\S+)$", line.strip())
        token = match.group(1) if match else None
    if not token:
        stop_local_stack(process)
        pytest.fail("".join(output))
    process.ports = (port, moto_port, mailbox_port)
    return process, output, token


def stop_local_stack(process: subprocess.Popen) -> None:
    """Ctrl-C, so that it stops `chalice local` (in a session of its own) too; a kill only if that does not work."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def local_stack(tmp_path):
    process, output, token = start_local_stack(tmp_path / "stack.json")
    port, moto_port, _ = process.ports
    curl_lines = []
    while len(curl_lines) < 2:
        line = process.stdout.readline()
        output.append(line)
        if line.strip().startswith("curl "):
            curl_lines.append(line.strip())
    process.moto_port, process.output, process.state_file = moto_port, output, tmp_path / "stack.json"
    yield f"http://127.0.0.1:{port}", token, curl_lines, process
    stop_local_stack(process)


def test_the_local_stack_serves_the_api_with_the_printed_token(local_stack):
    base, token, curl_lines, process = local_stack
    # Quiet: what moto cannot deploy, the SDK finding its credentials, Python warnings are not shown.
    printed = "".join(process.output)
    assert not re.search(r"No Moto CloudFormation|UserWarning|Found credentials|Traceback", printed), printed
    assert f"Mailbox    http://127.0.0.1:{process.ports[2]}" in printed and f"{base}/docs" in printed
    assert "Data lives in memory" in printed
    # The printed curl command works as printed.
    created = subprocess.run(curl_lines[0], shell=True, capture_output=True, text=True, timeout=30)
    assert '"subject":"Quote 1042 for the spring event"' in created.stdout.replace(": ", ":")
    headers = {"Authorization": f"Bearer {token}"}
    listed = requests.get(f"{base}/api/tenant/threads", headers=headers, timeout=10).json()
    assert [item["subject"] for item in listed["items"]] == ["Quote 1042 for the spring event"]
    assert requests.get(f"{base}/api/tenant/threads", timeout=10).status_code == 401
    document = requests.get(f"{base}/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.1") and "/api/tenant/threads" in document["paths"]
    # The demo user is in the users directory, so notifications and digests reach a mailbox.
    demo = requests.get(f"{base}/api/tenant/users/demo-user", headers=headers, timeout=10).json()
    assert (demo["email"], demo["name"]) == ("demo-user@example.com", "Demo User")
    _send_and_track_over_http(base, headers, process)
    _community_over_http(base, headers)
    _digest_on_the_local_stack(base, headers, process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    assert not process.state_file.exists()  # the helpers will not talk to a stack that is gone
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/api/tenant/threads", timeout=2)


def _send_and_track_over_http(base, headers, process):
    """Email out on the local stack: send, read the MIME with show_mail.py, open the pixel, follow a link."""
    created = requests.post(f"{base}/api/tenant/threads", headers=headers, timeout=10, json={
        "subject": "Local mail", "initial_message": "Read https://example.com/terms",
        "participants": [{"email": "someone@example.com"}]}).json()
    queued = requests.post(f"{base}/api/tenant/threads/{created['id']}/send", headers=headers, json={},
                           timeout=30)
    assert queued.status_code == 202 and queued.json()["queued"][0]["recipients"] == ["someone@example.com"]
    deadline, shown = time.monotonic() + 30, ""
    # The helpers find the stack's ports in the state file `make run` wrote; the job worker sends the copy.
    while "(1 message(s);" not in shown and time.monotonic() < deadline:
        shown = subprocess.run([sys.executable, "scripts/show_mail.py", "--state-file", str(process.state_file)],
                               cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
    assert "(1 message(s);" in shown, shown
    assert "Reply-To: reply+" in shown and "References: <thread." in shown
    unwrapped = shown.replace("=\n", "")  # quoted-printable soft line breaks
    pixel = re.search(r"/t/o/([0-9a-f]{32}(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?)\.gif", unwrapped).group(1)
    for accept in ("*/*", "image/webp,image/*,*/*;q=0.8"):
        gif = requests.get(f"{base}/t/o/{pixel}.gif", headers={"Accept": accept}, timeout=10)
        assert gif.status_code == 200 and gif.content.startswith(b"GIF89a") and len(gif.content) == 42
    redirected = requests.get(f"{base}/t/o/{pixel}.gif", headers={"Accept": None}, timeout=10)
    assert redirected.status_code == 200 and redirected.content.startswith(b"GIF89a")  # via the static GIF
    click = re.search(r"/t/c/([0-9a-f]{32}-\d+(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?)", unwrapped).group(1)
    followed = requests.get(f"{base}/t/c/{click}", allow_redirects=False, timeout=10)
    assert followed.status_code == 302 and followed.headers["Location"] == "https://example.com/terms"
    ses_id = re.search(r"SES message id (\S+) → someone@example.com", shown).group(1)
    fed = subprocess.run([sys.executable, "scripts/ses_event.py", "--state-file", str(process.state_file),
                          "--simulate", "bounce", "--ses-message-id", ses_id, "--recipient", "someone@example.com"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert '"applied": 1' in fed.stdout, fed.stdout + fed.stderr
    stats = requests.get(f"{base}/api/tenant/threads/{created['id']}/tracking", headers=headers, timeout=10).json()
    assert stats["opened"] == 1 and stats["recipients"][0]["open_count"] == 3
    assert stats["recipients"][0]["click_count"] == 1
    assert stats["bounced"] == 1 and stats["recipients"][0]["bounce_type"] == "hard"
    reply_to = re.search(r"Reply-To: (reply\+\S+)", shown).group(1)
    # Outside the project: `chalice local` reloads itself when a file in the project changes.
    eml = pathlib.Path(tempfile.mkdtemp()) / "reply.eml"
    eml.write_bytes(f"From: someone@example.com\r\nTo: {reply_to}\r\nSubject: Re: Local mail\r\n"
                    f"Message-ID: <local-reply@example.com>\r\n\r\nAgreed!\r\n\r\nOn Monday, Demo wrote:\r\n> Read\r\n"
                    .encode())
    delivered = subprocess.run([sys.executable, "scripts/deliver_mail.py", "--state-file", str(process.state_file),
                                str(eml)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert '"status": "posted"' in delivered.stdout, delivered.stdout + delivered.stderr
    thread = requests.get(f"{base}/api/tenant/threads/{created['id']}", headers=headers, timeout=10).json()
    assert thread["messages"][-1]["body"] == "Agreed!" and thread["message_count"] == 2


def _community_over_http(base, headers):
    """The board on the local stack: a thread mentioning user 2 reaches their notifications via the job worker."""
    from chalicelib.auth import issue_local_token
    from tests.conftest import JWT_SECRET

    created = requests.post(f"{base}/api/community/communitythreads", headers=headers, timeout=10, json={
        "BusinessId": 1, "UserId": 1, "Subject": "Hello board", "Message": "Welcome @[Ann](2)"}).json()
    assert created["WasSuccessful"] is True, created
    ann = {"Authorization": f"Bearer {issue_local_token('demo-tenant', '2', ['CommunityThread-Read'], JWT_SECRET)}"}
    deadline, items = time.monotonic() + 20, []
    while not items and time.monotonic() < deadline:
        items = requests.get(f"{base}/api/tenant/notifications", headers=ann, timeout=10).json()["items"]
        time.sleep(0.2)
    assert [item["title"] for item in items] == ["You were mentioned in “Hello board”"]
    thread = requests.get(f"{base}/api/community/communitythreads/{created['Value']['Id']}", headers=ann,
                          timeout=10).json()
    assert thread["Subject"] == "Hello board" and thread["Mentions"] == [2]


def _digest_on_the_local_stack(base, headers, process):
    """`make digest AT=...` sends user 2's waiting mention as tomorrow morning's digest, and prints it."""
    from datetime import UTC, datetime, timedelta

    saved = requests.put(f"{base}/api/tenant/users/2", headers=headers, json={"email": "ann@example.com"}, timeout=10)
    assert saved.status_code == 200, saved.text
    digest = [sys.executable, "scripts/run_digest.py", "--state-file", str(process.state_file)]
    early = subprocess.run(digest, cwd=ROOT, capture_output=True, text=True, timeout=120)
    # Nothing is due yet: it says so, and when the next digest is.
    assert "(0 email(s) sent by this digest run" in early.stdout, early.stdout + early.stderr
    due = re.search(r"The next is demo-tenant/2's, due at (\S+): `make digest AT=\1` sends it now\.", early.stdout)
    assert due, early.stdout
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    run = subprocess.run([*digest, "--at", tomorrow.isoformat().replace("+00:00", "Z")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    # Ann's mention, and the demo user's notice of the email reply (the directory has their address since start).
    assert "(2 email(s) sent by this digest run" in run.stdout, run.stdout + run.stderr
    assert "===== to ann@example.com" in run.stdout and "Subject: Your daily summary: 1 notification" in run.stdout
    assert "===== to demo-user@example.com" in run.stdout and "someone@example.com replied: Local mail" in run.stdout
    # Its links point at the API where this stack really runs, not at the default port.
    assert f"Unsubscribe: {base}/u/" in run.stdout
