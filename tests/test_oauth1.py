"""OAuth1 delegation (Keystone's OS-OAUTH1) through the real server: the whole flow over
HTTP, each request signed here with oauthlib's own Client as a consumer would; consumers
on both transports; bad signatures (401) and bad input (400); and what deleting a
consumer or an access token, or the user losing the role, does to the tokens at once.

Most tests run Keystone's policy profile (an admin on any project manages consumers,
as Tempest's admin does); the `scoped` profile's rules have their own tests below."""

import json
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qsl

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import oauth1_pb2 as opb
from identity_api.admin.v1 import oauth1_pb2_grpc as ogrpc
from identity_api.v1 import identity_pb2 as pb
from oauthlib.oauth1 import Client

from conftest import start_service
from support import DEMO_PASSWORDS, auth_md, rpc_error, system_admin_token

CODE = grpc.StatusCode
ACCESS_TOKEN_DURATION = 86400


# ---- the servers and callers --------------------------------------------------------------

class Running:
    """A service with its gateway; `http(...)` calls the gateway."""

    def __init__(self, settings):
        from identity_grpc.gateway.server import HttpServer
        self.service = start_service(settings)
        self.http_server = HttpServer(self.service.core, "127.0.0.1:0").start()
        self.base = f"http://127.0.0.1:{self.http_server.port}"
        self.core = self.service.core

    def stop(self):
        self.http_server.stop()
        self.service.stop()

    def http(self, method: str, path: str, token: str | None = None, body=None,
             headers: dict | None = None, raw: bytes | None = None):
        """(status, headers, body: parsed JSON, a dict of a form, or the text)."""
        sent = dict(headers or {})
        if token:
            sent["X-Auth-Token"] = token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=sent)
        try:
            with urllib.request.urlopen(request) as response:
                status, got, text = response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as e:
            status, got, text = e.code, e.headers, e.read().decode()
        kind = got.get("Content-Type", "")
        if kind.startswith("application/json") and text:
            return status, got, json.loads(text)
        if kind.startswith("application/x-www-form-urlencoded"):
            return status, got, dict(parse_qsl(text))
        return status, got, text

    def login(self, name: str, project: str = "", password: str = "") -> str:
        scope = {"project": {"name": project, "domain": {"id": "default"}}} if project else None
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": name, "domain": {"id": "default"},
            "password": password or DEMO_PASSWORDS[name]}}}}
        if scope:
            auth["scope"] = scope
        status, headers, body = self.http("POST", "/v3/auth/tokens", body={"auth": auth})
        assert status == 201, body
        return headers["X-Subject-Token"]

    def system(self) -> str:
        """A system admin's token: it validates anyone's tokens, grants and revokes."""
        return system_admin_token(self.service.stub)

    def ids(self) -> dict:
        core = self.core
        default = core.resources.find_domain("default")
        return {
            "alice": core.users_and_groups.find_user(name="alice", domain_id="default").id,
            "bob": core.users_and_groups.find_user(name="bob", domain_id="default").id,
            "cyberdyne": core.resources.find_project(name="cyberdyne", domain=default).id,
            "acme": core.resources.find_project(name="acme", domain=default).id,
            **{r: core.assignments.find_role(r).id
               for r in ("admin", "member", "reader", "compute-user")},
        }


@pytest.fixture
def keystone(deployment):
    running = Running(deployment.replace(policy_profile="keystone"))
    yield running
    running.stop()


@pytest.fixture
def scoped(deployment):
    running = Running(deployment.replace(policy_profile="scoped"))
    yield running
    running.stop()


# ---- a consumer, signing as oauthlib's Client signs -------------------------------------------

class Consumer:
    def __init__(self, running: Running, key: str, secret: str):
        self.running, self.key, self.secret = running, key, secret

    def signed(self, path: str, body=None, headers: dict | None = None, secret: str = "",
               **client_args):
        """POST `path` signed with the consumer's secret (and a token's, in client_args)."""
        client = Client(self.key, client_secret=secret or self.secret, **client_args)
        uri, signed, _ = client.sign(self.running.base + path, http_method="POST")
        return self.running.http("POST", path, body=body, headers={**signed, **(headers or {})})

    def request_token(self, project_id: str, **kwargs):
        return self.signed("/v3/OS-OAUTH1/request_token", callback_uri="oob",
                           headers={"Requested-Project-Id": project_id}, **kwargs)

    def access_token(self, request_token: dict, verifier: str, **kwargs):
        return self.signed("/v3/OS-OAUTH1/access_token",
                           resource_owner_key=request_token["oauth_token"],
                           resource_owner_secret=request_token["oauth_token_secret"],
                           verifier=verifier, **kwargs)

    def token(self, access_token: dict, path: str = "/v3/auth/tokens", **kwargs):
        body = {"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}}
        return self.signed(path, body=body, resource_owner_key=access_token["oauth_token"],
                           resource_owner_secret=access_token["oauth_token_secret"], **kwargs)


def new_consumer(running: Running, token: str, description: str = "a consumer") -> Consumer:
    status, _, body = running.http("POST", "/v3/OS-OAUTH1/consumers", token,
                                   {"consumer": {"description": description}})
    assert status == 201, body
    return Consumer(running, body["consumer"]["id"], body["consumer"]["secret"])


def delegate(running: Running, consumer: Consumer, authorizer: str, project_id: str,
             roles: list) -> dict:
    """The consumer's access token for `roles` of the authorizer on the project."""
    status, _, request_token = consumer.request_token(project_id)
    assert status == 201, request_token
    status, _, body = running.http("PUT", f"/v3/OS-OAUTH1/authorize/{request_token['oauth_token']}",
                                   authorizer, {"roles": roles})
    assert status == 200, body
    status, _, access = consumer.access_token(request_token, body["token"]["oauth_verifier"])
    assert status == 201, access
    return access


def oauth1_token(consumer: Consumer, access: dict) -> tuple[str, dict]:
    status, headers, body = consumer.token(access)
    assert status == 201, body
    return headers["X-Subject-Token"], body["token"]


def validation_status(running: Running, caller: str, subject: str) -> int:
    return running.http("GET", "/v3/auth/tokens", caller, headers={"X-Subject-Token": subject})[0]


# ---- the flow end to end --------------------------------------------------------------------

def test_the_delegation_flow_gives_a_token_with_only_the_delegated_roles(keystone):
    ids = keystone.ids()
    admin = keystone.login("admin", "admin")
    consumer = new_consumer(keystone, admin)
    alice = keystone.login("alice", "cyberdyne")  # admin there, so member and reader too

    status, headers, request_token = consumer.request_token(ids["cyberdyne"])
    assert status == 201, request_token
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert set(request_token) == {"oauth_token", "oauth_token_secret", "oauth_expires_at"}
    assert request_token["oauth_expires_at"].endswith("Z")

    status, _, body = keystone.http("PUT", f"/v3/OS-OAUTH1/authorize/{request_token['oauth_token']}",
                                    alice, {"roles": [{"name": "member"}]})
    assert status == 200, body
    verifier = body["token"]["oauth_verifier"]
    assert len(verifier) == 8

    status, _, access = consumer.access_token(request_token, verifier)
    assert status == 201, access
    assert set(access) == {"oauth_token", "oauth_token_secret", "oauth_expires_at"}

    token, body = oauth1_token(consumer, access)
    assert body["methods"] == ["oauth1"]
    assert body["OS-OAUTH1"] == {"access_token_id": access["oauth_token"],
                                 "consumer_id": consumer.key}
    assert body["project"]["id"] == ids["cyberdyne"]
    assert body["user"]["id"] == ids["alice"]
    assert {r["name"] for r in body["roles"]} == {"member", "reader"}  # not admin
    assert "catalog" in body

    status, _, validated = keystone.http("GET", "/v3/auth/tokens", keystone.system(),
                                         headers={"X-Subject-Token": token})
    assert status == 200
    assert validated["token"]["OS-OAUTH1"] == body["OS-OAUTH1"]
    assert validated["token"]["methods"] == ["oauth1"]


def test_the_request_token_is_exchanged_once(keystone):
    ids = keystone.ids()
    consumer = new_consumer(keystone, keystone.login("admin", "admin"))
    alice = keystone.login("alice", "cyberdyne")
    _, _, request_token = consumer.request_token(ids["cyberdyne"])
    _, _, body = keystone.http("PUT", f"/v3/OS-OAUTH1/authorize/{request_token['oauth_token']}",
                               alice, {"roles": [{"id": ids["reader"]}]})
    verifier = body["token"]["oauth_verifier"]
    assert consumer.access_token(request_token, verifier)[0] == 201
    assert consumer.access_token(request_token, verifier)[0] == 404


def test_a_user_lists_reads_and_deletes_the_access_tokens_it_authorized(keystone):
    ids = keystone.ids()
    consumer = new_consumer(keystone, keystone.login("admin", "admin"))
    alice = keystone.login("alice", "cyberdyne")
    access = delegate(keystone, consumer, alice, ids["cyberdyne"], [{"name": "member"}])
    token, _ = oauth1_token(consumer, access)
    path = f"/v3/users/{ids['alice']}/OS-OAUTH1/access_tokens"
    access_id = access["oauth_token"]

    status, _, listed = keystone.http("GET", path, alice)
    assert status == 200
    (entry,) = listed["access_tokens"]
    assert entry["id"] == access_id and entry["consumer_id"] == consumer.key
    assert entry["authorizing_user_id"] == ids["alice"]
    assert entry["project_id"] == ids["cyberdyne"]
    assert entry["links"]["self"] == f"{keystone.base}{path}/{access_id}"
    assert entry["links"]["roles"] == f"{keystone.base}{path}/{access_id}/roles"
    assert "secret" not in json.dumps(entry) and "role_ids" not in entry
    assert keystone.http("GET", f"{path}/{access_id}", alice)[2]["access_token"] == entry

    status, _, roles = keystone.http("GET", f"{path}/{access_id}/roles", alice)
    assert [r["name"] for r in roles["roles"]] == ["member"]
    status, _, role = keystone.http("GET", f"{path}/{access_id}/roles/{ids['member']}", alice)
    assert status == 200 and role["role"]["id"] == ids["member"]
    assert keystone.http("GET", f"{path}/{access_id}/roles/{ids['admin']}", alice)[0] == 404
    # Another user's path does not reach it.
    bobs = f"/v3/users/{ids['bob']}/OS-OAUTH1/access_tokens/{access_id}"
    assert keystone.http("GET", bobs, alice)[0] == 404

    assert keystone.http("DELETE", f"{path}/{access_id}", alice)[0] == 204
    assert keystone.http("GET", path, alice)[2]["access_tokens"] == []
    assert validation_status(keystone, keystone.system(), token) == 404
    assert consumer.token(access)[0] == 401


# ---- what ends the tokens ------------------------------------------------------------------

def test_deleting_the_consumer_ends_its_tokens_at_once(keystone):
    ids = keystone.ids()
    admin, system = keystone.login("admin", "admin"), keystone.system()
    consumer = new_consumer(keystone, admin)
    alice = keystone.login("alice", "cyberdyne")
    access = delegate(keystone, consumer, alice, ids["cyberdyne"], [{"name": "member"}])
    token, _ = oauth1_token(consumer, access)
    assert validation_status(keystone, system, token) == 200

    assert keystone.http("DELETE", f"/v3/OS-OAUTH1/consumers/{consumer.key}", admin)[0] == 204
    assert validation_status(keystone, system, token) == 404
    assert keystone.http("GET", f"/v3/users/{ids['alice']}/OS-OAUTH1/access_tokens",
                         alice)[2]["access_tokens"] == []
    assert consumer.token(access)[0] == 401


def test_the_authorizing_user_losing_the_role_ends_the_tokens_at_once(keystone):
    ids = keystone.ids()
    admin = keystone.system()
    consumer = new_consumer(keystone, admin)
    alice = keystone.login("alice", "cyberdyne")
    access = delegate(keystone, consumer, alice, ids["cyberdyne"], [{"name": "member"}])
    token, _ = oauth1_token(consumer, access)
    grant = f"/v3/projects/{ids['cyberdyne']}/users/{ids['alice']}/roles/{ids['admin']}"
    assert keystone.http("DELETE", grant, admin)[0] == 204  # member came from admin
    assert validation_status(keystone, admin, token) == 404
    assert consumer.token(access)[0] == 401
    # Given the role back, the access token works again: it was never deleted.
    assert keystone.http("PUT", grant, admin)[0] == 204
    assert validation_status(keystone, admin, token) == 200


def test_an_oauth1_token_cannot_be_rescoped_nor_delegate_again(keystone):
    ids = keystone.ids()
    admin = keystone.login("admin", "admin")
    consumer = new_consumer(keystone, admin)
    alice = keystone.login("alice", "cyberdyne")
    access = delegate(keystone, consumer, alice, ids["cyberdyne"], [{"name": "admin"}])
    token, body = oauth1_token(consumer, access)
    assert "admin" in {r["name"] for r in body["roles"]}
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}},
                        "scope": {"project": {"id": ids["cyberdyne"]}}}}
    assert keystone.http("POST", "/v3/auth/tokens", body=rescope)[0] == 403
    _, _, request_token = consumer.request_token(ids["cyberdyne"])
    status, _, refused = keystone.http(
        "PUT", f"/v3/OS-OAUTH1/authorize/{request_token['oauth_token']}", token,
        {"roles": [{"name": "member"}]})
    assert status == 403 and "delegation" in refused["error"]["message"]
    assert keystone.http("GET", f"/v3/users/{ids['alice']}/OS-OAUTH1/access_tokens",
                         token)[0] == 403


def test_tokens_never_outlive_the_access_token(keystone):
    ids = keystone.ids()
    consumer = new_consumer(keystone, keystone.login("admin", "admin"))
    alice = keystone.login("alice", "cyberdyne")
    access = delegate(keystone, consumer, alice, ids["cyberdyne"], [{"name": "member"}])
    keystone.service.clock.advance(ACCESS_TOKEN_DURATION - 60)
    _, body = oauth1_token(consumer, access)
    from datetime import datetime
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")).timestamp()
    assert expires <= keystone.service.clock() + 60
    keystone.service.clock.advance(120)
    assert consumer.token(access)[0] == 401


def test_an_expired_request_token_cannot_be_authorized(keystone):
    ids = keystone.ids()
    consumer = new_consumer(keystone, keystone.login("admin", "admin"))
    alice = keystone.login("alice", "cyberdyne")
    _, _, request_token = consumer.request_token(ids["cyberdyne"])
    keystone.service.clock.advance(28800 + 1)
    alice = keystone.login("alice", "cyberdyne")
    status, _, _ = keystone.http("PUT", f"/v3/OS-OAUTH1/authorize/{request_token['oauth_token']}",
                                 alice, {"roles": [{"name": "member"}]})
    assert status == 401


# ---- bad signatures, bad input -----------------------------------------------------------------

def test_bad_signatures_are_refused_with_401(keystone):
    ids = keystone.ids()
    consumer = new_consumer(keystone, keystone.login("admin", "admin"))
    alice = keystone.login("alice", "cyberdyne")
    assert consumer.request_token(ids["cyberdyne"], secret="not-the-secret")[0] == 401

    _, _, request_token = consumer.request_token(ids["cyberdyne"])
    _, _, body = keystone.http("PUT", f"/v3/OS-OAUTH1/authorize/{request_token['oauth_token']}",
                               alice, {"roles": [{"name": "member"}]})
    verifier = body["token"]["oauth_verifier"]
    forged = dict(request_token, oauth_token_secret="not-the-secret")
    assert consumer.access_token(forged, verifier)[0] == 401
    wrong = "".join("b" if c != "b" else "c" for c in verifier)
    assert consumer.access_token(request_token, wrong)[0] == 401
    status, _, access = consumer.access_token(request_token, verifier)
    assert status == 201

    assert consumer.token(dict(access, oauth_token_secret="not-the-secret"))[0] == 401
    assert consumer.token(access, secret="not-the-secret")[0] == 401
    unknown = dict(access, oauth_token="0" * 31 + "1")
    assert consumer.token(unknown)[0] == 401
    other = new_consumer(keystone, keystone.login("admin", "admin"))
    assert other.token(access)[0] == 401  # signed by another consumer, whatever its secret
    # PLAINTEXT would send the secrets themselves: refused.
    assert consumer.token(access, signature_method="PLAINTEXT")[0] == 401
    status, _, body = consumer.request_token(ids["cyberdyne"], signature_method="PLAINTEXT")
    assert status == 400 and "PLAINTEXT" in body["error"]["message"]
    assert consumer.token(access)[0] == 201


def test_bad_input_gets_a_clear_400_or_404(keystone):
    ids = keystone.ids()
    admin = keystone.login("admin", "admin")
    consumer = new_consumer(keystone, admin)
    alice = keystone.login("alice", "cyberdyne")
    http = keystone.http
    status, _, body = http("POST", "/v3/OS-OAUTH1/request_token",
                           headers={"Requested-Project-Id": ids["cyberdyne"]}, raw=b"")
    assert status == 400 and "Authorization" in body["error"]["message"]
    status, _, body = consumer.signed("/v3/OS-OAUTH1/request_token", callback_uri="oob")
    assert status == 400 and "Requested-Project-Id" in body["error"]["message"]
    assert consumer.request_token("f" * 32)[0] == 404
    assert Consumer(keystone, "e" * 32, "x").request_token(ids["cyberdyne"])[0] == 404
    assert consumer.signed("/v3/OS-OAUTH1/access_token")[0] == 400  # no oauth_token

    _, _, request_token = consumer.request_token(ids["cyberdyne"])
    authorize = f"/v3/OS-OAUTH1/authorize/{request_token['oauth_token']}"
    for roles in ([], "member", [{}], [{"id": 3}]):
        status, _, body = http("PUT", authorize, alice, {"roles": roles})
        assert status == 400, (roles, body)
    assert http("PUT", authorize, alice, raw=b"not json")[0] == 400
    assert http("PUT", authorize, alice, {"roles": [{"name": "no-such-role"}]})[0] == 404
    # A role alice does not hold on the project: Keystone's 401.
    assert http("PUT", authorize, alice, {"roles": [{"name": "compute-user"}]})[0] == 401
    assert http("PUT", "/v3/OS-OAUTH1/authorize/" + "d" * 32, alice,
                {"roles": [{"name": "member"}]})[0] == 404
    assert http("PUT", authorize, alice, {"roles": [{"name": "member"}]})[0] == 200
    assert http("PUT", authorize, alice, {"roles": [{"name": "member"}]})[0] == 409

    for body in ({"consumer": "x"}, {"consumer": {"description": 3}}):
        assert http("POST", "/v3/OS-OAUTH1/consumers", admin, body)[0] == 400
    consumer_path = f"/v3/OS-OAUTH1/consumers/{consumer.key}"
    assert http("PATCH", consumer_path, admin, {"consumer": {"secret": "mine"}})[0] == 400
    assert http("PATCH", consumer_path, admin, {"consumer": {"id": "other"}})[0] == 400
    assert http("GET", "/v3/OS-OAUTH1/consumers/" + "c" * 32, admin)[0] == 404
    assert http("DELETE", "/v3/OS-OAUTH1/consumers/" + "c" * 32, admin)[0] == 404
    assert http("GET", "/v3/OS-OAUTH1/consumers/" + "c" * 300, admin)[0] == 400


# ---- consumers on both transports ----------------------------------------------------------------

def test_consumers_over_http_in_keystones_wire_format(keystone):
    admin = keystone.login("admin", "admin")
    http = keystone.http
    status, _, created = http("POST", "/v3/OS-OAUTH1/consumers", admin,
                              {"consumer": {"description": "ci", "team": "infra"}})
    assert status == 201
    consumer = created["consumer"]
    assert set(consumer) == {"id", "description", "secret", "links", "team"}
    path = f"/v3/OS-OAUTH1/consumers/{consumer['id']}"
    assert consumer["links"] == {"self": keystone.base + path}
    shown = http("GET", path, admin)[2]["consumer"]
    assert shown == {k: v for k, v in consumer.items() if k != "secret"}
    listed = http("GET", "/v3/OS-OAUTH1/consumers", admin)[2]
    assert shown in listed["consumers"]
    assert listed["links"]["self"] == keystone.base + "/v3/OS-OAUTH1/consumers"
    status, _, updated = http("PATCH", path, admin, {"consumer": {"description": "changed"}})
    assert status == 200 and updated["consumer"]["description"] == "changed"
    assert updated["consumer"]["team"] == "infra"
    assert http("GET", path, admin)[2]["consumer"]["description"] == "changed"
    assert http("DELETE", path, admin)[0] == 204
    assert http("GET", path, admin)[0] == 404


def test_consumers_and_access_tokens_over_grpc(keystone):
    ids = keystone.ids()
    channel = keystone.service.channel
    stub = ogrpc.OAuth1Stub(channel)
    admin = keystone.login("admin", "admin")
    md = auth_md(admin)
    system_md = auth_md(keystone.system())
    created = stub.CreateConsumer(opb.CreateConsumerRequest(description="grpc"), metadata=md)
    assert created.secret and created.consumer.description == "grpc"
    consumer_id = created.consumer.id
    assert stub.GetConsumer(apb.GetRequest(id=consumer_id), metadata=md) == created.consumer
    assert created.consumer in stub.ListConsumers(opb.ListConsumersRequest(), metadata=md).consumers
    updated = stub.UpdateConsumer(opb.UpdateConsumerRequest(id=consumer_id, description="new"),
                                  metadata=md)
    assert updated.description == "new"

    consumer = Consumer(keystone, consumer_id, created.secret)
    alice = keystone.login("alice", "cyberdyne")
    access = delegate(keystone, consumer, alice, ids["cyberdyne"], [{"name": "reader"}])
    token, _ = oauth1_token(consumer, access)
    alice_md = auth_md(alice)
    listed = stub.ListAccessTokens(opb.ListAccessTokensRequest(), metadata=alice_md)
    (entry,) = listed.access_tokens
    assert (entry.id, entry.consumer_id, entry.project_id, list(entry.role_ids)) == (
        access["oauth_token"], consumer_id, ids["cyberdyne"], [ids["reader"]])
    assert entry.expires_at.seconds > 0
    request = opb.AccessTokenRequest(user_id=ids["alice"], id=entry.id)
    assert stub.GetAccessToken(request, metadata=alice_md) == entry
    roles = stub.ListAccessTokenRoles(request, metadata=alice_md).roles
    assert [r.name for r in roles] == ["reader"]
    validated = keystone.service.stub.ValidateToken(
        pb.ValidateTokenRequest(subject_token=token), metadata=system_md).token_info
    assert list(validated.methods) == ["oauth1"]
    assert {r.name for r in validated.roles} == {"reader"}

    stub.DeleteAccessToken(request, metadata=alice_md)
    error = rpc_error(keystone.service.stub.ValidateToken,
                      pb.ValidateTokenRequest(subject_token=token), metadata=system_md)
    assert error.code() == CODE.UNAUTHENTICATED
    assert rpc_error(stub.GetAccessToken, request, metadata=alice_md).code() == CODE.NOT_FOUND
    stub.DeleteConsumer(apb.DeleteRequest(id=consumer_id), metadata=md)
    assert rpc_error(stub.GetConsumer, apb.GetRequest(id=consumer_id),
                     metadata=md).code() == CODE.NOT_FOUND
    assert rpc_error(stub.GetConsumer, apb.GetRequest(id="x" * 300),
                     metadata=md).code() == CODE.INVALID_ARGUMENT


# ---- the policy rules, in both profiles -----------------------------------------------------------

def _rule_cases(running: Running, profile: str):
    """rule -> (a call it lets through, a call it refuses): (status, HTTP answer)."""
    ids = running.ids()
    http = running.http
    if profile == "keystone":
        allowed, refused = running.login("alice", "cyberdyne"), running.login("bob", "acme")
    else:
        allowed = system_admin_token(running.service.stub)
        refused = running.login("alice", "cyberdyne")
    consumer = new_consumer(running, allowed if profile == "keystone"
                            else system_admin_token(running.service.stub))
    path = f"/v3/OS-OAUTH1/consumers/{consumer.key}"
    alice = running.login("alice", "cyberdyne")
    access = delegate(running, consumer, alice, ids["cyberdyne"], [{"name": "member"}])
    tokens = f"/v3/users/{ids['alice']}/OS-OAUTH1/access_tokens"
    one = f"{tokens}/{access['oauth_token']}"
    # In the scoped profile alice's access tokens are hers: bob is refused, alice passes.
    owner, other = (allowed, refused) if profile == "keystone" else (
        alice, running.login("bob", "acme"))

    def request_token():
        _, _, made = consumer.request_token(ids["cyberdyne"])
        return f"/v3/OS-OAUTH1/authorize/{made['oauth_token']}"

    authorizer, not_authorizer = (allowed, refused) if profile == "keystone" else (
        alice, system_admin_token(running.service.stub))
    roles = {"roles": [{"name": "member"}]}
    return {
        "identity:create_consumer": lambda t: http("POST", "/v3/OS-OAUTH1/consumers", t,
                                                   {"consumer": {}}),
        "identity:list_consumers": lambda t: http("GET", "/v3/OS-OAUTH1/consumers", t),
        "identity:get_consumer": lambda t: http("GET", path, t),
        "identity:update_consumer": lambda t: http("PATCH", path, t,
                                                   {"consumer": {"description": "x"}}),
        "identity:list_access_tokens": lambda t: http("GET", tokens, t),
        "identity:get_access_token": lambda t: http("GET", one, t),
        "identity:list_access_token_roles": lambda t: http("GET", f"{one}/roles", t),
        "identity:get_access_token_role": lambda t: http("GET", f"{one}/roles/{ids['member']}",
                                                         t),
        "identity:authorize_request_token": lambda t: http("PUT", request_token(), t, roles),
        "identity:delete_access_token": lambda t: http("DELETE", one, t),
        "identity:delete_consumer": lambda t: http("DELETE", path, t),
    }, {"identity:list_access_tokens": (owner, other), "identity:get_access_token": (owner, other),
        "identity:list_access_token_roles": (owner, other),
        "identity:get_access_token_role": (owner, other),
        "identity:delete_access_token": (owner, other),
        "identity:authorize_request_token": (authorizer, not_authorizer)}, (allowed, refused)


@pytest.mark.parametrize("profile", ["keystone", "scoped"])
def test_each_rule_lets_one_caller_through_and_refuses_another(deployment, profile):
    from identity_grpc.policy_rules import rules_for
    from identity_grpc.policy_rules.families import oauth1 as family
    running = Running(deployment.replace(policy_profile=profile))
    try:
        cases, callers, default = _rule_cases(running, profile)
        assert set(cases) == set(family.KEYSTONE) == set(family.SCOPED)
        assert all(rules_for(profile)[r] == getattr(family, profile.upper())[r] for r in cases)
        for rule, call in cases.items():  # deletions last: the dict keeps this order
            allowed, refused = callers.get(rule, default)
            status, _, body = call(refused)
            assert status == 403, (profile, rule, status, body)
            assert rule in body["error"]["message"], (rule, body)
            status, _, body = call(allowed)
            assert status in (200, 201, 204), (profile, rule, status, body)
    finally:
        running.stop()


def test_the_scoped_profile_keeps_consumers_to_system_admins_over_grpc(scoped):
    stub = ogrpc.OAuth1Stub(scoped.service.channel)
    project_admin = auth_md(scoped.login("alice", "cyberdyne"))
    error = rpc_error(stub.CreateConsumer, opb.CreateConsumerRequest(), metadata=project_admin)
    assert error.code() == CODE.PERMISSION_DENIED
    assert "identity:create_consumer" in error.details()
    system = auth_md(system_admin_token(scoped.service.stub))
    assert stub.CreateConsumer(opb.CreateConsumerRequest(), metadata=system).secret


# ---- a consuming service's local check -----------------------------------------------------------

def test_a_consuming_service_checks_oauth1_tokens_and_drops_them_with_the_access_token(keystone):
    from identity_client.session import Session
    from identity_client.verifier import TokenRejected, TokenVerifier
    service = keystone.service
    session = Session(service.address, username="nova", password=DEMO_PASSWORDS["nova"],
                      project_name="service", clock=service.clock)
    verifier = TokenVerifier(session, clock=service.clock)
    try:
        assert verifier.wait_until_connected(5)
        ids = keystone.ids()
        consumer = new_consumer(keystone, keystone.login("admin", "admin"))
        alice = keystone.login("alice", "cyberdyne")
        access = delegate(keystone, consumer, alice, ids["cyberdyne"], [{"name": "member"}])
        token, _ = oauth1_token(consumer, access)
        context = verifier.check(token)
        assert context.methods == ("oauth1",)
        assert context.access_token_id == access["oauth_token"]
        assert set(context.roles) == {"member", "reader"}
        assert verifier.check_local(token) is not None  # remembered
        path = f"/v3/users/{ids['alice']}/OS-OAUTH1/access_tokens/{access['oauth_token']}"
        assert keystone.http("DELETE", path, alice)[0] == 204
        deadline = time.monotonic() + 5
        while verifier.check_local(token) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(TokenRejected):
            verifier.check(token)
    finally:
        verifier.close()


def test_deletions_on_one_replica_end_the_tokens_on_another(keystone):
    other = start_service(keystone.core.settings)  # the same store and keys
    try:
        ids = keystone.ids()
        system = auth_md(keystone.system())
        alice = keystone.login("alice", "cyberdyne")
        first = new_consumer(keystone, keystone.login("admin", "admin"))
        second = new_consumer(keystone, keystone.login("admin", "admin"))
        access = delegate(keystone, first, alice, ids["cyberdyne"], [{"name": "member"}])
        by_access, _ = oauth1_token(first, access)
        by_consumer, _ = oauth1_token(second, delegate(keystone, second, alice, ids["cyberdyne"],
                                                       [{"name": "reader"}]))

        def valid_there(token: str) -> bool:
            try:
                other.stub.ValidateToken(pb.ValidateTokenRequest(subject_token=token),
                                         metadata=system)
                return True
            except grpc.RpcError as e:
                assert e.code() == CODE.UNAUTHENTICATED, e
                return False

        def refused_there_soon(token: str) -> bool:
            deadline = time.monotonic() + 5
            while valid_there(token):
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
            return True

        assert valid_there(by_access) and valid_there(by_consumer)  # now cached there
        path = f"/v3/users/{ids['alice']}/OS-OAUTH1/access_tokens/{access['oauth_token']}"
        assert keystone.http("DELETE", path, alice)[0] == 204
        assert refused_there_soon(by_access)
        assert valid_there(by_consumer)
        admin = keystone.login("admin", "admin")
        assert keystone.http("DELETE", f"/v3/OS-OAUTH1/consumers/{second.key}", admin)[0] == 204
        assert refused_there_soon(by_consumer)
    finally:
        other.stop()


def test_keystoneauths_oauth1_plugin_gets_a_token(keystone):
    """The real client: keystoneauth1's V3OAuth1 plugin, unmodified."""
    from keystoneauth1 import session as ks_session
    from keystoneauth1.extras import oauth1 as ks_oauth1
    ids = keystone.ids()
    consumer = new_consumer(keystone, keystone.login("admin", "admin"))
    alice = keystone.login("alice", "cyberdyne")
    access = delegate(keystone, consumer, alice, ids["cyberdyne"], [{"name": "member"}])
    plugin = ks_oauth1.V3OAuth1(keystone.base + "/v3", consumer.key, consumer.secret,
                                access["oauth_token"], access["oauth_token_secret"])
    session = ks_session.Session(auth=plugin)
    assert session.get_project_id() == ids["cyberdyne"]
    assert session.get_user_id() == ids["alice"]
    token = session.get_token()
    assert validation_status(keystone, keystone.system(), token) == 200


HOSTILE_HEADERS = [
    "OAuth", "OAuth ", "Basic dXNlcjpwYXNz", "OAuth oauth_consumer_key", 'OAuth a="b',
    'OAuth oauth_consumer_key="%zz"', 'OAuth oauth_consumer_key="\u00e9\u00ff"',
    'OAuth oauth_consumer_key="x", oauth_consumer_key="y"',
    'OAuth realm="r", oauth_consumer_key="' + "c" * 32 + '", oauth_signature="x", '
    'oauth_nonce="1", oauth_timestamp="99999999999", oauth_signature_method="HMAC-SHA1"',
    'OAuth oauth_consumer_key="' + "c" * 32 + '", oauth_token="' + "d" * 32 + '", '
    'oauth_verifier="abcdefgh", oauth_signature="x", oauth_nonce="1", '
    'oauth_timestamp="1", oauth_signature_method="RSA-SHA1", oauth_version="2.0"',
    "OAuth " + "x" * 6000,
]


@pytest.mark.parametrize("path", ["/v3/OS-OAUTH1/request_token", "/v3/OS-OAUTH1/access_token",
                                  "/v3/auth/tokens"])
def test_hostile_oauth_headers_get_a_4xx_never_a_5xx(keystone, path):
    ids = keystone.ids()
    body = json.dumps({"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}}).encode()
    for header in HOSTILE_HEADERS:
        status, _, answer = keystone.http(
            "POST", path, raw=body, headers={"Authorization": header,
                                             "Requested-Project-Id": ids["cyberdyne"],
                                             "Content-Type": "application/json"})
        assert status in (400, 401, 404), (header, status, answer)
