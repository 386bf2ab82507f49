"""Changing one's own password without a token, as Keystone allows: a user whose
password has expired cannot get a token, so the original password is the proof.
Through the real server, on gRPC (Users.ChangePassword) and HTTP
(`POST /v3/users/{id}/password`)."""


import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc

from conftest import start_service
from identity_grpc.gateway.server import HttpServer
from sources import http_call
from support import AdminClient, login, rpc_error, system_admin_token, time_ratio

CODE = grpc.StatusCode
DAY = 86_400


@pytest.fixture
def expiring(deployment):
    """Passwords valid for one day, a gateway beside gRPC; yields (service, base url)."""
    running = start_service(deployment.replace(password_expires_days=1))
    server = HttpServer(running.core, "127.0.0.1:0").start()
    yield running, f"http://127.0.0.1:{server.port}"
    server.stop()
    running.stop()


def _create(service, name: str, password: str, **fields) -> str:
    admin = AdminClient(service.channel, system_admin_token(service.stub))
    return admin.call(admin.users.CreateUser, apb.CreateUserRequest(
        name=name, password=password, **fields)).id


def _http_change(base: str, user_id: str, original: str, new: str, source: str = "127.0.0.1"):
    return http_call(base, "POST", f"/v3/users/{user_id}/password",
                     {"user": {"original_password": original, "password": new}}, source=source)


def test_an_expired_password_is_changed_without_a_token_on_grpc(expiring):
    service, _ = expiring
    user_id = _create(service, "dave", "dave-password-1")
    service.clock.advance(2 * DAY)
    error = rpc_error(login, service.stub, "dave", password="dave-password-1")
    assert error.code() == CODE.UNAUTHENTICATED and "expired" in error.details()
    users = agrpc.UsersStub(service.channel)
    users.ChangePassword(apb.ChangePasswordRequest(  # no x-auth-token at all
        user_id=user_id, original_password="dave-password-1", password="dave-password-2"))
    assert login(service.stub, "dave", password="dave-password-2").token
    assert rpc_error(login, service.stub, "dave", password="dave-password-1").code() == \
        CODE.UNAUTHENTICATED


def test_an_expired_password_is_changed_without_a_token_on_http(expiring):
    service, base = expiring
    user_id = _create(service, "erin", "erin-password-1")
    service.clock.advance(2 * DAY)
    status, _, body = _http_change(base, user_id, "erin-password-1", "erin-password-2")
    assert status == 204, body
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "id": user_id, "password": "erin-password-2"}}}}}
    assert http_call(base, "POST", "/v3/auth/tokens", auth)[0] == 201


def test_without_a_token_every_refusal_is_the_same(expiring):
    """A wrong original password, an unknown user and a disabled user: one answer."""
    service, base = expiring
    users = agrpc.UsersStub(service.channel)
    alice = service.core.users_and_groups.find_user(name="alice", domain_id="default").id
    disabled = _create(service, "frank", "frank-password-1", enabled=False)
    cases = {"wrong original": (alice, "not-her-password"),
             "unknown user": ("0" * 32, "mypassword123"),
             "disabled user": (disabled, "frank-password-1")}
    grpc_answers, http_answers = set(), set()
    for user_id, original in cases.values():
        error = rpc_error(users.ChangePassword, apb.ChangePasswordRequest(
            user_id=user_id, original_password=original, password="new-password-9"))
        grpc_answers.add((error.code(), error.details()))
        status, _, body = _http_change(base, user_id, original, "new-password-9")
        http_answers.add((status, body["error"]["message"]))
    assert grpc_answers == {(CODE.UNAUTHENTICATED, "original_password: not accepted")}
    assert len(http_answers) == 1 and next(iter(http_answers))[0] == 401
    assert login(service.stub, "alice").token  # nothing was changed


def test_wrong_originals_count_towards_the_throttles(expiring):
    service, base = expiring
    alice = service.core.users_and_groups.find_user(name="alice", domain_id="default").id
    for _ in range(5):
        assert _http_change(base, alice, "guess", "new-password-9", "127.0.0.2")[0] == 401
    status, headers, _ = _http_change(base, alice, "mypassword123", "new-password-9", "127.0.0.2")
    assert status == 429 and "Retry-After" in headers
    assert login(service.stub, "alice").token  # the password was not changed


def test_with_a_token_the_policy_still_applies(service):
    alice = service.core.users_and_groups.find_user(name="alice", domain_id="default").id
    as_bob = AdminClient(service.channel, login(service.stub, "bob").token)
    error = rpc_error(as_bob.call, as_bob.users.ChangePassword, apb.ChangePasswordRequest(
        user_id=alice, original_password="mypassword123", password="new-password-9"))
    assert error.code() == CODE.PERMISSION_DENIED
    bad_token = AdminClient(service.channel, "garbage")
    assert rpc_error(bad_token.call, bad_token.users.ChangePassword, apb.ChangePasswordRequest(
        user_id=alice, original_password="mypassword123",
        password="new-password-9")).code() == CODE.UNAUTHENTICATED


@pytest.mark.slow
@pytest.mark.real_hashing
def test_without_a_token_an_unknown_user_takes_as_long_as_a_wrong_password(deployment):
    running = start_service(deployment.replace(login_failures_per_user_and_address=0,
                                               login_failures_per_address=0,
                                               lockout_failure_attempts=0))
    try:
        users = agrpc.UsersStub(running.channel)
        alice = running.core.users_and_groups.find_user(name="alice", domain_id="default").id

        def refused(user_id: str):
            return lambda: rpc_error(users.ChangePassword, apb.ChangePasswordRequest(
                user_id=user_id, original_password="not-it", password="new-password-9"))

        ratio = time_ratio(refused("0" * 32), refused(alice))
        assert 0.5 <= ratio <= 2.0, ratio
    finally:
        running.stop()

