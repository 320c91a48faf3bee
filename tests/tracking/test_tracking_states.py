"""Tracking states a person reads as true: a click is an open, a complaint after a bounce shows, a lifted
suppression clears the participant's mark."""
from __future__ import annotations

from tests.outbound.conftest import admin, enabled, send  # noqa: F401 - fixtures
from tests.outbound.test_send import THREADS
from tests.outbound.test_ses_events import CLEO, _aim, _cleo, _deliver, _example, sent  # noqa: F401

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5"


def _click(client, api, discussion, agent):
    pixel = _cleo(api, discussion)["tracking_pixel_id"]
    return client.http.get(f"/t/c/{pixel}-0", headers={"User-Agent": agent})


def test_a_click_without_a_pixel_load_is_a_human_open(api, client, sent):  # noqa: F811
    discussion, _ = sent
    assert _click(client, api, discussion, BROWSER).status_code == 302
    cleo = _cleo(api, discussion)
    assert cleo["open_count"] == 0 and cleo["click_count"] == 1   # the pixel never loaded (images blocked)
    assert cleo["opened_at"] == cleo["clicked_at"] == cleo["human_opened_at"]
    stats = api.get(f"{THREADS}/{discussion['id']}/tracking").data
    assert (stats["opened"], stats["human_opened"], stats["clicked"]) == (1, 1, 1)


def test_a_scanners_click_is_an_open_but_not_a_human_one(api, client, sent):  # noqa: F811
    discussion, _ = sent
    _click(client, api, discussion, "Mozilla/5.0 (compatible; Barracuda Sentinel)")
    cleo = _cleo(api, discussion)
    assert cleo["opened_at"] and cleo["human_opened_at"] is None


def test_a_complaint_after_a_hard_bounce_is_visible_beside_it(api, client, sent):  # noqa: F811
    discussion, copies = sent
    _deliver(client, _aim(_example("event_bounce"), copies[CLEO], CLEO, "2026-03-01T10:00:00.000Z"))
    complaint = _example("event_complaint")
    complaint["complaint"]["feedbackId"] = "complaint-after-the-bounce"   # SES gives every feedback its own id
    _deliver(client, _aim(complaint, copies[CLEO], CLEO), "sns-2")
    cleo = _cleo(api, discussion)
    assert cleo["bounce_type"] == "hard" and cleo["bounced_at"] == "2026-03-01T10:00:00.000000Z"
    assert cleo["complained_at"] is not None


def test_a_complaint_alone_shows_as_one(api, client, sent):  # noqa: F811
    discussion, copies = sent
    _deliver(client, _aim(_example("event_complaint"), copies[CLEO], CLEO))
    cleo = _cleo(api, discussion)
    assert cleo["bounce_type"] == "complaint" and cleo["complained_at"] is not None


def test_lifting_a_suppression_clears_the_participants_email_status(api, admin, client, sent):  # noqa: F811
    discussion, copies = sent
    _deliver(client, _aim(_example("event_bounce"), copies[CLEO], CLEO))

    def status():
        participants = api.get(f"{THREADS}/{discussion['id']}").data["participants"]
        return next(p for p in participants if p["email"] == CLEO)["email_status"]

    assert status() == "hard_bounce"
    assert admin.delete(f"/api/tenant/suppressions/{CLEO}").status_code == 200
    assert status() is None
