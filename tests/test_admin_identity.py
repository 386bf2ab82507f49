"""Managing users and groups, and the security-compliance rules, through the real server."""

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from support import AdminClient, login, project_scope, role_names, rpc_error, validate

CODE = grpc.StatusCode


def _user(admin, name, **fields):
    return admin.call(admin.users.CreateUser, apb.CreateUserRequest(name=name, **fields))


def _login(stub, name, password, scope=None):
    request = pb.AuthenticateRequest(password=pb.PasswordMethod(
        user=pb.UserSelector(name=name, domain=pb.DomainSelector(id="default")), password=password))
    if scope is not None:
        request.scope.CopyFrom(scope)
    return stub.Authenticate(request)


def test_user_lifecycle(admin, stub):
    carol = _user(admin, "carol", password="carolpassword1", email="carol@example.com",
                  extra={"team": "web"})
    assert (carol.domain_id, carol.email, carol.enabled, dict(carol.extra)) == (
        "default", "carol@example.com", True, {"team": "web"})
    assert not carol.HasField("password_expires_at")
    assert _login(stub, "carol", "carolpassword1").token
    updated = admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(
        id=carol.id, description="web team", extra=apb.Extra(values={"team": "api"})))
    assert (updated.email, updated.description, dict(updated.extra)) == (
        "carol@example.com", "web team", {"team": "api"})
    listed = admin.call(admin.users.ListUsers, apb.ListUsersRequest(name="carol")).users
    assert [u.id for u in listed] == [carol.id]
    admin.call(admin.users.DeleteUser, apb.DeleteRequest(id=carol.id))
    assert rpc_error(admin.call, admin.users.GetUser, apb.GetRequest(id=carol.id)).code() == CODE.NOT_FOUND
    assert rpc_error(_login, stub, "carol", "carolpassword1").code() == CODE.UNAUTHENTICATED


def test_user_bad_input(admin):
    error = rpc_error(_user, admin, "alice")
    assert error.code() == CODE.ALREADY_EXISTS and "alice" in error.details()
    assert rpc_error(_user, admin, "x", domain_id="nope").code() == CODE.NOT_FOUND
    assert rpc_error(_user, admin, "x", default_project_id="nope").code() == CODE.NOT_FOUND
    error = rpc_error(_user, admin, "y" * 256)
    assert error.code() == CODE.INVALID_ARGUMENT and "name" in error.details()


def test_disabling_a_user_through_the_api_refuses_its_tokens(admin, stub):
    nova = login(stub, "nova", project_scope("service")).token
    alice = login(stub, "alice", project_scope("acme"))
    admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(id=alice.token_info.user.id, enabled=False))
    assert rpc_error(validate, stub, nova, alice.token).code() == CODE.UNAUTHENTICATED


def test_users_change_their_own_password(stub, service):
    alice = login(stub, "alice")
    own = AdminClient(service.channel, alice.token)
    user_id = alice.token_info.user.id
    error = rpc_error(own.call, own.users.ChangePassword, apb.ChangePasswordRequest(
        user_id=user_id, original_password="wrong", password="newpassword123"))
    assert error.code() == CODE.UNAUTHENTICATED and "original_password" in error.details()
    own.call(own.users.ChangePassword, apb.ChangePasswordRequest(
        user_id=user_id, original_password="mypassword123", password="newpassword123"))
    assert _login(stub, "alice", "newpassword123").token
    assert rpc_error(_login, stub, "alice", "mypassword123").code() == CODE.UNAUTHENTICATED


def test_group_lifecycle_and_membership(admin, stub, service):
    nova = login(stub, "nova", project_scope("service")).token
    ops = admin.call(admin.groups.CreateGroup, apb.CreateGroupRequest(name="ops", description="on call"))
    carol = _user(admin, "carol", password="carolpassword1")
    admin.call(admin.groups.AddUserToGroup, apb.GroupMembershipRequest(group_id=ops.id, user_id=carol.id))
    admin.call(admin.groups.CheckUserInGroup, apb.GroupMembershipRequest(group_id=ops.id, user_id=carol.id))
    members = admin.call(admin.groups.ListGroupUsers, apb.GetRequest(id=ops.id)).users
    assert [u.name for u in members] == ["carol"]
    groups = admin.call(admin.users.ListUserGroups, apb.GetRequest(id=carol.id)).groups
    assert [g.name for g in groups] == ["ops"]
    renamed = admin.call(admin.groups.UpdateGroup, apb.UpdateGroupRequest(id=ops.id, name="sre"))
    assert (renamed.name, renamed.description) == ("sre", "on call")

    # A role granted to the group shows in its members' tokens, and goes with the group.
    member = service.core.assignments.find_role("member").id
    acme = service.core.resources.find_project(name="acme", domain=service.core.resources.find_domain("default"))
    admin.call(admin.assignments.GrantRole, apb.GrantRequest(
        role_id=member, actor=apb.Actor(group_id=ops.id), target=apb.Target(project_id=acme.id)))
    token = _login(stub, "carol", "carolpassword1", project_scope("acme"))
    assert role_names(token.token_info) == {"member", "reader"}
    admin.call(admin.groups.RemoveUserFromGroup, apb.GroupMembershipRequest(group_id=ops.id, user_id=carol.id))
    assert rpc_error(validate, stub, nova, token.token).code() == CODE.UNAUTHENTICATED
    error = rpc_error(admin.call, admin.groups.CheckUserInGroup,
                      apb.GroupMembershipRequest(group_id=ops.id, user_id=carol.id))
    assert error.code() == CODE.NOT_FOUND
    admin.call(admin.groups.AddUserToGroup, apb.GroupMembershipRequest(group_id=ops.id, user_id=carol.id))
    token = _login(stub, "carol", "carolpassword1", project_scope("acme"))
    admin.call(admin.groups.DeleteGroup, apb.DeleteRequest(id=ops.id))
    assert rpc_error(validate, stub, nova, token.token).code() == CODE.UNAUTHENTICATED


def test_group_bad_input(admin):
    assert rpc_error(admin.call, admin.groups.CreateGroup,
                     apb.CreateGroupRequest(name="devs")).code() == CODE.ALREADY_EXISTS
    assert rpc_error(admin.call, admin.groups.AddUserToGroup, apb.GroupMembershipRequest(
        group_id="nope", user_id="nope")).code() == CODE.NOT_FOUND


# ---- security compliance --------------------------------------------------------


@pytest.fixture
def strict(deployment):
    """A server with every compliance rule on."""
    running = start_service(deployment.replace(
        lockout_failure_attempts=3, lockout_duration=60, password_expires_days=30,
        unique_last_password_count=2, minimum_password_age_days=1,
        password_regex=r"(?=.*\d).{10,}", password_regex_description="at least 10 characters, one digit"))
    yield running
    running.stop()


def test_lockout_after_repeated_failures_lifts_after_its_duration(strict):
    stub = strict.stub
    for _ in range(3):
        assert rpc_error(_login, stub, "bob", "wrong").code() == CODE.UNAUTHENTICATED
    error = rpc_error(_login, stub, "bob", "bobpassword123")  # right password, but locked
    assert error.code() == CODE.UNAUTHENTICATED
    strict.clock.advance(61)
    assert _login(stub, "bob", "bobpassword123").token


def test_a_success_resets_the_failure_count(strict):
    stub = strict.stub
    for _ in range(2):
        rpc_error(_login, stub, "bob", "wrong")
    assert _login(stub, "bob", "bobpassword123").token
    for _ in range(2):
        rpc_error(_login, stub, "bob", "wrong")
    assert _login(stub, "bob", "bobpassword123").token


def test_password_pattern_history_minimum_age_and_expiry(strict):
    stub, clock = strict.stub, strict.clock
    admin = AdminClient(strict.channel, login(stub, "admin", pb.Scope(system=pb.SystemScope(all=True))).token)
    error = rpc_error(_user, admin, "dave", password="short1")
    assert error.code() == CODE.INVALID_ARGUMENT and "one digit" in error.details()
    dave = _user(admin, "dave", password="davepassword1")
    assert dave.password_expires_at.seconds > 0
    own = AdminClient(strict.channel, _login(stub, "dave", "davepassword1").token)

    def change(original, new):
        own.metadata = (("x-auth-token", _login(stub, "dave", original).token),)
        return own.call(own.users.ChangePassword, apb.ChangePasswordRequest(
            user_id=dave.id, original_password=original, password=new))

    error = rpc_error(change, "davepassword1", "davepassword2")
    assert error.code() == CODE.FAILED_PRECONDITION  # minimum age: 1 day
    clock.advance(86_401)
    error = rpc_error(change, "davepassword1", "davepassword1")
    assert error.code() == CODE.INVALID_ARGUMENT and "last 2" in error.details()
    change("davepassword1", "davepassword2")
    clock.advance(31 * 86_400)
    error = rpc_error(_login, stub, "dave", "davepassword2")
    assert error.code() == CODE.UNAUTHENTICATED and "expired" in error.details()
    # An expired password can still be changed by proving it, with no token (which
    # an expired password cannot get).
    agrpc.UsersStub(strict.channel).ChangePassword(apb.ChangePasswordRequest(
        user_id=dave.id, original_password="davepassword2", password="davepassword3"))
    assert _login(stub, "dave", "davepassword3").token


def test_an_admin_reset_is_not_held_to_the_password_history(strict):
    """As in Keystone, the history binds a user's own change, not an admin's reset
    (Tempest's test_password_history_not_enforced_in_admin_reset); the pattern binds both."""
    from identity_grpc.gateway.server import HttpServer
    from test_gateway_admin import Api
    stub = strict.stub
    token = login(stub, "admin", pb.Scope(system=pb.SystemScope(all=True))).token
    admin = AdminClient(strict.channel, token)
    dave = _user(admin, "dave", password="davepassword1")
    http = HttpServer(strict.core, "127.0.0.1:0").start()
    try:
        api = Api(f"http://127.0.0.1:{http.port}", token)
        for password in ("davepassword2", "davepassword2", "davepassword1"):  # twice in a row
            api("PATCH", f"/v3/users/{dave.id}", {"user": {"password": password}}, expect=200)
            assert _login(stub, "dave", password).token
        admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(id=dave.id, password="davepassword1"))
        assert _login(stub, "dave", "davepassword1").token
        error = rpc_error(admin.call, admin.users.UpdateUser,
                          apb.UpdateUserRequest(id=dave.id, password="nodigits-here"))
        assert error.code() == CODE.INVALID_ARGUMENT and "one digit" in error.details()
        assert api.status("PATCH", f"/v3/users/{dave.id}", {"user": {"password": "short1"}}) == 400
    finally:
        http.stop()


def test_changing_a_password_revokes_the_users_older_tokens(service, stub):
    nova = login(stub, "nova", project_scope("service")).token
    old = login(stub, "alice", project_scope("acme")).token
    service.clock.advance(2)
    service.core.users_and_groups.change_password(
        service.core.users_and_groups.find_user(name="alice", domain_id="default").id,
        "mypassword123", "newpassword123")
    assert rpc_error(validate, stub, nova, old).code() == CODE.UNAUTHENTICATED
    assert _login(stub, "alice", "newpassword123").token


@pytest.mark.every_backend
def test_free_text_beyond_what_every_backend_holds_is_invalid_argument(admin):
    """Emails (a 255-character column) and descriptions and extra attributes (TEXT:
    65,535 bytes on MariaDB) too long for some backend: SQLite kept them, PostgreSQL
    and MariaDB failed with INTERNAL. Now every backend refuses them, naming the field."""
    too_long = [({"email": "e" * 256}, "user.email"),
                ({"description": "d" * 65_536}, "user.description"),
                ({"description": "\xe9" * 32_768}, "user.description"),  # 65,536 bytes
                ({"extra": {"notes": "x" * 65_536}}, "extra")]
    for fields, field in too_long:
        error = rpc_error(_user, admin, "dora", **fields)
        assert error.code() == CODE.INVALID_ARGUMENT, (field, error.details())
        assert error.details().startswith(f"{field}: "), error.details()
    dora = _user(admin, "dora", email="e" * 255, description="d" * 65_535)  # the limits pass
    assert (len(dora.email), len(dora.description)) == (255, 65_535)
    for changes, field in (({"email": "e" * 256}, "user.email"),
                           ({"description": "d" * 65_536}, "user.description"),
                           ({"extra": apb.Extra(values={"notes": "x" * 65_536})}, "extra")):
        error = rpc_error(admin.call, admin.users.UpdateUser, apb.UpdateUserRequest(id=dora.id, **changes))
        assert error.code() == CODE.INVALID_ARGUMENT and error.details().startswith(f"{field}: ")
    for method, request in ((admin.groups.CreateGroup, apb.CreateGroupRequest(name="g", description="d" * 65_536)),
                            (admin.groups.UpdateGroup, apb.UpdateGroupRequest(
                                id=admin.call(admin.groups.ListGroups, apb.ListGroupsRequest(name="devs")).groups[0].id,
                                description="d" * 65_536))):
        error = rpc_error(admin.call, method, request)
        assert error.code() == CODE.INVALID_ARGUMENT and error.details().startswith("group.description: ")
