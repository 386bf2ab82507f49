"""Unified limits through the real server on both transports, in Keystone's wire format
(Tempest has no tests of them): registered limits and limits created in lists, read,
filtered as oslo.limit reads them, changed and deleted; Keystone's rules and status codes
(400 naming the field, 403 for a limit with no registered limit or a registered limit
still referred to, 409 for duplicates); lists narrowed to the caller's scope; the
enforcement model; and the policy rules in both profiles."""

import grpc
import pytest
from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import limits_pb2 as lpb
from identity_api.admin.v1 import limits_pb2_grpc as lgrpc

from family_callers import PROFILES, assert_denied, callers_of, running
from support import login
from test_gateway_admin import call

CODE = grpc.StatusCode
REGISTERED_KEYS = {"id", "service_id", "region_id", "resource_name", "default_limit",
                   "description", "links"}
LIMIT_KEYS = {"id", "project_id", "domain_id", "service_id", "region_id", "resource_name",
              "resource_limit", "description", "links"}


@pytest.fixture
def who(service, gateway):
    return callers_of(service, gateway)


@pytest.fixture
def catalog(who) -> tuple[str, str]:
    """(a service id, a region id) of the demo catalog."""
    api = who.http(who.sys)
    return api.get("/v3/services")["services"][0]["id"], api.get("/v3/regions")["regions"][0]["id"]


def _register(api, service_id: str, region_id: str | None = None, name: str = "cores",
              default: int = 10) -> dict:
    item = {"service_id": service_id, "resource_name": name, "default_limit": default}
    if region_id:
        item["region_id"] = region_id
    return api("POST", "/v3/registered_limits", {"registered_limits": [item]},
               expect=201)["registered_limits"][0]


def test_registered_limits_in_keystones_wire_format(who, catalog):
    service_id, region_id = catalog
    api = who.http(who.sys)
    made = api("POST", "/v3/registered_limits", {"registered_limits": [
        {"service_id": service_id, "region_id": region_id, "resource_name": "cores",
         "default_limit": 10, "description": "cores"},
        {"service_id": service_id, "resource_name": "ram", "default_limit": -1}]},
        expect=201)
    assert list(made) == ["registered_limits"]  # no links, as Keystone's create answers
    cores, ram = made["registered_limits"]
    assert set(cores) == REGISTERED_KEYS
    assert (cores["region_id"], cores["description"], ram["region_id"], ram["description"],
            ram["default_limit"]) == (region_id, "cores", None, None, -1)
    assert cores["links"]["self"] == f"{who.base}/v3/registered_limits/{cores['id']}"
    assert api.get(f"/v3/registered_limits/{cores['id']}") == {"registered_limit": cores}
    listed = api.get(f"/v3/registered_limits?service_id={service_id}")
    assert {r["id"] for r in listed["registered_limits"]} == {cores["id"], ram["id"]}
    assert listed["links"]["self"].endswith(f"/v3/registered_limits?service_id={service_id}")
    assert [r["id"] for r in api.get(
        f"/v3/registered_limits?region_id={region_id}&resource_name=cores")[
        "registered_limits"]] == [cores["id"]]
    changed = api("PATCH", f"/v3/registered_limits/{cores['id']}",
                  {"registered_limit": {"default_limit": 20, "description": None}},
                  expect=200)["registered_limit"]
    assert (changed["default_limit"], changed["description"]) == (20, None)
    assert api.status("DELETE", f"/v3/registered_limits/{ram['id']}") == 204
    assert api.status("GET", f"/v3/registered_limits/{ram['id']}") == 404
    # Anyone with a token reads them (oslo.limit's service user need be no admin).
    assert who.http(who.member).get(f"/v3/registered_limits/{cores['id']}")[
        "registered_limit"]["default_limit"] == 20


def test_limits_in_keystones_wire_format_as_oslo_limit_reads_them(who, catalog):
    service_id, region_id = catalog
    api = who.http(who.sys)
    _register(api, service_id, region_id)
    made = api("POST", "/v3/limits", {"limits": [
        {"project_id": who.acme, "service_id": service_id, "region_id": region_id,
         "resource_name": "cores", "resource_limit": 5},
        {"domain_id": who.foo, "service_id": service_id, "region_id": region_id,
         "resource_name": "cores", "resource_limit": 50, "description": "Foo"}]},
        expect=201)
    project_limit, domain_limit = made["limits"]
    assert set(project_limit) == LIMIT_KEYS
    assert (project_limit["project_id"], project_limit["domain_id"],
            project_limit["resource_limit"]) == (who.acme, None, 5)
    assert (domain_limit["project_id"], domain_limit["domain_id"],
            domain_limit["description"]) == (None, who.foo, "Foo")
    query = (f"/v3/limits?project_id={who.acme}&service_id={service_id}"
             f"&region_id={region_id}&resource_name=cores")
    assert [limit["resource_limit"] for limit in api.get(query)["limits"]] == [5]
    assert api.get(f"/v3/limits/{project_limit['id']}") == {"limit": project_limit}
    changed = api("PATCH", f"/v3/limits/{project_limit['id']}",
                  {"limit": {"resource_limit": 8, "description": "more"}}, expect=200)["limit"]
    assert (changed["resource_limit"], changed["description"]) == (8, "more")
    assert api.get("/v3/limits/model") == {"model": {
        "name": "flat", "description": "Limit enforcement and validation does not take "
                                       "project hierarchy into consideration."}}
    assert api.status("DELETE", f"/v3/limits/{project_limit['id']}") == 204
    assert api.status("GET", f"/v3/limits/{project_limit['id']}") == 404
    assert api.status("DELETE", f"/v3/limits/{project_limit['id']}") == 404


def test_keystones_rules_and_status_codes(who, catalog):
    service_id, region_id = catalog
    api = who.http(who.sys)
    registered = _register(api, service_id, region_id)

    def limit(**fields) -> dict:
        return {"limits": [{"project_id": who.acme, "service_id": service_id,
                            "region_id": region_id, "resource_name": "cores",
                            "resource_limit": 5, **fields}]}

    def status(method: str, path: str, body) -> tuple[int, str]:
        got, _, answer, raw = call(who.base + path, method, who.sys, body)
        return got, answer["error"]["message"] if answer and "error" in answer else raw
    assert status("POST", "/v3/limits", limit(resource_name="ram"))[0] == 403  # not registered
    assert status("POST", "/v3/limits", limit(region_id=None))[0] == 400      # must be a string
    api("POST", "/v3/limits", limit(), expect=201)
    assert status("POST", "/v3/limits", limit())[0] == 409
    twice = {"limits": limit(project_id=who.cyberdyne)["limits"] * 2}
    assert status("POST", "/v3/limits", twice)[0] == 409
    assert api.get(f"/v3/limits?project_id={who.cyberdyne}")["limits"] == []  # all or none
    for fields, field in (({"project_id": "nope"}, "project_id"),
                          ({"domain_id": who.foo}, "project_id"),
                          ({"service_id": "nope"}, "service_id"),
                          ({"region_id": "nope"}, "region_id"),
                          ({"resource_limit": -2}, "resource_limit"),
                          ({"resource_limit": 2 ** 31}, "resource_limit"),
                          ({"resource_limit": "5"}, "resource_limit"),
                          ({"resource_limit": True}, "resource_limit"),
                          ({"resource_name": ""}, "resource_name"),
                          ({"unknown": 1}, "unknown"),
                          ({"project_id": 3}, "project_id")):
        got, message = status("POST", "/v3/limits", limit(**fields))
        assert got == 400 and field in message, (fields, message)
    for body in ({}, {"limits": []}, {"limits": {}}, {"limits": ["x"]}):
        assert status("POST", "/v3/limits", body)[0] == 400
    # A registered limit that a limit refers to is neither changed nor deleted.
    path = f"/v3/registered_limits/{registered['id']}"
    assert status("PATCH", path, {"registered_limit": {"default_limit": 1}})[0] == 403
    assert status("DELETE", path, None)[0] == 403
    for body, code in (({"registered_limits": [{"service_id": service_id, "region_id": region_id,
                                                "resource_name": "cores",
                                                "default_limit": 1}]}, 409),
                       ({"registered_limits": [{"service_id": service_id, "resource_name": "x",
                                                "default_limit": 1, "extra": 1}]}, 400),
                       ({"registered_limits": [{"service_id": service_id,
                                                "resource_name": "x"}]}, 400),
                       ({"registered_limits": [{"service_id": "nope", "resource_name": "x",
                                                "default_limit": 1}]}, 400)):
        assert status("POST", "/v3/registered_limits", body)[0] == code, body
    assert status("PATCH", "/v3/limits/nope", {"limit": {"resource_limit": 1}})[0] == 404
    assert status("PATCH", f"/v3/limits/{api.get('/v3/limits')['limits'][0]['id']}",
                  {"limit": {"project_id": who.bar}})[0] == 400
    other = _register(api, service_id, None, "ram")
    moved = {"registered_limit": {"region_id": region_id, "resource_name": "cores"}}
    assert status("PATCH", f"/v3/registered_limits/{other['id']}", moved)[0] == 409


def test_a_project_acting_as_a_domain_gets_the_domains_limit(who, catalog):
    service_id, _ = catalog
    api = who.http(who.sys)
    _register(api, service_id)
    made = api("POST", "/v3/limits", {"limits": [
        {"project_id": who.foo, "service_id": service_id, "resource_name": "cores",
         "resource_limit": 3}]}, expect=201)["limits"][0]
    assert (made["project_id"], made["domain_id"]) == (None, who.foo)


def test_lists_show_what_the_callers_scope_holds(who, catalog, service):
    service_id, _ = catalog
    api = who.http(who.sys)
    _register(api, service_id)
    made = api("POST", "/v3/limits", {"limits": [
        {"project_id": pid, "service_id": service_id, "resource_name": "cores",
         "resource_limit": n} for pid, n in ((who.acme, 1), (who.cyberdyne, 2), (who.bar, 3))]
        + [{"domain_id": who.foo, "service_id": service_id, "resource_name": "cores",
            "resource_limit": 4}]}, expect=201)["limits"]
    by_owner = {m["project_id"] or m["domain_id"]: m["id"] for m in made}
    member = who.http(who.member)  # bob on acme
    assert [m["id"] for m in member.get("/v3/limits")["limits"]] == [by_owner[who.acme]]
    assert member.get(f"/v3/limits?project_id={who.bar}")["limits"] == []
    assert member.get(f"/v3/limits/{by_owner[who.acme]}")["limit"]["resource_limit"] == 1
    assert member.status("GET", f"/v3/limits/{by_owner[who.bar]}") == 403
    foo_admin = login(service.stub, "admin", None)  # unscoped: sees none
    assert who.http(foo_admin.token).get("/v3/limits")["limits"] == []
    assert len(api.get("/v3/limits")["limits"]) == 4
    api("PUT", f"/v3/domains/{who.foo}/users/{api.find('users', 'bob')['id']}/roles/"
               f"{api.find('roles', 'reader')['id']}", expect=204)
    from identity_api.v1 import identity_pb2 as pb
    bob_on_foo = login(service.stub, "bob", pb.Scope(domain=pb.DomainSelector(id=who.foo))).token
    seen = {m["id"] for m in who.http(bob_on_foo).get("/v3/limits")["limits"]}
    assert seen == {by_owner[who.bar], by_owner[who.foo]}


def test_limits_over_grpc(who, catalog):
    service_id, region_id = catalog
    registered = who.grpc(lgrpc.RegisteredLimitsStub, who.sys)
    limits = who.grpc(lgrpc.LimitsStub, who.sys)
    made = registered.CreateRegisteredLimits(lpb.CreateRegisteredLimitsRequest(registered_limits=[
        lpb.RegisteredLimitSpec(service_id=service_id, region_id=region_id,
                                resource_name="cores", default_limit=10)])).registered_limits[0]
    assert (made.region_id, made.default_limit) == (region_id, 10)
    assert registered.GetRegisteredLimit(apb.GetRequest(id=made.id)) == made
    listed = registered.ListRegisteredLimits(lpb.ListRegisteredLimitsRequest(service_id=service_id))
    assert [r.id for r in listed.registered_limits] == [made.id]
    changed = registered.UpdateRegisteredLimit(lpb.UpdateRegisteredLimitRequest(
        id=made.id, default_limit=0, description="none"))
    assert (changed.default_limit, changed.description) == (0, "none")
    limit = limits.CreateLimits(lpb.CreateLimitsRequest(limits=[lpb.LimitSpec(
        project_id=who.acme, service_id=service_id, region_id=region_id, resource_name="cores",
        resource_limit=7)])).limits[0]
    assert (limit.project_id, limit.domain_id, limit.resource_limit) == (who.acme, "", 7)
    assert [x.id for x in limits.ListLimits(lpb.ListLimitsRequest(project_id=who.acme)).limits] \
        == [limit.id]
    assert limits.UpdateLimit(lpb.UpdateLimitRequest(id=limit.id, resource_limit=-1)) \
        .resource_limit == -1
    assert limits.GetLimitModel(Empty()).name == "flat"
    for call_, request, code in (
            (registered.DeleteRegisteredLimit, apb.DeleteRequest(id=made.id),
             CODE.PERMISSION_DENIED),
            (limits.CreateLimits, lpb.CreateLimitsRequest(limits=[lpb.LimitSpec(
                project_id=who.acme, service_id=service_id, resource_name="ram",
                resource_limit=1)]), CODE.PERMISSION_DENIED),
            (limits.CreateLimits, lpb.CreateLimitsRequest(), CODE.INVALID_ARGUMENT),
            (limits.CreateLimits, lpb.CreateLimitsRequest(limits=[lpb.LimitSpec(
                service_id=service_id, resource_name="cores", resource_limit=1)]),
             CODE.INVALID_ARGUMENT),
            (limits.UpdateLimit, lpb.UpdateLimitRequest(id=limit.id, resource_limit=2 ** 40),
             CODE.INVALID_ARGUMENT),
            (limits.GetLimit, apb.GetRequest(id="nope"), CODE.NOT_FOUND)):
        with pytest.raises(grpc.RpcError) as refused:
            call_(request)
        assert refused.value.code() == code, refused.value.details()
    limits.DeleteLimit(apb.DeleteRequest(id=limit.id))
    registered.DeleteRegisteredLimit(apb.DeleteRequest(id=made.id))


# ---- the policy rules, in both profiles -------------------------------------------------

# profile -> (who may write, who may not)
WRITERS = {"keystone": ("project_admin", "member"), "scoped": ("sys", "project_admin")}


@pytest.mark.parametrize("profile", PROFILES)
def test_each_rule_lets_one_caller_through_and_refuses_another(deployment, profile):
    with running(deployment, profile) as who:
        service_id = who.http(who.sys).get("/v3/services")["services"][0]["id"]
        good_name, bad_name = WRITERS[profile]
        good = {k: who.grpc(stub, getattr(who, good_name))
                for k, stub in (("r", lgrpc.RegisteredLimitsStub), ("l", lgrpc.LimitsStub))}
        bad = {k: who.grpc(stub, getattr(who, bad_name))
               for k, stub in (("r", lgrpc.RegisteredLimitsStub), ("l", lgrpc.LimitsStub))}
        spec = lpb.RegisteredLimitSpec(service_id=service_id, resource_name="cores",
                                       default_limit=1)
        limit_spec = lpb.LimitSpec(project_id=who.acme, service_id=service_id,
                                   resource_name="cores", resource_limit=1)
        made = {}
        writes = [
            ("identity:create_registered_limits", lambda s: made.setdefault("r", s["r"].CreateRegisteredLimits(
                lpb.CreateRegisteredLimitsRequest(registered_limits=[spec])).registered_limits[0])),
            ("identity:update_registered_limit", lambda s: s["r"].UpdateRegisteredLimit(
                lpb.UpdateRegisteredLimitRequest(id=made["r"].id, default_limit=2))),
            ("identity:create_limits", lambda s: made.setdefault("l", s["l"].CreateLimits(
                lpb.CreateLimitsRequest(limits=[limit_spec])).limits[0])),
            ("identity:update_limit", lambda s: s["l"].UpdateLimit(
                lpb.UpdateLimitRequest(id=made["l"].id, resource_limit=3))),
            ("identity:delete_limit", lambda s: s["l"].DeleteLimit(
                apb.DeleteRequest(id=made["l"].id))),
            ("identity:delete_registered_limit", lambda s: s["r"].DeleteRegisteredLimit(
                apb.DeleteRequest(id=made["r"].id))),
        ]
        for rule, write in writes:
            assert_denied(lambda: write(bad) if "create" not in rule else (
                bad["r"].CreateRegisteredLimits(lpb.CreateRegisteredLimitsRequest(
                    registered_limits=[spec])) if "registered" in rule else
                bad["l"].CreateLimits(lpb.CreateLimitsRequest(limits=[limit_spec]))), rule)
            write(good)
        # Reading: anyone with a token reads the registered limits, the model and what its
        # scope holds of the limits; one limit is its project's, a system reader's (or,
        # in the keystone profile, an admin's on any scope).
        sys_r = who.grpc(lgrpc.RegisteredLimitsStub, who.sys)
        made_r = sys_r.CreateRegisteredLimits(lpb.CreateRegisteredLimitsRequest(
            registered_limits=[spec])).registered_limits[0]
        limit = who.grpc(lgrpc.LimitsStub, who.sys).CreateLimits(
            lpb.CreateLimitsRequest(limits=[limit_spec])).limits[0]
        alice = {k: who.grpc(stub, who.alice)
                 for k, stub in (("r", lgrpc.RegisteredLimitsStub), ("l", lgrpc.LimitsStub))}
        alice["r"].GetRegisteredLimit(apb.GetRequest(id=made_r.id))
        alice["r"].ListRegisteredLimits(lpb.ListRegisteredLimitsRequest())
        alice["l"].GetLimitModel(Empty())
        assert list(alice["l"].ListLimits(lpb.ListLimitsRequest()).limits) == []
        who.grpc(lgrpc.LimitsStub, who.member).GetLimit(apb.GetRequest(id=limit.id))
        reader = "project_admin" if profile == "keystone" else "sys"
        who.grpc(lgrpc.LimitsStub, getattr(who, reader)).GetLimit(apb.GetRequest(id=limit.id))
        refused = "alice" if profile == "keystone" else "project_admin"
        assert_denied(lambda: who.grpc(lgrpc.LimitsStub, getattr(who, refused)).GetLimit(
            apb.GetRequest(id=limit.id)), "identity:get_limit")
