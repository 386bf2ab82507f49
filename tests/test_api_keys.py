"""API keys ("user name and API key"), through the real server: creating, listing and
deleting them, authenticating with them, and their tokens following the key and the
user's roles."""

import re

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.tokens import MAX_TOKEN_LENGTH
from identity_api.v1 import identity_pb2 as pb

from identity_grpc.credentials import AUTH_FAILED
from support import (AdminClient, auth_md, login, project_scope, rescope, role_names, rpc_error,
                     user, validate)

CODE = grpc.StatusCode


def _ids(service):
    core = service.core
    default = core.resources.find_domain("default")
    foo = core.resources.find_domain(name="Foo")
    return {
        "alice": core.users_and_groups.find_user(name="alice", domain_id="default").id,
        "bob": core.users_and_groups.find_user(name="bob", domain_id="default").id,
        "acme": core.resources.find_project(name="acme", domain=default).id,
        "cyberdyne": core.resources.find_project(name="cyberdyne", domain=default).id,
        "bar": core.resources.find_project(name="bar", domain=foo).id,
        "admin": core.assignments.find_role("admin").id,
        "member": core.assignments.find_role("member").id,
        "reader": core.assignments.find_role("reader").id,
        "compute-user": core.assignments.find_role("compute-user").id,
    }


@pytest.fixture
def ids(service):
    return _ids(service)


@pytest.fixture
def nova(stub):
    return login(stub, "nova", project_scope("service")).token


def _as(service, name: str) -> AdminClient:
    """The admin services, called with the user's own (unscoped) password token."""
    return AdminClient(service.channel, login(service.stub, name).token)


def _create(client: AdminClient, project_id: str, **fields) -> apb.CreateApiKeyResponse:
    return client.call(client.apikeys.CreateApiKey,
                       apb.CreateApiKeyRequest(project_id=project_id, **fields))


def _list(client: AdminClient, user_id: str = "") -> list:
    return list(client.call(client.apikeys.ListApiKeys,
                            apb.ListApiKeysRequest(user_id=user_id)).api_keys)


def _delete(client: AdminClient, key_id: str) -> None:
    client.call(client.apikeys.DeleteApiKey, apb.DeleteRequest(id=key_id))


def _grant(admin, role_id, method="GrantRole", **where):
    actor = apb.Actor(**{k: v for k, v in where.items() if k in ("user_id", "group_id")})
    target = apb.Target(**{k: v for k, v in where.items() if k in ("project_id", "domain_id")})
    admin.call(getattr(admin.assignments, method),
               apb.GrantRequest(role_id=role_id, actor=actor, target=target))


def key_request(secret: str, user_selector: pb.UserSelector | None = None,
                scope: pb.Scope | None = None) -> pb.AuthenticateRequest:
    request = pb.AuthenticateRequest(api_key=pb.ApiKeyMethod(key=secret))
    if user_selector is not None:
        request.api_key.user.CopyFrom(user_selector)
    if scope is not None:
        request.scope.CopyFrom(scope)
    return request


def _key_auth(stub, secret: str, **kwargs) -> pb.AuthenticateResponse:
    return stub.Authenticate(key_request(secret, **kwargs))


def _refused(call, *args, **kwargs) -> str:
    error = rpc_error(call, *args, **kwargs)
    assert error.code() == CODE.UNAUTHENTICATED, error.details()
    return error.details()


def test_create_list_and_authenticate(service, stub, ids, nova):
    alice = _as(service, "alice")
    created = _create(alice, ids["acme"], name="ci")
    key = created.api_key
    # Every role alice holds there, kept explicitly (as Keystone keeps them).
    assert (key.name, key.user_id, key.project_id, list(key.role_ids)) == (
        "ci", ids["alice"], ids["acme"], [ids["compute-user"]])
    assert not key.HasField("expires_at") and key.created_at.seconds > 0
    assert created.secret.startswith(key.id + ".") and len(created.secret) > 60

    listed = _list(alice)
    assert [k.id for k in listed] == [key.id] and listed[0] == key
    assert "secret" not in apb.ApiKey.DESCRIPTOR.fields_by_name
    raw = alice.call(alice.apikeys.ListApiKeys, apb.ListApiKeysRequest()).SerializeToString()
    assert created.secret.split(".", 1)[1].encode() not in raw
    stored = service.core.store.tables.ApiKey.get_by_id(key.id).secret_hash
    assert stored.startswith("sha256:") and created.secret.split(".", 1)[1] not in stored

    response = _key_auth(stub, created.secret)
    info = response.token_info
    assert len(response.token) <= MAX_TOKEN_LENGTH
    assert info.project.id == ids["acme"] and info.user.id == ids["alice"]
    assert role_names(info) == {"compute-user"}
    assert list(info.methods) == ["api_key"]
    assert list(info.catalog)
    seen = validate(stub, nova, response.token)
    assert seen.project.id == ids["acme"] and role_names(seen) == {"compute-user"}
    assert list(seen.methods) == ["api_key"]
    projects = stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(response.token))
    assert "acme" in {p.name for p in projects.projects}

    # "User name and API key": naming the owner, by name or by id, or the key's project.
    for selector in (user("alice"), pb.UserSelector(id=ids["alice"]),
                     pb.UserSelector(name="alice", domain=pb.DomainSelector(name="Default"))):
        info = _key_auth(stub, created.secret, user_selector=selector).token_info
        assert info.project.id == ids["acme"]
    info = _key_auth(stub, created.secret, scope=project_scope("acme")).token_info
    assert info.project.id == ids["acme"]


def test_scope_other_than_the_keys_project_is_invalid(service, stub, ids):
    secret = _create(_as(service, "alice"), ids["acme"]).secret
    for scope in (project_scope("cyberdyne"), pb.Scope(domain=pb.DomainSelector(id="default")),
                  pb.Scope(system=pb.SystemScope(all=True))):
        error = rpc_error(_key_auth, stub, secret, scope=scope)
        assert error.code() == CODE.INVALID_ARGUMENT and "scope" in error.details()
    # Nor can its token be rescoped elsewhere (it would shed the key's limits).
    token = _key_auth(stub, secret).token
    error = rpc_error(rescope, stub, token, project_scope("cyberdyne"))
    assert error.code() == CODE.INVALID_ARGUMENT and "api key" in error.details()


def test_key_limited_to_some_roles(service, stub, admin, ids, nova):
    _grant(admin, ids["member"], user_id=ids["alice"], project_id=ids["acme"])
    alice = _as(service, "alice")
    limited = _create(alice, ids["acme"], role_ids=[ids["member"]])
    assert list(limited.api_key.role_ids) == [ids["member"]]
    token = _key_auth(stub, limited.secret)
    assert role_names(token.token_info) == {"member", "reader"}  # member implies reader
    assert role_names(validate(stub, nova, token.token)) == {"member", "reader"}
    full = _key_auth(stub, _create(alice, ids["acme"]).secret)
    assert role_names(full.token_info) == {"compute-user", "member", "reader"}
    # An implied role may be asked for on its own.
    reader_only = _key_auth(stub, _create(alice, ids["acme"], role_ids=[ids["reader"]]).secret)
    assert role_names(reader_only.token_info) == {"reader"}


def test_creating_a_key_beyond_the_users_roles_is_refused(service, ids):
    alice = _as(service, "alice")
    # Keystone's RoleAssignmentNotFound and RoleNotFound.
    error = rpc_error(_create, alice, ids["acme"], role_ids=[ids["admin"]])
    assert error.code() == CODE.NOT_FOUND and "does not hold" in error.details()
    assert ids["admin"] in error.details()
    error = rpc_error(_create, alice, ids["acme"], role_ids=["no-such-role"])
    assert error.code() == CODE.NOT_FOUND and "no-such-role" in error.details()
    error = rpc_error(_create, alice, ids["bar"])  # holds no role there
    assert error.code() == CODE.INVALID_ARGUMENT and "project_id" in error.details()
    error = rpc_error(_create, alice, "0" * 32)
    assert error.code() == CODE.NOT_FOUND
    error = rpc_error(_create, alice, "")
    assert error.code() == CODE.INVALID_ARGUMENT and "project_id" in error.details()
    past = Timestamp(seconds=int(service.clock()) - 1)
    error = rpc_error(_create, alice, ids["acme"], expires_at=past)
    assert error.code() == CODE.INVALID_ARGUMENT and "expires_at" in error.details()
    assert _list(alice) == []


def test_expired_key_is_refused_and_its_tokens_end_with_it(service, stub, ids, nova):
    expiry = int(service.clock()) + 600
    created = _create(_as(service, "alice"), ids["acme"], expires_at=Timestamp(seconds=expiry))
    assert created.api_key.expires_at.seconds == expiry
    response = _key_auth(stub, created.secret)
    assert response.token_info.expires_at.seconds == expiry  # a token never outlives its key
    service.clock.advance(601)
    assert _refused(_key_auth, stub, created.secret) == AUTH_FAILED
    nova = login(stub, "nova", project_scope("service")).token  # the old one expired too
    assert "expired" in _refused(validate, stub, nova, response.token)


def test_every_bad_credential_is_refused_alike(service, stub, ids):
    secret = _create(_as(service, "alice"), ids["acme"]).secret
    key_id, random_part = secret.split(".", 1)
    other_secret = _create(_as(service, "bob"), ids["acme"]).secret
    flipped = random_part[:-1] + ("A" if random_part[-1] != "A" else "B")
    cases = [
        dict(secret=f"{key_id}.{flipped}"),                          # wrong secret
        dict(secret=f"{key_id}.{other_secret.split('.', 1)[1]}"),   # another key's secret
        dict(secret=f"{'0' * 32}.{random_part}"),                   # unknown key
        dict(secret=key_id),                                        # no secret at all
        dict(secret="garbage"),
        dict(secret="x" * 5000),
        dict(secret=secret, user_selector=user("bob")),             # not the owner
        dict(secret=secret, user_selector=user("nobody")),
        dict(secret=secret, user_selector=pb.UserSelector(id=ids["bob"])),
        dict(secret=secret, user_selector=pb.UserSelector(
            name="alice", domain=pb.DomainSelector(name="Foo"))),
    ]
    details = {_refused(_key_auth, stub, **case) for case in cases}
    assert details == {AUTH_FAILED}
    error = rpc_error(_key_auth, stub, "")
    assert error.code() == CODE.INVALID_ARGUMENT and "api_key.key" in error.details()
    assert _key_auth(stub, secret).token_info.user.name == "alice"


def test_disabled_owner_cannot_use_its_keys(service, stub, ids):
    secret = _create(_as(service, "alice"), ids["acme"]).secret
    token = _key_auth(stub, secret).token
    service.core.users_and_groups.update_user(ids["alice"], enabled=False)
    assert _refused(_key_auth, stub, secret) == AUTH_FAILED
    _refused(stub.ListProjects, pb.ListProjectsRequest(), metadata=auth_md(token))


def test_deleting_a_key_ends_its_tokens_at_once(service, stub, ids, nova):
    alice = _as(service, "alice")
    doomed, kept = _create(alice, ids["acme"]), _create(alice, ids["acme"])
    token = _key_auth(stub, doomed.secret).token
    other = _key_auth(stub, kept.secret).token
    assert validate(stub, nova, token).user.name == "alice"  # now cached
    _delete(alice, doomed.api_key.id)
    assert "api key" in _refused(validate, stub, nova, token)
    assert "api key" in _refused(stub.ListProjects, pb.ListProjectsRequest(), metadata=auth_md(token))
    assert _refused(_key_auth, stub, doomed.secret) == AUTH_FAILED
    assert validate(stub, nova, other).user.name == "alice"
    assert [k.id for k in _list(alice)] == [kept.api_key.id]
    assert rpc_error(_delete, alice, doomed.api_key.id).code() == CODE.NOT_FOUND


def test_losing_a_role_of_the_key_ends_its_tokens_at_once(service, stub, admin, ids, nova):
    _grant(admin, ids["member"], user_id=ids["alice"], project_id=ids["acme"])
    alice = _as(service, "alice")
    member_only = _key_auth(stub, _create(alice, ids["acme"], role_ids=[ids["member"]]).secret).token
    compute_only = _key_auth(stub, _create(alice, ids["acme"],
                                           role_ids=[ids["compute-user"]]).secret).token
    every_role = _key_auth(stub, _create(alice, ids["acme"]).secret).token
    assert role_names(validate(stub, nova, every_role)) == {"compute-user", "member", "reader"}
    assert role_names(validate(stub, nova, member_only)) == {"member", "reader"}
    _grant(admin, ids["member"], "RevokeRole", user_id=ids["alice"], project_id=ids["acme"])
    # A key holds its roles explicitly (Keystone's application credentials): a role
    # of it lost ends its tokens; a key that holds none of the lost roles goes on.
    assert "every role" in _refused(validate, stub, nova, member_only)
    assert "every role" in _refused(validate, stub, nova, every_role)
    assert role_names(validate(stub, nova, compute_only)) == {"compute-user"}
    _grant(admin, ids["compute-user"], "RevokeRole", user_id=ids["alice"], project_id=ids["acme"])
    _refused(validate, stub, nova, compute_only)


def test_only_the_owner_or_a_system_admin_manages_keys(service, stub, admin, ids):
    alice = _as(service, "alice")
    created = _create(alice, ids["acme"])
    bob = _as(service, "bob")
    for call in (lambda: _list(bob, ids["alice"]), lambda: _delete(bob, created.api_key.id),
                 lambda: _create(bob, ids["acme"], user_id=ids["alice"])):
        assert rpc_error(call).code() == CODE.PERMISSION_DENIED
    assert _list(bob) == []  # bob's own list: his keys only

    assert [k.id for k in _list(admin, ids["alice"])] == [created.api_key.id]
    on_behalf = _create(admin, ids["acme"], user_id=ids["alice"], on_behalf=True)
    assert on_behalf.api_key.user_id == ids["alice"]
    assert _key_auth(stub, on_behalf.secret).token_info.user.name == "alice"
    _delete(admin, created.api_key.id)
    assert [k.id for k in _list(alice)] == [on_behalf.api_key.id]


def test_a_key_token_cannot_make_or_delete_keys(service, stub, ids):
    alice = _as(service, "alice")
    created = _create(alice, ids["acme"])
    keyed = AdminClient(service.channel, _key_auth(stub, created.secret).token)
    assert rpc_error(_create, keyed, ids["acme"]).code() == CODE.PERMISSION_DENIED
    assert rpc_error(_delete, keyed, created.api_key.id).code() == CODE.PERMISSION_DENIED
    assert [k.id for k in _list(keyed)] == [created.api_key.id]


def test_deleting_the_user_deletes_its_keys(service, stub, admin, ids, nova):
    alice = _as(service, "alice")
    secret = _create(alice, ids["acme"]).secret
    token = _key_auth(stub, secret).token
    assert validate(stub, nova, token)
    admin.call(admin.users.DeleteUser, apb.DeleteRequest(id=ids["alice"]))
    ApiKey = service.core.store.tables.ApiKey
    assert ApiKey.select().where(ApiKey.user == ids["alice"]).count() == 0
    _refused(validate, stub, nova, token)
    assert _refused(_key_auth, stub, secret) == AUTH_FAILED


def test_validating_a_key_token_reads_the_key_once(service, stub, ids, nova, monkeypatch):
    """The key's checks go through the scope cache: validating again reads nothing."""
    token = _key_auth(stub, _create(_as(service, "alice"), ids["acme"]).secret).token
    # Every statement reading the key's table on the server's database, however the
    # server's code phrases the read.
    db, reads = service.core.store.db, []
    original = db.execute_sql
    reads_keys = re.compile(r"^\s*SELECT\b.*\b(FROM|JOIN)\s+[`\"]?api_key\b", re.I | re.S)

    def execute_sql(sql, params=None, *args, **kwargs):
        if reads_keys.search(sql):
            reads.append(params)
        return original(sql, params, *args, **kwargs)

    monkeypatch.setattr(db, "execute_sql", execute_sql)
    for _ in range(20):
        validate(stub, nova, token)
    # Issuing cached it; at most one refill, when this server's own watcher replays
    # the key's creation from the change feed.
    assert len(reads) <= 1
