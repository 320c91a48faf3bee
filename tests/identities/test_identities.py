"""Sending identities: a tenant sends only as a domain or address it registered and SES verified; one owner each."""
from __future__ import annotations

import boto3
import pytest

from scripts.bootstrap import configure_receiving

IDENTITIES = "/api/tenant/identities"
SETTINGS = "/api/tenant/settings/communication"


@pytest.fixture
def a_admin(make_api):
    return make_api("tenant-a", "a-admin", ["admin"])


@pytest.fixture
def b_admin(make_api):
    return make_api("tenant-b", "b-admin", ["admin"])


def _ses():
    return boto3.client("ses", region_name="us-east-1")


@pytest.fixture
def a_sends_as_acme(a_admin):
    assert a_admin.post(IDENTITIES, {"identity": "acme.example"}).status_code == 201
    response = a_admin.call("PUT", SETTINGS, {"email_integration_enabled": True, "from_address": "hub@acme.example",
                                              "from_name": "Acme", "email_reply_domain": "reply.acme.example"})
    assert response.status_code == 200, response.data
    return response.data


def test_registering_a_domain_creates_the_ses_identity_with_easy_dkim_and_answers_its_cname_records(a_admin):
    response = a_admin.post(IDENTITIES, {"identity": "Acme.Example"})

    assert response.status_code == 201, response.data
    body = response.data
    tokens = _ses().get_identity_dkim_attributes(Identities=["acme.example"])["DkimAttributes"]["acme.example"]
    assert tokens["DkimEnabled"] is True and len(tokens["DkimTokens"]) == 3
    assert (body["identity"], body["kind"]) == ("acme.example", "domain")
    assert body["dns_records"] == [{"type": "CNAME", "name": f"{token}._domainkey.acme.example",
                                    "value": f"{token}.dkim.amazonses.com"} for token in tokens["DkimTokens"]]
    # moto verifies at once; the status is what SES answered, never what the tenant says.
    assert body["status"] == "verified" and body["verified_at"]
    assert [item["identity"] for item in a_admin.get(IDENTITIES).data["items"]] == ["acme.example"]


def test_registering_an_address_asks_ses_to_verify_that_address(a_admin):
    response = a_admin.post(IDENTITIES, {"identity": "Ops@Solo.Example"})

    assert response.status_code == 201 and response.data["kind"] == "address" and response.data["dns_records"] == []
    assert "ops@solo.example" in _ses().list_identities(IdentityType="EmailAddress")["Identities"]


@pytest.mark.parametrize("claim", ["acme.example", "ACME.example", "mail.acme.example", "hub@acme.example"])
def test_a_second_tenant_cannot_register_a_domain_another_tenant_holds(a_admin, b_admin, claim):
    assert a_admin.post(IDENTITIES, {"identity": "acme.example"}).status_code == 201

    response = b_admin.post(IDENTITIES, {"identity": claim})

    assert response.status_code == 409
    assert response.data["error"]["code"] == "conflict" and response.data["error"]["field"] == "identity"
    assert b_admin.get(IDENTITIES).data["items"] == []
    assert a_admin.post(IDENTITIES, {"identity": "acme.example"}).status_code == 201  # the owner may repeat it


def test_the_owner_is_decided_by_a_conditional_write_whoever_checked_first(a_admin, b_admin):
    """Two tenants racing: the loser's write fails on its condition even when its pre-check saw nothing."""
    from chalicelib.identities.models import SendingIdentity

    SendingIdentity("race.example", tenant_id="tenant-a", kind="domain", status="pending",
                    created_at="2026-12-02T00:00:00Z", created_by="a-admin").save()
    response = b_admin.post(IDENTITIES, {"identity": "race.example"})

    assert response.status_code == 409 and response.data["error"]["field"] == "identity"
    assert SendingIdentity.get("race.example").tenant_id == "tenant-a"


def test_tenant_b_cannot_send_as_tenant_a_verified_address(a_admin, b_admin, a_sends_as_acme):
    before = b_admin.get(SETTINGS).data

    forged = b_admin.call("PUT", SETTINGS, {"from_address": "hub@acme.example", "from_name": "Not Acme"})
    reply = b_admin.call("PUT", SETTINGS, {"email_reply_domain": "reply.acme.example"})

    assert forged.status_code == 409 and forged.data["error"]["field"] == "from_address"
    assert forged.data["error"]["message"] == "from_address is on acme.example, a sending identity of another tenant"
    assert reply.status_code == 409 and reply.data["error"]["field"] == "email_reply_domain"
    assert b_admin.get(SETTINGS).data == before  # nothing was saved


def test_a_parent_domain_does_not_cover_a_subdomain_another_tenant_registered(a_admin, b_admin):
    """The most specific registered identity decides: B holding the parent domain (it proved the DNS) does not make
    A's registered subdomain B's to send as, nor its reply domain."""
    assert a_admin.post(IDENTITIES, {"identity": "news.parent.example"}).status_code == 201
    assert b_admin.post(IDENTITIES, {"identity": "parent.example"}).status_code == 201

    forged = b_admin.call("PUT", SETTINGS, {"from_address": "hub@news.parent.example"})
    reply = b_admin.call("PUT", SETTINGS, {"email_reply_domain": "in.news.parent.example"})
    own = b_admin.call("PUT", SETTINGS, {"from_address": "hub@shop.parent.example"})

    assert forged.status_code == 409 and forged.data["error"] == {
        "code": "conflict", "field": "from_address",
        "message": "from_address is on news.parent.example, a sending identity of another tenant"}
    assert reply.status_code == 409 and reply.data["error"]["field"] == "email_reply_domain"
    assert own.status_code == 200 and own.data["from_address"] == "hub@shop.parent.example"
    assert a_admin.call("PUT", SETTINGS, {"from_address": "hub@news.parent.example"}).status_code == 200


def test_a_tenant_may_send_from_its_own_verified_domain_and_subdomains_and_use_the_shared_reply_domain(b_admin):
    assert b_admin.post(IDENTITIES, {"identity": "beta.example"}).status_code == 201

    response = b_admin.call("PUT", SETTINGS, {"email_integration_enabled": True,
                                              "from_address": "news@mail.beta.example",
                                              "email_reply_domain": "reply.discussionhub.local"})

    assert response.status_code == 200, response.data
    assert response.data["from_address"] == "news@mail.beta.example"


def test_an_identity_ses_has_not_verified_is_refused_naming_the_field(a_admin):
    assert a_admin.post(IDENTITIES, {"identity": "acme.example"}).status_code == 201
    _ses().delete_identity(Identity="acme.example")  # SES no longer vouches for it: as good as never verified

    response = a_admin.call("PUT", SETTINGS, {"from_address": "hub@acme.example"})

    assert response.status_code == 409 and response.data["error"]["field"] == "from_address"
    assert "not verified" in response.data["error"]["message"]
    assert a_admin.get(f"{IDENTITIES}/acme.example").data["status"] == "pending"


def test_a_tenants_own_reply_domain_gets_a_receipt_rule_like_the_stages_own(a_admin):
    configure_receiving("local", "reply.discussionhub.local")

    assert a_admin.post(IDENTITIES, {"identity": "acme.example"}).status_code == 201
    assert a_admin.call("PUT", SETTINGS, {"email_reply_domain": "reply.acme.example"}).status_code == 200

    rules = _ses().describe_active_receipt_rule_set()["Rules"]
    stage_rule, tenant_rule = rules[0], next(r for r in rules if r["Recipients"] == ["reply.acme.example"])
    assert tenant_rule["Actions"] == stage_rule["Actions"] and tenant_rule["Enabled"] is True


def test_identities_are_for_admins_and_invisible_to_other_tenants(a_admin, b_admin, make_api):
    staff = make_api("tenant-a", "a-staff", ["staff"])
    assert a_admin.post(IDENTITIES, {"identity": "acme.example"}).status_code == 201

    assert staff.post(IDENTITIES, {"identity": "other.example"}).status_code == 403
    assert staff.get(IDENTITIES).status_code == 403
    assert b_admin.get(f"{IDENTITIES}/acme.example").status_code == 404
    assert b_admin.delete(f"{IDENTITIES}/acme.example").status_code == 404
    assert a_admin.get(f"{IDENTITIES}/acme.example").status_code == 200


def test_an_identity_in_use_cannot_be_removed_and_a_free_one_is_given_up_in_ses_too(a_admin, a_sends_as_acme):
    assert a_admin.post(IDENTITIES, {"identity": "spare.example"}).status_code == 201

    in_use = a_admin.delete(f"{IDENTITIES}/acme.example")
    freed = a_admin.delete(f"{IDENTITIES}/spare.example")

    assert in_use.status_code == 409 and in_use.data["error"]["field"] == "identity"
    assert freed.status_code == 200 and freed.data == {"identity": "spare.example", "removed": True}
    assert "spare.example" not in _ses().list_identities()["Identities"]


@pytest.mark.parametrize("value", [None, "", "not a domain", "-x.example", "a@", 42, ["acme.example"]])
def test_a_bad_identity_is_400_naming_the_field(a_admin, value):
    response = a_admin.post(IDENTITIES, {"identity": value})

    assert response.status_code == 400 and response.data["error"]["field"] == "identity"
