"""The open pixel, click links and tracking statistics, through the real routes."""
from __future__ import annotations

import re

import pytest

from chalicelib.tracking.routes import PIXEL
from tests.outbound.test_send import THREADS, _discussion, _html, _text

GIF_MAGIC = b"GIF89a"
# The copy's id, then (links made since 2026-12-03) what it carries, signed: chalicelib/tracking/ids.py.
PIXEL_NAME = r"/t/o/([0-9a-f]{32}(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?)\.gif"
CLICK_TOKEN = r"/t/c/([0-9a-f]{32}-\d+(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?)"


@pytest.fixture
def sent(api, enabled, outbox, send):
    discussion = _discussion(api)
    send(discussion["id"])
    message = next(m for _, d, m in outbox() if d == ["cleo@client.example"])
    pixel = re.search(PIXEL_NAME, _html(message)).group(1)
    click = re.search(CLICK_TOKEN, _text(message)).group(1)
    return discussion, pixel, click


def _stats(api, discussion):
    return api.get(f"{THREADS}/{discussion['id']}/tracking").data


def _cleo(stats):
    return next(r for r in stats["recipients"] if r["recipient_email"] == "cleo@client.example")


@pytest.mark.parametrize("accept", ["*/*", "image/webp,image/apng,image/*,*/*;q=0.8", "image/gif"])
def test_pixel_answers_gif_bytes_intact_for_image_accepts(client, sent, accept):
    _, pixel, _ = sent
    response = client.http.get(f"/t/o/{pixel}.gif", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.body == PIXEL and response.body.startswith(GIF_MAGIC)
    assert response.headers["Content-Type"] == "image/gif"
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize("headers", [{}, {"Accept": "text/html"}])
def test_pixel_without_an_image_accept_redirects_to_the_static_gif(client, sent, headers):
    _, pixel, _ = sent
    response = client.http.get(f"/t/o/{pixel}.gif", headers=headers)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://static.discussionhub.local/pixel.gif"


def test_opens_count_and_keep_the_first_time_and_machines_apart(api, client, sent):
    discussion, pixel, _ = sent
    client.http.get(f"/t/o/{pixel}.gif", headers={"Accept": "*/*", "User-Agent": "Mozilla/5.0"})
    first = _cleo(_stats(api, discussion))
    assert first["open_count"] == 1 and first["machine_open_count"] == 1 and first["human_opened_at"] is None
    client.http.get(f"/t/o/{pixel}.gif", headers={"Accept": "*/*", "User-Agent":
                                                 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Thunderbird/115.0"})
    second = _cleo(_stats(api, discussion))
    assert second["open_count"] == 2 and second["machine_open_count"] == 1
    assert second["opened_at"] == first["opened_at"] and second["human_opened_at"]
    stats = _stats(api, discussion)
    assert (stats["total"], stats["sent"], stats["opened"], stats["human_opened"]) == (3, 3, 1, 1)
    assert stats["open_rate"] == 33.3


def test_unknown_pixels_get_a_gif_and_record_nothing(api, client, sent):
    discussion, _, _ = sent
    for pixel in ("0" * 32, "not-a-pixel", "%2e%2e%2fetc"):
        response = client.http.get(f"/t/o/{pixel}.gif", headers={"Accept": "*/*"})
        assert response.status_code == 200 and response.body.startswith(GIF_MAGIC)
    assert _stats(api, discussion)["opened"] == 0


def test_click_redirects_to_the_original_link_and_counts(api, client, sent):
    discussion, _, click = sent
    response = client.http.get(f"/t/c/{click}")
    assert response.status_code == 302 and response.headers["Location"] == "https://acme.example/q/1042"
    client.http.get(f"/t/c/{click}")
    cleo = _cleo(_stats(api, discussion))
    assert cleo["click_count"] == 2 and cleo["clicked_at"]


@pytest.mark.parametrize("forge", [lambda c: "f" * 32 + "-0", lambda c: c.split("-")[0] + "-99",
                                   lambda c: c[:-3] + "abc", lambda c: "https%3A%2F%2Fevil.example"])
def test_forged_click_tokens_redirect_nowhere(api, client, sent, forge):
    discussion, _, click = sent
    response = client.http.get(f"/t/c/{forge(click)}")
    assert response.status_code == 404 and "Location" not in response.headers
    assert _cleo(_stats(api, discussion))["click_count"] == 0


def test_statistics_per_message_and_isolation(api, make_api, client, sent):
    discussion, pixel, _ = sent
    message_id = discussion["messages"][0]["id"]
    narrowed = api.get(f"{THREADS}/{discussion['id']}/tracking?message_id={message_id}").data
    assert narrowed["total"] == 3 and [m["message_id"] for m in narrowed["messages"]] == [message_id]
    assert api.get(f"{THREADS}/{discussion['id']}/tracking?message_id=other").data["total"] == 0
    assert make_api(tenant_id="tenant-b").get(f"{THREADS}/{discussion['id']}/tracking").status_code == 404


def test_statistics_are_the_counters_and_the_copies_come_a_page_at_a_time(api, client, sent):
    """Statistics come from counters the events move (one Query), the copies a page at a time (one Query): a
    discussion of thousands of copies costs what one of three does, and never answers megabytes."""
    from bench.calls import counting

    discussion, pixel, click = sent
    client.http.get(f"/t/o/{pixel}.gif", headers={"Accept": "image/gif", "User-Agent": "Mozilla/5.0 (Macintosh)"})
    client.http.get(f"/t/o/{pixel}.gif", headers={"Accept": "image/gif", "User-Agent": "Mozilla/5.0 (Macintosh)"})
    client.http.get(f"/t/c/{click}")
    url = f"{THREADS}/{discussion['id']}/tracking"

    with counting() as calls:
        first = api.get(f"{url}?limit=2").data
    second = api.get(f"{url}?limit=2&cursor={first['recipients_next_cursor']}").data
    everything = first["recipients"] + second["recipients"]

    assert calls.by_operation() == {"dynamodb.GetItem": 1, "dynamodb.Query": 2}
    assert len(first["recipients"]) == 2 and len(second["recipients"]) == 1 and second["recipients_next_cursor"] is None
    # The counters say what the records say (a second open and a click after it count once).
    assert (first["total"], first["sent"], first["opened"], first["clicked"]) == (3, 3, 1, 1)
    assert first["opened"] == sum(1 for r in everything if r["opened_at"])
    assert first["human_opened"] == sum(1 for r in everything if r["human_opened_at"]) == 1
    assert first["messages"][0]["total"] == 3 and first["open_rate"] == round(100 / 3, 1)


def _throttled_updates(monkeypatch):
    """Every UpdateItem and TransactWriteItems fails as DynamoDB answers once the SDK's own retries are spent."""
    from botocore.exceptions import ClientError
    from pynamodb.connection.base import Connection
    from pynamodb.exceptions import TransactWriteError, UpdateError

    original = Connection._make_api_call

    def call(self, operation_name, operation_kwargs, *args, **kwargs):
        if operation_name in ("UpdateItem", "TransactWriteItems"):
            error = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}},
                                operation_name)
            raise (UpdateError if operation_name == "UpdateItem" else TransactWriteError)("injected", cause=error)
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", call)


@pytest.mark.parametrize("accept", ["*/*", None])
def test_a_throttled_open_still_answers_the_image(client, sent, monkeypatch, accept):
    _, pixel, _ = sent
    _throttled_updates(monkeypatch)

    response = client.http.get(f"/t/o/{pixel}.gif", headers={"Accept": accept} if accept else {})

    assert response.status_code in (200, 302)
    assert response.body == PIXEL if accept else response.headers["Location"].endswith("pixel.gif")


def test_a_throttled_click_asks_the_browser_to_retry_and_redirects_nowhere(client, sent, monkeypatch):
    _, _, click = sent
    _throttled_updates(monkeypatch)

    response = client.http.get(f"/t/c/{click}")

    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "Location" not in response.headers


def test_a_long_link_travels_in_lines_smtp_takes_and_its_click_redirects_to_it(api, client, enabled, send):
    """A click token carries its link, signed: with a link of 900 characters the token is about 1,400. In the raw
    bytes given to SES no line passes RFC 5322's 998 characters (the text is quoted-printable or base64, whose
    soft breaks every client joins), and the link the mail names, joined again, redirects to the original."""
    import quopri

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    long_link = "https://acme.example/q/1042?" + "&".join(f"item{n}=value{n}" for n in range(60))
    assert 850 < len(long_link) < 960
    discussion = api.post(THREADS, {"subject": "Long", "initial_message": f"See {long_link} please",
                                    "participants": [{"email": "zoe@client.example"}]}).data
    send(discussion["id"])
    raw = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[-1].raw_data.encode()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    text = quopri.decodestring(raw).decode("utf-8", "replace")  # soft line breaks joined, as a client does
    tokens = re.findall(CLICK_TOKEN, text)
    assert tokens and len(tokens[0]) > 1000  # the signed token carries the link
    answer = client.http.get(f"/t/c/{tokens[0]}")
    assert answer.status_code == 302 and answer.headers["Location"] == long_link
