"""What each request and event costs in AWS calls, on a tenant of a given size: the median and the worst.

In-process against moto, through the real entry points (chalice.test.Client for HTTP, SNS, SQS). Only the
application's calls are counted: the window is each entry point's run (bench/calls.py `counting_inside`), so
seeding, draining the queue and storing inbound mail are not. Each figure is measured over several runs with
varied data (other discussions, recipients, first and repeated events) and reported as median and worst.
`measure(size)` seeds `size` discussions in the tenant and `size` messages in the measured discussion, with
batch writes straight into the tables (outside the window); run at several sizes, no figure may grow.
"""
from __future__ import annotations

import copy
import itertools
import json
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "bench"
_TICKS = itertools.count()


def _seed_discussions(template_id: str, count: int) -> None:
    """`count` copies of a real discussion (every index key set as the service sets it)."""
    from chalicelib import ids
    from chalicelib.discussions import service
    from chalicelib.discussions.models import Discussion

    original = Discussion.get(TENANT, template_id).serialize()
    with Discussion.batch_write() as batch:
        for _ in range(count):
            item = Discussion.from_raw_data(copy.deepcopy(original))
            item.discussion_id = ids.new_id()
            service._index_keys(item)
            batch.save(item)


def _seed_messages(discussion_id: str, count: int) -> None:
    from chalicelib import clock, ids
    from chalicelib.discussions.models import Message
    from chalicelib.discussions.service import discussion_key

    with Message.batch_write() as batch:
        for n in range(count):
            batch.save(Message(discussion_key(TENANT, discussion_id), ids.new_sortable_id(), tenant_id=TENANT,
                               discussion_id=discussion_id, author="staff-1", body=f"Seeded message {n}",
                               created_at=clock.now_iso()))


def measure(size: int, throughput: int = 0, sending: int = 2) -> dict[str, Any]:
    """Every figure for a tenant with `size` discussions, one of which (the measured one) has `size` messages.

    With `throughput`, also that many pixel opens, added messages and SES delivery events timed one by one beside a
    bare boto3 clients replaying the same AWS calls; with `sending`, the costs of bench/sending.py (that many sends
    for each number of recipients)."""
    from chalice.test import Client
    from moto import mock_aws

    from bench import moto_fixes
    from bench import sending as sending_costs
    from scripts.bootstrap import bootstrap

    world = mock_aws()
    with world, moto_fixes.installed():  # moto's transactions copy only the items they name (bench/moto_fixes.py)
        world.reset()  # a fresh AWS, also inside a test session's moto world (tests/conftest.py)
        bootstrap("local")
        from app import app
        from chalicelib import cache
        from chalicelib.auth import issue_local_token
        from tests.conftest import JWT_SECRET, _reset_cached_clients

        _reset_cached_clients()
        cache.clear()
        token = issue_local_token(TENANT, "staff-1", ["admin", "staff"], JWT_SECRET, email="staff-1@bench.example")
        colleague = issue_local_token(TENANT, "staff-2", ["staff"], JWT_SECRET, email="staff-2@bench.example")
        member = issue_local_token(TENANT, "42", ["CommunityThread-Create", "CommunityThread-Read",
                                                  "CommunityMessage-Create", "CommunityMessage-Read"], JWT_SECRET)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        other = {"Authorization": f"Bearer {colleague}", "Content-Type": "application/json"}
        community = {"Authorization": f"Bearer {member}", "Content-Type": "application/json"}
        with Client(app, stage_name="local") as client:
            def call(method: str, path: str, body: Any = None, auth: dict[str, str] | None = None) -> Any:
                response = client.http.request(method, path, headers=auth or headers,
                                               body=json.dumps(body).encode() if body is not None else b"")
                assert response.status_code < 400, (path, response.status_code, response.body[:300])
                return json.loads(response.body) if response.body and response.headers.get(
                    "Content-Type", "").startswith("application/json") else response

            def drain() -> dict[str, Any]:
                return sending_costs.drain(app, client)

            call("POST", "/api/tenant/identities", {"identity": "bench.example"})  # moto verifies it at once
            call("PUT", "/api/tenant/settings/communication", {
                "email_integration_enabled": True, "email_reply_domain": "reply.bench.example",
                "from_address": "hub@bench.example"})

            def new_discussion(subject: str, people: list[dict[str, str]]) -> str:
                return call("POST", "/api/tenant/threads", {
                    "subject": subject, "initial_message": "See https://example.com/terms",
                    "participants": people})["id"]

            target = new_discussion("Bench discussion", [{"email": "ann@client.example"},
                                                         {"email": "bob@client.example"}, {"user_id": "staff-2"}])
            small = new_discussion("Small discussion", [{"email": f"cy{n}@client.example"} for n in range(5)])
            started = time.perf_counter()
            _seed_discussions(target, size - 2)
            _seed_messages(target, size - 1)
            seeding_seconds = time.perf_counter() - started
            for discussion_id in (target, small):
                call("POST", f"/api/tenant/threads/{discussion_id}/send", {})
            drain()
            copies = [record for discussion_id in (target, small) for record in
                      call("GET", f"/api/tenant/threads/{discussion_id}/tracking?limit=50")["recipients"]]
            pixels = [record["tracking_pixel_id"] for record in copies]
            ses_ids = [(record["recipient_email"], record["ses_message_id"]) for record in copies]

            def figure(variants: list[Callable[[], Any]], rounds: int = 1,
                       after: Callable[[], Any] | None = None) -> dict[str, Any]:
                return _figure(app, variants, rounds, after)

            figures = _TimedRows(size)
            try:
                figures["create discussion"] = figure([
                    lambda n=n: call("POST", "/api/tenant/threads", {
                        "subject": "Another", "participants": [{"email": f"p{k}@client.example"} for k in range(n)]})
                    for n in (1, 3, 39)], after=drain)
                cursor = call("GET", "/api/tenant/threads?limit=10")["next_cursor"]
                figures["list page (25)"] = figure([
                    lambda: call("GET", "/api/tenant/threads?limit=25"),
                    lambda: call("GET", "/api/tenant/threads?limit=25", auth=other),
                    lambda: call("GET", f"/api/tenant/threads?limit=25&cursor={cursor}")], rounds=2)
                figures["get discussion (a page of messages)"] = figure([
                    lambda d=d: call("GET", f"/api/tenant/threads/{d}") for d in (target, small)], rounds=2)
                figures["add message"] = figure([
                    lambda d=d: call("POST", f"/api/tenant/threads/{d}/messages", {"body": "One more"})
                    for d in (target, small)], rounds=2)
                jobs = _jobs_by_kind(app, client)
                figures["mark read"] = figure([
                    lambda d=d, a=a: call("POST", f"/api/tenant/threads/{d}/read", auth=a)
                    for d, a in ((target, headers), (target, other), (small, headers))], rounds=2)
                figures["tracking page (25 copies)"] = figure([
                    lambda d=d: call("GET", f"/api/tenant/threads/{d}/tracking") for d in (target, small)],
                    rounds=2)
                # The pixel and click links as the mail carries them (each a first hit, then a repeat), and the
                # links of mail sent before 2026-12-03, which carry the copy's id alone, on other copies.
                links = _mail_links()
                clickable = [p for p in pixels if links[p][1]]
                figures["pixel open"] = figure([
                    lambda p=p: client.http.get(f"/t/o/{links[p][0]}.gif", headers={"Accept": "image/gif"})
                    for p in pixels[:4]], rounds=2)
                figures["click"] = figure([lambda p=p: client.http.get(f"/t/c/{links[p][1]}") for p in clickable[:4]],
                                          rounds=2)
                figures["pixel open (old link)"] = figure([
                    lambda p=p: client.http.get(f"/t/o/{p}.gif", headers={"Accept": "image/gif"})
                    for p in pixels[4:8]], rounds=2)
                figures["click (old link)"] = figure([lambda p=p: client.http.get(f"/t/c/{p}-0")
                                                      for p in clickable[4:8]], rounds=2)
                figures["unread-count"] = figure([lambda a=a: call("GET", "/api/tenant/threads/unread-count", auth=a)
                                                  for a in (headers, other)], rounds=2)
                figures["category-counts"] = figure([
                    lambda a=a: call("GET", "/api/tenant/threads/category-counts", auth=a)
                    for a in (headers, other)], rounds=2)
                for kind in ("delivery", "open", "click", "bounce", "complaint"):  # each on other copies
                    figures[f"SES event: {kind}"] = figure(_ses_events(client, kind, ses_ids),
                                                           rounds=1 if kind in ("bounce", "complaint") else 2)
                replies = [_inbound_reply(client, f"{name}@client.example") for name in ("ann", "bob", "cy0", "cy1")]
                figures["inbound reply"] = figure(replies)
                jobs.update(_jobs_by_kind(app, client))
                figures["community create"] = figure([lambda: call(
                    "POST", "/api/community/communitythreads",
                    {"BusinessId": 1, "UserId": 42, "Subject": "Bench", "Message": "Hello"}, auth=community)], rounds=3)
                figures["community list page"] = figure([lambda: call(
                    "GET", "/api/community/communitythreads?PageSize=25", auth={"Authorization": f"Bearer {member}"})],
                    rounds=3)
                jobs.update(_jobs_by_kind(app, client))
                reactions = _reactions(call, community)
                _jobs_by_kind(app, client)  # the set-up's own notifications: the harness's, in no figure
                figures["community like / follow"] = figure(reactions, rounds=2)
                figures.update({f"job {kind}": runs.summary() for kind, runs in sorted(jobs.items())})
            except MemoryError:  # a moto hot spot at 100,000 items (bench/moto_fixes.py fixes the known one)
                incomplete = f"moto ran out of memory after {len(figures)} rows (last: {list(figures)[-1:]})"
            else:
                incomplete = ""
            results: dict[str, Any] = {"size": size, "seeding_seconds": round(seeding_seconds, 1),
                                       "figures": dict(figures), "incomplete": incomplete,
                                       "row_seconds": figures.seconds}
            if incomplete:
                return results
            if sending:
                started = time.perf_counter()
                results["sending"] = sending_costs.measure(app, client, call, sending)
                results["row_seconds"]["sending"] = round(time.perf_counter() - started, 1)
                print(f"  {size:,}: sending measured in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            if throughput:
                results["throughput"] = _throughput(client, call, pixels[0], small, ses_ids[0], throughput)
    return results


class _TimedRows(dict[str, Any]):
    """The figures, and the harness's seconds for each row (since the row before), also shown on stderr."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size, self.seconds, self.since = size, {}, time.perf_counter()

    def __setitem__(self, name: str, figure: Any) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.since, 1)
        print(f"  {self.size:,}: {name} measured in {now - self.since:.1f} s", file=sys.stderr, flush=True)
        self.since = now
        super().__setitem__(name, figure)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, figure in dict(*args, **kwargs).items():
            self[name] = figure


def _throughput(client: Any, call: Callable[..., Any], pixel: str, discussion_id: str, sent_copy: tuple[str, str],
                count: int) -> dict[str, Any]:
    recipient, ses_id = sent_copy
    pixel_file = f"/t/o/{_mail_links()[pixel][0]}.gif"  # read from the mail once, outside the timing
    return {
        "pixel opens": _versus_boto3(lambda: client.http.get(pixel_file, headers={"Accept": "image/gif"}), count),
        "added messages": _versus_boto3(
            lambda: call("POST", f"/api/tenant/threads/{discussion_id}/messages", {"body": "Fast"}), count),
        "SES delivery events": _versus_boto3(lambda: _ses_event(client, "delivery", ses_id, recipient), count)}


def _reactions(call: Callable[..., Any], member: dict[str, str]) -> list[Callable[[], Any]]:
    """Like and unlike, follow and unfollow, on threads and their replies outside a group and in a Private group of
    the member's (the administrator's token sets the group up): each a read and a transaction (issue 22)."""
    threads, messages = "/api/community/communitythreads", "/api/community/communitymessages"
    group = call("POST", "/api/community/communitygroups",
                 {"BusinessId": 1, "Name": "Bench", "AccessLevel": "Private"})["Value"]["Id"]
    call("POST", f"/api/community/communitygroups/{group}/members", {"UserId": 42})
    paths = []
    for where in ({}, {"CommunityGroupId": group}):
        thread = call("POST", threads, {"BusinessId": 1, "UserId": 42, "Subject": "Bench", "Message": "Hello",
                                        **where}, auth=member)["Value"]["Id"]
        reply = call("POST", messages, {"CommunityThreadId": thread, "UserId": 42, "Message": "Hi"},
                     auth=member)["Value"]["Id"]
        paths += [f"{threads}/{thread}/like", f"{threads}/{thread}/follow", f"{messages}/{reply}/like"]
    return [lambda p=path, m=method: call(m, p, auth=member) for path in paths for method in ("POST", "DELETE")]


def _figure(app: Any, variants: list[Callable[[], Any]], rounds: int, after: Callable[[], Any] | None
            ) -> dict[str, Any]:
    """Each variant `rounds` times, each run counted on its own (the harness's `after` outside any window)."""
    from bench.calls import Runs, counting_inside

    runs = Runs()
    for _ in range(rounds):
        for variant in variants:
            with counting_inside(app) as counter:
                variant()
            runs.add(counter)
            if after:
                after()
    return runs.summary()


def _jobs_by_kind(app: Any, client: Any) -> dict[str, Any]:
    """Run every queued job through the `jobs` entry point, one figure per job kind (`jobs: discussion.notify`)."""
    import boto3

    from bench.calls import Runs, counting_inside
    from chalicelib import jobs

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]
    kinds: dict[str, Runs] = {}
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            event = client.events.generate_sqs_event(message_bodies=[message["Body"]], queue_name=jobs.QUEUE_NAME)
            with counting_inside(app) as counter:
                client.lambda_.invoke("jobs", event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            kinds.setdefault(json.loads(message["Body"])["kind"], Runs()).add(counter)
    return kinds


def _versus_boto3(action: Callable[[], Any], count: int) -> dict[str, Any]:
    """Seconds per operation through the app, and through bare boto3 clients replaying the same AWS calls; each
    timed one by one, the ratio is median ÷ median (app time ÷ boto3 time: above 1, the app is slower)."""
    import statistics

    from bench.calls import recording, replay

    with recording() as operations:
        action()
    app_times, boto3_times = [], []
    for _ in range(count):
        started = time.perf_counter()
        action()
        app_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        replay(operations)
        boto3_times.append(time.perf_counter() - started)
    app_median, boto3_median = statistics.median(app_times), statistics.median(boto3_times)
    return {"app_ms": round(app_median * 1000, 2), "boto3_ms": round(boto3_median * 1000, 2),
            "calls": len(operations),
            "ratio": round(app_median / boto3_median, 2), "statistic": "median"}


def _ses_events(client: Any, kind: str, ses_ids: list[tuple[str, str]]) -> list[Callable[[], Any]]:
    sent = ses_ids[1:5] if kind in ("bounce", "complaint") else ses_ids[:4]
    return [lambda r=r, s=s: _ses_event(client, kind, s, r) for r, s in sent]


def _mail_links() -> dict[str, tuple[str, str | None]]:
    """Copy id → its pixel file name (without .gif) and first click token (None: a mail without links), as the mail
    SES was given carries them (chalicelib/tracking/ids.py)."""
    import re

    from tests.outbound.conftest import sent_messages
    from tests.outbound.test_tracking import CLICK_TOKEN, PIXEL_NAME

    links: dict[str, tuple[str, str | None]] = {}
    for _, _, message in sent_messages():
        pixel = re.search(PIXEL_NAME, message.get_body(preferencelist=("html",)).get_content())
        click = re.search(CLICK_TOKEN, message.get_body(preferencelist=("plain",)).get_content())
        if pixel:
            links[pixel.group(1).split(".")[0]] = (pixel.group(1), click.group(1) if click else None)
    return links


def _ses_event(client: Any, kind: str, ses_id: str, recipient: str) -> Any:
    from tests.outbound.test_ses_events import _aim, _example

    moment = next(_TICKS)
    event = _aim(_example(f"event_{kind}"), ses_id, recipient,
                 f"2026-11-23T{moment // 3600 % 24:02d}:{moment // 60 % 60:02d}:{moment % 60:02d}.000Z")
    for section in ("bounce", "complaint"):
        if section in event:
            event[section]["feedbackId"] = f"bench-{kind}-{moment}"
    return client.lambda_.invoke("ses_events", client.events.generate_sns_event(message=json.dumps(event)))


def _inbound_reply(client: Any, sender: str) -> Callable[[], Any]:
    """A reply from `sender` to the copy it received: stored in S3 by the harness (outside the
    window, as SES receiving does), then the `inbound_mail` entry point runs on its notification."""
    import os
    import uuid

    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from scripts.deliver_mail import receipt_notification

    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    raw_sent = next(message.raw_data for message in sent if sender in str(message.destinations))
    reply_to = next(line.split(":", 1)[1].strip() for line in raw_sent.splitlines() if line.startswith("Reply-To:"))

    def reply() -> Any:
        raw = (f"From: {sender}\r\nTo: {reply_to}\r\nSubject: Re: Bench discussion\r\n"
               f"Message-ID: <{uuid.uuid4()}@client.example>\r\n\r\nThanks!\r\n").encode()
        bucket = os.environ.get("INBOUND_BUCKET", f"discussion-hub-{os.environ.get('STAGE', 'local')}-inbound-mail")
        key = f"inbound/{uuid.uuid4()}"
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=raw)  # the harness's call: not counted
        event = client.events.generate_sns_event(message=json.dumps(receipt_notification(bucket, key, [reply_to])))
        return client.lambda_.invoke("inbound_mail", event).payload

    return reply
