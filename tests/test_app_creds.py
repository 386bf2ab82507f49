"""Application credentials and access rules (Keystone's), which are our API keys,
through the real server on both transports: creating, reading, listing and deleting
them in Keystone's wire format, their bad input, authenticating with them (by id, by
user and name; the token's shape), restricted and unrestricted ones, their tokens
ending at once with the credential, its expiry or a role of it, access rules, and the
policy rules in both profiles."""

from datetime import datetime, timedelta, timezone

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from support import (AdminClient, auth_md, project_scope, rpc_error, system_admin_token,
                     validate)
from test_trusts import Http, call, ids_of, on_cyberdyne, subject_status, token_of, trust_body

CODE = grpc.StatusCode
# The product's default profile, Tempest's; both profiles' rules: the last test.
pytestmark = pytest.mark.policy_profile("keystone")
RULE = {"service": "compute", "path": "/v2.1/servers/*/ips", "method": "GET"}


def creds(user_id: str) -> str:
    return f"/v3/users/{user_id}/application_credentials"


def rules_path(user_id: str) -> str:
    return f"/v3/users/{user_id}/access_rules"


@pytest.fixture
def ids(service):
    return ids_of(service)


@pytest.fixture
def alice(service, gateway) -> Http:
    """alice, admin on cyberdyne, with a token scoped there."""
    return Http(gateway, on_cyberdyne(service))


@pytest.fixture
def nova(service) -> str:
    return token_of(service, "nova", project_scope("service"))


def make(http: Http, user_id: str, expect: int = 201, **fields):
    body = {"application_credential": {"name": fields.pop("name", "ci"), **fields}}
    return http("POST", creds(user_id), body, expect=expect)[1]


def app_cred_auth(gateway: str, secret: str, scope=None, **selector):
    """(status, body, token) of `POST /v3/auth/tokens` with the credential."""
    auth = {"identity": {"methods": ["application_credential"],
                         "application_credential": {"secret": secret, **selector}}}
    if scope is not None:
        auth["scope"] = scope
    status, body, headers = call(gateway + "/v3/auth/tokens", "POST", body={"auth": auth})
    return status, body, headers.get("X-Subject-Token")


def keys_stub(service, token: str):
    stub, md = agrpc.ApiKeysStub(service.channel), auth_md(token)

    class Bound:
        def __getattr__(self, name):
            return lambda request: getattr(stub, name)(request, metadata=md, timeout=10)
    return Bound()


# ---- the HTTP API --------------------------------------------------------------------

def test_create_show_list_and_delete_in_keystones_format(service, gateway, ids, alice):
    made = make(alice, ids["alice"], description="nightly", roles=[{"name": "member"}],
                access_rules=[RULE])["application_credential"]
    assert list(made) == ["id", "name", "description", "user_id", "project_id", "roles",
                          "expires_at", "unrestricted", "access_rules", "links", "secret"]
    assert (made["name"], made["description"], made["user_id"], made["project_id"]) == (
        "ci", "nightly", ids["alice"], ids["cyberdyne"])
    assert [r["name"] for r in made["roles"]] == ["member"]
    assert made["unrestricted"] is False and made["expires_at"] is None
    rule = made["access_rules"][0]
    assert {k: v for k, v in rule.items() if k != "id"} == RULE
    assert made["links"]["self"].endswith(f"{creds(ids['alice'])}/{made['id']}")
    assert len(made["secret"]) >= 40

    shown = alice("GET", f"{creds(ids['alice'])}/{made['id']}", expect=200)[1]
    assert "secret" not in shown["application_credential"]
    assert shown["application_credential"] == {k: v for k, v in made.items() if k != "secret"}
    listed = alice("GET", creds(ids["alice"]), expect=200)[1]["application_credentials"]
    assert [c["id"] for c in listed] == [made["id"]]
    alice("DELETE", f"{creds(ids['alice'])}/{made['id']}", expect=204)
    alice("GET", f"{creds(ids['alice'])}/{made['id']}", expect=404)
    alice("DELETE", f"{creds(ids['alice'])}/{made['id']}", expect=404)


def test_every_role_held_is_the_default_and_kept_explicitly(ids, alice):
    made = make(alice, ids["alice"])["application_credential"]
    assert {r["name"] for r in made["roles"]} == {"admin", "manager", "member", "reader"}


def test_names_filter_the_list_and_are_unique_per_user(service, gateway, ids, alice):
    make(alice, ids["alice"], name="one")
    two = make(alice, ids["alice"], name="two")["application_credential"]
    listed = alice("GET", creds(ids["alice"]) + "?name=two", expect=200)[1]
    assert [c["id"] for c in listed["application_credentials"]] == [two["id"]]
    assert alice("GET", creds(ids["alice"]) + "?name=three", expect=200)[1][
        "application_credentials"] == []
    body = make(alice, ids["alice"], expect=409, name="two")
    assert "two" in body["error"]["message"]
    # bob may use the name too.
    bob = Http(gateway, token_of(service, "bob", project_scope("acme")))
    make(bob, ids["bob"], name="two")


def test_expiry_is_shown_as_given_and_a_past_one_is_refused(service, ids, alice):
    when = datetime.fromtimestamp(service.clock() + 3600, timezone.utc).replace(
        tzinfo=None, microsecond=123456)
    made = make(alice, ids["alice"], expires_at=when.isoformat())["application_credential"]
    assert made["expires_at"] == when.isoformat()
    past = (when - timedelta(hours=2)).isoformat()
    assert "expires_at" in make(alice, ids["alice"], expect=400, name="old",
                                expires_at=past)["error"]["message"]


@pytest.mark.parametrize("fields, status, says", [
    ({"name": ""}, 400, "name"),
    ({"name": 7}, 400, "name"),
    ({"expires_at": "tomorrow"}, 400, "expires_at"),
    ({"roles": [{"name": "no-such-role"}]}, 404, "no-such-role"),
    ({"roles": [{"name": "service"}]}, 404, "does not hold"),  # a role alice lacks there
    ({"roles": "member"}, 400, "roles"),
    ({"unrestricted": "yes"}, 400, "unrestricted"),
    ({"secret": ""}, 400, "secret"),
    ({"secret": 12}, 400, "secret"),
    ({"access_rules": [{"service": "compute", "path": "/x", "method": "FETCH"}]}, 400, "method"),
    ({"access_rules": [{"service": "compute", "method": "GET"}]}, 400, "path"),
    ({"access_rules": [{"id": "0" * 32}]}, 404, "access rule"),
    ({"colour": "blue"}, 400, "colour"),
])
def test_bad_input_is_a_clear_4xx(ids, alice, fields, status, says):
    body = make(alice, ids["alice"], expect=status, **{"name": "x", **fields})
    assert says in body["error"]["message"], body
    assert alice("GET", creds(ids["alice"]), expect=200)[1]["application_credentials"] == []


def test_only_the_owner_makes_one_and_another_users_are_not_found(service, gateway, ids, alice):
    made = make(alice, ids["alice"])["application_credential"]
    # Keystone: nobody makes another user's, an admin neither.
    admin = Http(gateway, token_of(service, "admin", project_scope("admin")))
    make(admin, ids["bob"], expect=403)
    bob = Http(gateway, token_of(service, "bob", project_scope("acme")))
    bob("GET", f"{creds(ids['alice'])}/{made['id']}", expect=403)
    bob("GET", f"{creds(ids['bob'])}/{made['id']}", expect=404)  # not bob's
    bob("DELETE", f"{creds(ids['alice'])}/{made['id']}", expect=403)
    # An admin (Keystone's admin_required) reads and deletes it.
    admin("GET", f"{creds(ids['alice'])}/{made['id']}", expect=200)
    admin("DELETE", f"{creds(ids['alice'])}/{made['id']}", expect=204)


def test_an_unscoped_token_makes_none(service, gateway, ids):
    unscoped = Http(gateway, token_of(service, "alice"))
    assert "project" in make(unscoped, ids["alice"], expect=400)["error"]["message"]


# ---- authenticating --------------------------------------------------------------------

def test_auth_by_id_and_by_user_and_name_and_the_tokens_body(service, gateway, ids, alice, nova):
    made = make(alice, ids["alice"], roles=[{"name": "member"}],
                access_rules=[RULE])["application_credential"]
    by_id = app_cred_auth(gateway, made["secret"], id=made["id"])
    by_name = app_cred_auth(gateway, made["secret"], name="ci", user={"id": ids["alice"]})
    by_user_name = app_cred_auth(gateway, made["secret"], name="ci",
                                 user={"name": "alice", "domain": {"name": "Default"}})
    for status, body, token in (by_id, by_name, by_user_name):
        assert status == 201, body
        tok = body["token"]
        assert tok["methods"] == ["application_credential"]
        assert tok["project"]["id"] == ids["cyberdyne"]
        assert {r["name"] for r in tok["roles"]} == {"member", "reader"}  # member implies reader
        cred = tok["application_credential"]
        assert (cred["id"], cred["name"], cred["restricted"]) == (made["id"], "ci", True)
        assert [{k: v for k, v in r.items() if k != "id"} for r in cred["access_rules"]] == [RULE]
        assert subject_status(gateway, nova, token) == 200
    # The same credential over gRPC: the api_key method, `<id>.<secret>`, or id and secret.
    for method in (pb.ApiKeyMethod(key=f"{made['id']}.{made['secret']}"),
                   pb.ApiKeyMethod(id=made["id"], secret=made["secret"])):
        info = service.stub.Authenticate(pb.AuthenticateRequest(api_key=method)).token_info
        assert list(info.methods) == ["api_key"] and info.project.id == ids["cyberdyne"]


def test_wrong_or_missing_secrets_and_a_scope_are_refused(service, gateway, ids, alice):
    made = make(alice, ids["alice"])["application_credential"]
    for secret, selector in (("wrong", {"id": made["id"]}), (made["secret"], {"id": "0" * 32}),
                             ("wrong", {"name": "ci", "user": {"id": ids["alice"]}}),
                             (made["secret"], {"name": "ci", "user": {"id": ids["bob"]}})):
        assert app_cred_auth(gateway, secret, **selector)[0] == 401
    for secret, selector in (("", {"id": made["id"]}), (made["secret"], {}),
                             (made["secret"], {"name": "ci"})):
        assert app_cred_auth(gateway, secret, **selector)[0] == 400
    status, body, _ = app_cred_auth(gateway, made["secret"], id=made["id"],
                                    scope={"project": {"id": ids["cyberdyne"]}})
    assert status == 401 and "scope" in body["error"]["message"]


def test_a_user_chosen_secret_works(service, gateway, ids, alice):
    made = make(alice, ids["alice"], secret="my own secret")["application_credential"]
    assert made["secret"] == "my own secret"
    assert app_cred_auth(gateway, "my own secret", id=made["id"])[0] == 201


# ---- restrictions ------------------------------------------------------------------------

@pytest.mark.parametrize("unrestricted", [False, True])
def test_a_restricted_credentials_token_cannot_manage_credentials_or_trusts(
        service, gateway, ids, alice, unrestricted):
    made = make(alice, ids["alice"], unrestricted=unrestricted)["application_credential"]
    token = app_cred_auth(gateway, made["secret"], id=made["id"])[2]
    through = Http(gateway, token)
    allowed = 201 if unrestricted else 403
    make(through, ids["alice"], expect=allowed, name="another")
    through("POST", "/v3/OS-TRUST/trusts", trust_body(ids), expect=allowed)
    through("GET", creds(ids["alice"]), expect=200)
    through("DELETE", f"{creds(ids['alice'])}/{made['id']}",
            expect=204 if unrestricted else 403)
    # gRPC holds the same restriction.
    made_again = make(alice, ids["alice"], name="third", unrestricted=unrestricted)[
        "application_credential"]
    key_token = service.stub.Authenticate(pb.AuthenticateRequest(api_key=pb.ApiKeyMethod(
        id=made_again["id"], secret=made_again["secret"]))).token
    request = apb.CreateApiKeyRequest(name="grpc")
    if unrestricted:
        keys_stub(service, key_token).CreateApiKey(request)
    else:
        error = rpc_error(keys_stub(service, key_token).CreateApiKey, request)
        assert error.code() == CODE.PERMISSION_DENIED and "restricted" in error.details()


# ---- tokens ending at once -----------------------------------------------------------------

def test_deleting_the_credential_ends_its_tokens_at_once(service, gateway, ids, alice, nova):
    made = make(alice, ids["alice"])["application_credential"]
    token = app_cred_auth(gateway, made["secret"], id=made["id"])[2]
    assert subject_status(gateway, nova, token) == 200
    alice("DELETE", f"{creds(ids['alice'])}/{made['id']}", expect=204)
    assert subject_status(gateway, nova, token) == 404
    assert app_cred_auth(gateway, made["secret"], id=made["id"])[0] == 401


def test_expiry_ends_its_tokens_at_once(service, gateway, ids, alice, nova):
    when = datetime.fromtimestamp(service.clock() + 600, timezone.utc)
    made = make(alice, ids["alice"], expires_at=when.isoformat())["application_credential"]
    status, body, token = app_cred_auth(gateway, made["secret"], id=made["id"])
    assert datetime.fromisoformat(body["token"]["expires_at"].replace("Z", "+00:00")) <= when
    service.clock.advance(601)
    nova = token_of(service, "nova", project_scope("service"))
    assert subject_status(gateway, nova, token) == 404
    assert app_cred_auth(gateway, made["secret"], id=made["id"])[0] == 401


def test_losing_a_role_of_the_credential_ends_its_tokens_at_once(service, gateway, ids, nova):
    grant = dict(role_id=ids["member"], actor=apb.Actor(user_id=ids["alice"]),
                 target=apb.Target(project_id=ids["acme"]))
    system = AdminClient(service.channel, system_admin_token(service.stub))
    system.call(system.assignments.GrantRole, apb.GrantRequest(**grant))
    on_acme = Http(gateway, token_of(service, "alice", project_scope("acme")))
    made = make(on_acme, ids["alice"])["application_credential"]
    assert {r["name"] for r in made["roles"]} == {"compute-user", "member", "reader"}
    token = app_cred_auth(gateway, made["secret"], id=made["id"])[2]
    assert subject_status(gateway, nova, token) == 200
    system.call(system.assignments.RevokeRole, apb.GrantRequest(**grant))
    # alice still holds compute-user there, but not every role of the credential.
    assert subject_status(gateway, nova, token) == 404
    assert "every role" in rpc_error(validate, service.stub, nova, token).details()
    assert app_cred_auth(gateway, made["secret"], id=made["id"])[0] == 401


# ---- access rules ------------------------------------------------------------------------------

def test_access_rules_are_listed_shown_reused_and_deleted_when_unused(service, gateway, ids,
                                                                      alice):
    first = make(alice, ids["alice"], access_rules=[RULE])["application_credential"]
    rule_id = first["access_rules"][0]["id"]
    second = make(alice, ids["alice"], name="two", access_rules=[RULE])["application_credential"]
    assert second["access_rules"][0]["id"] == rule_id  # an identical rule is the same rule
    third = make(alice, ids["alice"], name="three",
                 access_rules=[{"id": rule_id}])["application_credential"]
    assert third["access_rules"][0]["id"] == rule_id
    listed = alice("GET", rules_path(ids["alice"]), expect=200)[1]["access_rules"]
    assert [r["id"] for r in listed] == [rule_id]
    shown = alice("GET", f"{rules_path(ids['alice'])}/{rule_id}", expect=200)[1]["access_rule"]
    assert {k: shown[k] for k in RULE} == RULE and shown["links"]["self"].endswith(rule_id)
    alice("GET", f"{rules_path(ids['bob'])}/{rule_id}", expect=404)  # an admin's: not bob's
    bob = Http(gateway, token_of(service, "bob", project_scope("acme")))
    bob("GET", f"{rules_path(ids['alice'])}/{rule_id}", expect=403)
    alice("GET", f"{rules_path(ids['alice'])}/{'0' * 32}", expect=404)

    for made in (first, second, third):
        alice("DELETE", f"{rules_path(ids['alice'])}/{rule_id}", expect=403)
        alice("DELETE", f"{creds(ids['alice'])}/{made['id']}", expect=204)
    alice("DELETE", f"{rules_path(ids['alice'])}/{rule_id}", expect=204)
    assert alice("GET", rules_path(ids["alice"]), expect=200)[1]["access_rules"] == []


# ---- gRPC: the ApiKeys service ------------------------------------------------------------

def test_the_api_keys_service_serves_the_same_credentials(service, gateway, ids, alice):
    made = make(alice, ids["alice"], description="d", access_rules=[RULE])["application_credential"]
    keys = keys_stub(service, on_cyberdyne(service))
    got = keys.GetApiKey(apb.GetRequest(id=made["id"]))
    assert (got.name, got.description, got.unrestricted, got.project_id) == (
        "ci", "d", False, ids["cyberdyne"])
    assert [(r.id, r.service, r.path, r.method) for r in got.access_rules] == [
        (made["access_rules"][0]["id"], *RULE.values())]
    created = keys.CreateApiKey(apb.CreateApiKeyRequest(
        name="grpc", description="g", unrestricted=True, role_names=["reader"],
        access_rules=[apb.AccessRule(**RULE)]))
    assert created.secret.startswith(created.api_key.id + ".")
    assert created.api_key.project_id == ids["cyberdyne"]  # the token's project
    assert created.api_key.access_rules[0].id == made["access_rules"][0]["id"]
    named = keys.ListApiKeys(apb.ListApiKeysRequest(name="grpc")).api_keys
    assert [k.id for k in named] == [created.api_key.id]
    assert len(keys.ListApiKeys(apb.ListApiKeysRequest()).api_keys) == 2
    error = rpc_error(keys.CreateApiKey, apb.CreateApiKeyRequest(name="grpc"))
    assert error.code() == CODE.ALREADY_EXISTS
    shown = alice("GET", f"{creds(ids['alice'])}/{created.api_key.id}", expect=200)[1]
    assert shown["application_credential"]["unrestricted"] is True
    rules = keys.ListAccessRules(apb.ListAccessRulesRequest()).access_rules
    assert [r.id for r in rules] == [made["access_rules"][0]["id"]]
    error = rpc_error(keys.DeleteAccessRule, apb.AccessRuleRequest(id=rules[0].id))
    assert error.code() == CODE.PERMISSION_DENIED
    keys.DeleteApiKey(apb.DeleteRequest(id=made["id"]))
    keys.DeleteApiKey(apb.DeleteRequest(id=created.api_key.id))
    keys.DeleteAccessRule(apb.AccessRuleRequest(id=rules[0].id))
    error = rpc_error(keys.GetAccessRule, apb.AccessRuleRequest(id=rules[0].id))
    assert error.code() == CODE.NOT_FOUND


# ---- the rules, in both profiles -----------------------------------------------------------

@pytest.mark.parametrize("profile", ["keystone", "scoped"])
def test_each_rule_lets_one_caller_through_and_refuses_another(deployment, profile):
    from identity_grpc.gateway.server import HttpServer
    from identity_grpc.policy_rules import rules_for
    from identity_grpc.policy_rules.families import application_credentials as family
    running = start_service(deployment.replace(policy_profile=profile))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    try:
        base = f"http://127.0.0.1:{http.port}"
        ids = ids_of(running)
        owner = Http(base, on_cyberdyne(running))
        bob = Http(base, token_of(running, "bob", project_scope("acme")))
        system = Http(base, system_admin_token(running.stub))
        # A project admin: Keystone's admin_required; in `scoped` no admin of others'.
        project_admin = Http(base, on_cyberdyne(running))
        admin_of_others = project_admin if profile == "keystone" else system
        family_rules = getattr(family, profile.upper())
        assert all(rules_for(profile)[n] == r for n, r in family_rules.items())

        made = make(owner, ids["alice"], access_rules=[RULE])["application_credential"]
        rule_id = made["access_rules"][0]["id"]
        one, rule = f"{creds(ids['alice'])}/{made['id']}", f"{rules_path(ids['alice'])}/{rule_id}"
        for path in (one, creds(ids["alice"]), rule, rules_path(ids["alice"])):
            bob("GET", path, expect=403)
            system("GET", path, expect=200)  # a system reader reads them, in both profiles
        make(bob, ids["alice"], expect=403)  # identity:create_application_credential
        bob("DELETE", one, expect=403)
        bob("DELETE", rule, expect=403)
        # Making another user's key (gRPC's on_behalf): identity:create_api_key.
        service_project = running.core.resources.find_project(
            name="service", domain=running.core.resources.find_domain("default")).id
        on_behalf = apb.CreateApiKeyRequest(name="ob", user_id=ids["nova"],
                                            project_id=service_project, on_behalf=True)
        refused = [token_of(running, "bob", project_scope("acme"))]
        if profile == "scoped":
            refused.append(on_cyberdyne(running))  # a project admin is no admin of others
        for token in refused:
            error = rpc_error(keys_stub(running, token).CreateApiKey, on_behalf)
            assert error.code() == CODE.PERMISSION_DENIED
            assert "identity:create_api_key" in error.details()
        allowed = on_cyberdyne(running) if profile == "keystone" else system_admin_token(
            running.stub)
        novas_key = keys_stub(running, allowed).CreateApiKey(on_behalf).api_key
        assert novas_key.user_id == ids["nova"]
        # Deleting another user's: an admin (keystone: of a project too; scoped: the system's).
        bob("DELETE", f"{creds(ids['nova'])}/{novas_key.id}", expect=403)
        admin_of_others("DELETE", f"{creds(ids['nova'])}/{novas_key.id}", expect=204)
        owner("DELETE", one, expect=204)
        admin_of_others("DELETE", rule, expect=204)
    finally:
        http.stop()
        running.stop()
