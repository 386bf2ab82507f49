"""Credentials (`/v3/credentials` and the Credentials admin service), through the real
server: Keystone's wire format, each blob encrypted at rest with a rotating key
repository of its own, owners managing their own, bad input refused clearly, and the
rules of both policy profiles, each passing and failing."""

import hashlib
import json
from pathlib import Path

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import credentials_pb2 as cpb
from identity_api.admin.v1 import credentials_pb2_grpc as cgrpc
from identity_api.v1 import identity_pb2 as pb

import support
from conftest import start_service
from identity_grpc import manage
from identity_grpc.credential_keys import CredentialKeys
from test_gateway_admin import Api, call

CODE = grpc.StatusCode


def _token(service, name: str, project: str = "") -> str:
    scope = support.project_scope(project) if project else None
    return support.login(service.stub, name, scope).token


def _user_id(api: Api, name: str) -> str:
    return api.find("users", name)["id"]


def _project_id(api: Api, name: str) -> str:
    return api.find("projects", name)["id"]


@pytest.fixture
def admin_api(service, gateway) -> Api:
    return Api(gateway, support.system_admin_token(service.stub))


@pytest.fixture
def ids(admin_api):
    return {"alice": _user_id(admin_api, "alice"), "bob": _user_id(admin_api, "bob"),
            "acme": _project_id(admin_api, "acme")}


def ec2_body(user_id: str, project_id: str, access: str = "AKIA-test", secret: str = "s3cr3t"):
    return {"credential": {"user_id": user_id, "project_id": project_id, "type": "ec2",
                           "blob": json.dumps({"access": access, "secret": secret})}}


def _stub(service) -> cgrpc.CredentialsStub:
    return cgrpc.CredentialsStub(service.channel)


def _md(token: str):
    return support.auth_md(token)


# ---- the wire format ----------------------------------------------------------------

@pytest.mark.every_backend
def test_tempests_create_get_update_delete(admin_api, gateway, ids):
    blob = '{"access": "Access-1", "secret": "Secret-1"}'
    created = admin_api("POST", "/v3/credentials", {"credential": {
        "user_id": ids["alice"], "project_id": ids["acme"], "blob": blob, "type": "ec2"}},
        expect=201)["credential"]
    assert created["id"] == hashlib.sha256(b"Access-1").hexdigest()
    assert (created["user_id"], created["project_id"], created["type"], created["blob"]) == (
        ids["alice"], ids["acme"], "ec2", blob)
    assert created["links"] == {"self": f"{gateway}/v3/credentials/{created['id']}"}

    new_blob = '{"access": "NewAccess", "secret": "NewSecret"}'
    updated = admin_api("PATCH", f"/v3/credentials/{created['id']}",
                        {"credential": {"blob": new_blob}}, expect=200)["credential"]
    assert (updated["id"], updated["project_id"], updated["user_id"]) == (
        created["id"], ids["acme"], ids["alice"])
    assert json.loads(updated["blob"]) == {"access": "NewAccess", "secret": "NewSecret"}
    assert admin_api.get(f"/v3/credentials/{created['id']}")["credential"] == updated

    listed = admin_api.get("/v3/credentials")
    assert created["id"] in [c["id"] for c in listed["credentials"]]
    assert listed["links"]["self"] == f"{gateway}/v3/credentials"
    assert admin_api.status("DELETE", f"/v3/credentials/{created['id']}") == 204
    assert admin_api.status("GET", f"/v3/credentials/{created['id']}") == 404
    assert admin_api.status("DELETE", f"/v3/credentials/{created['id']}") == 404


def test_another_type_gets_a_random_id_a_null_project_and_keeps_free_attributes(admin_api, ids):
    created = admin_api("POST", "/v3/credentials", {"credential": {
        "user_id": ids["bob"], "type": "cert", "blob": "-----BEGIN CERT-----", "note": "x"}},
        expect=201)["credential"]
    assert len(created["id"]) == 32 and created["project_id"] is None
    assert created["note"] == "x" and created["type"] == "cert"
    got = admin_api.get(f"/v3/credentials/{created['id']}")["credential"]
    assert got == created


def test_lists_filter_by_user_and_type(admin_api, ids):
    admin_api("POST", "/v3/credentials", ec2_body(ids["alice"], ids["acme"]), expect=201)
    admin_api("POST", "/v3/credentials", {"credential": {
        "user_id": ids["alice"], "type": "totp", "blob": "seed"}}, expect=201)
    admin_api("POST", "/v3/credentials", {"credential": {
        "user_id": ids["bob"], "type": "totp", "blob": "seed2"}}, expect=201)
    by_user = admin_api.get(f"/v3/credentials?user_id={ids['alice']}")["credentials"]
    assert sorted(c["type"] for c in by_user) == ["ec2", "totp"]
    by_type = admin_api.get("/v3/credentials?type=totp")["credentials"]
    assert sorted(c["user_id"] for c in by_type) == sorted([ids["alice"], ids["bob"]])
    both = admin_api.get(f"/v3/credentials?type=totp&user_id={ids['bob']}")["credentials"]
    assert [c["blob"] for c in both] == ["seed2"]


# ---- encrypted at rest, rotating keys -------------------------------------------------

def test_the_store_never_holds_a_blob_in_plaintext(service, admin_api, ids):
    secret = "plaintext-secret-that-must-not-be-stored"
    created = admin_api("POST", "/v3/credentials", ec2_body(ids["alice"], ids["acme"],
                                                            secret=secret), expect=201)
    row = service.core.store.credential_blobs.find(created["credential"]["id"])
    assert secret not in row.encrypted_blob and "access" not in row.encrypted_blob
    keys = CredentialKeys(service.core.settings.credential_key_dir).key_set
    assert row.key_hash == keys.primary_hash
    assert keys.decrypt(row.encrypted_blob, row.key_hash, "row") == created["credential"]["blob"]
    assert not any(hasattr(row, name) for name in ("blob", "secret"))
    database = Path(service.core.settings.database_url.removeprefix("sqlite:///"))
    service.core.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert secret.encode() not in database.read_bytes()


@pytest.mark.every_backend
def test_rotation_keeps_old_rows_readable_then_reencrypts_them(service, admin_api, ids,
                                                              monkeypatch, capsys):
    settings = service.core.settings
    made = [admin_api("POST", "/v3/credentials", {"credential": {
        "user_id": ids["alice"], "type": "totp", "blob": f"seed-{i}"}}, expect=201)["credential"]
        for i in range(3)]
    rows = service.core.store.credential_blobs
    old_hash = rows.find(made[0]["id"]).key_hash

    repository = CredentialKeys(settings.credential_key_dir)
    new_hash = repository.rotate()  # keys only: the rows are still under the old key
    assert new_hash != old_hash
    assert [admin_api.get(f"/v3/credentials/{c['id']}")["credential"]["blob"]
            for c in made] == ["seed-0", "seed-1", "seed-2"]
    newer = admin_api("POST", "/v3/credentials", {"credential": {
        "user_id": ids["bob"], "type": "totp", "blob": "seed-new"}}, expect=201)["credential"]
    assert rows.find(newer["id"]).key_hash == new_hash
    assert rows.find(made[0]["id"]).key_hash == old_hash

    for name, value in (("DATABASE_URL", settings.database_url), ("KEY_DIR", settings.key_dir),
                        ("CREDENTIAL_KEY_DIR", settings.credential_key_dir)):
        monkeypatch.setenv(f"IDENTITY_{name}", value)
    assert manage.main(["credential-keys", "rotate"]) == 0
    assert "4 credentials re-encrypted" in capsys.readouterr().out
    newest = CredentialKeys(settings.credential_key_dir).key_set
    assert {rows.find(c["id"]).key_hash for c in made + [newer]} == {newest.primary_hash}
    # staged, primary, and the last primary (a replica not yet given the new
    # directory still encrypts with it); the older one no row needs is gone
    assert sorted(newest.indexes) == [0, 2, 3] and old_hash not in newest.by_hash
    assert [admin_api.get(f"/v3/credentials/{c['id']}")["credential"]["blob"]
            for c in made + [newer]] == ["seed-0", "seed-1", "seed-2", "seed-new"]


def test_without_a_key_repository_credentials_answer_a_clear_409(deployment, tmp_path,
                                                                  gateway_for):
    running = start_service(deployment.replace(credential_key_dir=str(tmp_path / "none")))
    try:
        api = Api(gateway_for(running), support.system_admin_token(running.stub))
        alice = api.find("users", "alice")["id"]
        status, _, body, raw = call(api.base + "/v3/credentials", "POST", api.token, {
            "credential": {"user_id": alice, "type": "totp", "blob": "x"}})
        assert status == 409 and "identity-manage init" in body["error"]["message"], raw
    finally:
        running.stop()


@pytest.fixture
def gateway_for():
    from identity_grpc.gateway.server import HttpServer
    servers = []

    def start(running):
        servers.append(HttpServer(running.core, "127.0.0.1:0").start())
        return f"http://127.0.0.1:{servers[-1].port}"
    yield start
    for server in servers:
        server.stop()


# ---- owners, and bad input --------------------------------------------------------------

def test_an_owner_manages_its_own_credentials_and_nobody_elses(service, gateway, admin_api, ids):
    alice = Api(gateway, _token(service, "alice"))
    bob = Api(gateway, _token(service, "bob"))
    own = alice("POST", "/v3/credentials", {"credential": {
        "user_id": ids["alice"], "type": "totp", "blob": "mine"}}, expect=201)["credential"]
    admin_api("POST", "/v3/credentials", {"credential": {
        "user_id": ids["bob"], "type": "totp", "blob": "bobs"}}, expect=201)
    assert [c["id"] for c in alice.get("/v3/credentials")["credentials"]] == [own["id"]]
    alice("PATCH", f"/v3/credentials/{own['id']}", {"credential": {"blob": "new"}}, expect=200)
    assert bob.status("GET", f"/v3/credentials/{own['id']}") == 403
    assert bob.status("PATCH", f"/v3/credentials/{own['id']}",
                      {"credential": {"blob": "stolen"}}) == 403
    assert bob.status("DELETE", f"/v3/credentials/{own['id']}") == 403
    assert bob.status("POST", "/v3/credentials", {"credential": {
        "user_id": ids["alice"], "type": "totp", "blob": "planted"}}) == 403
    assert bob.status("GET", f"/v3/credentials?user_id={ids['alice']}") == 403
    assert [c["blob"] for c in bob.get("/v3/credentials")["credentials"]] == ["bobs"]
    assert alice.status("DELETE", f"/v3/credentials/{own['id']}") == 204


@pytest.mark.parametrize("credential, status, field", [
    ({"type": "totp", "blob": "x"}, 400, "user_id"),
    ({"user_id": "{alice}", "blob": "x"}, 400, "type"),
    ({"user_id": "{alice}", "type": "totp"}, 400, "blob"),
    ({"user_id": "{alice}", "type": "totp", "blob": {"access": "a"}}, 400, "blob"),
    ({"user_id": "{alice}", "type": "totp", "blob": ""}, 400, "blob"),
    ({"user_id": "{alice}", "type": "totp", "blob": "x" * 40_000}, 400, "blob"),
    ({"user_id": "{alice}", "type": "ec2", "blob": '{"access": "a"}'}, 400, "project_id"),
    ({"user_id": "{alice}", "type": "ec2", "project_id": "{acme}", "blob": "not json"}, 400, "blob"),
    ({"user_id": "{alice}", "type": "ec2", "project_id": "{acme}", "blob": '{"secret": "s"}'},
     400, "blob"),
    ({"user_id": "{alice}", "type": "ec2", "project_id": "{acme}",
      "blob": '{"access": "a", "trust_id": "t"}'}, 400, "trust_id"),
    ({"user_id": "{alice}", "type": "totp", "project_id": 7, "blob": "x"}, 400, "project_id"),
    ({"user_id": "no-such-user", "type": "totp", "blob": "x"}, 404, "no-such-user"),
    ({"user_id": "{alice}", "type": "totp", "project_id": "nope", "blob": "x"}, 404, "nope"),
])
def test_bad_credentials_are_refused_naming_the_field(admin_api, ids, credential, status, field):
    body = {k: v.format(**ids) if isinstance(v, str) and "{" in v and k != "blob" else v
            for k, v in credential.items()}
    got = call(admin_api.base + "/v3/credentials", "POST", admin_api.token,
               {"credential": body})
    assert got[0] == status and field in got[2]["error"]["message"], got[3]


def test_bad_updates_and_unknown_ids(admin_api, ids):
    created = admin_api("POST", "/v3/credentials", ec2_body(ids["alice"], ids["acme"]),
                        expect=201)["credential"]
    path = f"/v3/credentials/{created['id']}"
    for change, field in (({}, "credential"), ({"id": "other"}, "id"),
                          ({"user_id": ids["bob"]}, "user_id"),
                          ({"blob": "not json"}, "blob"), ({"blob": 5}, "blob"),
                          ({"project_id": None}, "project_id")):
        got = call(admin_api.base + path, "PATCH", admin_api.token, {"credential": change})
        assert got[0] == 400 and field in got[2]["error"]["message"], (change, got[3])
    assert admin_api.status("POST", "/v3/credentials",
                            ec2_body(ids["alice"], ids["acme"])) == 409  # same access key
    assert admin_api.status("GET", "/v3/credentials/" + "x" * 65) == 400
    for method in ("GET", "PATCH", "DELETE"):
        assert admin_api.status(method, "/v3/credentials/nope",
                                {"credential": {"blob": "x"}}) == 404
    assert admin_api.status("POST", "/v3/credentials", {"credential": "x"}) == 400


def test_deleting_the_user_or_the_project_deletes_its_credentials(service, admin_api, ids):
    carol = admin_api("POST", "/v3/users", {"user": {"name": "carol"}}, expect=201)["user"]
    project = admin_api("POST", "/v3/projects", {"project": {"name": "p1"}},
                        expect=201)["project"]
    mine = admin_api("POST", "/v3/credentials", {"credential": {
        "user_id": carol["id"], "type": "totp", "blob": "x"}}, expect=201)["credential"]
    on_project = admin_api("POST", "/v3/credentials", ec2_body(ids["bob"], project["id"]),
                           expect=201)["credential"]
    admin_api("DELETE", f"/v3/users/{carol['id']}", expect=204)
    admin_api("DELETE", f"/v3/projects/{project['id']}", expect=204)
    for credential in (mine, on_project):
        assert admin_api.status("GET", f"/v3/credentials/{credential['id']}") == 404
        assert service.core.store.credential_blobs.find(credential["id"]) is None


# ---- gRPC --------------------------------------------------------------------------------

def test_the_credentials_service_over_grpc(service, ids):
    stub, md = _stub(service), _md(support.system_admin_token(service.stub))
    blob = '{"access": "grpc-access", "secret": "grpc-secret"}'
    made = stub.CreateCredential(cpb.CreateCredentialRequest(
        user_id=ids["alice"], project_id=ids["acme"], type="ec2", blob=blob), metadata=md)
    assert made.id == hashlib.sha256(b"grpc-access").hexdigest() and made.blob == blob
    assert stub.GetCredential(apb.GetRequest(id=made.id), metadata=md) == made
    listed = stub.ListCredentials(cpb.ListCredentialsRequest(user_id=ids["alice"]), metadata=md)
    assert [c.id for c in listed.credentials] == [made.id]
    changed = stub.UpdateCredential(cpb.UpdateCredentialRequest(
        id=made.id, blob='{"access": "grpc-access", "secret": "new"}'), metadata=md)
    assert json.loads(changed.blob)["secret"] == "new"
    stub.DeleteCredential(apb.DeleteRequest(id=made.id), metadata=md)
    error = support.rpc_error(stub.GetCredential, apb.GetRequest(id=made.id), metadata=md)
    assert error.code() == CODE.NOT_FOUND
    bad = support.rpc_error(stub.CreateCredential, cpb.CreateCredentialRequest(
        user_id=ids["alice"], type="ec2", blob=blob), metadata=md)
    assert bad.code() == CODE.INVALID_ARGUMENT and "project_id" in bad.details()
    assert support.rpc_error(stub.ListCredentials, cpb.ListCredentialsRequest()).code() \
        == CODE.UNAUTHENTICATED
    bob = _md(_token(service, "bob"))
    mine = stub.CreateCredential(cpb.CreateCredentialRequest(
        user_id=ids["alice"], type="totp", blob="x"), metadata=md)
    refused = support.rpc_error(stub.GetCredential, apb.GetRequest(id=mine.id), metadata=bob)
    assert refused.code() == CODE.PERMISSION_DENIED and "get_credential" in refused.details()


# ---- the rules, in both profiles -------------------------------------------------------

@pytest.fixture(params=["keystone", "scoped"])
def profiled(request, deployment):
    running = start_service(deployment.replace(policy_profile=request.param))
    yield request.param, running
    running.stop()


RULES = ["create_credential", "get_credential", "list_credentials", "update_credential",
         "delete_credential", "ec2_create_credential", "ec2_get_credential",
         "ec2_list_credentials", "ec2_delete_credential"]


def _call(stub, rule: str, md, alice: str, acme: str, credential_id: str, access: str):
    calls = {
        "create_credential": lambda: stub.CreateCredential(cpb.CreateCredentialRequest(
            user_id=alice, type="totp", blob="x"), metadata=md),
        "get_credential": lambda: stub.GetCredential(apb.GetRequest(id=credential_id),
                                                     metadata=md),
        "list_credentials": lambda: stub.ListCredentials(cpb.ListCredentialsRequest(
            user_id=alice), metadata=md),
        "update_credential": lambda: stub.UpdateCredential(cpb.UpdateCredentialRequest(
            id=credential_id, blob=json.dumps({"access": access, "secret": "y"})), metadata=md),
        "delete_credential": lambda: stub.DeleteCredential(apb.DeleteRequest(id=credential_id),
                                                           metadata=md),
        "ec2_create_credential": lambda: stub.CreateEc2Credential(
            cpb.CreateEc2CredentialRequest(user_id=alice, project_id=acme), metadata=md),
        "ec2_get_credential": lambda: stub.GetEc2Credential(cpb.Ec2CredentialRequest(
            user_id=alice, access=access), metadata=md),
        "ec2_list_credentials": lambda: stub.ListEc2Credentials(cpb.ListEc2CredentialsRequest(
            user_id=alice), metadata=md),
        "ec2_delete_credential": lambda: stub.DeleteEc2Credential(cpb.Ec2CredentialRequest(
            user_id=alice, access=access), metadata=md),
    }
    return calls[rule]()


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_lets_the_owner_through_and_refuses_another_user(profiled, rule):
    """In both profiles: alice (the owner) passes, bob (a member elsewhere) is refused;
    a project admin (admin on the admin project) passes only in the keystone profile,
    a system admin in both."""
    profile, running = profiled
    core = running.core
    alice = core.users_and_groups.find_user(name="alice", domain_id="default").id
    acme = core.resources.find_project(name="acme",
                                       domain=core.resources.find_domain("default")).id
    stub = cgrpc.CredentialsStub(running.channel)
    system = _md(support.system_admin_token(running.stub))
    callers = {"owner": _md(support.login(running.stub, "alice").token),
               "other": _md(support.login(running.stub, "bob").token),
               "project_admin": _md(support.login(running.stub, "admin",
                                                   support.project_scope("admin")).token),
               "system_admin": system}
    expected = {"owner": True, "other": False, "system_admin": True,
                "project_admin": profile == "keystone"}
    for who, allowed in expected.items():
        pair = stub.CreateEc2Credential(cpb.CreateEc2CredentialRequest(
            user_id=alice, project_id=acme), metadata=system)
        credential_id = hashlib.sha256(pair.access.encode()).hexdigest()
        if allowed:
            _call(stub, rule, callers[who], alice, acme, credential_id, pair.access)
            continue
        error = support.rpc_error(_call, stub, rule, callers[who], alice, acme,
                                  credential_id, pair.access)
        assert error.code() == CODE.PERMISSION_DENIED, (who, error.details())
        assert f"identity:{rule}" in error.details()
