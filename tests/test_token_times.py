"""Token times: a cutoff (a password change or reset, a user, project or domain
disabled) refuses every token issued before it, even within the same second, and
none issued after it; a token issued in the future or living longer than the token
lifetime is refused, even when signed with the service's own key.

Through the real server: the cutoffs are made over gRPC and over the HTTP gateway,
and every token is checked on both, and by the consumer library's local check.
"""

import time
import urllib.error
import urllib.request

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.tokens import TokenPayload, new_audit_id
from identity_api.v1 import identity_pb2 as pb

from identity_client.verifier import TokenRejected, TokenVerifier
from identity_grpc.tokens.codec import TokenCodec
from sources import http_call
from support import AdminClient, login, project_scope, rpc_error, system_admin_token, validate
from test_gateway_discovery import fetch

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
FIRST_PASSWORD = "erin-password-1"


class Erin:
    """A user of domain Foo with the member role on its project bar; tracks her password."""

    def __init__(self, service):
        core = service.core
        self.service = service
        self.domain = core.resources.find_domain(name="Foo")
        self.project = core.resources.find_project(name="bar", domain=self.domain)
        self.id = core.users_and_groups.create_user("erin", self.domain.id, FIRST_PASSWORD).id
        core.assignments.grant(core.assignments.find_role("member").id, target_type="project",
                               target_id=self.project.id, user_id=self.id)
        self.password = FIRST_PASSWORD
        self.changes = 0

    def token(self) -> str:
        return self.service.stub.Authenticate(pb.AuthenticateRequest(
            password=pb.PasswordMethod(user=pb.UserSelector(id=self.id), password=self.password),
            scope=project_scope(project_id=self.project.id))).token

    def next_password(self) -> str:
        self.changes += 1
        return f"erin-password-{self.changes + 1}"


# ---- the cutoffs, over gRPC and over HTTP ------------------------------------------------

def _grpc_cutoffs(service, erin: Erin):
    admin = AdminClient(service.channel, system_admin_token(service.stub))

    def change_password():
        new = erin.next_password()
        agrpc.UsersStub(service.channel).ChangePassword(apb.ChangePasswordRequest(
            user_id=erin.id, original_password=erin.password, password=new))
        erin.password = new

    def reset_password():
        erin.password = erin.next_password()
        admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(id=erin.id, password=erin.password))

    def toggle(update, request_type, ident):
        def cut():
            update_with = lambda enabled: admin.call(update, request_type(id=ident, enabled=enabled))
            update_with(False)
            update_with(True)  # enabled again: new tokens work, the old ones stay refused
        return cut

    return {"change_password": change_password, "reset_password": reset_password,
            "disable_user": toggle(admin.users.UpdateUser, apb.UpdateUserRequest, erin.id),
            "disable_project": toggle(admin.projects.UpdateProject, apb.UpdateProjectRequest,
                                      erin.project.id),
            "disable_domain": toggle(admin.domains.UpdateDomain, apb.UpdateDomainRequest,
                                     erin.domain.id)}


def _http_cutoffs(base: str, admin_token: str, erin: Erin):
    def call(method, path, body, token=admin_token):
        status, _, answer = http_call(base, method, path, body, token=token)
        assert status in (200, 204), answer

    def change_password():
        new = erin.next_password()
        call("POST", f"/v3/users/{erin.id}/password",
             {"user": {"original_password": erin.password, "password": new}}, token=None)
        erin.password = new

    def reset_password():
        erin.password = erin.next_password()
        call("PATCH", f"/v3/users/{erin.id}", {"user": {"password": erin.password}})

    def toggle(path, kind):
        def cut():
            call("PATCH", path, {kind: {"enabled": False}})
            call("PATCH", path, {kind: {"enabled": True}})
        return cut

    return {"change_password": change_password, "reset_password": reset_password,
            "disable_user": toggle(f"/v3/users/{erin.id}", "user"),
            "disable_project": toggle(f"/v3/projects/{erin.project.id}", "project"),
            "disable_domain": toggle(f"/v3/domains/{erin.domain.id}", "domain")}


# ---- checking a token everywhere ---------------------------------------------------------

def _grpc_accepts(service, token: str) -> bool:
    nova = login(service.stub, "nova", project_scope("service")).token
    try:
        validate(service.stub, nova, token)
        return True
    except grpc.RpcError as e:
        assert e.code() == UNAUTHENTICATED, e.details()
        return False


def _http_accepts(base: str, token: str) -> bool:
    request = urllib.request.Request(f"{base}/v3/auth/tokens", headers={
        "X-Auth-Token": _HTTP_CALLER[base], "X-Subject-Token": token})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status == 200
    except urllib.error.HTTPError as e:
        assert e.code == 404, e.read()
        return False


_HTTP_CALLER: dict[str, str] = {}  # gateway base URL -> an admin token to validate with


def _verifier_accepts(verifier: TokenVerifier, token: str) -> bool:
    try:
        verifier.check(token)
        return True
    except TokenRejected:
        return False


def _everywhere(service, base: str, verifier: TokenVerifier, token: str) -> set[bool]:
    return {_grpc_accepts(service, token), _http_accepts(base, token),
            _verifier_accepts(verifier, token)}


def _start_of_a_second() -> None:
    """Wait until a second has just begun, so what follows runs within that second."""
    while time.time() % 1 > 0.2:
        time.sleep(0.01)


@pytest.fixture
def setting(service, gateway):
    nova = login(service.stub, "nova", project_scope("service")).token
    _HTTP_CALLER[gateway] = system_admin_token(service.stub)
    verifier = TokenVerifier(channel=service.channel, service_token=nova)
    assert verifier.wait_until_connected()
    yield service, gateway, Erin(service), verifier
    verifier.close()


CUTOFFS = ["change_password", "reset_password", "disable_user", "disable_project",
           "disable_domain"]


@pytest.mark.parametrize("transport", ["grpc", "http"])
@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_a_cutoff_refuses_tokens_of_its_own_second_and_accepts_the_next(setting, transport,
                                                                         cutoff):
    service, base, erin, verifier = setting
    cuts = (_grpc_cutoffs(service, erin) if transport == "grpc"
            else _http_cutoffs(base, _HTTP_CALLER[base], erin))
    codec, RevocationEvent = service.core.codec, service.core.store.tables.RevocationEvent
    for _ in range(3):  # a loaded machine may cross into the next second: try again
        _start_of_a_second()
        before = erin.token()
        cuts[cutoff]()
        after = erin.token()
        newest_cutoff = max(e.issued_before for e in RevocationEvent.select()
                            .where(RevocationEvent.audit_id.is_null()))
        issued_before = codec.decode(before).issued_at
        if issued_before // 1000 == newest_cutoff // 1000:
            break
    else:
        pytest.fail("the token and the cutoff never fell within one second")
    assert issued_before <= newest_cutoff < codec.decode(after).issued_at
    assert _everywhere(service, base, verifier, before) == {False}
    assert _everywhere(service, base, verifier, after) == {True}


def test_a_token_issued_right_after_a_password_change_is_valid_every_time(setting):
    service, base, erin, verifier = setting
    change = _grpc_cutoffs(service, erin)["change_password"]
    for _ in range(5):
        before = erin.token()
        change()
        after = erin.token()
        assert not _grpc_accepts(service, before)
        assert _grpc_accepts(service, after)


# ---- tokens the service would not issue, signed with its own key -------------------------

def _minted(service, erin: Erin, issued_at_ms: int, expires_at: int) -> str:
    """A token signed with the service's own key (what only a key holder could make)."""
    codec = TokenCodec(service.core.keys)
    return codec.encode(TokenPayload(
        user_id=erin.id, methods=("password",), scope_type="project", scope_id=erin.project.id,
        issued_at=issued_at_ms, expires_at=expires_at, audit_ids=(new_audit_id(),)))


def test_a_token_issued_in_the_future_is_refused(setting):
    service, base, erin, verifier = setting
    now = time.time()
    tolerance = service.core.settings.clock_skew_tolerance
    ahead = _minted(service, erin, int((now + tolerance + 60) * 1000), int(now) + 1800)
    assert _everywhere(service, base, verifier, ahead) == {False}
    error = _grpc_error(service, ahead)
    assert "future" in error
    slightly = _minted(service, erin, int((now + 1) * 1000), int(now) + 1800)  # within tolerance
    assert _everywhere(service, base, verifier, slightly) == {True}


def test_a_token_living_longer_than_the_token_lifetime_is_refused(setting):
    service, base, erin, verifier = setting
    now = int(time.time())
    lifetime = service.core.settings.token_lifetime
    long_lived = _minted(service, erin, now * 1000, now + lifetime + 1)
    assert _everywhere(service, base, verifier, long_lived) == {False}
    assert "lifetime" in _grpc_error(service, long_lived)
    just_so = _minted(service, erin, now * 1000, now + lifetime)
    assert _everywhere(service, base, verifier, just_so) == {True}


def _grpc_error(service, token: str) -> str:
    nova = login(service.stub, "nova", project_scope("service")).token
    with pytest.raises(grpc.RpcError) as info:
        validate(service.stub, nova, token)
    assert info.value.code() == UNAUTHENTICATED
    return info.value.details()


def test_signing_keys_tell_consumers_the_lifetime_and_tolerance(setting):
    service, _, _, verifier = setting
    assert verifier.token_lifetime == service.core.settings.token_lifetime
    assert verifier.clock_skew_tolerance == service.core.settings.clock_skew_tolerance


# ---- allow_expired: a service finishing a long operation ----------------------------

def _subject_refused(error) -> str:
    """The reason of a refusal of the subject token (not of the caller's own)."""
    assert error.code() == UNAUTHENTICATED, error
    assert error.details().startswith("subject_token: "), error.details()
    return error.details()


def test_a_service_validates_a_just_expired_token_with_allow_expired(service, gateway):
    stub = service.stub
    subject = login(stub, "bob", project_scope("acme")).token
    revoked = login(stub, "bob", project_scope("acme")).token
    stub.RevokeToken(pb.RevokeTokenRequest(subject_token=revoked),
                     metadata=(("x-auth-token", revoked),))
    service.clock.advance(service.core.settings.token_lifetime + 60)
    nova = login(stub, "nova", project_scope("service")).token  # the caller's own is fresh

    assert "expired" in _subject_refused(rpc_error(validate, stub, nova, subject))
    assert validate(stub, nova, subject, allow_expired=True).user.name == "bob"
    for flag, expected in (("", 404), ("?allow_expired=1", 200), ("?allow_expired=true", 200),
                           ("?allow_expired=0", 404)):
        status, _, _ = fetch(f"{gateway}/v3/auth/tokens{flag}", "GET",
                             {"X-Auth-Token": nova, "X-Subject-Token": subject})
        assert status == expected, (flag, status)
    # A revoked token stays revoked, expired or not.
    assert "revoked" in _subject_refused(rpc_error(validate, stub, nova, revoked, allow_expired=True))
    status, _, _ = fetch(f"{gateway}/v3/auth/tokens?allow_expired=1", "GET",
                         {"X-Auth-Token": nova, "X-Subject-Token": revoked})
    assert status == 404

    # Past the window (Keystone's two days by default) no flag helps.
    service.clock.advance(service.core.settings.allow_expired_window)
    nova = login(stub, "nova", project_scope("service")).token
    assert "expired" in _subject_refused(rpc_error(validate, stub, nova, subject, allow_expired=True))


def test_an_expired_token_never_authenticates_its_holder(service, gateway):
    """allow_expired is about validating another's token: an expired token is no
    caller's credential, whatever the query says."""
    stub = service.stub
    token = login(stub, "nova", project_scope("service")).token
    service.clock.advance(service.core.settings.token_lifetime + 1)
    status, _, _ = fetch(f"{gateway}/v3/auth/tokens?allow_expired=1", "GET",
                         {"X-Auth-Token": token, "X-Subject-Token": token})
    assert status == 401
