"""SES events through SNS → SesEvent, on the SES developer guide examples and sisimai's captured notifications."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.tracking.ses_events import MalformedEvent, SesEvent, parse_ses_events

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ses"
EXAMPLE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"


def load(name: str) -> str:
    return (FIXTURES / name).read_text()


def one(name: str, sns_id: str | None = "sns-1") -> SesEvent:
    events = parse_ses_events(load(name), sns_id)
    assert len(events) == 1, events
    return events[0]


def test_config_set_bounce():
    e = one("event_bounce.json")
    assert (e.ses_message_id, e.recipient, e.kind) == (EXAMPLE_ID, "recipient@example.com", "bounce")
    assert (e.bounce_type, e.bounce_subtype) == ("hard", "General")
    assert e.reason == "smtp; 550 5.1.1 user unknown"
    assert e.occurred_at == "2017-08-05T00:41:02.669Z"
    assert e.event_id == "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000"
    assert e.sns_message_id == "sns-1"
    assert e.tags["ses:configuration-set"] == ["ConfigSet"]
    assert e.mail_headers


def test_config_set_complaint():
    e = one("event_complaint.json")
    assert (e.kind, e.recipient) == ("complaint", "recipient@example.com")
    assert (e.bounce_type, e.reason) == ("complaint", "abuse")
    assert e.user_agent.startswith("Mozilla/5.0 (Windows NT 10.0")
    assert e.event_id == "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000"


def test_config_set_delivery_send_reject():
    d = one("event_delivery.json")
    assert (d.kind, d.recipient, d.occurred_at) == ("delivery", "recipient@example.com", "2016-10-19T23:21:04.133Z")
    assert d.tags["myCustomTag1"] == ["myCustomTagValue1"]
    s = one("event_send.json")
    assert (s.kind, s.recipient, s.occurred_at) == ("send", "recipient@example.com", "2016-10-14T05:02:16.645Z")
    r = one("event_reject.json")
    assert (r.kind, r.recipient, r.reason) == ("reject", "sender@example.com", "Bad content")
    assert r.occurred_at == "2016-10-14T17:38:15.211Z"  # no own timestamp: falls back to mail.timestamp
    assert len(s.event_id) == 64 and s.event_id != d.event_id


def test_open_and_click_take_the_single_destination():
    o = one("event_open.json")
    assert (o.kind, o.recipient, o.ip_address) == ("open", "recipient@example.com", "192.0.2.1")
    assert o.user_agent.startswith("Mozilla/5.0 (iPhone")
    assert o.occurred_at == "2017-08-09T22:00:19.652Z"
    c = one("event_click.json")
    assert c.kind == "click" and c.recipient == "recipient@example.com"
    assert c.link == "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html"
    assert c.occurred_at == "2017-08-09T23:51:25.570Z"


def test_open_with_several_destinations_names_no_recipient():
    data = json.loads(load("event_open.json"))
    data["mail"]["destination"] = ["a@example.com", "b@example.com"]
    [e] = parse_ses_events(json.dumps(data))
    assert e.recipient is None and e.kind == "open"


def test_delivery_delay_rendering_failure_subscription():
    dd = one("event_delivery_delay.json")
    assert (dd.kind, dd.recipient, dd.reason) == ("delivery_delay", "recipient@example.com",
                                                 "smtp; 421 4.4.1 Unable to connect to remote host")
    assert dd.occurred_at == "2020-06-16T00:25:40.095Z"
    assert dd.mail_headers == {}
    rf = one("event_rendering_failure.json")
    assert rf.kind == "rendering_failure"
    assert rf.reason == "Attribute 'attributeName' is not present in the rendering data."
    sub = one("event_subscription.json")
    assert (sub.kind, sub.recipient, sub.occurred_at) == ("subscription", "recipient@example.com",
                                                          "2022-01-12T01:00:17.910Z")
    assert sub.ses_message_id == "EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000"


def test_identity_bounce_with_and_without_dsn():
    e = one("identity_bounce_permanent_general_with_dsn.json")
    assert e.ses_message_id == "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
    assert (e.recipient, e.bounce_type, e.reason) == ("jane@example.com", "hard",
                                                      "smtp; 550 5.1.1 <jane@example.com>... User")
    assert e.event_id == "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000"
    assert isinstance(e.mail_headers, dict)
    events = parse_ses_events(load("identity_bounce_permanent_general_no_dsn.json"))
    assert [x.recipient for x in events] == ["jane@example.com", "richard@example.com"]  # mary was not bounced
    assert all(x.kind == "bounce" and x.bounce_type == "hard" and x.reason is None for x in events)
    assert len({x.event_id for x in events}) == 2


def test_identity_complaints_and_delivery():
    c = one("identity_complaint_abuse_with_feedback_report.json")
    assert (c.recipient, c.kind, c.bounce_type, c.reason) == ("richard@example.com", "complaint", "complaint", "abuse")
    assert c.user_agent == "AnyCompany Feedback Loop (V0.01)"
    n = one("identity_complaint_no_feedback_report.json")
    assert n.reason is None and n.event_id == "0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000"
    d = one("identity_delivery.json")
    assert (d.kind, d.recipient, d.occurred_at) == ("delivery", "jane@example.com", "2016-01-27T14:59:38.237Z")
    assert d.ses_message_id == "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000"


def test_sns_envelope_dict_and_string():
    envelope = json.loads(load("DERIVED_sns_http_notification_wrapping_identity_bounce.json"))
    for given in (envelope, json.dumps(envelope)):
        [e] = parse_ses_events(given)
        assert e.sns_message_id == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
        assert (e.recipient, e.kind, e.bounce_type) == ("jane@example.com", "bounce", "hard")
    assert parse_ses_events(load("sns_http_subscription_confirmation.json")) == []


@pytest.mark.parametrize("name,kind,recipient,bounce_type", [
    ("json-amazonses-01.json", "bounce", "bounce@simulator.amazonses.com", "hard"),
    ("json-amazonses-02.json", "bounce", "bounce@simulator.amazonses.com", "hard"),
    ("json-amazonses-03.json", "complaint", "complaint@simulator.amazonses.com", "complaint"),
    ("json-amazonses-04.json", "delivery", "success@simulator.amazonses.com", None),
    ("json-amazonses-05.json", "delivery", "complaint@simulator.amazonses.com", None),
    ("json-amazonses-06.json", "bounce", "bounce@simulator.amazonses.com", "hard"),
])
def test_sisimai_captured_notifications(name, kind, recipient, bounce_type):
    e = one(f"sisimai/{name}")
    assert (e.kind, e.recipient, e.bounce_type) == (kind, recipient, bounce_type)


def test_sisimai_values():
    e = one("sisimai/json-amazonses-02.json", sns_id=None)
    assert e.sns_message_id == "02f86d9b-eecf-573d-b47d-3d1850750c30"
    assert e.ses_message_id == "01010157e6083857-2c73eed0-71f8-47d1-ab77-c4646f9d776d-000000"
    assert e.occurred_at == "2016-10-21T06:58:02.245Z" and e.mail_headers["Subject"] == "Nyaaan"
    d = one("sisimai/json-amazonses-04.json")
    assert d.occurred_at == "2016-11-23T12:01:03.512Z"


def test_stable_event_id_is_repeatable_for_dedup():
    assert one("event_open.json").event_id == one("event_open.json", "other-sns-id").event_id


def test_recipient_lowercased():
    data = json.loads(load("event_delivery.json"))
    data["delivery"]["recipients"] = ["Someone@Example.COM"]
    [e] = parse_ses_events(data)
    assert e.recipient == "someone@example.com"


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", "42", '"text"', "{}", '{"eventType": "Send"}',
                                 '{"eventType": "Send", "mail": {}}', '{"eventType": "Send", "mail": []}',
                                 '{"mail": {"messageId": "x"}}', b"\xff\xfe"])
def test_malformed(bad):
    with pytest.raises(MalformedEvent):
        parse_ses_events(bad)


def test_valid_but_unknown_type_is_ignored():
    assert parse_ses_events('{"eventType": "Teleport", "mail": {"messageId": "x"}}') == []
    received = json.loads(load("lambda_sns_event_wrapping_received_notification.json"))["Records"][0]["Sns"]
    assert parse_ses_events(received) == []


def test_fields_ses_adds_later_are_ignored_and_an_odd_list_entry_costs_only_itself():
    """The typed payload models (chalicelib/contract/aws_events.py) read what we use and nothing else."""
    event = json.loads(load("event_bounce.json"))
    event["bounce"]["someFieldAddedIn2030"] = {"nested": [1, 2]}
    event["mail"]["headers"].insert(0, "not a header object")
    event["mail"]["destination"].append(42)

    e = parse_ses_events(json.dumps(event))[0]

    assert (e.kind, e.recipient, e.bounce_type) == ("bounce", "recipient@example.com", "hard")
    assert e.mail_headers and all(isinstance(v, str) for v in e.mail_headers.values())


def test_a_field_of_the_wrong_type_is_a_malformed_event_not_a_crash():
    event = json.loads(load("event_bounce.json"))
    event["bounce"]["bounceType"] = {"not": "a string"}

    with pytest.raises(MalformedEvent, match="bounce.bounceType"):
        parse_ses_events(json.dumps(event))


def test_a_first_event_in_a_fresh_interpreter_reads_as_later_ones_without_loading_pydantic():
    """The SES-events function's first event checks the payload with pydantic's compiled core only: importing
    pydantic and building its models cost a cold start about 35 ms of CPU (docs/api.md)."""
    script = ("import json, sys\n"
              "from chalicelib.tracking.ses_events import MalformedEvent, parse_ses_events\n"
              "[event] = parse_ses_events(sys.argv[1])\n"
              "try:\n"
              "    parse_ses_events(sys.argv[2])\n"
              "except MalformedEvent as error:\n"
              "    refused = str(error)\n"
              "print(json.dumps([event.kind, event.recipient, refused, 'pydantic' in sys.modules]))\n")
    wrong = json.loads(load("event_bounce.json"))
    wrong["bounce"]["bounceType"] = ["Permanent"]
    run = subprocess.run([sys.executable, "-c", script, load("event_delivery.json"), json.dumps(wrong)],
                         cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONPATH": "."},
                         capture_output=True, text=True, timeout=60, check=False)

    assert run.returncode == 0, run.stderr[-3000:]
    kind, recipient, refused, pydantic_loaded = json.loads(run.stdout)
    assert (kind, recipient) == ("delivery", "recipient@example.com")
    assert refused == "not an SES event (bounce.bounceType: Input should be a valid string)"
    assert pydantic_loaded is False
