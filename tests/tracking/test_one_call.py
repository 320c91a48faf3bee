"""An open or a click is one DynamoDB call, first time or not (issue 22): the pixel and the click link carry their
message's counter key (and the link), signed; one transaction updates the copy and adds its id to its counter shard's
sets. The statistics are the figures they were: the sets' sizes plus the numbers kept before them, a copy counted in
one or the other, never both (chalicelib/tracking/counters.py, docs/email.md "Opens and clicks")."""
from __future__ import annotations

import base64
import collections
import json
import re

import pytest
from moto.core.botocore_stubber import MockRawResponse

from chalicelib.tracking.ids import copy_shard
from tests.outbound.conftest import admin, enabled, send, sent_messages  # noqa: F401 - fixtures
from tests.outbound.test_send import THREADS, _discussion, _html, _text
from tests.outbound.test_tracking import CLICK_TOKEN, PIXEL_NAME

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5"
APPLE_PRIVACY = "Mozilla/5.0"  # Mail Privacy Protection's prefetch: a machine open
CLEO = "cleo@client.example"
LINK = "https://acme.example/q/1042"


def _links(recipient: str) -> tuple[str, str]:
    """The pixel file name (without .gif) and the first click token of the latest copy `recipient` got."""
    message = [m for _, d, m in sent_messages() if d == [recipient]][-1]
    return re.search(PIXEL_NAME, _html(message)).group(1), re.search(CLICK_TOKEN, _text(message)).group(1)


def _open(client, name: str, agent: str = BROWSER):
    response = client.http.get(f"/t/o/{name}.gif", headers={"Accept": "image/gif", "User-Agent": agent})
    assert response.status_code == 200 and response.body.startswith(b"GIF89a")  # always the image
    return response


def _stats(api, discussion: dict) -> dict:
    return api.get(f"{THREADS}/{discussion['id']}/tracking").data


def _figures(stats: dict) -> tuple[int, int, int]:
    return stats["opened"], stats["human_opened"], stats["clicked"]


def _copy(stats: dict, recipient: str = CLEO) -> dict:
    return next(r for r in stats["recipients"] if r["recipient_email"] == recipient)


def _calls(action) -> dict[str, int]:
    """The DynamoDB calls `action` makes (the counter of bench/calls.py)."""
    return _counted(action)[0]


def _counted(action) -> tuple[dict[str, int], object]:
    from bench.calls import counting

    with counting() as counter:
        answer = action()
    return {name: count for name, count in counter.by_operation().items() if name.startswith("dynamodb.")}, answer


ONE_TRANSACTION = {"dynamodb.TransactWriteItems": 1}


@pytest.fixture
def sent(api, enabled, send):  # noqa: F811
    discussion = _discussion(api)
    send(discussion["id"])
    return discussion, *_links(CLEO)


def test_the_links_carry_the_copy_its_message_and_the_link(api, sent):
    discussion, pixel, click = sent
    copy = _copy(_stats(api, discussion))
    assert pixel.startswith(copy["tracking_pixel_id"] + ".") and click.startswith(copy["tracking_pixel_id"] + "-0.")
    assert len(pixel) < 250 and len(click) < 250  # readable, signed: chalicelib/tracking/ids.py


def test_a_first_open_and_a_repeat_are_one_call_each_and_count_once(api, client, sent):
    discussion, pixel, _ = sent

    assert _calls(lambda: _open(client, pixel)) == ONE_TRANSACTION
    assert _calls(lambda: _open(client, pixel)) == ONE_TRANSACTION

    stats = _stats(api, discussion)
    assert _figures(stats) == (1, 1, 0) and stats["open_rate"] == 33.3
    copy = _copy(stats)
    assert copy["open_count"] == 2 and copy["machine_open_count"] == 0 and copy["opened_at"] == copy["human_opened_at"]


def test_a_machine_open_then_a_human_one(api, client, sent):
    discussion, pixel, _ = sent

    assert _calls(lambda: _open(client, pixel, APPLE_PRIVACY)) == ONE_TRANSACTION
    first = _stats(api, discussion)
    assert _figures(first) == (1, 0, 0) and _copy(first)["human_opened_at"] is None

    assert _calls(lambda: _open(client, pixel, BROWSER)) == ONE_TRANSACTION
    second = _stats(api, discussion)
    assert _figures(second) == (1, 1, 0)
    copy = _copy(second)
    assert (copy["open_count"], copy["machine_open_count"]) == (2, 1)
    assert copy["opened_at"] == _copy(first)["opened_at"] and copy["human_opened_at"] > copy["opened_at"]


def test_a_click_then_an_open(api, client, sent):
    discussion, pixel, click = sent

    calls, response = _counted(lambda: client.http.get(f"/t/c/{click}", headers={"User-Agent": BROWSER}))
    assert calls == ONE_TRANSACTION
    assert response.status_code == 302 and response.headers["Location"] == LINK
    assert _calls(lambda: client.http.get(f"/t/c/{click}", headers={"User-Agent": BROWSER})) == ONE_TRANSACTION
    assert _calls(lambda: _open(client, pixel)) == ONE_TRANSACTION

    stats = _stats(api, discussion)
    assert _figures(stats) == (1, 1, 1)
    copy = _copy(stats)
    assert (copy["click_count"], copy["open_count"]) == (2, 1) and copy["opened_at"] == copy["clicked_at"]


def test_each_hit_is_one_transaction_with_its_own_request_token(client, sent):
    """A retry by the SDK (timeout, connection reset) of the same request applies it once (db.transaction)."""
    from bench.calls import recording

    _, pixel, click = sent
    with recording() as operations:
        _open(client, pixel)
        client.http.get(f"/t/c/{click}", headers={"User-Agent": BROWSER})
    transactions = [parameters for service, operation, parameters in operations if operation == "TransactWriteItems"]
    assert len(operations) == len(transactions) == 2
    assert len({t["ClientRequestToken"] for t in transactions}) == 2
    for transaction in transactions:
        tables = sorted(next(iter(item.values()))["TableName"] for item in transaction["TransactItems"])
        assert [name.rsplit("-", 2)[-2:] for name in tables] == [["email", "tracking"], ["tracking", "counters"]]


def test_many_copies_of_one_message_in_one_shard(api, client, enabled, send):  # noqa: F811
    people = [{"email": f"person{n:02d}@client.example"} for n in range(39)]
    discussion = _discussion(api, participants=people)
    send(discussion["id"])
    copies = api.get(f"{THREADS}/{discussion['id']}/tracking?limit=100").data["recipients"]
    by_shard = collections.defaultdict(list)
    for copy in copies:
        by_shard[copy_shard(copy["tracking_pixel_id"])].append(copy)
    shard, crowded = max(by_shard.items(), key=lambda item: len(item[1]))
    assert len(crowded) >= 3  # 39 copies in 16 shards

    for copy in crowded:
        pixel, _ = _links(copy["recipient_email"])
        assert _calls(lambda p=pixel: _open(client, p)) == ONE_TRANSACTION
        assert _calls(lambda p=pixel: _open(client, p, APPLE_PRIVACY)) == ONE_TRANSACTION
    _, click = _links(crowded[0]["recipient_email"])
    client.http.get(f"/t/c/{click}", headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"})

    assert _figures(_stats(api, discussion)) == (len(crowded), len(crowded), 1)
    item = _counter_item(discussion, crowded[0]["message_id"], shard)
    ids = {copy["tracking_pixel_id"] for copy in crowded}
    assert item.opened_ids == item.human_opened_ids == ids and item.clicked_ids == {crowded[0]["tracking_pixel_id"]}
    assert (item.opened, item.human_opened, item.clicked) == (0, 0, 0)


def _counter_item(discussion: dict, message_id: str, shard: str):
    from chalicelib.tracking.models import TrackingCounter

    return TrackingCounter.get(f"tenant-a#{discussion['id']}", f"{message_id}#{shard}", consistent_read=True)


# ---------------------------------------------------------------- links made before: the id alone


def test_an_old_click_token_still_redirects_and_counts(api, client, sent):
    """Mail sent before 2026-12-03 carries `/t/c/{id}-{index}`: the plain path, an UpdateItem that returns the link,
    and on a first click its count (2 calls; 1 for a repeat)."""
    discussion, _, click = sent
    old = click.split(".")[0]

    calls, response = _counted(lambda: client.http.get(f"/t/c/{old}", headers={"User-Agent": BROWSER}))
    assert calls == {"dynamodb.UpdateItem": 2}
    assert response.status_code == 302 and response.headers["Location"] == LINK
    assert _calls(lambda: client.http.get(f"/t/c/{old}", headers={"User-Agent": BROWSER})) == {"dynamodb.UpdateItem": 1}
    assert _figures(_stats(api, discussion)) == (1, 1, 1)


def test_a_copy_counted_in_the_numbers_is_never_counted_in_the_sets_too(api, client, sent):
    """Its first open through a link carrying the id alone counted it in `opened` and `human_opened`; a later hit
    through a new link is refused by the transaction's condition (no open yet, or counted by id) and made the old
    way: the figures stay, and only a first (here the click) moves a number."""
    discussion, pixel, click = sent
    copy_id = pixel.split(".")[0]
    _open(client, copy_id)  # /t/o/{id}.gif, as mail sent before the sets

    assert _calls(lambda: _open(client, pixel)) == {"dynamodb.TransactWriteItems": 1, "dynamodb.UpdateItem": 1}
    assert _figures(_stats(api, discussion)) == (1, 1, 0)
    calls = _calls(lambda: client.http.get(f"/t/c/{click}", headers={"User-Agent": BROWSER}))
    assert calls == {"dynamodb.TransactWriteItems": 1, "dynamodb.UpdateItem": 2}

    stats = _stats(api, discussion)
    assert _figures(stats) == (1, 1, 1) and _copy(stats)["open_count"] == 2
    item = _counter_item(discussion, _copy(stats)["message_id"], copy_shard(copy_id))
    assert (item.opened, item.human_opened, item.clicked) == (1, 1, 1) and not item.opened_ids


def test_an_old_link_on_a_copy_the_sets_count_adds_to_the_sets(api, client, sent):
    """A copy resent after the change (the same record, new links) may still be opened through its first mail."""
    discussion, pixel, click = sent
    _open(client, pixel, APPLE_PRIVACY)  # counted by id: opened
    old = click.split(".")[0]

    assert client.http.get(f"/t/c/{old}", headers={"User-Agent": BROWSER}).status_code == 302
    _open(client, pixel.split(".")[0])

    stats = _stats(api, discussion)
    assert _figures(stats) == (1, 1, 1)
    item = _counter_item(discussion, _copy(stats)["message_id"], copy_shard(_copy(stats)["tracking_pixel_id"]))
    assert (item.opened, item.human_opened, item.clicked) == (0, 0, 0)
    assert item.opened_ids == item.human_opened_ids == item.clicked_ids == {_copy(stats)["tracking_pixel_id"]}


def test_numbers_kept_before_the_sets_and_the_sets_are_summed(api, client, sent):
    from chalicelib.tracking.models import TrackingCounter

    discussion, pixel, click = sent
    message_id = _copy(_stats(api, discussion))["message_id"]
    # Counted by the code before the sets: the message's own item and a shard (other copies, other days).
    TrackingCounter(f"tenant-a#{discussion['id']}", message_id).update(
        actions=[TrackingCounter.opened.add(1), TrackingCounter.clicked.add(1)])
    TrackingCounter(f"tenant-a#{discussion['id']}", f"{message_id}#{copy_shard(pixel.split('.')[0])}").update(
        actions=[TrackingCounter.opened.add(1), TrackingCounter.human_opened.add(1)])

    client.http.get(f"/t/c/{click}", headers={"User-Agent": BROWSER})
    _open(client, pixel)

    stats = _stats(api, discussion)
    assert _figures(stats) == (3, 2, 2)
    narrowed = api.get(f"{THREADS}/{discussion['id']}/tracking?message_id={message_id}").data
    assert _figures(narrowed["messages"][0]) == (3, 2, 2) and narrowed["open_rate"] == 100.0


# ---------------------------------------------------------------- what we did not make


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _payload(token: str) -> list:
    encoded = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def _forgeries(click: str, other_copy: str) -> dict[str, str]:
    plain, encoded, tag = click.split(".")
    key, message_id, _ = _payload(click)
    evil = _b64(json.dumps([key, message_id, "https://evil.example/"], separators=(",", ":")).encode())
    return {
        "another link, same tag": f"{plain}.{evil}.{tag}",
        "another tag": f"{plain}.{encoded}.{tag[:-4]}AAAA",
        "another copy": f"{other_copy}-0.{encoded}.{tag}",
        "another index": f"{plain[:-1]}1.{encoded}.{tag}",
        "no tag": f"{plain}.{encoded}",
        "garbage": f"{plain}.{'x' * 40}.{tag}",
    }


def test_a_forged_or_altered_click_token_redirects_nowhere_and_costs_nothing(api, client, sent):
    discussion, _, click = sent
    other = _links("carl@client.example")[1].split("-")[0]

    for name, forged in _forgeries(click, other).items():
        calls, response = _counted(lambda f=forged: client.http.get(f"/t/c/{f}"))
        assert calls == {}, name
        assert response.status_code == 404 and "Location" not in response.headers, name
    assert _figures(_stats(api, discussion)) == (0, 0, 0)


def test_an_altered_pixel_records_nothing_and_still_answers_the_image(api, client, sent):
    discussion, pixel, _ = sent
    copy_id, encoded, tag = pixel.split(".")
    elsewhere = _b64(json.dumps([f"tenant-b#{discussion['id']}", "m"], separators=(",", ":")).encode())

    for forged in (f"{copy_id}.{elsewhere}.{tag}", f"{'0' * 32}.{encoded}.{tag}", f"{copy_id}.{encoded}"):
        assert _calls(lambda f=forged: _open(client, f)) == {}
    assert _figures(_stats(api, discussion)) == (0, 0, 0)


def test_a_genuine_link_of_a_copy_or_link_that_is_not_there(api, client, sent):
    """Signed by us, but no such copy (deleted) or link: the transaction's condition refuses it, in the same call."""
    from chalicelib.tracking import ids

    discussion, pixel, click = sent
    key, message_id = _payload(pixel)
    missing = "0" * 32

    assert _calls(lambda: _open(client, ids.pixel_name(missing, key, message_id))) == ONE_TRANSACTION
    copy_id = pixel.split(".")[0]
    for token in (ids.click_token(missing, key, message_id, 0, LINK),
                  ids.click_token(copy_id, key, message_id, 7, LINK)):
        calls, response = _counted(lambda t=token: client.http.get(f"/t/c/{t}"))
        assert calls == ONE_TRANSACTION
        assert response.status_code == 404 and "Location" not in response.headers
    assert _figures(_stats(api, discussion)) == (0, 0, 0)


def test_a_link_too_long_to_carry_is_tracked_by_its_index(api, client, enabled, send):  # noqa: F811
    long_link = "https://acme.example/q?" + "a=1&" * 400
    discussion = _discussion(api, initial_message=f"See {long_link} please.")
    send(discussion["id"])
    message = [m for _, d, m in sent_messages() if d == [CLEO]][-1]
    token = re.search(r"/t/c/(\S+)", _text(message)).group(1)
    assert re.fullmatch(r"[0-9a-f]{32}-0", token)

    response = client.http.get(f"/t/c/{token}", headers={"User-Agent": BROWSER})
    assert response.status_code == 302 and response.headers["Location"] == long_link
    assert _figures(_stats(api, discussion)) == (1, 1, 1)


# ---------------------------------------------------------------- a transaction meeting another one


@pytest.fixture
def cancelled_transactions(monkeypatch):
    """`conflicts[0] = n`: the next n TransactWriteItems requests are cancelled as DynamoDB cancels one whose item an
    ongoing transaction holds (TransactionCanceledException, reason TransactionConflict, nothing written), below the
    SDK's retry handler where moto answers; `conflicts[1]` counts the requests that reached the wire."""
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import BotocoreStubber

    conflicts = [0, 0]
    moto_answers = BotocoreStubber.__call__

    def answer(stubber, event_name, request, **kwargs):
        if event_name == "before-send.dynamodb.TransactWriteItems":
            conflicts[1] += 1
            if conflicts[0] > 0:
                conflicts[0] -= 1
                items = len(json.loads(request.body)["TransactItems"])
                body = json.dumps({
                    "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                    "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                               "[None, TransactionConflict]",
                    "CancellationReasons": [{"Code": "None"}] * (items - 1) + [
                        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]})
                return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"},
                                   MockRawResponse(body.encode()))
        return moto_answers(stubber, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", answer)
    return conflicts


def test_an_open_cancelled_by_a_delivery_holding_its_shard_is_committed_again_and_counts_once(
        api, client, sent, cancelled_transactions):
    discussion, pixel, click = sent
    cancelled_transactions[0] = 2

    _open(client, pixel)

    assert cancelled_transactions[1] == 3  # made again by db.retry_on_conflict, each a new transaction
    stats = _stats(api, discussion)
    assert _figures(stats) == (1, 1, 0) and _copy(stats)["open_count"] == 1


def test_a_click_that_outlasts_the_retries_is_a_503_never_a_lost_redirect(api, client, sent, cancelled_transactions):
    discussion, _, click = sent
    cancelled_transactions[0] = 99

    response = client.http.get(f"/t/c/{click}", headers={"User-Agent": BROWSER})

    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "Location" not in response.headers
    cancelled_transactions[0] = 0
    assert client.http.get(f"/t/c/{click}", headers={"User-Agent": BROWSER}).headers["Location"] == LINK
    assert _figures(_stats(api, discussion)) == (1, 1, 1)
