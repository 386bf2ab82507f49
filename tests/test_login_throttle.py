"""Brute-force protection that cannot be turned against the users it protects: the
throttles of failed passwords refuse the guessing address, not the account; Keystone's
lockout spares users with `ignore_lockout_failure_attempts`, forgets old failures and
lifts with an admin's enable. Through the real server, on gRPC and HTTP, from two
loopback addresses (127.0.0.1 the user, 127.0.0.2 and up the guesser)."""

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2_grpc as rpc

from conftest import start_service
from identity_grpc.gateway.server import HttpServer
from sources import SourceProxy, http_call
from support import AdminClient, login, password_request, rpc_error, system_admin_token

CODE = grpc.StatusCode
ATTACKER, OTHER_ATTACKER = "127.0.0.2", "127.0.0.3"
PER_USER = 5  # the default failures per user and address


def _auth_body(name: str, password: str, domain_id: str = "default") -> dict:
    user = {"name": name, "domain": {"id": domain_id}, "password": password}
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}


def _http_login(base: str, name: str, password: str, source: str = "127.0.0.1"):
    return http_call(base, "POST", "/v3/auth/tokens", _auth_body(name, password), source=source)


@pytest.fixture
def http(service):
    server = HttpServer(service.core, "127.0.0.1:0").start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def strict(deployment):
    """Lockout after 3 failures for 60 s; no throttle per user and address, which
    would refuse these tests' repeated failures (from one address) before the lockout."""
    running = start_service(deployment.replace(lockout_failure_attempts=3, lockout_duration=60,
                                               login_failures_per_user_and_address=0))
    yield running
    running.stop()


# ---- the throttles: the guesser is refused, the account keeps working -----------------

def test_a_guessers_address_is_refused_while_the_user_logs_in_from_another_http(http):
    for _ in range(PER_USER):
        assert _http_login(http, "alice", "guess", ATTACKER)[0] == 401
    status, headers, body = _http_login(http, "alice", "mypassword123", ATTACKER)
    assert status == 429, body  # refused before the password is even checked
    assert int(headers["Retry-After"]) >= 1
    assert "too many failed password attempts" in body["error"]["message"]
    assert _http_login(http, "alice", "mypassword123")[0] == 201  # alice, from her address
    # An unknown name is throttled alike, with the same words: nothing tells it apart.
    for _ in range(PER_USER):
        assert _http_login(http, "nobody", "guess", OTHER_ATTACKER)[0] == 401
    status, headers, unknown = _http_login(http, "nobody", "guess", OTHER_ATTACKER)
    assert status == 429
    assert unknown["error"]["message"].split(": try again")[0] == \
        body["error"]["message"].split(": try again")[0]


def test_a_guessers_address_is_refused_while_the_user_logs_in_from_another_grpc(service):
    proxy = SourceProxy(service.port, ATTACKER)
    channel = grpc.insecure_channel(proxy.address)
    try:
        attacker = rpc.IdentityStub(channel)
        for _ in range(PER_USER):
            error = rpc_error(attacker.Authenticate, password_request("admin", password="guess"))
            assert error.code() == CODE.UNAUTHENTICATED
        error = rpc_error(attacker.Authenticate, password_request("admin"))  # the right one
        assert error.code() == CODE.RESOURCE_EXHAUSTED, error.details()
        assert "too many failed password attempts" in error.details()
        assert login(service.stub, "admin").token  # from 127.0.0.1 the admin gets in
        # Naming the same account by id spends the same budget.
        admin_id = service.core.users_and_groups.find_user(name="admin", domain_id="default").id
        by_id = password_request("admin", password="guess")
        by_id.password.user.Clear()
        by_id.password.user.id = admin_id
        assert rpc_error(attacker.Authenticate, by_id).code() == CODE.RESOURCE_EXHAUSTED
    finally:
        channel.close()
        proxy.close()


def test_an_address_failing_for_many_users_is_refused_for_all(deployment):
    running = start_service(deployment.replace(login_failures_per_address=3))
    server = HttpServer(running.core, "127.0.0.1:0").start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        for name in ("alice", "bob", "nobody"):
            assert _http_login(base, name, "guess", ATTACKER)[0] == 401
        assert _http_login(base, "nova", "novapass", ATTACKER)[0] == 429
        assert _http_login(base, "nova", "novapass")[0] == 201
        running.clock.advance(301)  # the window slides past the failures
        assert _http_login(base, "nova", "novapass", ATTACKER)[0] == 201
    finally:
        server.stop()
        running.stop()


# ---- Keystone's lockout ----------------------------------------------------------------

def test_bootstrap_admin_and_service_user_are_never_locked_out(strict):
    for name in ("admin", "nova"):
        for _ in range(4):
            assert rpc_error(strict.stub.Authenticate,
                             password_request(name, password="guess")).code() == CODE.UNAUTHENTICATED
        assert login(strict.stub, name).token
    admin = AdminClient(strict.channel, system_admin_token(strict.stub))
    nova_id = strict.core.users_and_groups.find_user(name="nova", domain_id="default").id
    nova = admin.call(admin.users.GetUser, apb.GetRequest(id=nova_id))
    assert nova.options.ignore_lockout_failure_attempts is True


def test_a_lockout_that_ran_out_is_forgotten(strict):
    for _ in range(3):
        rpc_error(strict.stub.Authenticate, password_request("bob", password="guess"))
    assert rpc_error(strict.stub.Authenticate, password_request("bob")).code() == CODE.UNAUTHENTICATED
    strict.clock.advance(61)
    # One more wrong password after the lock ran out starts a new count; it does not
    # lock bob again at once.
    rpc_error(strict.stub.Authenticate, password_request("bob", password="guess"))
    assert login(strict.stub, "bob").token


def test_failures_further_apart_than_the_lockout_do_not_add_up(strict):
    for _ in range(2):
        rpc_error(strict.stub.Authenticate, password_request("bob", password="guess"))
    strict.clock.advance(61)
    for _ in range(2):
        rpc_error(strict.stub.Authenticate, password_request("bob", password="guess"))
    assert login(strict.stub, "bob").token


def test_enabling_a_locked_user_unlocks_it_on_grpc_and_http(strict):
    server = HttpServer(strict.core, "127.0.0.1:0").start()
    base = f"http://127.0.0.1:{server.port}"
    admin_token = system_admin_token(strict.stub)
    admin = AdminClient(strict.channel, admin_token)
    try:
        for unlock in ("grpc", "http"):
            for _ in range(3):
                rpc_error(strict.stub.Authenticate, password_request("bob", password="guess"))
            assert rpc_error(strict.stub.Authenticate, password_request("bob")).code() == \
                CODE.UNAUTHENTICATED
            bob_id = strict.core.users_and_groups.find_user(name="bob", domain_id="default").id
            if unlock == "grpc":
                admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(id=bob_id, enabled=True))
            else:
                status, _, body = http_call(base, "PATCH", f"/v3/users/{bob_id}",
                                            {"user": {"enabled": True}}, token=admin_token)
                assert status == 200, body
            assert login(strict.stub, "bob").token, unlock
    finally:
        server.stop()


# ---- user options through the admin APIs ---------------------------------------------------

def test_user_options_are_set_shown_and_checked_over_http(http, service):
    token = system_admin_token(service.stub)
    status, _, created = http_call(http, "POST", "/v3/users", {"user": {
        "name": "svc", "password": "svc-password-1",
        "options": {"ignore_lockout_failure_attempts": True}}}, token=token)
    assert status == 201, created
    user = created["user"]
    assert user["options"] == {"ignore_lockout_failure_attempts": True}
    path = f"/v3/users/{user['id']}"
    status, _, body = http_call(http, "PATCH", path, {"user": {"options": {
        "ignore_lockout_failure_attempts": None}}}, token=token)
    assert (status, body["user"]["options"]) == (200, {})
    for options, words in (({"lock_password": True}, "'lock_password' is not supported"),
                           ({"no_such_option": True}, "unknown user option 'no_such_option'"),
                           ({"ignore_lockout_failure_attempts": "yes"}, "not of type 'boolean'"),
                           ("on", "not of type 'object'")):
        status, _, body = http_call(http, "PATCH", path, {"user": {"options": options}},
                                    token=token)
        assert status == 400 and words in body["error"]["message"], (options, body)
    assert http_call(http, "GET", path, token=token)[2]["user"]["options"] == {}


def test_user_options_are_set_and_shown_over_grpc(admin):
    created = admin.call(admin.users.CreateUser, apb.CreateUserRequest(
        name="svc", password="svc-password-1",
        options=apb.UserOptions(ignore_lockout_failure_attempts=True)))
    assert created.options.ignore_lockout_failure_attempts is True
    updated = admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(
        id=created.id, description="a service",
        options=apb.UserOptions(ignore_lockout_failure_attempts=False)))
    assert updated.options.HasField("ignore_lockout_failure_attempts")
    assert updated.options.ignore_lockout_failure_attempts is False
    unchanged = admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(id=created.id,
                                                                         email="s@example.com"))
    assert unchanged.options.ignore_lockout_failure_attempts is False
