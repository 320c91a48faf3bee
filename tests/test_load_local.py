"""Load on the local stack (`make run`: moto server + chalice local + the job worker's 8 threads): a message to 39
external participants, then 100 sends at once. Every copy arrives exactly once; the API answers without waiting."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.test_local_stack import local_stack  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def _mails(moto_port: int) -> list[str] | None:
    """The one recipient of each raw message moto's SES accepted; None when moto's data dump failed (it can while
    its state changes under it, or take long while the workers keep it busy)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/moto-api/data.json", timeout=30) as reply:
            data = json.load(reply)
    except (urllib.error.URLError, OSError):  # HTTP 500, or a timeout while moto is busy
        return None
    return [(m.get("destinations") or [""])[0] for m in data.get("ses", {}).get("RawMessage", [])]


def _wait_for(moto_port: int, count: int, seconds: float = 120) -> float:
    """Wait until SES has taken `count` messages in all; returns when (time.monotonic)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        mails = _mails(moto_port)
        if mails is not None and len(mails) >= count:
            return time.monotonic()
        time.sleep(1)  # moto's dump is heavy: polling it often would slow the workers down
    raise AssertionError(f"fewer than {count} mails after {seconds} s")


def _settled(moto_port: int) -> list[str]:
    time.sleep(1)  # a copy sent twice would show by now
    for _ in range(20):
        mails = _mails(moto_port)
        if mails is not None:
            return mails
        time.sleep(0.5)
    raise AssertionError("moto's data dump kept failing")


def test_forty_participants_and_a_hundred_sends_at_once_arrive_once_each(local_stack):  # noqa: F811
    base, token, _, process = local_stack
    headers = {"Authorization": f"Bearer {token}"}
    crowd = [{"email": f"guest{n}@example.com", "name": f"Guest {n}"} for n in range(39)]
    big = requests.post(f"{base}/api/tenant/threads", headers=headers, timeout=30, json={
        "subject": "Everyone", "initial_message": "Hello all", "participants": crowd}).json()
    assert len(big["participants"]) == 40  # the owner and 39 external participants: the most a discussion has

    started = time.monotonic()
    answer = requests.post(f"{base}/api/tenant/threads/{big['id']}/send", headers=headers, json={}, timeout=30)
    answered = time.monotonic() - started
    forty_done = _wait_for(process.moto_port, 39) - started
    mails = _settled(process.moto_port)

    assert answer.status_code == 202 and len(answer.json()["queued"][0]["recipients"]) == 39
    assert Counter(mails) == Counter(p["email"] for p in crowd)

    singles = [requests.post(f"{base}/api/tenant/threads", headers=headers, timeout=30, json={
        "subject": f"One of many {n}", "initial_message": "Hi", "participants": [{"email": f"one{n}@example.com"}]
    }).json()["id"] for n in range(100)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda i: requests.post(f"{base}/api/tenant/threads/{i}/send", headers=headers,
                                                        json={}, timeout=60), singles))
    all_answered = time.monotonic() - started
    hundred_done = _wait_for(process.moto_port, 139) - started
    mails = _settled(process.moto_port)

    assert [a.status_code for a in answers] == [202] * 100
    assert Counter(mails) == Counter([p["email"] for p in crowd] + [f"one{n}@example.com" for n in range(100)])
    print(f"\n39 copies: send answered in {answered:.2f} s, all sent in {forty_done:.1f} s "
          f"({39 / forty_done:.1f} copies/s); 100 sends at once: answered in {all_answered:.1f} s, "
          f"all sent in {hundred_done:.1f} s ({100 / hundred_done:.1f} copies/s)")
