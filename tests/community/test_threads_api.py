"""POST /api/community/communitythreads to the letter of the seed: fields, success envelope, 400 envelope."""
from __future__ import annotations

import re

import pytest

from tests.community.conftest import THREADS

SEED_SUCCESS_KEYS = {"Status", "Message", "Value", "OpenInDialog", "OpenInWindow", "RedirectURL", "JavaScript",
                     "UpdatedOn", "UpdatedBy", "Errors", "WasSuccessful"}
SEED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_the_seed_success_example_field_for_field(admin):
    response = admin.post(THREADS, {"BusinessId": 1, "UserId": 7, "Subject": "Welcome", "Message": "Hello all"})

    assert response.status_code == 200
    body = response.data
    assert set(body) == SEED_SUCCESS_KEYS
    assert body["Status"] == 200
    assert body["Message"] == "CommunityThread was successfully created."
    assert set(body["Value"]) == {"Id"} and isinstance(body["Value"]["Id"], int) and body["Value"]["Id"] > 0
    assert body["OpenInDialog"] is False and body["OpenInWindow"] is False
    assert body["RedirectURL"] is None and body["JavaScript"] is None
    assert SEED_TIME.match(body["UpdatedOn"])
    assert body["UpdatedBy"] == "admin@example.com"
    assert body["Errors"] is None and body["WasSuccessful"] is True


def test_the_seed_failure_example_field_for_field(admin):
    response = admin.post(THREADS, {"BusinessId": 1, "UserId": 7, "Message": "no subject"})

    assert response.status_code == 400
    assert response.data == {
        "Status": 400,
        "Message": "Subject: is a required field",
        "Value": None,
        "Errors": [{"AttemptedValue": None, "Message": "is a required field", "PropertyName": "Subject"}],
        "WasSuccessful": False,
    }


def test_every_missing_required_field_is_reported_at_once(admin):
    response = admin.post(THREADS, {})

    assert response.status_code == 400
    assert [error["PropertyName"] for error in response.data["Errors"]] == [
        "BusinessId", "UserId", "Subject", "Message"]
    assert all(error["Message"] == "is a required field" for error in response.data["Errors"])
    assert response.data["Message"] == ("BusinessId: is a required field | UserId: is a required field | "
                                        "Subject: is a required field | Message: is a required field")


def test_the_seed_curl_template_with_zeros_and_empty_strings_is_refused_field_by_field(admin):
    response = admin.post(THREADS, {"BusinessId": 0, "UserId": 0, "Subject": "", "Message": ""})

    assert response.status_code == 400
    errors = {error["PropertyName"]: error for error in response.data["Errors"]}
    assert set(errors) == {"BusinessId", "UserId", "Subject", "Message"}
    assert errors["BusinessId"]["AttemptedValue"] == 0 and errors["Subject"]["AttemptedValue"] == ""


@pytest.mark.parametrize(("field", "value", "message"), [
    ("BusinessId", "1", "must be an integer"),
    ("BusinessId", 1.5, "must be an integer"),
    ("BusinessId", True, "must be an integer"),
    ("UserId", -3, "must be between 1 and 9007199254740991"),
    ("Subject", 42, "must be a string"),
    ("Subject", "x" * 256, "must be at most 255 characters"),
    ("Subject", "Hi\r\nBcc: victim@example.com", "must not contain control characters or line breaks"),
    ("Message", ["not", "text"], "must be a string"),
    ("CommunityGroupId", "7", "must be an integer"),
    ("CoworkerId", {}, "must be an integer"),
    ("InstantDelivery", "yes", "must be true or false"),
    ("Private", 1, "must be true or false"),
    ("IncludeZoomInvite", "true", "must be true or false"),
    ("Tags", ["a", "b"], "must be a string"),
    ("Guests", [1, "2"], "must be a list of positive integer ids"),
    ("Guests", 5, "must be a list of positive integer ids"),
    ("ZoomEventData", "{not json", "must be valid JSON"),
    ("ZoomEventData", {"topic": "an object, not a string"}, "must be a string"),
    ("Subjet", "typo", "is not a field of this resource"),
])
def test_a_wrong_type_gets_the_envelope_naming_the_field(admin, field, value, message):
    body = {"BusinessId": 1, "UserId": 7, "Subject": "Hello", "Message": "Body", field: value}

    response = admin.post(THREADS, body)

    assert response.status_code == 400
    assert response.data["WasSuccessful"] is False and response.data["Value"] is None
    assert response.data["Errors"] == [{"AttemptedValue": value if not isinstance(value, str) or len(value) <= 200
                                        else value[:200] + "…", "Message": message, "PropertyName": field}]
    assert response.data["Message"] == f"{field}: {message}"


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"\"text\"", b"", b"\xff\xfe"])
def test_malformed_json_gets_the_envelope(admin, raw):
    response = admin.post(THREADS, raw=raw)

    assert response.status_code == 400
    assert response.data["WasSuccessful"] is False
    assert response.data["Errors"][0]["PropertyName"] == "Body"
    assert response.data["Message"].startswith("Body: ")


def test_a_zoom_invite_needs_its_event_data(admin):
    response = admin.post(THREADS, {"BusinessId": 1, "UserId": 7, "Subject": "Call", "Message": "Join us",
                                    "IncludeZoomInvite": True})

    assert response.status_code == 400
    assert response.data["Errors"] == [{"AttemptedValue": None, "PropertyName": "ZoomEventData",
                                        "Message": "is required when IncludeZoomInvite is true"}]


def test_every_field_is_stored_and_read_back(member):
    alice = member(101, email="alice@example.com")
    zoom = '{"topic": "Kick-off", "start_time": "2026-12-01T15:00:00Z", "duration": 30}'

    thread_id = alice.new_thread(CoworkerId=55, InstantDelivery=True, Tags=" Events , Networking,,", Private=True,
                                 Guests=[102, 103, 102], IncludeZoomInvite=True, ZoomEventData=zoom,
                                 Message="Hi @[Bob](104), see you")
    thread = alice.get(f"{THREADS}/{thread_id}").data

    assert thread["Id"] == thread_id and thread["BusinessId"] == 1 and thread["UserId"] == 101
    assert thread["CoworkerId"] == 55 and thread["CommunityGroupId"] is None
    assert thread["Subject"] == "Hello" and thread["Message"] == "Hi @[Bob](104), see you"
    assert thread["Tags"] == "Events, Networking"
    assert thread["Private"] is True and thread["Guests"] == [102, 103] and thread["Mentions"] == [104]
    assert thread["InstantDelivery"] is True and thread["IncludeZoomInvite"] is True
    assert thread["ZoomEventData"] == zoom
    assert (thread["ReplyCount"], thread["LikeCount"], thread["FollowerCount"]) == (0, 0, 1)
    assert thread["Following"] is True and thread["Liked"] is False
    assert SEED_TIME.match(thread["CreatedOn"]) and thread["UpdatedOn"] == thread["CreatedOn"]
    assert thread["LastActivityOn"] == thread["CreatedOn"] and thread["UpdatedBy"] == "alice@example.com"


def test_no_token_and_a_bad_token_get_401_in_the_envelope(client, member):
    anonymous = member(101)
    anonymous.headers = {"Content-Type": "application/json"}
    forged = member(101)
    forged.headers = {"Authorization": "Bearer not.a.token", "Content-Type": "application/json"}

    for caller in (anonymous, forged):
        response = caller.post(THREADS, {"BusinessId": 1, "UserId": 101, "Subject": "x", "Message": "y"})
        assert response.status_code == 401
        assert response.data["Status"] == 401 and response.data["WasSuccessful"] is False
        assert response.data["Errors"][0]["PropertyName"] == "Authorization"


def test_update_changes_only_the_fields_sent_and_keeps_the_author(member):
    alice = member(101, email="alice@example.com")
    thread_id = alice.new_thread(Tags="one")

    response = alice.put(f"{THREADS}/{thread_id}", {"Subject": "Renamed", "Tags": "two, three"})
    by_body = alice.put(THREADS, {"Id": thread_id, "InstantDelivery": True, "UserId": 101})
    refused = alice.put(f"{THREADS}/{thread_id}", {"UserId": 999, "BusinessId": 2, "Subject": ""})
    thread = alice.get(f"{THREADS}/{thread_id}").data

    assert response.status_code == 200 and response.data["Message"] == "CommunityThread was successfully updated."
    assert by_body.status_code == 200
    # Bad input is 400 first; only a well-formed request that would change what cannot change is a 409.
    assert refused.status_code == 400
    assert {e["PropertyName"]: e["Message"] for e in refused.data["Errors"]} == {"Subject": "is a required field"}
    moved = alice.put(f"{THREADS}/{thread_id}", {"UserId": 999, "BusinessId": 2})
    assert moved.status_code == 409
    assert {e["PropertyName"]: e["Message"] for e in moved.data["Errors"]} == {
        "UserId": "cannot be changed", "BusinessId": "cannot be changed"}
    assert thread["Subject"] == "Renamed" and thread["Message"] == "First post"
    assert thread["Tags"] == "two, three" and thread["InstantDelivery"] is True and thread["UserId"] == 101


def test_delete_removes_the_thread_and_its_replies(member, run_jobs):
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread()
    reply_id = bob.reply(thread_id)

    response = alice.delete(f"{THREADS}/{thread_id}")
    run_jobs()

    assert response.status_code == 200 and response.data["Message"] == "CommunityThread was successfully deleted."
    assert alice.get(f"{THREADS}/{thread_id}").status_code == 404
    assert bob.get(f"/api/community/communitymessages/{reply_id}").status_code == 404
    assert alice.get(THREADS).data["Records"] == []
    assert alice.delete(f"{THREADS}/{thread_id}").status_code == 404


def test_list_filters_by_location_group_tag_and_subject_newest_activity_first(member, admin):
    alice = member(101)
    group = admin.post("/api/community/communitygroups", {"BusinessId": 1, "Name": "Makers",
                                                          "AccessLevel": "Public"}).data["Value"]["Id"]
    first = alice.new_thread(Subject="Printer broken", Tags="Help, Office")
    second = alice.new_thread(Subject="Friday drinks", Tags="social", CommunityGroupId=group)
    third = alice.new_thread(Subject="Printer toner", BusinessId=2, Tags="office")
    alice.reply(first, "fixed now")  # activity moves the first thread to the top

    def ids(query: str = "") -> list[int]:
        response = alice.get(THREADS + query)
        assert response.status_code == 200, response.data
        return [record["Id"] for record in response.data["Records"]]

    assert ids() == [first, third, second]
    assert ids("?BusinessId=1") == [first, second]
    assert ids(f"?CommunityGroupId={group}") == [second]
    assert ids("?Tag=OFFICE") == [first, third]
    assert ids("?Subject=printer") == [first, third]
    assert ids("?Subject=printer&BusinessId=2") == [third]
    assert alice.get(THREADS + "?BusinessId=abc").data["Errors"][0]["PropertyName"] == "BusinessId"
    assert alice.get(THREADS + "?PageSize=0").data["Errors"][0]["PropertyName"] == "PageSize"


def test_pages_follow_each_other_without_gaps_or_repeats(member):
    alice = member(101)
    created = [alice.new_thread(Subject=f"Thread {n}") for n in range(7)]

    seen, cursor, pages = [], None, 0
    while True:
        response = alice.get(THREADS + "?PageSize=3" + (f"&Cursor={cursor}" if cursor else ""))
        pages += 1
        seen += [record["Id"] for record in response.data["Records"]]
        cursor = response.data["NextCursor"]
        assert response.data["HasNextPage"] is (cursor is not None)
        if not cursor:
            break

    assert seen == list(reversed(created)) and pages == 3


def test_a_thread_for_a_location_outside_the_token_is_refused(member):
    alice = member(101, claims={"business_ids": [1]})

    response = alice.post(THREADS, {"BusinessId": 2, "UserId": 101, "Subject": "x", "Message": "y"})

    assert response.status_code == 403
    assert response.data["Errors"][0]["PropertyName"] == "BusinessId"


def test_a_subject_search_is_one_query_a_page_and_pages_through_every_match(member, monkeypatch):
    """`?Subject=` is a substring, which no index serves: DynamoDB filters the one Query of a page on the folded
    subject, so a page is one call whatever it examined. Matches are found whatever their case, edited subjects by
    their new words, and a thread written before the folded subject (none stored) still by the app's own check."""
    from bench.calls import counting
    from chalicelib.community import threads
    from chalicelib.community.models import CommunityThread

    monkeypatch.setattr(threads, "LIST_BUDGET", 6)  # pages that end on the budget, with a few threads
    alice = member(101)
    made = []
    for n in range(14):
        made.append(alice.new_thread(Subject=f"Invoice {n}" if n % 3 == 0 else f"Other {n}"))
    edited = made[1]
    assert alice.call("PUT", f"{THREADS}/{edited}", {"Subject": "About the INVOICE"}).status_code == 200
    old = made[2]  # written before subject_folded existed
    CommunityThread("tenant-a", old).update(actions=[CommunityThread.subject.set("an invoice of old"),
                                                     CommunityThread.subject_folded.remove()])
    expected = sorted([made[n] for n in range(14) if n % 3 == 0] + [edited, old], reverse=True)

    seen, cursor, calls = [], None, []
    while True:
        with counting() as counter:
            page = alice.get(THREADS + "?Subject=invoice&PageSize=2" + (f"&Cursor={cursor}" if cursor else "")).data
        calls.append(counter.by_operation())
        seen += [record["Id"] for record in page["Records"]]
        cursor = page["NextCursor"]
        if not cursor:
            break
    assert sorted(seen, reverse=True) == expected and len(seen) == len(set(seen))
    assert all(call == {"dynamodb.Query": 1} for call in calls), calls
