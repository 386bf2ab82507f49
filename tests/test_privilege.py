"""Privilege holes closed (issue 8, items 1-4), each pinned through the real server over
gRPC and, where the HTTP API has the call, the gateway.

1. A domain admin cannot take over a user whose power reaches past its domain (a system
   grant, grants in another domain, direct or through a group, or a cloud-wide role):
   no password reset, disabling, renaming or deleting it.
2. Who may validate, check or revoke another's token, watch revocations, fetch the
   signing keys and list another token's domain projects is policy: six rules, by
   default the token's subject, a service user or a system reader (admin to revoke);
   admin on one project or domain is none of these. An operator's file overrides them.
3. A domain admin cannot grant (or take away) a cloud-wide role: `service`, or one that
   a loaded rule lets act on other domains, nor hand one out through a group.
4. A system admin creating another user's API key says so (`on_behalf`), and it is
   audited.
"""

import json
import logging
import urllib.error
import urllib.request

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from identity_grpc.store.models import DEFAULT_DOMAIN_ID, SYSTEM_TARGET
from support import DEMO_PASSWORDS, auth_md, login, project_scope, rpc_error, system_admin_token

DORA_PASSWORD = "dora-password-1"      # admin of domain Default, and nothing else
AUDITOR_PASSWORD = "auditor-password-1"
STOLEN = "taken-over-password-1"
TIMEOUT = 10.0
DENIED = grpc.StatusCode.PERMISSION_DENIED


# ---- helpers ----------------------------------------------------------------------------

def password_login(stub, user_id: str, password: str, scope: pb.Scope | None = None):
    request = pb.AuthenticateRequest(password=pb.PasswordMethod(
        user=pb.UserSelector(id=user_id), password=password), no_catalog=True)
    if scope is not None:
        request.scope.CopyFrom(scope)
    return stub.Authenticate(request, timeout=TIMEOUT)


SYSTEM = pb.Scope(system=pb.SystemScope(all=True))


def on_domain(domain_id: str) -> pb.Scope:
    return pb.Scope(domain=pb.DomainSelector(id=domain_id))


def http(base: str, method: str, path: str, token: str, body: dict | None = None,
         headers: dict | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers={
        "X-Auth-Token": token, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def forbidden_by(answer: tuple[int, str], rule: str) -> None:
    status, body = answer
    assert status == 403, answer
    assert json.loads(body)["error"]["message"].endswith(f": {rule}."), body


def denied_by(call, rule: str) -> grpc.RpcError:
    error = rpc_error(call)
    assert error.code() == DENIED, (error.code(), error.details())
    assert repr(rule) in error.details(), error.details()
    return error


class Cloud:
    """The demo cloud plus dora (admin of domain Default only) and users whose power
    reaches past Default in each way there is."""

    def __init__(self, service, gateway: str):
        core = self.core = service.core
        self.stub, self.channel, self.gateway = service.stub, service.channel, gateway
        identity, assignments, resources = core.users_and_groups, core.assignments, core.resources
        self.role = lambda name: assignments.find_role(name).id
        foo = self.foo = resources.find_domain(name="Foo").id
        self.bar = resources.find_project(name="bar", domain=resources.get_domain(foo)).id
        default = resources.get_domain(DEFAULT_DOMAIN_ID)
        self.acme = resources.find_project(name="acme", domain=default).id
        self.service_project = resources.find_project(name="service", domain=default).id
        user = lambda name: identity.find_user(name=name, domain_id=DEFAULT_DOMAIN_ID).id  # noqa: E731
        self.admin, self.alice, self.bob, self.nova = (user(n) for n in ("admin", "alice", "bob", "nova"))

        self.dora = identity.create_user("dora", DEFAULT_DOMAIN_ID, DORA_PASSWORD).id
        assignments.grant(self.role("admin"), target_type="domain", target_id=DEFAULT_DOMAIN_ID,
                          user_id=self.dora)
        # Users of Default whose power reaches past it: the bootstrap admin (a system
        # grant), carol (a role on a project of Foo), gina (through her group, on Foo).
        self.carol = identity.create_user("carol", DEFAULT_DOMAIN_ID, "carol-password-1").id
        assignments.grant(self.role("member"), target_type="project", target_id=self.bar,
                          user_id=self.carol)
        self.gina = identity.create_user("gina", DEFAULT_DOMAIN_ID, "gina-password-1").id
        self.foo_readers = identity.create_group("foo-readers", DEFAULT_DOMAIN_ID).id
        identity.add_user_to_group(self.gina, self.foo_readers)
        assignments.grant(self.role("reader"), target_type="domain", target_id=foo,
                          group_id=self.foo_readers)
        self.outreaching = {"admin (system grant)": self.admin, "carol (grant on Foo)": self.carol,
                            "gina (Foo through a group)": self.gina, "nova (service role)": self.nova}

    def token(self, user_id: str, password: str, scope: pb.Scope | None = None) -> str:
        return password_login(self.stub, user_id, password, scope).token

    @property
    def dora_token(self) -> str:
        return self.token(self.dora, DORA_PASSWORD, on_domain(DEFAULT_DOMAIN_ID))

    @property
    def system_token(self) -> str:
        return system_admin_token(self.stub)

    def admin_stubs(self, token: str) -> "AdminAs":
        return AdminAs(self.channel, token)


class AdminAs:
    """`AdminAs(channel, token).Users.UpdateUser(request)`: the admin services, as one caller."""

    def __init__(self, channel, token: str):
        self._channel, self._md = channel, auth_md(token)

    def __getattr__(self, service: str):
        if not service[:1].isupper():
            raise AttributeError(service)
        stub, md = getattr(agrpc, f"{service}Stub")(self._channel), self._md

        class Bound:
            def __getattr__(self, method: str):
                return lambda request: getattr(stub, method)(request, metadata=md, timeout=TIMEOUT)
        return Bound()


@pytest.fixture
def cloud(service, gateway) -> Cloud:
    return Cloud(service, gateway)


# ---- 1. a domain admin cannot take over users whose power reaches past its domain -------

def test_a_domain_admin_cannot_reset_disable_rename_or_delete_a_user_reaching_past_its_domain(cloud):
    dora = cloud.admin_stubs(cloud.dora_token)
    for who, user_id in cloud.outreaching.items():
        for change in ({"password": STOLEN}, {"enabled": False}, {"name": "renamed"}):
            denied_by(lambda: dora.Users.UpdateUser(apb.UpdateUserRequest(id=user_id, **change)),
                      "identity:update_user")
        denied_by(lambda: dora.Users.DeleteUser(apb.DeleteRequest(id=user_id)),
                  "identity:delete_user")
        # So she cannot log in as them: the password she chose was never set.
        error = rpc_error(password_login, cloud.stub, user_id, STOLEN)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, who
        assert cloud.core.users_and_groups.get_user(user_id).enabled, who
    # The bootstrap admin still logs in, with system scope, with its own password.
    assert password_login(cloud.stub, cloud.admin, DEMO_PASSWORDS["admin"], SYSTEM).token


def test_over_http_too_a_domain_admin_cannot_take_over_a_user_reaching_past_its_domain(cloud):
    token = cloud.dora_token
    for who, user_id in cloud.outreaching.items():
        for change in ({"password": STOLEN}, {"enabled": False}, {"name": "renamed"}):
            forbidden_by(http(cloud.gateway, "PATCH", f"/v3/users/{user_id}", token,
                              {"user": change}), "identity:update_user")
        forbidden_by(http(cloud.gateway, "DELETE", f"/v3/users/{user_id}", token),
                     "identity:delete_user")
    status, body = http(cloud.gateway, "POST", "/v3/auth/tokens", "", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "id": cloud.admin, "password": STOLEN}}}, "scope": {"system": {"all": True}}}})
    assert status == 401, (status, body)


def test_a_domain_admin_still_manages_the_users_whose_power_stays_in_its_domain(cloud):
    """alice (admin of a Default project, a role on another) and bob (a member through
    his group) hold power in Default only."""
    dora = cloud.admin_stubs(cloud.dora_token)
    dora.Users.UpdateUser(apb.UpdateUserRequest(id=cloud.alice, password="alice-reset-pass-1"))
    assert password_login(cloud.stub, cloud.alice, "alice-reset-pass-1").token
    assert http(cloud.gateway, "PATCH", f"/v3/users/{cloud.bob}", cloud.dora_token,
                {"user": {"enabled": False}})[0] == 200
    dora.Users.DeleteUser(apb.DeleteRequest(id=cloud.bob))
    # And the system admin manages everyone.
    system = cloud.admin_stubs(cloud.system_token)
    system.Users.UpdateUser(apb.UpdateUserRequest(id=cloud.carol, password="carol-reset-pass-1"))
    system.Users.UpdateUser(apb.UpdateUserRequest(id=cloud.gina, enabled=False))


def test_a_user_whose_power_leaves_the_domain_leaves_its_domain_admin_too(cloud):
    """Reach is computed at each call: a grant elsewhere, made after, counts at once."""
    dora = cloud.admin_stubs(cloud.dora_token)
    dora.Users.UpdateUser(apb.UpdateUserRequest(id=cloud.alice, description="still mine"))
    cloud.core.assignments.grant(cloud.role("reader"), target_type="system",
                                 target_id=SYSTEM_TARGET, user_id=cloud.alice)
    denied_by(lambda: dora.Users.UpdateUser(apb.UpdateUserRequest(id=cloud.alice, password=STOLEN)),
              "identity:update_user")


# ---- 2. token operations are policy rules --------------------------------------------------

def _project_admin(cloud) -> str:
    """alice, admin on project cyberdyne: admin of one project, no more."""
    return login(cloud.stub, "alice", project_scope("cyberdyne")).token


def _bob(cloud) -> str:
    return login(cloud.stub, "bob", project_scope("acme")).token


def _nova(cloud) -> str:
    return login(cloud.stub, "nova", project_scope("service")).token


def _validate(cloud, caller: str, subject: str):
    return cloud.stub.ValidateToken(pb.ValidateTokenRequest(subject_token=subject),
                                    metadata=auth_md(caller), timeout=TIMEOUT)


def _revoke(cloud, caller: str, subject: str):
    return cloud.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=subject),
                                  metadata=auth_md(caller), timeout=TIMEOUT)


def _watch_first(cloud, caller: str):
    stream = cloud.stub.WatchRevocations(pb.WatchRevocationsRequest(), metadata=auth_md(caller),
                                         timeout=TIMEOUT)
    try:
        return next(stream)
    finally:
        stream.cancel()


def _token_http(cloud, method: str, caller: str, subject: str) -> tuple[int, str]:
    return http(cloud.gateway, method, "/v3/auth/tokens", caller, headers={"X-Subject-Token": subject})


def test_admin_of_one_project_or_domain_is_no_token_admin_of_the_cloud(cloud):
    bob = _bob(cloud)
    foo_admin = cloud.core.users_and_groups.create_user("fooadmin", cloud.foo, "fooadmin-password-1").id
    cloud.core.assignments.grant(cloud.role("admin"), target_type="domain", target_id=cloud.foo,
                                 user_id=foo_admin)
    foo_token = cloud.token(foo_admin, "fooadmin-password-1", on_domain(cloud.foo))
    for caller in (_project_admin(cloud), cloud.dora_token):
        denied_by(lambda: _validate(cloud, caller, bob), "identity:validate_token")
        denied_by(lambda: _revoke(cloud, caller, bob), "identity:revoke_token")
        denied_by(lambda: _watch_first(cloud, caller), "identity:watch_revocations")
        denied_by(lambda: cloud.stub.GetSigningKeys(pb.GetSigningKeysRequest(),
                                                    metadata=auth_md(caller)), "identity:get_signing_keys")
        denied_by(lambda: cloud.stub.ListDomainProjects(
            pb.ListDomainProjectsRequest(subject_token=foo_token), metadata=auth_md(caller)),
            "identity:list_domain_projects")
        # Over HTTP: 403 naming the rule (HEAD has no body, so its status only).
        forbidden_by(_token_http(cloud, "GET", caller, bob), "identity:validate_token")
        forbidden_by(_token_http(cloud, "DELETE", caller, bob), "identity:revoke_token")
        assert _token_http(cloud, "HEAD", caller, bob)[0] == 403
    assert _validate(cloud, _nova(cloud), bob).token_info.user.name == "bob"  # bob's token lives


def test_the_subject_a_service_and_system_readers_may_and_only_admins_of_the_system_revoke(cloud):
    core = cloud.core
    auditor = core.users_and_groups.create_user("auditor", DEFAULT_DOMAIN_ID, AUDITOR_PASSWORD).id
    core.assignments.grant(cloud.role("reader"), target_type="system", target_id=SYSTEM_TARGET,
                           user_id=auditor)
    reader = cloud.token(auditor, AUDITOR_PASSWORD, SYSTEM)
    nova, bob = _nova(cloud), _bob(cloud)
    for caller in (bob, nova, reader, cloud.system_token):
        assert _validate(cloud, caller, bob).token_info.user.id == cloud.bob
        assert _token_http(cloud, "GET", caller, bob)[0] == 200
        assert _token_http(cloud, "HEAD", caller, bob)[0] == 200
    for caller in (nova, reader):
        assert _watch_first(cloud, caller).snapshot
        assert cloud.stub.GetSigningKeys(pb.GetSigningKeysRequest(), metadata=auth_md(caller)).keys
    # A system reader reads; revoking is a system admin's (or the subject's, a service's).
    denied_by(lambda: _revoke(cloud, reader, bob), "identity:revoke_token")
    forbidden_by(_token_http(cloud, "DELETE", reader, bob), "identity:revoke_token")
    _revoke(cloud, nova, bob)
    assert _token_http(cloud, "DELETE", cloud.system_token, _bob(cloud))[0] == 204
    own = _bob(cloud)
    _revoke(cloud, own, own)


def test_losing_the_service_role_ends_token_admin_at_once_despite_the_memo(cloud):
    """Decisions are memoised per caller identity, which changes with its roles."""
    core = cloud.core
    svc = core.users_and_groups.create_user("glance", DEFAULT_DOMAIN_ID, "glance-password-1").id
    for role in ("service", "member"):
        core.assignments.grant(cloud.role(role), target_type="project",
                               target_id=cloud.service_project, user_id=svc)
    caller = cloud.token(svc, "glance-password-1", pb.Scope(project=pb.ProjectSelector(
        id=cloud.service_project)))
    bob = _bob(cloud)
    for _ in range(3):
        _validate(cloud, caller, bob)
    core.assignments.revoke(cloud.role("service"), target_type="project",
                            target_id=cloud.service_project, user_id=svc)
    denied_by(lambda: _validate(cloud, caller, bob), "identity:validate_token")
    forbidden_by(_token_http(cloud, "GET", caller, bob), "identity:validate_token")
    _validate(cloud, caller, caller)  # its own token: still the subject's right


def test_an_operator_file_decides_who_checks_tokens(deployment, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text('"identity:validate_token": "role:auditor or rule:token_subject"\n'
                      '"identity:check_token": "!"\n'
                      '"identity:watch_revocations": "role:auditor"\n')
    running = start_service(deployment.replace(policy_file=str(policy)))
    from identity_grpc.gateway.server import HttpServer
    web = HttpServer(running.core, "127.0.0.1:0").start()
    try:
        cloud = Cloud(running, f"http://127.0.0.1:{web.port}")
        core = cloud.core
        core.assignments.create_role("auditor")
        watcher = core.users_and_groups.create_user("watcher", DEFAULT_DOMAIN_ID, AUDITOR_PASSWORD).id
        core.assignments.grant(cloud.role("auditor"), target_type="project", target_id=cloud.acme,
                               user_id=watcher)
        auditor = cloud.token(watcher, AUDITOR_PASSWORD, pb.Scope(project=pb.ProjectSelector(id=cloud.acme)))
        nova, bob = _nova(cloud), _bob(cloud)
        denied_by(lambda: _validate(cloud, nova, bob), "identity:validate_token")
        forbidden_by(_token_http(cloud, "GET", nova, bob), "identity:validate_token")
        assert _validate(cloud, auditor, bob).token_info.user.id == cloud.bob
        assert _token_http(cloud, "GET", auditor, bob)[0] == 200
        assert _token_http(cloud, "HEAD", auditor, bob)[0] == 403  # check_token: no one
        denied_by(lambda: _watch_first(cloud, nova), "identity:watch_revocations")
        assert _watch_first(cloud, auditor).snapshot
        # The rules not overridden keep their defaults.
        assert cloud.stub.GetSigningKeys(pb.GetSigningKeysRequest(), metadata=auth_md(nova)).keys
        # And `auditor` is now cloud-wide: Default's admin may not grant it (item 3).
        dora = cloud.admin_stubs(cloud.dora_token)
        denied_by(lambda: dora.Assignments.GrantRole(_grant(cloud.role("auditor"), cloud.alice,
                                                            cloud.acme)), "identity:grant_role")
    finally:
        web.stop()
        running.stop()


# ---- 3. a domain admin cannot mint cloud-wide powers ----------------------------------------

def _grant(role_id: str, user_id: str = "", project_id: str = "", group_id: str = ""):
    actor = apb.Actor(user_id=user_id) if user_id else apb.Actor(group_id=group_id)
    return apb.GrantRequest(role_id=role_id, actor=actor, target=apb.Target(project_id=project_id))


def test_a_domain_admin_cannot_grant_the_service_role(cloud):
    dora = cloud.admin_stubs(cloud.dora_token)
    service = cloud.role("service")
    denied_by(lambda: dora.Assignments.GrantRole(_grant(service, cloud.alice, cloud.acme)),
              "identity:grant_role")
    forbidden_by(http(cloud.gateway, "PUT",
                      f"/v3/projects/{cloud.acme}/users/{cloud.alice}/roles/{service}",
                      cloud.dora_token), "identity:grant_role")
    assert not cloud.core.assignments.has_grant(service, target_type="project",
                                                target_id=cloud.acme, user_id=cloud.alice)
    # So alice never becomes a token admin of the cloud.
    alice = login(cloud.stub, "alice", project_scope("acme")).token
    denied_by(lambda: _validate(cloud, alice, _bob(cloud)), "identity:validate_token")
    # Nor may dora take it from a service: that, too, decides for the whole cloud.
    denied_by(lambda: dora.Assignments.RevokeRole(_grant(service, cloud.nova, cloud.service_project)),
              "identity:revoke_role")
    forbidden_by(http(cloud.gateway, "DELETE",
                      f"/v3/projects/{cloud.service_project}/users/{cloud.nova}/roles/{service}",
                      cloud.dora_token), "identity:revoke_role")
    # Roles whose power stays where granted, she grants; the system admin grants service.
    dora.Assignments.GrantRole(_grant(cloud.role("member"), cloud.alice, cloud.acme))
    assert http(cloud.gateway, "PUT",
                f"/v3/projects/{cloud.acme}/users/{cloud.alice}/roles/{cloud.role('reader')}",
                cloud.dora_token)[0] == 204
    cloud.admin_stubs(cloud.system_token).Assignments.GrantRole(_grant(service, cloud.alice, cloud.acme))


def test_a_domain_admin_cannot_hand_out_outside_power_through_a_group(cloud):
    core, dora = cloud.core, cloud.admin_stubs(cloud.dora_token)
    services = core.users_and_groups.create_group("services", DEFAULT_DOMAIN_ID).id
    core.assignments.grant(cloud.role("service"), target_type="project",
                           target_id=cloud.service_project, group_id=services)
    for group in (services, cloud.foo_readers):  # a cloud-wide role; a grant on Foo
        denied_by(lambda: dora.Groups.AddUserToGroup(
            apb.GroupMembershipRequest(group_id=group, user_id=cloud.alice)), "identity:add_user_to_group")
        forbidden_by(http(cloud.gateway, "PUT", f"/v3/groups/{group}/users/{cloud.alice}",
                          cloud.dora_token), "identity:add_user_to_group")
        assert not core.users_and_groups.is_member(cloud.alice, group)
    devs = core.users_and_groups.find_group("devs", DEFAULT_DOMAIN_ID).id  # member on acme
    dora.Groups.AddUserToGroup(apb.GroupMembershipRequest(group_id=devs, user_id=cloud.alice))


def test_a_role_a_rule_makes_cloud_wide_is_a_system_admins_to_grant(deployment, tmp_path):
    """`auditor` held on a project lists the users of every domain under this file."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"identity:list_users": "rule:reader or role:auditor"}))
    running = start_service(deployment.replace(policy_file=str(policy)))
    try:
        cloud = Cloud(running, "")
        cloud.core.assignments.create_role("auditor")
        cloud.core.assignments.create_role("helper")
        dora = cloud.admin_stubs(cloud.dora_token)
        denied_by(lambda: dora.Assignments.GrantRole(_grant(cloud.role("auditor"), cloud.alice,
                                                            cloud.acme)), "identity:grant_role")
        dora.Assignments.GrantRole(_grant(cloud.role("helper"), cloud.alice, cloud.acme))
        cloud.admin_stubs(cloud.system_token).Assignments.GrantRole(
            _grant(cloud.role("auditor"), cloud.alice, cloud.acme))
    finally:
        running.stop()


# ---- 4. another user's API key is an explicit, audited act -------------------------------------

def test_a_key_for_another_user_needs_on_behalf_and_is_audited(cloud, caplog):
    system = cloud.admin_stubs(cloud.system_token)
    request = apb.CreateApiKeyRequest(name="ci", user_id=cloud.alice, project_id=cloud.acme)
    error = rpc_error(lambda: system.ApiKeys.CreateApiKey(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "on_behalf" in error.details()
    assert system.ApiKeys.ListApiKeys(apb.ListApiKeysRequest(user_id=cloud.alice)).api_keys == []

    request.on_behalf = True
    with caplog.at_level(logging.INFO, logger="identity_grpc.audit"):
        made = system.ApiKeys.CreateApiKey(request)
        assert cloud.core.audit.flush()
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "identity_grpc.audit"]
    created = [e for e in events if e["action"] == "created.application_credential"
               and e["outcome"] == "success"]
    assert len(created) == 1, events
    assert created[0]["initiator"]["id"] == cloud.admin
    assert created[0]["initiator"]["scope"] == "system"
    assert created[0]["initiator"]["credential"]["audit_id"]
    assert {k: created[0]["target"].get(k) for k in ("id", "user_id", "project_id", "on_behalf")} \
        == {"id": made.api_key.id, "user_id": cloud.alice, "project_id": cloud.acme,
            "on_behalf": True}
    assert made.secret not in caplog.text
    assert made.secret.partition(".")[2] not in caplog.text

    # Only system admins, even when asked explicitly; on_behalf of oneself makes no sense.
    dora = cloud.admin_stubs(cloud.dora_token)
    denied_by(lambda: dora.ApiKeys.CreateApiKey(request), "identity:create_api_key")
    own = cloud.admin_stubs(login(cloud.stub, "alice", project_scope("acme")).token)
    error = rpc_error(lambda: own.ApiKeys.CreateApiKey(apb.CreateApiKeyRequest(
        project_id=cloud.acme, on_behalf=True)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "on_behalf" in error.details()
    assert own.ApiKeys.CreateApiKey(apb.CreateApiKeyRequest(project_id=cloud.acme)).api_key.user_id \
        == cloud.alice
