"""Community groups: access levels, membership (joined, added, left), and their lifecycle."""
from __future__ import annotations

from tests.community.conftest import GROUPS, THREADS


def _create(admin, name: str, access: str, business_id: int = 1) -> int:
    response = admin.post(GROUPS, {"BusinessId": business_id, "Name": name, "AccessLevel": access,
                                   "Description": "About it"})
    assert response.status_code == 200, response.data
    assert response.data["Message"] == "CommunityGroup was successfully created."
    return response.data["Value"]["Id"]


def test_a_group_is_created_read_and_renamed(admin):
    group_id = _create(admin, "Runners", "Public")

    renamed = admin.put(f"{GROUPS}/{group_id}", {"Name": "Morning runners", "AccessLevel": "Restricted"})
    group = admin.get(f"{GROUPS}/{group_id}").data

    assert renamed.status_code == 200
    assert {k: group[k] for k in ("Id", "BusinessId", "Name", "Description", "AccessLevel", "MemberCount",
                                  "ThreadCount", "IsMember")} == {
        "Id": group_id, "BusinessId": 1, "Name": "Morning runners", "Description": "About it",
        "AccessLevel": "Restricted", "MemberCount": 0, "ThreadCount": 0, "IsMember": False}


def test_group_fields_are_validated_together(admin):
    response = admin.post(GROUPS, {"AccessLevel": "Secret", "Name": ""})

    assert response.status_code == 400
    assert [(e["PropertyName"], e["Message"]) for e in response.data["Errors"]] == [
        ("BusinessId", "is a required field"), ("Name", "is a required field"),
        ("AccessLevel", "must be one of: Public, Restricted, Private")]


def test_private_groups_are_listed_only_to_their_members(admin, member):
    public = _create(admin, "Everyone", "Public")
    private = _create(admin, "Board of directors", "Private")
    admin.post(f"{GROUPS}/{private}/members", {"UserId": 101})
    alice, bob = member(101), member(102)

    def listed(caller) -> dict[int, bool]:
        return {g["Id"]: g["IsMember"] for g in caller.get(GROUPS).data["Records"]}

    assert listed(alice) == {public: False, private: True}
    assert listed(bob) == {public: False}
    assert bob.get(f"{GROUPS}/{private}").status_code == 404
    assert listed(admin) == {public: False, private: False}


def test_anyone_joins_a_public_group_but_only_an_administrator_adds_to_others(admin, member):
    public = _create(admin, "Open", "Public")
    restricted = _create(admin, "Staff picks", "Restricted")
    bob = member(102)

    joined = bob.post(f"{GROUPS}/{public}/members", {"UserId": 102})
    joined_again = bob.post(f"{GROUPS}/{public}/members", {"UserId": 102})
    refused = bob.post(f"{GROUPS}/{restricted}/members", {"UserId": 102})
    someone_else = bob.post(f"{GROUPS}/{public}/members", {"UserId": 103})

    assert joined.status_code == 200 and joined.data["Value"] == {"Id": public, "UserId": 102, "IsMember": True}
    assert joined_again.status_code == 200
    assert admin.get(f"{GROUPS}/{public}").data["MemberCount"] == 1
    assert refused.status_code == 403 and someone_else.status_code == 403
    assert [m["UserId"] for m in bob.get(f"{GROUPS}/{public}/members").data["Records"]] == [102]


def test_leaving_a_group_takes_away_a_private_groups_threads(admin, member):
    private = _create(admin, "Inner circle", "Private")
    admin.post(f"{GROUPS}/{private}/members", {"UserId": 101})
    admin.post(f"{GROUPS}/{private}/members", {"UserId": 102})
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread(CommunityGroupId=private)
    assert bob.get(f"{THREADS}/{thread_id}").status_code == 200

    left = bob.delete(f"{GROUPS}/{private}/members/102")
    left_again = bob.delete(f"{GROUPS}/{private}/members/102")

    assert left.status_code == 200 and left_again.status_code == 404  # the group is now invisible to bob
    assert bob.get(f"{THREADS}/{thread_id}").status_code == 404
    assert admin.get(f"{GROUPS}/{private}").data["MemberCount"] == 1


def test_a_group_with_conversations_cannot_be_deleted(admin, member):
    group_id = _create(admin, "Busy", "Public")
    alice = member(101)
    thread_id = alice.new_thread(CommunityGroupId=group_id)

    refused = admin.delete(f"{GROUPS}/{group_id}")
    alice.delete(f"{THREADS}/{thread_id}")
    deleted = admin.delete(f"{GROUPS}/{group_id}")

    assert refused.status_code == 409 and refused.data["WasSuccessful"] is False
    assert deleted.status_code == 200 and admin.get(f"{GROUPS}/{group_id}").status_code == 404


def test_moving_a_thread_between_groups_keeps_the_counts(admin, member):
    first, second = _create(admin, "First", "Public"), _create(admin, "Second", "Public")
    alice = member(101)
    thread_id = alice.new_thread(CommunityGroupId=first)

    moved = alice.put(f"{THREADS}/{thread_id}", {"CommunityGroupId": second})

    assert moved.status_code == 200
    assert admin.get(f"{GROUPS}/{first}").data["ThreadCount"] == 0
    assert admin.get(f"{GROUPS}/{second}").data["ThreadCount"] == 1
    assert [t["Id"] for t in alice.get(f"{THREADS}?CommunityGroupId={second}").data["Records"]] == [thread_id]
    assert alice.get(f"{THREADS}?CommunityGroupId={first}").data["Records"] == []


def test_a_thread_cannot_go_into_another_locations_group_or_an_unknown_one(admin, member):
    elsewhere = _create(admin, "Other site", "Public", business_id=2)
    alice = member(101)

    wrong_site = alice.post(THREADS, {"BusinessId": 1, "UserId": 101, "Subject": "x", "Message": "y",
                                      "CommunityGroupId": elsewhere})
    unknown = alice.post(THREADS, {"BusinessId": 1, "UserId": 101, "Subject": "x", "Message": "y",
                                   "CommunityGroupId": 123456789})

    assert wrong_site.status_code == 400 and wrong_site.data["Errors"][0]["PropertyName"] == "CommunityGroupId"
    assert unknown.status_code == 404 and unknown.data["Errors"][0]["Message"] == "CommunityGroup was not found."
