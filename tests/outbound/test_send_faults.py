"""A copy's journey killed at every step: each copy ends sent exactly once, or listed for an operator; never lost.

The Lambda "dies" by raising LambdaDied, a BaseException: no `except Exception` of ours runs, as none would in a
killed Lambda. SQS then shows the copy's message again once its visibility timeout (360 s) is over, after the
claim's lease (330 s): the test moves the service's clock past the lease and runs the queue again, then runs the
15-minute sweep too. moto's SES keeps every mail it was given: that is what is counted.
"""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import claims, clock
from chalicelib.mail import copies as copies_module
from chalicelib.mail import ses
from tests.outbound.conftest import copies
from tests.outbound.test_send import THREADS, _discussion

CLEO, CARL, BETTY = "cleo@client.example", "carl@client.example", "betty@secret.example"


class LambdaDied(BaseException):
    """The Lambda was killed here (timeout, out of memory, host lost)."""


def _cleos(claim, *rest) -> bool:
    """Whether this step is about Cleo's copy (the one killed)."""
    from chalicelib.tracking.models import EmailTracking

    return isinstance(claim.item, EmailTracking) and claim.item.recipient_email == CLEO


def _kill_once(monkeypatch, target, name, before: bool, only=lambda *args: True):
    """Replace target.name so that its first call that `only` accepts dies, before or after doing its work."""
    real = getattr(target, name)
    fired = []

    def dying(*args, **kwargs):
        if fired or not only(*args):
            return real(*args, **kwargs)
        fired.append(True)
        if before:
            raise LambdaDied(name)
        real(*args, **kwargs)
        raise LambdaDied(name)

    monkeypatch.setattr(target, name, dying)
    return fired


def _is_copy(claim: claims.Claim, *rest) -> bool:
    return claim.work.kind == "copy" and _cleos(claim)


def _cleos_take(item, work, *rest) -> bool:
    return work.kind == "copy" and item.tracking_pixel_id == _pixel_of(CLEO)


STEPS = {
    # step: (patch, what Cleo's copy ends as, how many mails SES got for Cleo)
    "while reading and rendering (before the claim)": (
        lambda mp: _kill_once(mp, copies_module, "render", before=True,
                              only=lambda discussion, outgoing, participant, *a: participant.email == CLEO),
        "sent", 1),
    "rendered, before the claim": (lambda mp: _kill_once(mp, claims, "take", before=True, only=_cleos_take),
                                   "sent", 1),
    "before SES (claimed at the CALLING step)": (
        lambda mp: _kill_once(mp, claims, "take", before=False, only=_cleos_take), "uncertain", 0),
    "after SES answered, before the record": (
        lambda mp: _kill_once(mp, ses, "send_raw", before=False, only=lambda source, to, *a: to == CLEO),
        "uncertain", 1),
    "after the record": (lambda mp: _kill_once(mp, claims.Claim, "finish", before=False, only=_is_copy), "sent", 1),
}

_PIXELS: dict[str, str] = {}


def _pixel_of(recipient: str) -> str:
    return _PIXELS[recipient]


def _sent_to(outbox, recipient: str) -> int:
    return sum(1 for _, destinations, _ in outbox() if destinations == [recipient])


def _later(minutes: int) -> None:
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    clock.set_clock(lambda: moment)


@pytest.mark.parametrize("step", list(STEPS))
def test_a_copy_killed_at_any_step_ends_sent_once_or_listed(step, api, make_api, client, enabled, outbox, run_jobs,
                                                           monkeypatch):
    patch, ends_as, mails_to_cleo = STEPS[step]
    discussion = _discussion(api)
    from chalicelib.tracking.ids import tracking_id

    message_id = discussion["messages"][0]["id"]
    _PIXELS[CLEO] = tracking_id("tenant-a", discussion["id"], message_id, CLEO)
    fired = patch(monkeypatch)

    assert api.post(f"{THREADS}/{discussion['id']}/send").status_code == 202
    with pytest.raises(LambdaDied):
        run_jobs()
    run_jobs()  # the others go on; SQS shows the dead run's message again only after its visibility timeout
    monkeypatch.undo()
    _later(6)  # the lease (330 s) and the visibility timeout (360 s) are over
    run_jobs(skip_delays=True)
    _later(20)
    client.lambda_.invoke("retry_failed_sends", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    run_jobs(skip_delays=True)

    assert fired == [True]
    states = {recipient: copy["state"] for recipient, copy in copies(api, discussion["id"]).items()}
    assert states == {CLEO: ends_as, CARL: "sent", BETTY: "sent"}
    assert (_sent_to(outbox, CLEO), _sent_to(outbox, CARL), _sent_to(outbox, BETTY)) == (mails_to_cleo, 1, 1)
    listed = make_api(roles=["admin"]).get("/api/tenant/sending/uncertain").data["items"]
    if ends_as == "uncertain":
        assert [(item["kind"], item["recipient"], item["message_id"]) for item in listed] == [
            ("copy", CLEO, message_id)]
    else:
        assert listed == []


def test_a_message_shown_again_while_the_lease_runs_waits_and_sends_nothing(api, make_api, enabled, outbox,
                                                                            run_jobs, monkeypatch):
    """The copy's holder died once claimed (at the CALLING step): the message shown again while the lease runs (as a
    duplicate would be) waits; after the lease, the copy is listed as uncertain, never sent by a second worker."""
    discussion = _discussion(api)
    message_id = discussion["messages"][0]["id"]
    from chalicelib.tracking.ids import tracking_id

    _PIXELS[CLEO] = tracking_id("tenant-a", discussion["id"], message_id, CLEO)
    _kill_once(monkeypatch, claims, "take", before=False, only=_cleos_take)
    api.post(f"{THREADS}/{discussion['id']}/send")
    with pytest.raises(LambdaDied):
        run_jobs()
    monkeypatch.undo()

    run_jobs.time_passes()  # shown again before the lease is over
    run_jobs()  # Cleo's claim is still held: the message goes back on the queue until the lease is over

    assert copies(api, discussion["id"])[CLEO]["state"] == "sending" and _sent_to(outbox, CLEO) == 0
    _later(6)
    run_jobs(skip_delays=True)
    assert copies(api, discussion["id"])[CLEO]["state"] == "uncertain" and _sent_to(outbox, CLEO) == 0
    assert [item["recipient"] for item in make_api(roles=["admin"]).get("/api/tenant/sending/uncertain").data[
        "items"]] == [CLEO]


@pytest.mark.parametrize(("action", "mails", "state"), [("resend", 2, "sent"), ("dismiss", 1, "uncertain")])
def test_an_admin_resends_or_dismisses_an_uncertain_copy(action, mails, state, api, make_api, enabled, outbox,
                                                         run_jobs, monkeypatch):
    admin = make_api(roles=["admin"])
    discussion = _discussion(api)
    _kill_once(monkeypatch, ses, "send_raw", before=False, only=lambda source, to, *a: to == CLEO)
    api.post(f"{THREADS}/{discussion['id']}/send")
    with pytest.raises(LambdaDied):
        run_jobs()
    monkeypatch.undo()
    _later(6)
    run_jobs(skip_delays=True)
    [listed] = admin.get("/api/tenant/sending/uncertain").data["items"]

    refused = api.post(f"/api/tenant/sending/uncertain/{listed['id']}", {"action": action})
    resolved = admin.post(f"/api/tenant/sending/uncertain/{listed['id']}", {"action": action})
    again = admin.post(f"/api/tenant/sending/uncertain/{listed['id']}", {"action": action})
    run_jobs()

    assert refused.status_code == 403
    assert resolved.status_code == 200 and again.status_code == 404
    assert admin.get("/api/tenant/sending/uncertain").data["items"] == []
    assert _sent_to(outbox, CLEO) == mails and copies(api, discussion["id"])[CLEO]["state"] == state


def test_another_tenants_admin_neither_sees_nor_resolves_an_uncertain_copy(api, make_api, enabled, run_jobs,
                                                                          monkeypatch):
    discussion = _discussion(api)
    _kill_once(monkeypatch, ses, "send_raw", before=False, only=lambda source, to, *a: to == CLEO)
    api.post(f"{THREADS}/{discussion['id']}/send")
    with pytest.raises(LambdaDied):
        run_jobs()
    monkeypatch.undo()
    _later(6)
    run_jobs(skip_delays=True)
    [listed] = make_api(roles=["admin"]).get("/api/tenant/sending/uncertain").data["items"]
    other = make_api(tenant_id="tenant-b", roles=["admin"])

    assert other.get("/api/tenant/sending/uncertain").data["items"] == []
    assert other.post(f"/api/tenant/sending/uncertain/{listed['id']}", {"action": "resend"}).status_code == 404
    assert len(make_api(roles=["admin"]).get("/api/tenant/sending/uncertain").data["items"]) == 1


@pytest.mark.parametrize("body, field", [({}, "action"), ({"action": "maybe"}, "action"),
                                         ({"action": "resend", "extra": 1}, "extra")])
def test_resolving_needs_a_known_action(make_api, body, field):
    response = make_api(roles=["admin"]).post(f"/api/tenant/sending/uncertain/{'0' * 32}", body)

    assert response.status_code == 400 and response.data["error"]["field"] == field


# ---------------------------------------------------------------- duplicate and stale copy jobs

def _held_groups(monkeypatch, api, run_jobs, discussion_id: str) -> list[dict]:
    """The jobs of the groups of copies a send queues (`mail.copies`), held back instead of run."""
    from chalicelib import jobs

    held: list[dict] = []
    real = jobs.send_direct
    monkeypatch.setattr(jobs, "send_direct", lambda kind, payloads: held.extend(payloads) if kind == "mail.copies"
                        else real(kind, payloads))
    assert api.post(f"{THREADS}/{discussion_id}/send").status_code == 202
    run_jobs()
    monkeypatch.undo()
    return held


def _copy_jobs(monkeypatch, api, run_jobs, discussion_id: str) -> list[copies_module.Plan]:
    """The plans of the copies a send queues, held back: each copy is then sent on its own (send.send_copy), as two
    runs of one job would."""
    return [plan for group in _held_groups(monkeypatch, api, run_jobs, discussion_id)
            for plan in copies_module.plans_of_group(group)]


def _participant_id(api, discussion_id: str, email: str) -> str:
    return next(p["id"] for p in api.get(f"{THREADS}/{discussion_id}").data["participants"] if p.get("email") == email)


def test_a_run_that_read_before_a_duplicate_ended_the_copy_failed_sends_nothing(api, enabled, outbox, run_jobs,
                                                                                 monkeypatch):
    """Two runs of one copy (SQS delivers at least once): the first reads and renders while Betty is a participant;
    she is removed, and the duplicate ends the copy failed for good. The first run's claim, made only on the copy
    as it read it, is refused: it reads again and sends nothing (found by review, 2026-12-03)."""
    from chalicelib import jobs
    from chalicelib.mail import send

    discussion = _discussion(api)
    betty = next(job for job in _copy_jobs(monkeypatch, api, run_jobs, discussion["id"])
                 if job.recipient == "betty@secret.example")
    real_render, duplicate = copies_module.render, []

    def render_then_a_duplicate_runs(*args, **kwargs):
        rendered = real_render(*args, **kwargs)
        if not duplicate:
            duplicate.append("running")
            assert api.call("DELETE", f"{THREADS}/{discussion['id']}/participants/"
                                      f"{_participant_id(api, discussion['id'], 'betty@secret.example')}"
                            ).status_code == 200
            duplicate.append(send.send_copy(betty.pixel, betty))
        return rendered

    monkeypatch.setattr(copies_module, "render", render_then_a_duplicate_runs)
    with pytest.raises(jobs.RetryLater) as first:  # look again, as the duplicate changed the copy
        send.send_copy(betty.pixel, betty)
    monkeypatch.undo()

    assert "held by another run" in str(first.value) and duplicate[1] == "failed"
    again = send.send_copy(betty.pixel, betty)  # the retry reads afresh
    record = copies(api, discussion["id"])["betty@secret.example"]
    assert again == claims.DONE and record["state"] == "failed"
    assert record["failure_reason"] == "no longer a participant of the discussion"
    assert _sent_to(outbox, "betty@secret.example") == 0


def test_a_late_duplicate_of_a_copy_ses_refused_for_good_sends_nothing(api, enabled, outbox, run_jobs, monkeypatch):
    """SES refused Cleo's copy itself (MessageRejected: failed for good, a person decides); a duplicate of its job
    arriving later ends without calling SES again."""
    from chalicelib.mail import send

    discussion = _discussion(api)
    cleo = next(job for job in _copy_jobs(monkeypatch, api, run_jobs, discussion["id"])
                if job.recipient == "cleo@client.example")

    def refuse(*args, **kwargs):
        raise ses.SendFailed("MessageRejected", "Email address is not verified.", retryable=False)

    monkeypatch.setattr(ses, "send_raw", refuse)
    assert send.send_copy(cleo.pixel, cleo) == "failed"
    monkeypatch.undo()
    calls: list[str] = []
    monkeypatch.setattr(ses, "send_raw", lambda *args, **kwargs: calls.append("sent") or "never")

    assert send.send_copy(cleo.pixel, cleo) == claims.DONE
    assert calls == [] and copies(api, discussion["id"])["cleo@client.example"]["state"] == "failed"


def test_a_job_whose_plan_names_another_copy_is_dropped_unsent(api, enabled, outbox, run_jobs, monkeypatch):
    """The record decides what goes to whom, never the job: a plan for Carl's copy in a job naming Cleo's sends
    nothing to anyone, and both copies are still sent by their own jobs."""
    from chalicelib.mail import send

    discussion = _discussion(api)
    held = _copy_jobs(monkeypatch, api, run_jobs, discussion["id"])
    cleo = next(job for job in held if job.recipient == "cleo@client.example")
    carl = next(job for job in held if job.recipient == "carl@client.example")

    assert send.send_copy(cleo.pixel, dataclasses.replace(carl, pixel=cleo.pixel)) == claims.GONE
    assert len(outbox()) == 0
    for job in (cleo, carl):
        assert send.send_copy(job.pixel, job) == "sent"
    assert _sent_to(outbox, "cleo@client.example") == _sent_to(outbox, "carl@client.example") == 1


# ---------------------------------------------------------------- a group of copies (`mail.copies`)

def test_a_copy_whose_end_fails_does_not_stop_its_group_and_is_listed_never_sent_twice(api, make_api, enabled,
                                                                                       outbox, run_jobs,
                                                                                       monkeypatch):
    """Cleo's copy is sent but its end cannot be written (DynamoDB failing past the retries): Carl's and Betty's,
    after hers in the group, are still sent in the same run; the job then fails, and its redelivery sends nobody
    again — Cleo's copy, held at `calling`, is listed for an admin once its lease is over."""
    from chalicelib.mail import send

    discussion = _discussion(api)
    real = send._record_sent

    def failing_for_cleo(claim, record, *rest):
        if record.recipient_email == CLEO:
            raise RuntimeError("DynamoDB unavailable")
        return real(claim, record, *rest)

    monkeypatch.setattr(send, "_record_sent", failing_for_cleo)
    assert api.post(f"{THREADS}/{discussion['id']}/send").status_code == 202
    with pytest.raises(RuntimeError):
        run_jobs()  # the group's run fails after its three sends; SQS shows it again after the visibility timeout
    assert (_sent_to(outbox, CLEO), _sent_to(outbox, CARL), _sent_to(outbox, BETTY)) == (1, 1, 1)
    monkeypatch.undo()
    _later(6)
    run_jobs(skip_delays=True)

    assert (_sent_to(outbox, CLEO), _sent_to(outbox, CARL), _sent_to(outbox, BETTY)) == (1, 1, 1)
    states = {recipient: copy["state"] for recipient, copy in copies(api, discussion["id"]).items()}
    assert states == {CLEO: "uncertain", CARL: "sent", BETTY: "sent"}
    listed = make_api(roles=["admin"]).get("/api/tenant/sending/uncertain").data["items"]
    assert [item["recipient"] for item in listed] == [CLEO]


def test_a_copy_held_by_another_run_does_not_hold_up_its_group(api, enabled, outbox, run_jobs, monkeypatch):
    """Another run holds Carl's copy (a duplicate delivery that claimed it before rendering, then died): Cleo's and
    Betty's are sent; the group comes back after Carl's lease, finds theirs done and takes Carl's over: each once."""
    from chalicelib import jobs
    from chalicelib.mail import send
    from chalicelib.tracking.models import EmailTracking

    discussion = _discussion(api)
    held = _held_groups(monkeypatch, api, run_jobs, discussion["id"])
    [carl] = [plan for group in held for plan in copies_module.plans_of_group(group) if plan.recipient == CARL]
    assert claims.take(EmailTracking(carl.pixel), send.COPY).held  # before CALLING: takeable when its lease is over

    jobs.send_direct("mail.copies", held)
    run_jobs()
    assert (_sent_to(outbox, CLEO), _sent_to(outbox, CARL), _sent_to(outbox, BETTY)) == (1, 0, 1)
    _later(6)
    run_jobs(skip_delays=True)

    assert (_sent_to(outbox, CLEO), _sent_to(outbox, CARL), _sent_to(outbox, BETTY)) == (1, 1, 1)
    assert {copy["state"] for copy in copies(api, discussion["id"]).values()} == {"sent"}


def test_a_group_over_the_containers_share_of_the_send_rate_waits_and_sends_the_rest_once(api, enabled, outbox,
                                                                                        run_jobs, monkeypatch):
    """The container may send one copy now and the next in 5 seconds: the group sends Cleo's, then goes back on the
    queue for 5 seconds with Carl's and Betty's still queued; run again, it sends those two, once each."""
    from chalicelib import jobs
    from chalicelib.mail import ses

    discussion = _discussion(api)
    waits = [0.0, 5.0]
    asked: list[float] = []

    def pace(senders):
        asked.append(waits.pop(0) if waits else 0.0)
        return asked[-1]

    monkeypatch.setattr(ses, "wait_before_sending", pace)
    deferred: list[int] = []
    real_later = jobs._later
    monkeypatch.setattr(jobs, "_later", lambda body, record, wait: deferred.append(wait.seconds)
                        or real_later(body, record, wait))
    assert api.post(f"{THREADS}/{discussion['id']}/send").status_code == 202
    run_jobs()

    assert deferred == [5] and [d for _, d, _ in outbox()] == [[CLEO]]
    assert {r: c["state"] for r, c in copies(api, discussion["id"]).items()} == {CLEO: "sent", CARL: "queued",
                                                                                 BETTY: "queued"}
    run_jobs(skip_delays=True)
    assert (_sent_to(outbox, CLEO), _sent_to(outbox, CARL), _sent_to(outbox, BETTY)) == (1, 1, 1)
    assert asked[:2] == [0.0, 5.0] and len(asked) == 2 + 2  # the second run: one for the group, one for Betty's


def test_a_group_whose_time_is_used_up_leaves_the_rest_to_a_run_of_their_own(api, enabled, outbox, run_jobs,
                                                                            monkeypatch):
    """AWS answering slowly: a group begins no copy after send.GROUP_SECONDS (here: at once after the first), and
    goes back on the queue; each run sends the next copy, and every copy goes once."""
    from chalicelib.mail import send

    discussion = _discussion(api)
    monkeypatch.setattr(send, "GROUP_SECONDS", 0)
    assert api.post(f"{THREADS}/{discussion['id']}/send").status_code == 202
    run_jobs()
    assert [d for _, d, _ in outbox()] == [[CLEO]]
    run_jobs(skip_delays=True)

    assert (_sent_to(outbox, CLEO), _sent_to(outbox, CARL), _sent_to(outbox, BETTY)) == (1, 1, 1)
    assert {copy["state"] for copy in copies(api, discussion["id"]).values()} == {"sent"}


@pytest.mark.parametrize("cause", ["SES refused it", "the recipient was removed"])
def test_a_copy_ended_failed_is_counted_even_when_its_lambda_dies_right_after(cause, api, enabled, outbox,
                                                                              run_jobs, monkeypatch):
    """The copy's failure and its count are one transaction: a Lambda lost right after ending Cleo's copy failed
    (for good: SES refusing it, or she is no longer a participant) leaves it counted once, and its redelivery counts
    nothing twice. Until 2026-12-03 the count was a write of its own after the end, lost with such a Lambda."""
    from chalicelib.mail import send

    discussion = _discussion(api)
    if cause == "SES refused it":
        real = ses.send_raw

        def refusing_cleo(sender, recipient, raw, configuration_set):
            if recipient == CLEO:
                raise ses.SendFailed("MessageRejected", "Email address is not verified.", retryable=False)
            return real(sender, recipient, raw, configuration_set)

        monkeypatch.setattr(ses, "send_raw", refusing_cleo)
    else:
        real_target = send._target
        monkeypatch.setattr(send, "_target", lambda plan, read: "no longer a participant of the discussion"
                            if plan.recipient == CLEO else real_target(plan, read))
    fired = _kill_once(monkeypatch, claims.Claim, "finish", before=False,
                       only=lambda claim, status, *rest: _cleos(claim) and status == "failed")
    assert api.post(f"{THREADS}/{discussion['id']}/send").status_code == 202
    with pytest.raises(LambdaDied):
        run_jobs()
    _later(6)
    run_jobs(skip_delays=True)

    assert fired == [True] and copies(api, discussion["id"])[CLEO]["state"] == "failed"
    statistics = api.get(f"{THREADS}/{discussion['id']}/tracking").data
    assert (statistics["total"], statistics["sent"], statistics["failed"]) == (3, 2, 1)
    assert _sent_to(outbox, CLEO) == 0
