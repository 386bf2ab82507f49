"""Behaviours where Keystone's answer is the one to give, on both transports where the
gRPC API has the operation: the legacy `region` field of an endpoint, an endpoint
moved to another service, deleting domains (refused while enabled, cascading once
disabled), Keystone's name lengths, an admin's password reset, a password change
proved by the original password, and `password_expires_at` in tokens."""

import json
import urllib.request
from datetime import datetime, timezone

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from identity_grpc.gateway.server import HttpServer
from support import (AdminClient, login, project_scope, rpc_error, system_admin_token, user,
                     validate)
from test_gateway_admin import Api, call

CODE = grpc.StatusCode


@pytest.fixture
def api(service, gateway) -> Api:
    return Api(gateway, system_admin_token(service.stub))


@pytest.fixture
def admin(service) -> AdminClient:
    return AdminClient(service.channel, system_admin_token(service.stub))


def _error(api: Api, method: str, path: str, body=None) -> tuple[int, str]:
    status, _, parsed, raw = call(api.base + path, method, api.token, body)
    return status, (parsed or {}).get("error", {}).get("message", raw)


# ---- endpoints ------------------------------------------------------------------------

def test_the_legacy_region_field_creates_a_missing_region(api):
    service = api("POST", "/v3/services", {"service": {"type": "image"}}, expect=201)["service"]
    other = api("POST", "/v3/services", {"service": {"type": "volume"}}, expect=201)["service"]
    body = {"endpoint": {"service_id": service["id"], "interface": "public",
                         "url": "http://glance", "region": "RegionNew"}}
    made = api("POST", "/v3/endpoints", body, expect=201)["endpoint"]
    assert (made["region"], made["region_id"]) == ("RegionNew", "RegionNew")
    assert api.get("/v3/regions/RegionNew")["region"]["id"] == "RegionNew"
    # An existing region is used as it is; `region_id` names one that must exist.
    api("POST", "/v3/endpoints", body, expect=201)
    status, message = _error(api, "POST", "/v3/endpoints", {"endpoint": {
        **body["endpoint"], "region": None, "region_id": "Nowhere"}})
    assert status == 404 and "Nowhere" in message
    assert api.status("GET", "/v3/regions/Nowhere") == 404

    changed = api("PATCH", f"/v3/endpoints/{made['id']}", {"endpoint": {
        "region": "RegionLater", "service_id": other["id"], "interface": "internal",
        "enabled": False}}, expect=200)["endpoint"]
    assert (changed["region"], changed["service_id"], changed["interface"],
            changed["enabled"]) == ("RegionLater", other["id"], "internal", False)
    assert api.get("/v3/regions/RegionLater")["region"]["id"] == "RegionLater"
    assert _error(api, "PATCH", f"/v3/endpoints/{made['id']}",
                  {"endpoint": {"service_id": "nope"}})[0] == 404
    assert _error(api, "PATCH", f"/v3/endpoints/{made['id']}",
                  {"endpoint": {"region_id": "Nowhere"}})[0] == 404
    for value in ("True", "False"):  # Tempest's test_{create,update}_with_enabled_*
        status, message = _error(api, "PATCH", f"/v3/endpoints/{made['id']}",
                                 {"endpoint": {"enabled": value}})
        assert status == 400 and "enabled" in message
        status, message = _error(api, "POST", "/v3/endpoints", {"endpoint": {
            **body["endpoint"], "region": "RegionX", "enabled": value}})
        assert status == 400 and "enabled" in message
    assert api.status("GET", "/v3/regions/RegionX") == 404  # nothing made for a refusal
    status, message = _error(api, "POST", "/v3/endpoints", {"endpoint": {
        **body["endpoint"], "region": "r" * 256}})
    assert status == 400 and "region" in message


def test_an_endpoint_moves_to_another_service_over_grpc(admin):
    s, e = admin.services, admin.endpoints
    first = admin.call(s.CreateService, apb.CreateServiceRequest(type="image"))
    second = admin.call(s.CreateService, apb.CreateServiceRequest(type="volume"))
    ep = admin.call(e.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=first.id, interface="public", url="http://x", region_id="RegionOne"))
    moved = admin.call(e.UpdateEndpoint, apb.UpdateEndpointRequest(id=ep.id, service_id=second.id))
    assert moved.service_id == second.id
    for request, code in [(apb.UpdateEndpointRequest(id=ep.id, service_id="nope"), CODE.NOT_FOUND),
                          (apb.UpdateEndpointRequest(id=ep.id, service_id=""), CODE.INVALID_ARGUMENT),
                          (apb.UpdateEndpointRequest(id=ep.id, region_id="Nowhere"), CODE.NOT_FOUND)]:
        assert rpc_error(admin.call, e.UpdateEndpoint, request).code() == code
    error = rpc_error(admin.call, e.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=first.id, interface="public", url="http://x", region_id="Nowhere"))
    assert error.code() == CODE.NOT_FOUND  # gRPC has no legacy field: nothing is created


# ---- domains --------------------------------------------------------------------------

def test_an_enabled_domain_is_not_deleted(api, admin):
    domain = api("POST", "/v3/domains", {"domain": {"name": "Live"}}, expect=201)["domain"]
    status, message = _error(api, "DELETE", f"/v3/domains/{domain['id']}")
    assert status == 403 and "disabled" in message
    error = rpc_error(admin.call, admin.domains.DeleteDomain, apb.DeleteRequest(id=domain["id"]))
    assert error.code() == CODE.FAILED_PRECONDITION and "disabled" in error.details()
    assert _error(api, "DELETE", "/v3/domains/default")[0] == 403
    assert api.get(f"/v3/domains/{domain['id']}")["domain"]["enabled"] is True


def _populated_domain(api: Api, name: str) -> dict:
    domain = api("POST", "/v3/domains", {"domain": {"name": name}}, expect=201)["domain"]
    did = domain["id"]
    ids = {"domain": did}
    ids["user"] = api("POST", "/v3/users", {"user": {
        "name": "u", "domain_id": did, "password": "u-password-1"}}, expect=201)["user"]["id"]
    ids["group"] = api("POST", "/v3/groups", {"group": {"name": "g", "domain_id": did}},
                       expect=201)["group"]["id"]
    ids["project"] = api("POST", "/v3/projects", {"project": {"name": "p", "domain_id": did}},
                         expect=201)["project"]["id"]
    ids["child"] = api("POST", "/v3/projects", {"project": {
        "name": "c", "domain_id": did, "parent_id": ids["project"]}}, expect=201)["project"]["id"]
    ids["role"] = api("POST", "/v3/roles", {"role": {"name": "local", "domain_id": did}},
                      expect=201)["role"]["id"]
    member = api.get("/v3/roles?name=member")["roles"][0]["id"]
    api("PUT", f"/v3/projects/{ids['child']}/users/{ids['user']}/roles/{member}", expect=204)
    api("PUT", f"/v3/groups/{ids['group']}/users/{ids['user']}", expect=204)
    api("PATCH", f"/v3/domains/{did}", {"domain": {"enabled": True}}, expect=200)
    return ids


def _gone(api: Api, ids: dict) -> None:
    for path in (f"/v3/domains/{ids['domain']}", f"/v3/users/{ids['user']}",
                 f"/v3/groups/{ids['group']}", f"/v3/projects/{ids['project']}",
                 f"/v3/projects/{ids['child']}", f"/v3/roles/{ids['role']}"):
        assert api.status("GET", path) == 404, path
    rows = api.get("/v3/role_assignments")["role_assignments"]
    assert not set(json.dumps(rows).split('"')) & set(ids.values())


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_deleting_a_disabled_domain_deletes_what_it_holds_and_ends_their_tokens(
        api, admin, service, transport):
    ids = _populated_domain(api, f"Doomed-{transport}")
    stub = service.stub
    token = stub.Authenticate(pb.AuthenticateRequest(
        password=pb.PasswordMethod(user=user("u", ids["domain"]), password="u-password-1"),
        scope=pb.Scope(project=pb.ProjectSelector(id=ids["child"])))).token
    nova = login(stub, "nova", project_scope("service")).token
    assert validate(stub, nova, token).user.name == "u"
    api("PATCH", f"/v3/domains/{ids['domain']}", {"domain": {"enabled": False}}, expect=200)
    if transport == "http":
        api("DELETE", f"/v3/domains/{ids['domain']}", expect=204)
    else:
        admin.call(admin.domains.DeleteDomain, apb.DeleteRequest(id=ids["domain"]))
    _gone(api, ids)
    error = rpc_error(stub.ValidateToken, pb.ValidateTokenRequest(subject_token=token),
                      metadata=(("x-auth-token", nova),))
    assert error.code() == CODE.UNAUTHENTICATED
    # The rest of the cloud is untouched.
    assert api.get("/v3/users?name=alice")["users"]
    assert validate(stub, nova, login(stub, "alice", project_scope("acme")).token).user.name == "alice"


# ---- names ------------------------------------------------------------------------------

def test_domain_and_project_names_over_64_characters_are_refused(api, admin):
    for path, key in (("/v3/domains", "domain"), ("/v3/projects", "project")):
        status, message = _error(api, "POST", path, {key: {"name": "a" * 65}})
        assert status == 400 and "name" in message and "64" in message
        api("POST", path, {key: {"name": "b" * 64}}, expect=201)
    project = api.get("/v3/projects?name=" + "b" * 64)["projects"][0]
    assert _error(api, "PATCH", f"/v3/projects/{project['id']}",
                  {"project": {"name": "c" * 65}})[0] == 400
    for method, request in [
            (admin.domains.CreateDomain, apb.CreateDomainRequest(name="d" * 65)),
            (admin.projects.CreateProject, apb.CreateProjectRequest(name="e" * 65)),
            (admin.projects.UpdateProject, apb.UpdateProjectRequest(id=project["id"],
                                                                    name="f" * 65))]:
        error = rpc_error(admin.call, method, request)
        assert error.code() == CODE.INVALID_ARGUMENT and "name" in error.details()
    # Keystone's users, groups and roles take 255.
    api("POST", "/v3/users", {"user": {"name": "u" * 255}}, expect=201)
    api("POST", "/v3/groups", {"group": {"name": "g" * 255}}, expect=201)
    api("POST", "/v3/roles", {"role": {"name": "r" * 255}}, expect=201)
    assert api.status("POST", "/v3/users", {"user": {"name": "u" * 256}}) == 400


# ---- passwords --------------------------------------------------------------------------

def _auth_http(base: str, user_id: str, password: str) -> int:
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": user_id, "password": password}}}}}
    return call(base + "/v3/auth/tokens", "POST", None, body)[0]


def test_an_admin_resets_another_users_password(api, admin, service):
    made = api("POST", "/v3/users", {"user": {"name": "pat", "password": "pat-password-1"}},
               expect=201)["user"]
    api("PATCH", f"/v3/users/{made['id']}", {"user": {"password": "pat-password-2"}}, expect=200)
    assert _auth_http(api.base, made["id"], "pat-password-1") == 401
    assert _auth_http(api.base, made["id"], "pat-password-2") == 201
    admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(id=made["id"],
                                                             password="pat-password-3"))
    assert _auth_http(api.base, made["id"], "pat-password-2") == 401
    assert _auth_http(api.base, made["id"], "pat-password-3") == 201


@pytest.mark.policy_profile("keystone")
def test_a_password_change_is_proved_by_the_original_password(api, admin, service, gateway):
    """Tempest's test_update_user_password: the admin changes another user's password
    through POST /v3/users/{id}/password, giving the original; a wrong original is
    refused (401), and so is another user without admin (403)."""
    made = api("POST", "/v3/users", {"user": {"name": "quin", "password": "quin-password-1"}},
               expect=201)["user"]
    path = f"/v3/users/{made['id']}/password"
    wrong = {"user": {"original_password": "not-it-1", "password": "quin-password-2"}}
    assert _error(api, "POST", path, wrong)[0] == 401
    project_admin = Api(gateway, login(service.stub, "admin", project_scope("admin")).token)
    project_admin("POST", path, {"user": {"original_password": "quin-password-1",
                                          "password": "quin-password-2"}}, expect=204)
    assert _auth_http(api.base, made["id"], "quin-password-2") == 201
    alice = Api(gateway, login(service.stub, "alice", project_scope("acme")).token)
    status, message = _error(alice, "POST", path, {"user": {
        "original_password": "quin-password-2", "password": "quin-password-3"}})
    assert status == 403 and "identity:change_password" in message
    alice_admin = AdminClient(service.channel, alice.token)
    error = rpc_error(alice_admin.call, alice_admin.users.ChangePassword, apb.ChangePasswordRequest(
        user_id=made["id"], original_password="quin-password-2", password="quin-password-3"))
    assert error.code() == CODE.PERMISSION_DENIED
    pa = AdminClient(service.channel, project_admin.token)
    pa.call(pa.users.ChangePassword, apb.ChangePasswordRequest(
        user_id=made["id"], original_password="quin-password-2", password="quin-password-3"))
    assert _auth_http(api.base, made["id"], "quin-password-3") == 201


def test_tokens_carry_when_the_password_expires(deployment):
    running = start_service(deployment.replace(password_expires_days=30))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    try:
        base = f"http://127.0.0.1:{http.port}"
        stub = running.stub
        sys_token = system_admin_token(stub)
        made = Api(base, sys_token)("POST", "/v3/users", {"user": {"name": "exp", "password": "exp-password-1"}},
                   expect=201)["user"]
        expires = made["password_expires_at"]
        assert expires is not None
        answer = stub.Authenticate(pb.AuthenticateRequest(password=pb.PasswordMethod(
            user=pb.UserSelector(id=made["id"]), password="exp-password-1")))
        seconds = answer.token_info.user.password_expires_at.seconds
        assert datetime.fromtimestamp(seconds, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.000000") == expires
        request = urllib.request.Request(base + "/v3/auth/tokens", headers={
            "X-Auth-Token": sys_token, "X-Subject-Token": answer.token})
        with urllib.request.urlopen(request) as response:
            token = json.loads(response.read())["token"]
        assert token["user"]["password_expires_at"] == expires
        # A user whose password never expires: null, and unset over gRPC.
        nova = login(stub, "nova", project_scope("service"))
        assert not nova.token_info.user.HasField("password_expires_at")
        request = urllib.request.Request(base + "/v3/auth/tokens", headers={
            "X-Auth-Token": sys_token, "X-Subject-Token": nova.token})
        with urllib.request.urlopen(request) as response:
            assert json.loads(response.read())["token"]["user"]["password_expires_at"] is None
    finally:
        http.stop()
        running.stop()
