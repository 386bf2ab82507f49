"""Keystone's policy API (stored blobs) through the real server on both transports:
Tempest's flows, the other attributes kept, bad input (400 / INVALID_ARGUMENT naming the
field, 404 / NOT_FOUND), and the policy rules in both profiles."""

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import policies_pb2 as ppb
from identity_api.admin.v1 import policies_pb2_grpc as pgrpc

from family_callers import PROFILES, assert_denied, callers_of, running
from test_gateway_admin import call

CODE = grpc.StatusCode


@pytest.fixture
def who(service, gateway):
    return callers_of(service, gateway)


def test_create_list_show_update_and_delete_as_tempest_does(who):
    api = who.http(who.sys)
    made = [api("POST", "/v3/policies", {"policy": {"blob": f"blob{i}", "type": "t"}},
                expect=201)["policy"] for i in range(3)]
    first = made[0]
    assert (first["blob"], first["type"]) == ("blob0", "t") and first["id"]
    assert first["links"]["self"] == f"{who.base}/v3/policies/{first['id']}"
    listed = api.get("/v3/policies")
    assert {p["id"] for p in made} <= {p["id"] for p in listed["policies"]}
    assert listed["links"]["self"] == f"{who.base}/v3/policies"
    updated = api("PATCH", f"/v3/policies/{first['id']}", {"policy": {"type": "u"}},
                  expect=200)["policy"]
    assert (updated["type"], updated["blob"]) == ("u", "blob0")
    shown = api.get(f"/v3/policies/{first['id']}")["policy"]
    assert shown == updated
    assert [p["id"] for p in api.get("/v3/policies?type=u")["policies"]] == [first["id"]]
    assert api.status("DELETE", f"/v3/policies/{first['id']}") == 204
    assert api.status("GET", f"/v3/policies/{first['id']}") == 404
    assert api.status("DELETE", f"/v3/policies/{first['id']}") == 404


def test_other_attributes_are_kept_and_merged(who):
    api = who.http(who.sys)
    made = api("POST", "/v3/policies", {"policy": {"blob": "b", "type": "t",
                                                   "project_id": who.acme, "n": 1}},
               expect=201)["policy"]
    assert (made["project_id"], made["n"]) == (who.acme, 1)
    changed = api("PATCH", f"/v3/policies/{made['id']}", {"policy": {"n": None, "m": [1]}},
                  expect=200)["policy"]
    assert "n" not in changed and changed["m"] == [1] and changed["project_id"] == who.acme


@pytest.mark.parametrize("method, body, field", [
    ("POST", {"policy": {"type": "t"}}, "blob"),
    ("POST", {"policy": {"blob": "b"}}, "type"),
    ("POST", {"policy": {"blob": 3, "type": "t"}}, "blob"),
    ("POST", {"policy": {"blob": "b", "type": ""}}, "type"),
    ("POST", {"policy": {"blob": "b", "type": "x" * 256}}, "type"),
    ("POST", {"policy": "b"}, "policy"),
    ("PATCH", {"policy": {}}, "policy"),
    ("PATCH", {"policy": {"blob": None}}, "blob"),
])
def test_bad_input_is_400_naming_the_field(who, method, body, field):
    api = who.http(who.sys)
    target = "/v3/policies"
    if method == "PATCH":
        target += "/" + api("POST", target, {"policy": {"blob": "b", "type": "t"}},
                            expect=201)["policy"]["id"]
    status, _, answer, raw = call(who.base + target, method, who.sys, body)
    assert status == 400 and field in answer["error"]["message"], raw


def _struct(value: dict) -> Struct:
    message = Struct()
    message.update(value)
    return message


def test_policies_over_grpc(who):
    policies = who.grpc(pgrpc.PoliciesStub, who.sys)
    made = policies.CreatePolicy(ppb.CreatePolicyRequest(type="t", blob="b",
                                                         extra=_struct({"k": "v"})))
    assert (made.type, made.blob, dict(made.extra)) == ("t", "b", {"k": "v"})
    assert policies.GetPolicy(apb.GetRequest(id=made.id)) == made
    assert made.id in [p.id for p in policies.ListPolicies(ppb.ListPoliciesRequest()).policies]
    page = policies.ListPolicies(ppb.ListPoliciesRequest(page_size=1))
    assert len(page.policies) == 1
    changed = policies.UpdatePolicy(ppb.UpdatePolicyRequest(id=made.id, blob="c"))
    assert (changed.type, changed.blob, dict(changed.extra)) == ("t", "c", {"k": "v"})
    policies.DeletePolicy(apb.DeleteRequest(id=made.id))
    for call_, request, code in (
            (policies.GetPolicy, apb.GetRequest(id=made.id), CODE.NOT_FOUND),
            (policies.CreatePolicy, ppb.CreatePolicyRequest(blob="b"), CODE.INVALID_ARGUMENT),
            (policies.CreatePolicy, ppb.CreatePolicyRequest(type="t", blob="b",
                                                            extra=_struct({"id": "x"})),
             CODE.INVALID_ARGUMENT),
            (policies.ListPolicies, ppb.ListPoliciesRequest(page_token="garbage"),
             CODE.INVALID_ARGUMENT)):
        with pytest.raises(grpc.RpcError) as refused:
            call_(request)
        assert refused.value.code() == code, refused.value.details()


# ---- the policy rules, in both profiles -------------------------------------------------

ALLOWED = {"keystone": ("project_admin", "member"), "scoped": ("sys", "project_admin")}


@pytest.mark.parametrize("profile", PROFILES)
def test_each_rule_lets_one_caller_through_and_refuses_another(deployment, profile):
    with running(deployment, profile) as who:
        good, bad = (who.grpc(pgrpc.PoliciesStub, getattr(who, n)) for n in ALLOWED[profile])
        made = {}

        def calls(stub):
            return {
                "identity:create_policy": lambda: made.setdefault("p", stub.CreatePolicy(
                    ppb.CreatePolicyRequest(type="t", blob="b"))),
                "identity:get_policy": lambda: stub.GetPolicy(apb.GetRequest(id=made["p"].id)),
                "identity:list_policies": lambda: stub.ListPolicies(ppb.ListPoliciesRequest()),
                "identity:update_policy": lambda: stub.UpdatePolicy(
                    ppb.UpdatePolicyRequest(id=made["p"].id, blob="c")),
                "identity:delete_policy": lambda: stub.DeletePolicy(
                    apb.DeleteRequest(id=made["p"].id)),
            }
        for rule in calls(good):
            if rule != "identity:create_policy":
                assert_denied(calls(bad)[rule], rule)
            else:
                assert_denied(lambda: bad.CreatePolicy(ppb.CreatePolicyRequest(type="t", blob="b")),
                              rule)
            calls(good)[rule]()
        assert who.http(getattr(who, ALLOWED[profile][1])).status("GET", "/v3/policies") == 403
