"""What clients get for bad requests: INVALID_ARGUMENT naming the field for malformed
ones, UNAUTHENTICATED for any token that is not good, and never INTERNAL or UNKNOWN."""

import logging
import random

import grpc
import pytest
from identity_api.tokens import TokenPayload, new_audit_id
from identity_api.v1 import identity_pb2 as pb

from identity_grpc.tokens.codec import TokenCodec
from identity_grpc.tokens.keys import KeyRepository
from support import auth_md, login, password_request, project_scope, rpc_error, validate

CHALLENGE = 'Keystone uri="http://127.0.0.1:5000/v3"'
AUTHENTICATE = "/identity.v1.Identity/Authenticate"
ALICE = pb.UserSelector(name="alice", domain=pb.DomainSelector(id="default"))


def _password(user=ALICE, password="mypassword123", scope=None):
    request = pb.AuthenticateRequest(password=pb.PasswordMethod(user=user, password=password))
    if scope is not None:
        request.scope.CopyFrom(scope)
    return request


def _alice_named(name="alice", domain=pb.DomainSelector(id="default")):
    return _password(pb.UserSelector(name=name, domain=domain))


def _empty_scope():
    request = _password()
    request.scope.SetInParent()
    return request


MALFORMED = {
    "no_method": (pb.AuthenticateRequest(), "method"),
    "password_without_user": (pb.AuthenticateRequest(password=pb.PasswordMethod(password="x")),
                              "password.user"),
    "user_without_id_or_name": (_password(pb.UserSelector(domain=pb.DomainSelector(id="default"))),
                                "user"),
    "user_with_id_and_name": (_password(pb.UserSelector(id="a" * 32, name="alice")), "user"),
    "user_name_without_domain": (_password(pb.UserSelector(name="alice")), "user.domain"),
    "user_domain_id_and_name": (_alice_named(domain=pb.DomainSelector(id="default", name="Default")),
                                "user.domain"),
    "user_domain_neither": (_alice_named(domain=pb.DomainSelector()), "user.domain"),
    "empty_password": (_password(password=""), "password"),
    "password_4097_bytes": (_password(password="p" * 4097), "password"),
    "password_over_4096_utf8_bytes": (_password(password="é" * 2049), "password"),
    "user_name_256_chars": (_alice_named("a" * 256), "user.name"),
    "user_name_blank": (_alice_named("   "), "user.name"),
    "user_id_65_chars": (_password(pb.UserSelector(id="a" * 65)), "user.id"),
    "user_domain_id_65_chars": (_alice_named(domain=pb.DomainSelector(id="d" * 65)), "user.domain.id"),
    "user_domain_name_256_chars": (_alice_named(domain=pb.DomainSelector(name="d" * 256)),
                                   "user.domain.name"),
    "user_name_with_nul": (_alice_named("ali\x00ce"), "user.name"),
    "user_id_with_nul": (_password(pb.UserSelector(id="abc\x00")), "user.id"),
    "user_domain_name_with_nul": (_alice_named(domain=pb.DomainSelector(name="De\x00fault")),
                                  "user.domain.name"),
    "scope_without_target": (_empty_scope(), "scope"),
    "system_scope_all_false": (_password(scope=pb.Scope(system=pb.SystemScope(all=False))),
                               "scope.system.all"),
    "project_without_id_or_name": (
        _password(scope=pb.Scope(project=pb.ProjectSelector(domain=pb.DomainSelector(id="default")))),
        "scope.project"),
    "project_with_id_and_name": (
        _password(scope=pb.Scope(project=pb.ProjectSelector(id="p" * 32, name="acme"))),
        "scope.project"),
    "project_name_without_domain": (_password(scope=pb.Scope(project=pb.ProjectSelector(name="acme"))),
                                    "scope.project.domain"),
    "project_id_65_chars": (_password(scope=project_scope(project_id="p" * 65)), "scope.project.id"),
    "project_name_256_chars": (_password(scope=project_scope("p" * 256)), "scope.project.name"),
    "project_domain_id_and_name": (
        _password(scope=pb.Scope(project=pb.ProjectSelector(
            name="acme", domain=pb.DomainSelector(id="default", name="Default")))),
        "scope.project.domain"),
    "project_id_with_nul": (_password(scope=project_scope(project_id="p\x00")), "scope.project.id"),
    "domain_scope_neither": (_password(scope=pb.Scope(domain=pb.DomainSelector())), "scope.domain"),
    "domain_scope_id_65_chars": (_password(scope=pb.Scope(domain=pb.DomainSelector(id="d" * 65))),
                                 "scope.domain.id"),
    "token_method_empty_token": (pb.AuthenticateRequest(token=pb.TokenMethod()), "token.token"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_authenticate_is_invalid_argument_naming_the_field(stub, case):
    request, field = MALFORMED[case]
    error = rpc_error(stub.Authenticate, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert error.details().startswith(f"{field}: "), error.details()


def _raw_authenticate(service):
    return service.channel.unary_unary(AUTHENTICATE, request_serializer=lambda b: b,
                                       response_deserializer=pb.AuthenticateResponse.FromString)


@pytest.mark.parametrize("field", ["name", "password", "token"])
def test_invalid_utf8_in_a_string_field_is_invalid_argument(service, field):
    request = {"name": _alice_named("~~"), "password": _password(password="~~"),
               "token": pb.AuthenticateRequest(token=pb.TokenMethod(token="~~"))}[field]
    corrupted = request.SerializeToString().replace(b"~~", b"\xff\xfe")
    error = rpc_error(_raw_authenticate(service), corrupted)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("request: ")


def test_invalid_utf8_subject_token_is_invalid_argument(service):
    caller = login(service.stub, "nova", project_scope("service")).token
    call = service.channel.unary_unary("/identity.v1.Identity/ValidateToken",
                                       request_serializer=lambda b: b,
                                       response_deserializer=pb.ValidateTokenResponse.FromString)
    corrupted = pb.ValidateTokenRequest(subject_token="~~").SerializeToString().replace(b"~~", b"\xff\xfe")
    assert rpc_error(call, corrupted, metadata=auth_md(caller)).code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"\x0a\xff", b"\x1a\x05\x0a", b"\x08" * 11])
def test_undecodable_request_bytes_are_invalid_argument(service, garbage):
    error = rpc_error(_raw_authenticate(service), garbage)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()


def test_mutated_requests_never_get_internal(service):
    """Flip bytes of valid requests: whatever decodes, the answer is a client error."""
    call, rng = _raw_authenticate(service), random.Random(1234)
    seeds = [_password(scope=project_scope("acme")).SerializeToString(),
             _password(pb.UserSelector(id="a" * 32), scope=pb.Scope(system=pb.SystemScope(all=True)))
             .SerializeToString()]
    for i in range(60):
        data = bytearray(seeds[i % 2])
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.choice([0, 0xFF, 0x80, rng.randrange(256)])
        try:
            call(bytes(data))
        except grpc.RpcError as e:
            assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED), (
                bytes(data), e.code(), e.details())


# ---- tokens -------------------------------------------------------------------------

def _flip(token: str, at: int) -> str:
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]


def _bad_token(kind: str, service, tmp_path) -> str:
    """An alice token that is not good in the way `kind` says."""
    good = login(service.stub, "alice").token
    if kind == "garbage":
        return "this is not a token"
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "tampered":
        return _flip(good, len(good) // 2)
    if kind == "too_long":
        return good + "A" * (300 - len(good))
    if kind == "outside_base64url":
        return good[:10] + "+" + good[11:20] + "/" + good[21:]
    if kind == "expired":
        service.clock.advance(3601)
        return good
    if kind == "revoked":
        service.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=good), metadata=auth_md(good))
        return good
    if kind == "unknown_key":
        alice_id = service.core.users_and_groups.find_user(name="alice", domain_id="default").id
        now = int(service.clock())
        payload = TokenPayload(user_id=alice_id, methods=("password",), scope_type="unscoped",
                               scope_id=None, issued_at=now * 1000, expires_at=now + 3600,
                               audit_ids=(new_audit_id(),))
        return TokenCodec(KeyRepository.initialize(tmp_path / "other")).encode(payload)
    raise AssertionError(kind)


BAD_TOKENS = ["garbage", "truncated", "tampered", "too_long", "outside_base64url", "expired",
              "revoked", "unknown_key"]


def _assert_challenged(error: grpc.RpcError) -> None:
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (error.code(), error.details())
    assert dict(error.trailing_metadata() or ()).get("www-authenticate") == CHALLENGE


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_bad_caller_token_is_unauthenticated_with_challenge(service, tmp_path, kind):
    token = _bad_token(kind, service, tmp_path)
    for call, request in ((service.stub.ListProjects, pb.ListProjectsRequest()),
                          (service.stub.ValidateToken, pb.ValidateTokenRequest(subject_token=token))):
        error = rpc_error(call, request, metadata=auth_md(token))
        _assert_challenged(error)
        assert error.details().startswith("x-auth-token: ")


@pytest.mark.parametrize("metadata", [None, (), (("x-auth-token", ""),), (("x-other", "abc"),)],
                         ids=["none", "empty", "empty_value", "other_key_only"])
def test_missing_caller_token_is_unauthenticated_with_challenge(stub, metadata):
    for call, request in ((stub.ListProjects, pb.ListProjectsRequest()),
                          (stub.ListDomains, pb.ListDomainsRequest()),
                          (stub.Catalog, pb.CatalogRequest()),
                          (stub.ValidateToken, pb.ValidateTokenRequest(subject_token="x")),
                          (stub.RevokeToken, pb.RevokeTokenRequest(subject_token="x"))):
        _assert_challenged(rpc_error(call, request, metadata=metadata))


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_bad_subject_token_is_unauthenticated(service, tmp_path, kind):
    subject = _bad_token(kind, service, tmp_path)
    caller = login(service.stub, "nova", project_scope("service")).token  # fresh, after any clock move
    for call, request in ((service.stub.ValidateToken, pb.ValidateTokenRequest(subject_token=subject)),
                          (service.stub.RevokeToken, pb.RevokeTokenRequest(subject_token=subject))):
        error = rpc_error(call, request, metadata=auth_md(caller))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (error.code(), error.details())
        assert error.details().startswith("subject_token: ")
        # The caller's own credentials were fine: nothing tells it to authenticate again.
        assert "www-authenticate" not in dict(error.trailing_metadata() or ())
    # The caller's own token was not the problem.
    assert stub_ok(service, caller)


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_bad_token_as_authenticate_method_is_unauthenticated(service, tmp_path, kind):
    token = _bad_token(kind, service, tmp_path)
    request = pb.AuthenticateRequest(token=pb.TokenMethod(token=token), scope=project_scope("acme"))
    error = rpc_error(service.stub.Authenticate, request)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (error.code(), error.details())


def stub_ok(service, token: str) -> bool:
    service.stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(token))
    return True


@pytest.mark.parametrize("call,request_type", [("ValidateToken", pb.ValidateTokenRequest),
                                               ("RevokeToken", pb.RevokeTokenRequest)])
def test_missing_subject_token_is_invalid_argument(stub, call, request_type):
    caller = login(stub, "admin").token
    error = rpc_error(getattr(stub, call), request_type(), metadata=auth_md(caller))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("subject_token: ")


# ---- refusals that must not tell cases apart ---------------------------------------

def test_failed_password_logins_are_refused_alike(stub, service):
    identity = service.core.users_and_groups
    carol = identity.create_user("carol", "default", "carolpassword1")
    identity.set_user_enabled(carol.id, False)
    cases = [
        password_request("alice", password="wrong-password"),
        password_request("nobody", password="mypassword123"),
        _password(pb.UserSelector(name="alice", domain=pb.DomainSelector(id="nosuchdomain"))),
        _password(pb.UserSelector(name="alice", domain=pb.DomainSelector(name="NoSuchDomain"))),
        _password(pb.UserSelector(id="0" * 32)),
        password_request("carol", password="carolpassword1"),  # right password, disabled user
    ]
    details = set()
    for request in cases:
        error = rpc_error(stub.Authenticate, request)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        details.add(error.details())
    assert len(details) == 1, details


# ---- who may see to whose token -------------------------------------------------------

def test_plain_user_may_validate_own_token_but_not_anothers(stub):
    alice, bob = login(stub, "alice").token, login(stub, "bob").token
    assert validate(stub, alice, alice).user.name == "alice"
    error = rpc_error(validate, stub, alice, bob)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("name,scope", [("nova", project_scope("service")),
                                        ("admin", pb.Scope(system=pb.SystemScope(all=True)))])
def test_services_and_system_admins_may_validate_anyones_token(stub, name, scope):
    bob = login(stub, "bob").token
    assert validate(stub, login(stub, name, scope).token, bob).user.name == "bob"


def test_admin_on_one_project_may_not_validate_anothers_token(stub):
    """Rule identity:validate_token: admin of the `admin` project is no token admin."""
    bob = login(stub, "bob").token
    error = rpc_error(validate, stub, login(stub, "admin", project_scope("admin")).token, bob)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "'identity:validate_token'" in error.details()


def test_plain_user_may_not_revoke_anothers_token(stub):
    alice, bob = login(stub, "alice").token, login(stub, "bob").token
    error = rpc_error(stub.RevokeToken, pb.RevokeTokenRequest(subject_token=bob),
                      metadata=auth_md(alice))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert validate(stub, bob, bob).user.name == "bob"  # still good


# ---- the streaming method ------------------------------------------------------------

WATCH = "/identity.v1.Identity/WatchRevocations"


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"\x0a\xff", b"\x1a\x05\x0a"])
def test_undecodable_watch_request_is_invalid_argument_without_a_token(service, garbage, caplog):
    """WatchRevocations decodes its request like every unary RPC: bad bytes are the
    client's fault (no token needed to learn that), logged as one line, no traceback."""
    watch = service.channel.unary_stream(WATCH, request_serializer=lambda b: b,
                                         response_deserializer=pb.WatchRevocationsResponse.FromString)
    with caplog.at_level(logging.INFO):
        error = rpc_error(lambda: next(watch(garbage)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    assert error.details().startswith("request: could not be decoded")
    lines = [r for r in caplog.records if r.name == "identity_grpc.requests" and r.rpc == WATCH]
    assert [(line.rpc, line.code) for line in lines] == [(WATCH, "INVALID_ARGUMENT")]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


# ---- NUL, on every backend ------------------------------------------------------------

@pytest.mark.every_backend
def test_nul_in_an_id_or_filter_is_invalid_argument_on_every_backend(service, admin, gateway):
    """PostgreSQL refuses NUL with an error (INTERNAL here until the store refused
    it), SQLite and MariaDB looked it up (NOT_FOUND, empty lists): now every backend
    and both transports answer the same clear error."""
    import urllib.error
    import urllib.request

    from identity_api.admin.v1 import admin_pb2 as apb
    alice = service.core.users_and_groups.find_user(name="alice", domain_id="default").id
    calls = [
        (admin.users.GetUser, apb.GetRequest(id="a\x00b")),
        (admin.users.ListUsers, apb.ListUsersRequest(name="ali\x00ce")),
        (admin.projects.ListProjectParents, apb.GetRequest(id="\x00")),
        (admin.groups.AddUserToGroup, apb.GroupMembershipRequest(group_id="g\x00", user_id=alice)),
        (admin.assignments.ListRoleAssignments, apb.ListRoleAssignmentsRequest(user_id="\x00")),
        (admin.roles.DeleteImpliedRole, apb.ImpliedRole(prior_role_id="\x00", implied_role_id="x")),
    ]
    for method, request in calls:
        error = rpc_error(admin.call, method, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, error.details())
        assert "NUL" in error.details()
    token = admin.metadata[0][1]
    for path in ("/v3/projects/%00", "/v3/users?name=%00", "/v3/domains/%00",
                 f"/v3/domains/d%00/users/{alice}/roles/r"):
        request = urllib.request.Request(gateway + path, headers={"X-Auth-Token": token})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request)
        assert info.value.code == 400, (path, info.value.read())
