"""Trusts (Keystone's OS-TRUST), through the real server on both transports: creating,
reading, listing and deleting them in Keystone's wire format, their bad input, the
policy rules in both profiles, and the tokens issued through them (their user, scope
and roles, remaining uses, redelegation, no rescoping) ending at once when the trust,
its users or its roles go, on every replica."""

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.admin.v1 import trusts_pb2 as tpb
from identity_api.admin.v1 import trusts_pb2_grpc as tgrpc
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.tokens import MAX_TOKEN_LENGTH
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from support import (AdminClient, DEMO_PASSWORDS, auth_md, login, password_request,
                     project_scope, rescope, role_names, rpc_error, system_admin_token,
                     validate)

CODE = grpc.StatusCode
TRUSTS = "/v3/OS-TRUST/trusts"


# ---- helpers ----------------------------------------------------------------------

def call(url: str, method: str = "GET", token: str | None = None, body=None):
    """(status, parsed JSON body or None, headers)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            status, got, raw = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        status, got, raw = e.code, e.headers, e.read().decode()
    return status, (json.loads(raw) if raw.strip() else None), got


class Http:
    """The gateway, called with one token."""

    def __init__(self, base: str, token: str | None):
        self.base, self.token = base, token

    def __call__(self, method: str, path: str, body=None, expect: int | None = None):
        status, parsed, _ = call(self.base + path, method, self.token, body)
        if expect is not None:
            assert status == expect, (method, path, status, parsed)
        return status, parsed


def ids_of(service) -> dict:
    core = service.core
    default = core.resources.find_domain("default")
    found = {name: core.users_and_groups.find_user(name=name, domain_id="default").id
             for name in ("alice", "bob", "nova", "admin")}
    found.update({name: core.resources.find_project(name=name, domain=default).id
                  for name in ("acme", "cyberdyne")})
    found.update({name: core.assignments.find_role(name).id
                  for name in ("admin", "member", "reader", "compute-user")})
    return found


@pytest.fixture
def ids(service):
    return ids_of(service)


def token_of(service, name: str, scope: pb.Scope | None = None) -> str:
    return login(service.stub, name, scope).token


def on_cyberdyne(service, name: str = "alice") -> str:
    return token_of(service, name, project_scope("cyberdyne"))


def trust_body(ids, impersonation=True, roles=({"name": "member"},), **more) -> dict:
    """alice trusts bob with `member` on cyberdyne (where she is admin)."""
    return {"trust": {"trustor_user_id": ids["alice"], "trustee_user_id": ids["bob"],
                      "project_id": ids["cyberdyne"], "roles": list(roles),
                      "impersonation": impersonation, **more}}


def create(http: Http, ids, expect: int = 201, **fields):
    return http("POST", TRUSTS, trust_body(ids, **fields), expect=expect)[1]


def trust_auth_body(trust_id: str, name: str = "bob") -> dict:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": DEMO_PASSWORDS[name]}}},
        "scope": {"OS-TRUST:trust": {"id": trust_id}}}}


def http_trust_token(gateway: str, trust_id: str, name: str = "bob"):
    """(status, token body, the token)."""
    status, body, headers = call(gateway + "/v3/auth/tokens", "POST",
                                 body=trust_auth_body(trust_id, name))
    return status, body, headers.get("X-Subject-Token")


def grpc_trust_token(stub, trust_id: str, name: str = "bob") -> pb.AuthenticateResponse:
    return stub.Authenticate(password_request(name, scope=pb.Scope(trust_id=trust_id)))


class TrustClient:
    def __init__(self, channel, token: str):
        self.stub = tgrpc.TrustsStub(channel)
        self.metadata = auth_md(token)

    def __getattr__(self, method: str):
        rpc = getattr(self.stub, method)
        return lambda request: rpc(request, metadata=self.metadata)


def grpc_create(client: TrustClient, ids, roles=(tpb.TrustRole(name="member"),),
                **fields) -> tpb.Trust:
    request = tpb.CreateTrustRequest(trustor_user_id=ids["alice"], trustee_user_id=ids["bob"],
                                     project_id=ids["cyberdyne"], roles=list(roles), **fields)
    return client.CreateTrust(request)


def subject_status(gateway: str, caller: str, subject: str) -> int:
    request = urllib.request.Request(gateway + "/v3/auth/tokens", method="GET",
                                     headers={"X-Auth-Token": caller, "X-Subject-Token": subject})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def refused_on_grpc(stub, caller: str, subject: str) -> str:
    error = rpc_error(validate, stub, caller, subject)
    assert error.code() == CODE.UNAUTHENTICATED, (error.code(), error.details())
    return error.details()


@pytest.fixture
def alice_http(service, gateway) -> Http:
    return Http(gateway, on_cyberdyne(service))


@pytest.fixture
def nova(service) -> str:
    return token_of(service, "nova", project_scope("service"))


# ---- the HTTP API, as Tempest's test_trusts drives it --------------------------------

@pytest.mark.parametrize("impersonation", [True, False])
def test_create_show_roles_and_delete_in_keystones_format(service, gateway, ids, alice_http,
                                                          impersonation):
    created = create(alice_http, ids, impersonation=impersonation)["trust"]
    assert list(created) == ["id", "trustor_user_id", "trustee_user_id", "project_id",
                             "impersonation", "expires_at", "remaining_uses", "deleted_at",
                             "redelegated_trust_id", "redelegation_count", "roles",
                             "roles_links", "links"]
    trust_id = created["id"]
    assert (created["trustor_user_id"], created["trustee_user_id"], created["project_id"]) == (
        ids["alice"], ids["bob"], ids["cyberdyne"])
    assert created["impersonation"] is impersonation
    assert created["expires_at"] is None and created["remaining_uses"] is None
    assert created["redelegation_count"] == 0 and created["redelegated_trust_id"] is None
    assert created["links"]["self"] == f"{gateway}/v3/OS-TRUST/trusts/{trust_id}"
    assert created["roles_links"] == {"self": f"{gateway}/v3/OS-TRUST/trusts/{trust_id}/roles",
                                      "next": None, "previous": None}
    (role,) = created["roles"]
    assert (role["id"], role["name"]) == (ids["member"], "member")
    assert role["links"]["self"] == f"{gateway}/v3/roles/{ids['member']}"

    shown = alice_http("GET", f"{TRUSTS}/{trust_id}", expect=200)[1]["trust"]
    assert shown == created
    roles = alice_http("GET", f"{TRUSTS}/{trust_id}/roles", expect=200)[1]
    assert [r["id"] for r in roles["roles"]] == [ids["member"]]
    assert roles["links"]["self"].endswith(f"/v3/OS-TRUST/trusts/{trust_id}/roles")
    one = alice_http("GET", f"{TRUSTS}/{trust_id}/roles/{ids['member']}", expect=200)[1]
    assert one["role"]["name"] == "member"
    alice_http("HEAD", f"{TRUSTS}/{trust_id}/roles/{ids['member']}", expect=200)
    alice_http("GET", f"{TRUSTS}/{trust_id}/roles/{ids['admin']}", expect=404)
    alice_http("HEAD", f"{TRUSTS}/{trust_id}/roles/{ids['admin']}", expect=404)

    alice_http("DELETE", f"{TRUSTS}/{trust_id}", expect=204)
    alice_http("GET", f"{TRUSTS}/{trust_id}", expect=404)
    alice_http("DELETE", f"{TRUSTS}/{trust_id}", expect=404)


def test_a_trust_by_role_id_with_an_expiry_shows_it_as_keystone(alice_http, ids):
    expires = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(microsecond=0)
    stamp = expires.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    created = create(alice_http, ids, roles=({"id": ids["member"]},), expires_at=stamp,
                     remaining_uses=3)["trust"]
    assert created["expires_at"] == expires.strftime("%Y-%m-%dT%H:%M:%S") + ".000000Z"
    assert created["remaining_uses"] == 3
    shown = alice_http("GET", f"{TRUSTS}/{created['id']}", expect=200)[1]["trust"]
    assert shown["expires_at"] == created["expires_at"]


def test_lists_filter_by_trustor_or_trustee_and_leave_roles_out(service, gateway, ids,
                                                                alice_http):
    first = create(alice_http, ids)["trust"]
    second = create(alice_http, ids, impersonation=False)["trust"]
    listed = alice_http("GET", f"{TRUSTS}?trustor_user_id={ids['alice']}", expect=200)[1]
    assert {t["id"] for t in listed["trusts"]} == {first["id"], second["id"]}
    shown = next(t for t in listed["trusts"] if t["id"] == first["id"])
    assert "roles" not in shown and "roles_links" not in shown
    assert shown["links"]["self"].endswith(f"/OS-TRUST/trusts/{first['id']}")
    assert listed["links"]["next"] is None
    bob = Http(gateway, token_of(service, "bob"))
    as_trustee = bob("GET", f"{TRUSTS}/?trustee_user_id={ids['bob']}", expect=200)[1]
    assert {t["id"] for t in as_trustee["trusts"]} == {first["id"], second["id"]}
    # The trustee reads the trust and its roles, but does not list the trustor's.
    bob("GET", f"{TRUSTS}/{first['id']}", expect=200)
    bob("GET", f"{TRUSTS}/{first['id']}/roles", expect=200)
    bob("GET", f"{TRUSTS}?trustor_user_id={ids['alice']}", expect=403)
    bob("GET", TRUSTS, expect=403)
    bob("DELETE", f"{TRUSTS}/{first['id']}", expect=403)
    nova = Http(gateway, token_of(service, "nova"))
    nova("GET", f"{TRUSTS}/{first['id']}", expect=403)
    nova("GET", f"{TRUSTS}?trustee_user_id={ids['bob']}", expect=403)
    system = Http(gateway, system_admin_token(service.stub))
    everything = system("GET", TRUSTS, expect=200)[1]["trusts"]
    assert {t["id"] for t in everything} == {first["id"], second["id"]}
    system("DELETE", f"{TRUSTS}/{second['id']}", expect=204)


BAD_BODIES = {
    # name: (change to the body, status)
    "no impersonation": (lambda b: b["trust"].pop("impersonation"), 400),
    "impersonation not a boolean": (lambda b: b["trust"].update(impersonation="yes"), 400),
    "no trustee": (lambda b: b["trust"].pop("trustee_user_id"), 400),
    "trustee not a string": (lambda b: b["trust"].update(trustee_user_id=7), 400),
    "roles not a list": (lambda b: b["trust"].update(roles="member"), 400),
    "a role with id and name": (lambda b: b["trust"].update(roles=[{"id": "x", "name": "y"}]),
                                400),
    "remaining_uses zero": (lambda b: b["trust"].update(remaining_uses=0), 400),
    "remaining_uses negative": (lambda b: b["trust"].update(remaining_uses=-1), 400),
    "remaining_uses a string": (lambda b: b["trust"].update(remaining_uses="2"), 400),
    "remaining_uses a boolean": (lambda b: b["trust"].update(remaining_uses=True), 400),
    "expires_at not a time": (lambda b: b["trust"].update(expires_at="bad.123Z"), 400),
    "expires_at in the past": (lambda b: b["trust"].update(expires_at="2001-01-01T00:00:00Z"),
                               400),
    "redelegation_count negative": (lambda b: b["trust"].update(redelegation_count=-1), 400),
    "remaining_uses with redelegation": (
        lambda b: b["trust"].update(allow_redelegation=True, remaining_uses=2), 400),
    "redelegation deeper than allowed": (
        lambda b: b["trust"].update(allow_redelegation=True, redelegation_count=4), 403),
    "trustor not the caller": (lambda b: b["trust"].update(trustor_user_id="f" * 32), 403),
    "unknown trustee": (lambda b: b["trust"].update(trustee_user_id="f" * 32), 404),
    "unknown project": (lambda b: b["trust"].update(project_id="f" * 32), 404),
    "unknown role name": (lambda b: b["trust"].update(roles=[{"name": "no-such-role"}]), 404),
    "unknown role id": (lambda b: b["trust"].update(roles=[{"id": "f" * 32}]), 404),
    "a project but no role": (lambda b: b["trust"].update(roles=[]), 403),
    "a role the trustor does not hold": (
        lambda b: b["trust"].update(roles=[{"name": "compute-user"}]), 403),
    "no trust object": (lambda b: b.pop("trust"), 400),
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bad_input_is_a_clear_4xx(alice_http, ids, name):
    change, expected = BAD_BODIES[name]
    body = trust_body(ids)
    change(body)
    status, answer = alice_http("POST", TRUSTS, body)
    assert status == expected, (status, answer)
    assert answer["error"]["code"] == expected and answer["error"]["message"]


def test_unknown_or_malformed_trust_ids_are_404_or_400(alice_http):
    for path in (f"{TRUSTS}/{'f' * 32}", f"{TRUSTS}/{'f' * 32}/roles",
                 f"{TRUSTS}/{'f' * 32}/roles/{'e' * 32}"):
        assert alice_http("GET", path)[0] == 404
    assert alice_http("DELETE", f"{TRUSTS}/{'f' * 32}")[0] == 404
    assert alice_http("GET", f"{TRUSTS}/{'x' * 65}")[0] == 400


# ---- tokens through a trust ---------------------------------------------------------

@pytest.mark.parametrize("impersonation", [True, False])
def test_the_trustee_gets_a_token_on_the_project_with_the_trusts_roles_only(
        service, gateway, ids, alice_http, nova, impersonation):
    trust = create(alice_http, ids, impersonation=impersonation)["trust"]
    status, body, token = http_trust_token(gateway, trust["id"])
    assert status == 201, body
    assert len(token) <= MAX_TOKEN_LENGTH
    seen = body["token"]
    assert seen["user"]["id"] == (ids["alice"] if impersonation else ids["bob"])
    assert seen["project"]["id"] == ids["cyberdyne"]
    assert {r["name"] for r in seen["roles"]} == {"member", "reader"}  # member implies reader
    assert seen["OS-TRUST:trust"] == {"id": trust["id"], "impersonation": impersonation,
                                      "trustor_user": {"id": ids["alice"]},
                                      "trustee_user": {"id": ids["bob"]}}
    assert seen["methods"] == ["password"]
    info = validate(service.stub, nova, token)
    assert info.trust.id == trust["id"] and info.trust.impersonation is impersonation
    assert (info.trust.trustor_user_id, info.trust.trustee_user_id) == (ids["alice"], ids["bob"])
    assert role_names(info) == {"member", "reader"} and info.project.id == ids["cyberdyne"]


def test_the_token_method_gives_a_trust_token_too_and_grpc_the_same(service, ids, alice_http):
    trust = create(alice_http, ids, impersonation=False)["trust"]
    unscoped = token_of(service, "bob")
    response = service.stub.Authenticate(pb.AuthenticateRequest(
        token=pb.TokenMethod(token=unscoped), scope=pb.Scope(trust_id=trust["id"])))
    info = response.token_info
    assert list(info.methods) == ["password", "token"] and info.user.id == ids["bob"]
    assert info.trust.id == trust["id"] and len(info.audit_ids) == 2
    by_password = grpc_trust_token(service.stub, trust["id"]).token_info
    assert list(by_password.methods) == ["password"] and role_names(by_password) == {
        "member", "reader"}


def test_only_the_trustee_may_use_the_trust(service, gateway, ids, alice_http):
    trust = create(alice_http, ids)["trust"]
    status, body, _ = http_trust_token(gateway, trust["id"], name="alice")
    assert status == 403, body
    assert rpc_error(grpc_trust_token, service.stub, trust["id"], "nova").code() == \
        CODE.PERMISSION_DENIED
    status, body, _ = http_trust_token(gateway, "f" * 32)
    assert status == 404, body
    assert rpc_error(grpc_trust_token, service.stub, "f" * 32).code() == CODE.NOT_FOUND
    status, body, _ = call(gateway + "/v3/auth/tokens", "POST", body={"auth": {
        **trust_auth_body("")["auth"], "scope": {"OS-TRUST:trust": {}}}})
    assert status == 400, body


def test_remaining_uses_count_tokens_issued_and_none_is_issued_past_them(
        service, gateway, ids, alice_http, nova):
    trust = create(alice_http, ids, remaining_uses=2)["trust"]
    first = grpc_trust_token(service.stub, trust["id"]).token
    status, _, second = http_trust_token(gateway, trust["id"])
    assert status == 201
    status, body, _ = http_trust_token(gateway, trust["id"])
    assert status == 404, body
    assert rpc_error(grpc_trust_token, service.stub, trust["id"]).code() == CODE.NOT_FOUND
    shown = alice_http("GET", f"{TRUSTS}/{trust['id']}", expect=200)[1]["trust"]
    assert shown["remaining_uses"] == 0
    # The tokens already issued stay valid until the trust goes.
    for token in (first, second):
        assert validate(service.stub, nova, token).trust.id == trust["id"]
    alice_http("DELETE", f"{TRUSTS}/{trust['id']}", expect=204)
    for token in (first, second):
        refused_on_grpc(service.stub, nova, token)


def test_deleting_the_trust_ends_its_tokens_at_once(service, gateway, ids, alice_http, nova):
    trust = create(alice_http, ids)["trust"]
    token = grpc_trust_token(service.stub, trust["id"]).token
    assert subject_status(gateway, nova, token) == 200
    alice_http("DELETE", f"{TRUSTS}/{trust['id']}", expect=204)
    assert subject_status(gateway, nova, token) == 404
    assert "trust" in refused_on_grpc(service.stub, nova, token)


@pytest.mark.parametrize("who", ["trustor", "trustee"])
def test_disabling_the_trustor_or_the_trustee_ends_its_tokens(service, gateway, ids,
                                                              alice_http, nova, who):
    trust = create(alice_http, ids, impersonation=False)["trust"]
    token = grpc_trust_token(service.stub, trust["id"]).token
    validate(service.stub, nova, token)
    admin = Http(gateway, system_admin_token(service.stub))
    user_id = ids["alice"] if who == "trustor" else ids["bob"]
    admin("PATCH", f"/v3/users/{user_id}", {"user": {"enabled": False}}, expect=200)
    assert subject_status(gateway, nova, token) == 404
    refused_on_grpc(service.stub, nova, token)


def test_deleting_the_trustor_deletes_its_trusts_and_ends_their_tokens(service, gateway, ids,
                                                                       alice_http, nova):
    trust = create(alice_http, ids, impersonation=False)["trust"]
    token = grpc_trust_token(service.stub, trust["id"]).token
    admin = Http(gateway, system_admin_token(service.stub))
    admin("DELETE", f"/v3/users/{ids['alice']}", expect=204)
    refused_on_grpc(service.stub, nova, token)
    admin("GET", f"{TRUSTS}/{trust['id']}", expect=404)


def test_the_trustor_losing_a_delegated_role_ends_the_tokens(service, gateway, ids,
                                                             alice_http, nova):
    trust = create(alice_http, ids, roles=({"name": "admin"},), impersonation=False)["trust"]
    token = grpc_trust_token(service.stub, trust["id"]).token
    assert {"admin", "member", "reader"} <= role_names(validate(service.stub, nova, token))
    admin = Http(gateway, system_admin_token(service.stub))
    admin("DELETE", f"/v3/projects/{ids['cyberdyne']}/users/{ids['alice']}/roles/{ids['admin']}",
          expect=204)
    assert "trustor" in refused_on_grpc(service.stub, nova, token)


def test_an_expiring_trust_caps_its_tokens_and_ends_them(service, gateway, ids, alice_http,
                                                         nova):
    expires = int(time.time()) + 600
    stamp = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    trust = create(alice_http, ids, expires_at=stamp)["trust"]
    info = grpc_trust_token(service.stub, trust["id"]).token_info
    assert info.expires_at.seconds == expires
    token = grpc_trust_token(service.stub, trust["id"]).token
    service.clock.advance(601)
    nova_now = token_of(service, "nova", project_scope("service"))
    refused_on_grpc(service.stub, nova_now, token)
    alice_later = Http(gateway, on_cyberdyne(service))
    alice_later("GET", f"{TRUSTS}/{trust['id']}", expect=404)
    assert rpc_error(grpc_trust_token, service.stub, trust["id"]).code() == CODE.NOT_FOUND


def test_a_trust_token_cannot_be_rescoped_nor_make_a_trust(service, gateway, ids, alice_http):
    trust = create(alice_http, ids, impersonation=False)["trust"]
    token = grpc_trust_token(service.stub, trust["id"]).token
    error = rpc_error(rescope, service.stub, token, project_scope("acme"))
    assert error.code() == CODE.PERMISSION_DENIED, error.details()
    status, body, _ = call(gateway + "/v3/auth/tokens", "POST", body={"auth": {
        "identity": {"methods": ["token"], "token": {"id": token}},
        "scope": {"project": {"id": ids["cyberdyne"]}}}})
    assert status == 403, body
    as_trustee = Http(gateway, token)
    body = trust_body(ids)
    body["trust"].update(trustor_user_id=ids["bob"], trustee_user_id=ids["nova"])
    status, answer = as_trustee("POST", TRUSTS, body)
    assert status == 403 and "redelegation" in answer["error"]["message"]


def test_a_redelegatable_trust_is_delegated_further_within_its_bounds(service, gateway, ids,
                                                                      alice_http, nova):
    parent = create(alice_http, ids, impersonation=False, allow_redelegation=True,
                    redelegation_count=2)["trust"]
    assert parent["redelegation_count"] == 2
    bob_trust_token = grpc_trust_token(service.stub, parent["id"]).token
    as_bob = Http(gateway, bob_trust_token)
    body = trust_body(ids, impersonation=False, allow_redelegation=True)
    body["trust"].update(trustor_user_id=ids["bob"], trustee_user_id=ids["nova"])
    child = as_bob("POST", TRUSTS, body, expect=201)[1]["trust"]
    assert child["redelegated_trust_id"] == parent["id"] and child["redelegation_count"] == 1
    # More roles than the parent delegates, or impersonation it does not allow: refused.
    wider = json.loads(json.dumps(body))
    wider["trust"]["roles"] = [{"name": "admin"}]
    assert as_bob("POST", TRUSTS, wider)[0] == 403
    impersonating = json.loads(json.dumps(body))
    impersonating["trust"]["impersonation"] = True
    assert as_bob("POST", TRUSTS, impersonating)[0] == 403
    # nova uses the child: alice's member on cyberdyne, as nova.
    child_token = grpc_trust_token(service.stub, child["id"], "nova")
    assert child_token.token_info.user.id == ids["nova"]
    assert role_names(child_token.token_info) == {"member", "reader"}
    # Deleting the parent deletes the child and ends both trusts' tokens.
    alice_http("DELETE", f"{TRUSTS}/{parent['id']}", expect=204)
    alice_http("GET", f"{TRUSTS}/{child['id']}", expect=404)
    refused_on_grpc(service.stub, nova, child_token.token)
    refused_on_grpc(service.stub, nova, bob_trust_token)


def test_a_deleted_trust_is_refused_by_another_replica(service, ids, alice_http, replica):
    trust = create(alice_http, ids)["trust"]
    token = grpc_trust_token(service.stub, trust["id"]).token
    nova = login(replica.stub, "nova", project_scope("service")).token
    assert validate(replica.stub, nova, token).trust.id == trust["id"]
    alice_http("DELETE", f"{TRUSTS}/{trust['id']}", expect=204)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            validate(replica.stub, nova, token)
        except grpc.RpcError as e:
            assert e.code() == CODE.UNAUTHENTICATED
            break
        time.sleep(0.05)
    else:
        pytest.fail("the replica still accepts a token of a deleted trust")


# ---- the Trusts admin service --------------------------------------------------------

def test_the_admin_service_creates_reads_lists_and_deletes(service, ids, nova):
    alice = TrustClient(service.channel, on_cyberdyne(service))
    expires = Timestamp(seconds=int(time.time()) + 3600)
    made = grpc_create(alice, ids, impersonation=True, expires_at=expires, remaining_uses=5)
    assert (made.trustor_user_id, made.trustee_user_id, made.project_id) == (
        ids["alice"], ids["bob"], ids["cyberdyne"])
    assert made.impersonation and made.remaining_uses == 5 and made.HasField("remaining_uses")
    assert made.expires_at.seconds == expires.seconds and made.created_at.seconds > 0
    assert [(r.id, r.name) for r in made.roles] == [(ids["member"], "member")]
    assert alice.GetTrust(apb.GetRequest(id=made.id)) == made
    listed = alice.ListTrusts(tpb.ListTrustsRequest(trustor_user_id=ids["alice"])).trusts
    assert [t.id for t in listed] == [made.id]
    roles = alice.ListTrustRoles(apb.GetRequest(id=made.id)).roles
    assert [r.name for r in roles] == ["member"]
    role = alice.GetTrustRole(tpb.GetTrustRoleRequest(trust_id=made.id, role_id=ids["member"]))
    assert role.name == "member"
    error = rpc_error(alice.GetTrustRole, tpb.GetTrustRoleRequest(trust_id=made.id,
                                                                  role_id=ids["admin"]))
    assert error.code() == CODE.NOT_FOUND
    unlimited = grpc_create(alice, ids, roles=[tpb.TrustRole(id=ids["reader"])])
    assert not unlimited.HasField("remaining_uses") and not unlimited.HasField("expires_at")
    token = grpc_trust_token(service.stub, made.id).token
    alice.DeleteTrust(apb.DeleteRequest(id=made.id))
    assert rpc_error(alice.GetTrust, apb.GetRequest(id=made.id)).code() == CODE.NOT_FOUND
    refused_on_grpc(service.stub, nova, token)


GRPC_BAD = {
    # name: (fields of the request, or a function of ids giving them, code)
    "no trustee": (lambda ids: {"trustee_user_id": ""}, CODE.INVALID_ARGUMENT),
    "remaining_uses zero": (lambda ids: {"remaining_uses": 0}, CODE.INVALID_ARGUMENT),
    "expires_at in the past": (lambda ids: {"expires_at": Timestamp(seconds=1000)},
                               CODE.INVALID_ARGUMENT),
    "a role named twice ways": (lambda ids: {"roles": [tpb.TrustRole(id="x", name="y")]},
                                CODE.INVALID_ARGUMENT),
    "unknown trustee": (lambda ids: {"trustee_user_id": "f" * 32}, CODE.NOT_FOUND),
    "trustor not the caller": (lambda ids: {"trustor_user_id": ids["bob"]},
                               CODE.PERMISSION_DENIED),
    "a role not held": (lambda ids: {"roles": [tpb.TrustRole(name="compute-user")]},
                        CODE.PERMISSION_DENIED),
    "too deep": (lambda ids: {"allow_redelegation": True, "redelegation_count": 9},
                 CODE.PERMISSION_DENIED),
}


@pytest.mark.parametrize("name", sorted(GRPC_BAD))
def test_the_admin_service_refuses_bad_input_clearly(service, ids, name):
    fields, code = GRPC_BAD[name]
    alice = TrustClient(service.channel, on_cyberdyne(service))
    request = tpb.CreateTrustRequest(trustor_user_id=ids["alice"], trustee_user_id=ids["bob"],
                                     project_id=ids["cyberdyne"],
                                     roles=[tpb.TrustRole(name="member")])
    for key, value in fields(ids).items():
        if key == "roles":
            del request.roles[:]
            request.roles.extend(value)
        elif isinstance(value, Timestamp):
            getattr(request, key).CopyFrom(value)
        else:
            setattr(request, key, value)
    error = rpc_error(alice.CreateTrust, request)
    assert error.code() == code, (error.code(), error.details())
    assert error.details()


# ---- the policy rules, in both profiles -------------------------------------------------

def _denied(call, rule: str) -> None:
    error = rpc_error(call)
    assert error.code() == CODE.PERMISSION_DENIED, (rule, error.code(), error.details())
    assert repr(rule) in error.details(), (rule, error.details())


def _rule_cases(w: dict) -> dict:
    """rule -> (a call it lets through, a call it refuses), per profile where they differ."""
    trust = w["trust"]
    get = apb.GetRequest(id=trust.id)

    def making(client, trustor):
        return lambda: client.CreateTrust(tpb.CreateTrustRequest(
            trustor_user_id=trustor, trustee_user_id=w["ids"]["nova"],
            project_id=w["ids"]["cyberdyne"], roles=[tpb.TrustRole(name="reader")]))

    def listing(client, **filters):
        return lambda: client.ListTrusts(tpb.ListTrustsRequest(**filters))

    role = tpb.GetTrustRoleRequest(trust_id=trust.id, role_id=w["ids"]["member"])
    alice, bob, nova, system, project_admin = (w[k] for k in ("alice", "bob", "nova",
                                                              "system", "project_admin"))
    every = {"keystone": (listing(project_admin), listing(bob)),
             "scoped": (listing(system), listing(project_admin))}
    return {
        "identity:create_trust": (making(alice, w["ids"]["alice"]),
                                  making(bob, w["ids"]["alice"])),
        "identity:list_trusts": every[w["profile"]],
        "identity:list_trusts_for_trustor": (listing(alice, trustor_user_id=w["ids"]["alice"]),
                                             listing(bob, trustor_user_id=w["ids"]["alice"])),
        "identity:list_trusts_for_trustee": (listing(bob, trustee_user_id=w["ids"]["bob"]),
                                             listing(nova, trustee_user_id=w["ids"]["bob"])),
        "identity:get_trust": (lambda: bob.GetTrust(get), lambda: nova.GetTrust(get)),
        "identity:list_roles_for_trust": (lambda: system.ListTrustRoles(get),
                                          lambda: nova.ListTrustRoles(get)),
        "identity:get_role_for_trust": (lambda: bob.GetTrustRole(role),
                                        lambda: nova.GetTrustRole(role)),
        "identity:delete_trust": (lambda: alice.DeleteTrust(apb.DeleteRequest(id=trust.id)),
                                  lambda: bob.DeleteTrust(apb.DeleteRequest(id=trust.id))),
    }


@pytest.mark.parametrize("profile", ["keystone", "scoped"])
def test_each_trust_rule_lets_one_caller_through_and_refuses_another(deployment, profile):
    from identity_grpc.policy_rules import rules_for
    from identity_grpc.policy_rules.families import trusts as family
    running = start_service(deployment.replace(policy_profile=profile))
    try:
        ids = ids_of(running)
        client = lambda token: TrustClient(running.channel, token)  # noqa: E731
        w = {"profile": profile, "ids": ids,
             "alice": client(token_of(running, "alice")),
             "project_admin": client(on_cyberdyne(running)),
             "bob": client(token_of(running, "bob")),
             "nova": client(token_of(running, "nova", project_scope("service"))),
             "system": client(system_admin_token(running.stub))}
        w["trust"] = grpc_create(w["project_admin"], ids, impersonation=False)
        cases = _rule_cases(w)
        family_rules = getattr(family, profile.upper())
        assert sorted(cases) == sorted(family_rules)
        assert all(rules_for(profile)[name] == rule for name, rule in family_rules.items())
        for rule in sorted(cases, key=lambda r: r == "identity:delete_trust"):
            allowed, refused = cases[rule]
            _denied(refused, rule)
            allowed()
    finally:
        running.stop()


def test_the_keystone_profile_lets_a_project_admin_list_every_trust_over_http(deployment):
    """Tempest's test_get_trusts_all: an admin on a project lists all trusts."""
    from identity_grpc.gateway.server import HttpServer
    running = start_service(deployment.replace(policy_profile="keystone"))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    try:
        base = f"http://127.0.0.1:{http.port}"
        ids = ids_of(running)
        alice = Http(base, on_cyberdyne(running))
        made = create(alice, ids)["trust"]
        listed = alice("GET", f"{TRUSTS}/", expect=200)[1]["trusts"]
        assert [t["id"] for t in listed] == [made["id"]]
        Http(base, token_of(running, "bob"))("GET", TRUSTS, expect=403)
    finally:
        http.stop()
        running.stop()


# ---- a consuming service checking trust tokens itself ----------------------------------

@pytest.mark.parametrize("ends_by", ["deleting the trust", "disabling the trustor"])
def test_a_consuming_services_verifier_reads_trust_tokens_and_drops_them(service, ids,
                                                                         alice_http, ends_by):
    from identity_client.verifier import TokenRejected
    from test_consumers import make_verifier, wait_until
    trust = create(alice_http, ids, impersonation=False)["trust"]
    token = grpc_trust_token(service.stub, trust["id"]).token
    verifier = make_verifier(service.address, service.clock)
    try:
        context = verifier.check(token)
        assert (context.user_id, context.project_id) == (ids["bob"], ids["cyberdyne"])
        assert (context.trust_id, context.trustor_user_id, context.trustee_user_id) == (
            trust["id"], ids["alice"], ids["bob"])
        assert set(context.roles) == {"member", "reader"}
        # Checked locally once cached (the trust's own creation notice may come first).
        wait_until(lambda: verifier.check(token) and verifier.check_local(token) is not None,
                   within=2.0)
        if ends_by == "deleting the trust":
            alice_http("DELETE", f"{TRUSTS}/{trust['id']}", expect=204)
        else:
            service.core.users_and_groups.set_user_enabled(ids["alice"], False)

        def refused() -> bool:
            try:
                verifier.check(token)
            except TokenRejected:
                return True
            return False
        wait_until(refused, within=2.0)
    finally:
        verifier.close()


# ---- the edges ------------------------------------------------------------------------

def test_a_token_from_an_api_key_cannot_make_or_delete_trusts(service, ids, alice_http):
    alice = AdminClient(service.channel, token_of(service, "alice"))
    secret = alice.call(alice.apikeys.CreateApiKey,
                        apb.CreateApiKeyRequest(project_id=ids["cyberdyne"])).secret
    key_token = service.stub.Authenticate(pb.AuthenticateRequest(
        api_key=pb.ApiKeyMethod(key=secret))).token
    error = rpc_error(grpc_create, TrustClient(service.channel, key_token), ids)
    assert error.code() == CODE.PERMISSION_DENIED and "api key" in error.details()
    trust = create(alice_http, ids)["trust"]
    error = rpc_error(TrustClient(service.channel, key_token).DeleteTrust,
                      apb.DeleteRequest(id=trust["id"]))
    assert error.code() == CODE.PERMISSION_DENIED and "api key" in error.details()


def test_a_trust_without_a_project_gives_an_unscoped_trust_token(service, gateway, ids,
                                                                 alice_http, nova):
    body = trust_body(ids)
    del body["trust"]["project_id"], body["trust"]["roles"]
    trust = alice_http("POST", TRUSTS, body, expect=201)[1]["trust"]
    assert trust["project_id"] is None and trust["roles"] == []
    status, answer, token = http_trust_token(gateway, trust["id"])
    assert status == 201, answer
    assert "project" not in answer["token"] and answer["token"]["OS-TRUST:trust"]["id"] == \
        trust["id"]
    info = validate(service.stub, nova, token)
    assert info.WhichOneof("scope") is None and info.trust.id == trust["id"]
    body["trust"]["roles"] = [{"name": "member"}]
    assert alice_http("POST", TRUSTS, body)[0] == 400


def test_redelegation_stops_at_the_depth_the_trust_allowed(service, gateway, ids, alice_http):
    parent = create(alice_http, ids, impersonation=False, allow_redelegation=True,
                    redelegation_count=1)["trust"]
    as_bob = Http(gateway, grpc_trust_token(service.stub, parent["id"]).token)
    body = trust_body(ids, impersonation=False, allow_redelegation=True)
    body["trust"].update(trustor_user_id=ids["bob"], trustee_user_id=ids["nova"])
    child = as_bob("POST", TRUSTS, body, expect=201)[1]["trust"]
    assert child["redelegation_count"] == 0
    as_nova = Http(gateway, grpc_trust_token(service.stub, child["id"], "nova").token)
    body["trust"].update(trustor_user_id=ids["nova"], trustee_user_id=ids["alice"])
    status, answer = as_nova("POST", TRUSTS, body)
    assert status == 403 and "redelegation" in answer["error"]["message"]
    # Asking for another depth than the parent's, one less, is refused as in Keystone.
    body["trust"].update(trustor_user_id=ids["bob"], trustee_user_id=ids["nova"],
                         redelegation_count=1)
    assert as_bob("POST", TRUSTS, body)[0] == 403


def test_the_admin_service_lists_in_pages(service, ids):
    alice = TrustClient(service.channel, on_cyberdyne(service))
    made = {grpc_create(alice, ids).id for _ in range(3)}
    first = alice.ListTrusts(tpb.ListTrustsRequest(trustor_user_id=ids["alice"], page_size=2))
    assert len(first.trusts) == 2 and first.next_page_token
    rest = alice.ListTrusts(tpb.ListTrustsRequest(trustor_user_id=ids["alice"], page_size=2,
                                                  page_token=first.next_page_token))
    assert {t.id for t in [*first.trusts, *rest.trusts]} == made and not rest.next_page_token
    error = rpc_error(alice.ListTrusts, tpb.ListTrustsRequest(page_token="garbage",
                                                              trustor_user_id=ids["alice"]))
    assert error.code() == CODE.INVALID_ARGUMENT


# ---- the real `openstack` command ------------------------------------------------------

@pytest.mark.slow
@pytest.mark.policy_profile("keystone")
def test_openstackclient_creates_lists_shows_and_deletes_a_trust(service, gateway):
    from test_openstackclient import OPENSTACK, Openstack
    import support
    if not OPENSTACK.exists():
        pytest.skip(f"{OPENSTACK} is not installed")
    ids = ids_of(service)
    catalog = service.core.catalog
    identity = catalog.find_service("identity", "keystone")
    for endpoint in catalog.list_endpoints(service_id=identity.id)[0]:
        catalog.update_endpoint(endpoint.id, url=f"{gateway}/v3/")
    alice = Openstack(support.clean_env(
        OS_AUTH_URL=f"{gateway}/v3", OS_IDENTITY_API_VERSION="3", OS_USERNAME="alice",
        OS_PASSWORD=DEMO_PASSWORDS["alice"], OS_PROJECT_NAME="cyberdyne",
        OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default", OS_INTERFACE="public"))
    made = alice("trust", "create", "--project", ids["cyberdyne"], "--role", "member",
                 "--impersonate", ids["alice"], ids["bob"], "-f", "json")
    assert (made["trustor_user_id"], made["trustee_user_id"], made["project_id"]) == (
        ids["alice"], ids["bob"], ids["cyberdyne"])
    assert made.get("is_impersonation", made.get("impersonation")) in (True, "True")
    listed = alice("trust", "list", "--trustor", ids["alice"], "-f", "json")
    assert [t["ID"] for t in listed] == [made["id"]]
    shown = alice("trust", "show", made["id"], "-f", "json")
    assert shown["id"] == made["id"]
    assert alice("trust", "delete", made["id"]) is None
    assert alice.run("trust", "show", made["id"]).returncode != 0
