"""Implied roles (Keystone's role inference rules) over HTTP, beside the gRPC Roles
service: the wire format, domain-specific roles (what they may imply, and that they
never show in effective assignments while what they imply does), bad input, the effect
on tokens, and the rules in both policy profiles."""

import dataclasses
import json
import urllib.request

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb

from conftest import start_service
from identity_grpc.gateway.server import HttpServer
from support import AdminClient, login, project_scope, rpc_error, system_admin_token
from test_gateway_admin import Api, call

CODE = grpc.StatusCode


@pytest.fixture
def api(service, gateway) -> Api:
    return Api(gateway, system_admin_token(service.stub))


@pytest.fixture
def admin(service) -> AdminClient:
    return AdminClient(service.channel, system_admin_token(service.stub))


def _role(api: Api, name: str, domain_id: str | None = None) -> dict:
    body = {"role": {"name": name, **({"domain_id": domain_id} if domain_id else {})}}
    return api("POST", "/v3/roles", body, expect=201)["role"]


def test_an_inference_rule_is_created_checked_shown_and_deleted(api):
    prior, implied = _role(api, "auditor"), _role(api, "viewer")
    path = f"/v3/roles/{prior['id']}/implies/{implied['id']}"
    assert api.status("GET", path) == 404
    made = api("PUT", path, expect=201)
    rule = made["role_inference"]
    assert rule["prior_role"] == {"id": prior["id"], "name": "auditor",
                                  "links": {"self": prior["links"]["self"]}}
    assert rule["implies"]["id"] == implied["id"] and rule["implies"]["name"] == "viewer"
    assert made["links"]["self"].endswith(path)
    assert api.status("HEAD", path) == 204
    assert api.get(path) == made
    api("PUT", path, expect=201)  # again: still one rule
    listed = api.get(f"/v3/roles/{prior['id']}/implies")
    assert [r["id"] for r in listed["role_inference"]["implies"]] == [implied["id"]]
    assert listed["role_inference"]["prior_role"]["id"] == prior["id"]
    api("DELETE", path, expect=204)
    assert api.status("GET", path) == 404
    assert api.status("HEAD", path) == 404
    assert api.status("DELETE", path) == 404
    assert api.get(f"/v3/roles/{prior['id']}/implies")["role_inference"]["implies"] == []


def test_a_hierarchy_lists_direct_rules_only_and_all_rules_at_once(api):
    r0, r1, r2, r3 = (_role(api, f"h{i}") for i in range(4))
    for a, b in ((r0, r1), (r0, r2), (r2, r3)):
        api("PUT", f"/v3/roles/{a['id']}/implies/{b['id']}", expect=201)
    direct = api.get(f"/v3/roles/{r0['id']}/implies")["role_inference"]["implies"]
    assert sorted(r["id"] for r in direct) == sorted([r1["id"], r2["id"]])
    assert [r["id"] for r in api.get(f"/v3/roles/{r2['id']}/implies")[
        "role_inference"]["implies"]] == [r3["id"]]
    everything = api.get("/v3/role_inferences")
    assert everything["links"]["self"].endswith("/v3/role_inferences")
    rules = {r["prior_role"]["id"]: sorted(i["id"] for i in r["implies"])
             for r in everything["role_inferences"]}
    assert rules[r0["id"]] == sorted([r1["id"], r2["id"]]) and rules[r2["id"]] == [r3["id"]]
    names = {r["prior_role"]["name"] for r in everything["role_inferences"]}
    assert {"admin", "member"} <= names  # the bootstrap's admin > member > reader


def test_bad_inference_rules_are_refused_clearly(api, admin):
    a, b = _role(api, "a"), _role(api, "b")
    assert api.status("PUT", f"/v3/roles/nope/implies/{b['id']}") == 404
    assert api.status("PUT", f"/v3/roles/{a['id']}/implies/nope") == 404
    assert api.status("GET", "/v3/roles/nope/implies") == 404
    api("PUT", f"/v3/roles/{a['id']}/implies/{b['id']}", expect=201)
    status, _, body, _ = call(api.base + f"/v3/roles/{b['id']}/implies/{a['id']}", "PUT", api.token)
    assert status == 400 and "cycle" in body["error"]["message"]
    admin_role = admin.call(admin.roles.ListRoles, apb.ListRolesRequest(name="admin")).roles[0]
    status, _, body, _ = call(api.base + f"/v3/roles/{a['id']}/implies/{admin_role.id}", "PUT",
                              api.token)
    assert status == 403 and "admin" in body["error"]["message"]
    error = rpc_error(admin.call, admin.roles.CreateImpliedRole,
                      apb.ImpliedRole(prior_role_id=a["id"],
                                      implied_role_id=admin_role.id))
    assert error.code() == CODE.PERMISSION_DENIED


def test_domain_specific_roles_imply_within_and_across_domains_but_not_from_global(api, admin):
    other = api("POST", "/v3/domains", {"domain": {"name": "other"}}, expect=201)["domain"]
    d1, d2 = _role(api, "d1", "default"), _role(api, "d2", "default")
    d3 = _role(api, "d3", other["id"])
    glob = _role(api, "global")
    for a, b in ((d1, d2), (d1, d3), (d1, glob)):
        api("PUT", f"/v3/roles/{a['id']}/implies/{b['id']}", expect=201)
    status, _, body, _ = call(api.base + f"/v3/roles/{glob['id']}/implies/{d1['id']}", "PUT",
                              api.token)
    assert status == 403 and "domain-specific" in body["error"]["message"]
    error = rpc_error(admin.call, admin.roles.CreateImpliedRole,
                      apb.ImpliedRole(prior_role_id=glob["id"], implied_role_id=d2["id"]))
    assert error.code() == CODE.PERMISSION_DENIED and "domain-specific" in error.details()


def _effective_http(api: Api, user_id: str, project_id: str) -> list[str]:
    rows = api.get(f"/v3/role_assignments?effective&user.id={user_id}"
                   f"&scope.project.id={project_id}")["role_assignments"]
    return sorted(r["role"]["id"] for r in rows)


def _effective_grpc(admin: AdminClient, user_id: str, project_id: str) -> list[str]:
    rows = admin.call(admin.assignments.ListRoleAssignments, apb.ListRoleAssignmentsRequest(
        user_id=user_id, project_id=project_id, effective=True)).role_assignments
    return sorted(r.role.id for r in rows)


def test_effective_assignments_follow_implied_roles_and_leave_out_domain_roles(
        api, admin, service, gateway):
    user = api("POST", "/v3/users", {"user": {"name": "ivy", "password": "ivy-password-1"}},
               expect=201)["user"]
    project = api("POST", "/v3/projects", {"project": {"name": "ivyproj"}}, expect=201)["project"]
    r0, r1 = _role(api, "r0"), _role(api, "r1")
    api("PUT", f"/v3/projects/{project['id']}/users/{user['id']}/roles/{r0['id']}", expect=204)
    api("PUT", f"/v3/roles/{r0['id']}/implies/{r1['id']}", expect=201)
    for effective in (_effective_http, _effective_grpc):
        assert effective(api if effective is _effective_http else admin,
                         user["id"], project["id"]) == sorted([r0["id"], r1["id"]])
    token = login(service.stub, "ivy", project_scope("ivyproj"), password="ivy-password-1")
    assert {"r0", "r1"} <= {r.name for r in token.token_info.roles}
    api("DELETE", f"/v3/roles/{r0['id']}/implies/{r1['id']}", expect=204)
    assert _effective_http(api, user["id"], project["id"]) == [r0["id"]]
    assert _effective_grpc(admin, user["id"], project["id"]) == [r0["id"]]
    request = urllib.request.Request(gateway + "/v3/auth/tokens", headers={
        "X-Auth-Token": system_admin_token(service.stub), "X-Subject-Token": token.token,
        "Accept": "application/json"})
    with urllib.request.urlopen(request) as response:
        roles = {r["name"] for r in json.loads(response.read())["token"]["roles"]}
    assert "r0" in roles and "r1" not in roles  # at once

    # A domain-specific role granted: not in the effective list, what it implies is.
    local = _role(api, "local", "default")
    api("PUT", f"/v3/projects/{project['id']}/users/{user['id']}/roles/{local['id']}",
        expect=204)
    assert _effective_http(api, user["id"], project["id"]) == [r0["id"]]
    assert _effective_grpc(admin, user["id"], project["id"]) == [r0["id"]]
    api("PUT", f"/v3/roles/{local['id']}/implies/{r1['id']}", expect=201)
    assert _effective_http(api, user["id"], project["id"]) == sorted([r0["id"], r1["id"]])
    assert _effective_grpc(admin, user["id"], project["id"]) == sorted([r0["id"], r1["id"]])
    # Not effective: the stored grant itself is listed.
    rows = api.get(f"/v3/role_assignments?user.id={user['id']}")["role_assignments"]
    assert local["id"] in {r["role"]["id"] for r in rows}


# This family's rules (families/implied_roles.py); the base profiles' own
# list_implied_roles, create_implied_role and delete_implied_role are theirs to test.
RULES = ("get_implied_role", "check_implied_role", "list_role_inference_rules")


@pytest.mark.parametrize("profile", ["keystone", "scoped"])
def test_the_inference_rules_let_one_caller_through_and_refuse_another(deployment, profile):
    running = start_service(dataclasses.replace(deployment, policy_profile=profile))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    try:
        base = f"http://127.0.0.1:{http.port}"
        stub = running.stub
        sys_api = Api(base, system_admin_token(stub))
        project_admin = Api(base, login(stub, "admin", project_scope("admin")).token)
        alice = Api(base, login(stub, "alice", project_scope("acme")).token)
        allowed, refused = ((project_admin, alice) if profile == "keystone"
                            else (sys_api, project_admin))
        a, b = _role(sys_api, "pa"), _role(sys_api, "pb")
        rule_path = f"/v3/roles/{a['id']}/implies/{b['id']}"
        sys_api("PUT", rule_path, expect=201)
        calls = {"get_implied_role": ("GET", rule_path), "check_implied_role": ("HEAD", rule_path),
                 "list_role_inference_rules": ("GET", "/v3/role_inferences")}
        assert set(calls) == set(RULES)
        for rule, (method, path) in calls.items():
            status, _, body, _ = call(base + path, method, refused.token)
            assert status == 403, (profile, rule, status)
            if method != "HEAD":
                assert f"identity:{rule}" in body["error"]["message"]
        for rule, (method, path) in calls.items():
            status = call(base + path, method, allowed.token)[0]
            assert status in (200, 204), (profile, rule, status)
        assert call(base + f"/v3/roles/{a['id']}/implies", "GET", sys_api.token)[0] == 200
    finally:
        http.stop()
        running.stop()
