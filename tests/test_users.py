"""The user directory: administrators set addresses; users read their own; addresses come from verified tokens."""
from __future__ import annotations


def test_an_administrator_sets_an_address_and_the_user_reads_it(make_api):
    admin = make_api(roles=["admin"])
    user = make_api(user_id="user-7")

    saved = admin.call("PUT", "/api/tenant/users/user-7", {"email": "Seven@Example.com", "name": "Seven"})
    read = user.get("/api/tenant/users/user-7")

    assert saved.status_code == 200
    assert read.data["email"] == "seven@example.com" and read.data["name"] == "Seven"


def test_users_cannot_set_their_own_address_or_read_others(make_api):
    user = make_api(user_id="user-7")

    own_address = user.call("PUT", "/api/tenant/users/user-7", {"email": "me@evil.example"})
    others = user.get("/api/tenant/users/user-8")
    bad = make_api(roles=["admin"]).call("PUT", "/api/tenant/users/user-8", {"email": "not an address"})

    assert own_address.status_code == 403 and own_address.data["error"]["field"] == "email"
    assert others.status_code == 403
    assert bad.status_code == 400 and bad.data["error"]["field"] == "email"


def test_another_tenants_directory_is_invisible(make_api):
    make_api(roles=["admin"]).call("PUT", "/api/tenant/users/user-7", {"email": "seven@example.com"})

    response = make_api(tenant_id="tenant-b", roles=["admin"]).get("/api/tenant/users/user-7")

    assert response.status_code == 404


def test_malformed_user_updates_are_refused_naming_the_field(make_api):
    admin = make_api(roles=["admin"])

    answers = {
        "body": admin.call("PUT", "/api/tenant/users/user-7", raw="{not json"),
        "name": admin.call("PUT", "/api/tenant/users/user-7", {"name": 5}),
        "email": admin.call("PUT", "/api/tenant/users/user-7", {"email": ["a@example.com"]}),
        "role": admin.call("PUT", "/api/tenant/users/user-7", {"role": "admin"}),
    }
    too_long = admin.call("PUT", f"/api/tenant/users/{'u' * 200}", {"name": "Long"})

    assert {field: (r.status_code, r.data["error"]["field"]) for field, r in answers.items()} == {
        field: (400, field) for field in answers}
    assert too_long.status_code == 404
    assert admin.get("/api/tenant/users/user-7").status_code == 404  # nothing was stored
