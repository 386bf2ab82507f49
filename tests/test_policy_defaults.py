"""The default authorization rules, through the real server.

Every `identity:*` rule of the `scoped` profile has a case: one call with a token the rule
lets through and one with a token it refuses (PERMISSION_DENIED naming the rule; for
`identity:check_token`, which only the gateway's HEAD asks, 403).
Then the behaviours the defaults promise, pinned one by one: a domain admin manages
its own domain only, project readers read their project, everyone reads their own user
and changes their own password, a project admin is no system or domain admin. Last,
an operator's policy file: overrides in JSON, YAML and the legacy list form, and a
broken file refused at start naming the file and the line.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.policy import PolicyFileError
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as igrpc

from conftest import start_service
from identity_grpc.core import Core
from identity_grpc.policy_rules import scoped
from identity_grpc.store.models import DEFAULT_DOMAIN_ID
from support import DEMO_PASSWORDS, project_scope, rpc_error
from test_gateway_discovery import fetch

TIMEOUT = 10.0
FOOADMIN_PASSWORD = "fooadmin-password-1"
RITA_PASSWORD = "rita-password-1"


# ---- calling the admin services as someone ------------------------------------------

class _Bound:
    """One stub whose methods carry a token and a timeout."""

    def __init__(self, stub, token: str):
        self._stub, self._md = stub, (("x-auth-token", token),)

    def __getattr__(self, method: str):
        rpc = getattr(self._stub, method)
        return lambda request: rpc(request, metadata=self._md, timeout=TIMEOUT)


class HttpRefused(Exception):
    """An HTTP call the gateway refused: its status and body."""

    def __init__(self, status: int, body: str):
        super().__init__(f"{status} {body}")
        self.status, self.body = status, body


def http_token_call(base: str, method: str, caller_token: str, subject_token: str) -> int:
    """`method` on /v3/auth/tokens; the status when it succeeds, else HttpRefused."""
    status, _, body = fetch(f"{base}/v3/auth/tokens", method,
                            {"X-Auth-Token": caller_token, "X-Subject-Token": subject_token})
    if status >= 400:
        raise HttpRefused(status, body)
    return status


class As:
    """`As(channel, login).Users.GetUser(request)`: every admin service, as one caller.
    It logs in (`login()` -> AuthenticateResponse) on first use, so a case pays only
    for the callers it uses."""

    def __init__(self, channel: grpc.Channel, login: Callable[[], pb.AuthenticateResponse]):
        self._channel, self._login, self._answer = channel, login, None

    @property
    def answer(self) -> pb.AuthenticateResponse:
        if self._answer is None:
            self._answer = self._login()
        return self._answer

    @property
    def token(self) -> str:
        return self.answer.token

    @property
    def user_id(self) -> str:
        return self.answer.token_info.user.id

    def __getattr__(self, service: str) -> _Bound:
        if not service[:1].isupper():
            raise AttributeError(service)
        module = igrpc if service == "Identity" else agrpc
        return _Bound(getattr(module, f"{service}Stub")(self._channel), self.token)

    def watch(self) -> pb.WatchRevocationsResponse:
        """The first message of a revocation stream, then the stream is left."""
        stream = igrpc.IdentityStub(self._channel).WatchRevocations(
            pb.WatchRevocationsRequest(), metadata=(("x-auth-token", self.token),), timeout=TIMEOUT)
        try:
            return next(stream)
        finally:
            stream.cancel()


def authenticate(stub, name: str, password: str, domain_id: str = DEFAULT_DOMAIN_ID,
                 scope: pb.Scope | None = None) -> pb.AuthenticateResponse:
    request = pb.AuthenticateRequest(password=pb.PasswordMethod(
        user=pb.UserSelector(name=name, domain=pb.DomainSelector(id=domain_id)),
        password=password), no_catalog=True)
    if scope is not None:
        request.scope.CopyFrom(scope)
    return stub.Authenticate(request, timeout=TIMEOUT)


def on_project(project_id: str) -> pb.Scope:
    return pb.Scope(project=pb.ProjectSelector(id=project_id))


def on_domain(domain_id: str) -> pb.Scope:
    return pb.Scope(domain=pb.DomainSelector(id=domain_id))


SYSTEM = pb.Scope(system=pb.SystemScope(all=True))


def denied(call: Callable, rule: str) -> None:
    """`call` must be refused by `rule`, and say so."""
    error = rpc_error(call)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, (error.code(), error.details())
    assert repr(rule) in error.details(), error.details()


def get(entity_id: str) -> apb.GetRequest:
    return apb.GetRequest(id=entity_id)


def delete(entity_id: str) -> apb.DeleteRequest:
    return apb.DeleteRequest(id=entity_id)


def grant(role_id: str, *, user_id: str = "", group_id: str = "", project_id: str = "",
          domain_id: str = "", system: bool = False) -> apb.GrantRequest:
    actor = apb.Actor(user_id=user_id) if user_id else apb.Actor(group_id=group_id)
    if project_id:
        target = apb.Target(project_id=project_id)
    elif domain_id:
        target = apb.Target(domain_id=domain_id)
    else:
        target = apb.Target(system=system)
    return apb.GrantRequest(role_id=role_id, actor=actor, target=target)


def membership(group_id: str, user_id: str) -> apb.GroupMembershipRequest:
    return apb.GroupMembershipRequest(group_id=group_id, user_id=user_id)


# ---- the demo cloud plus the callers of the table -------------------------------------

@dataclass
class World:
    core: Core
    # callers
    sys: As             # admin, system scope
    foo_admin: As       # fooadmin (domain Foo), admin on domain Foo, domain scope Foo
    default_admin: As   # admin, domain scope Default
    reader: As          # rita, reader on acme, project scope acme
    member: As          # bob, member on acme through group devs, project scope acme
    alice: As           # alice, unscoped
    project_admin: As   # alice, admin on cyberdyne, project scope cyberdyne
    nova: As            # nova, service on project service: a consuming service
    gateway: str        # the HTTP gateway's base URL
    # ids
    foo: str
    acme: str
    cyberdyne: str
    bar: str
    baz: str
    devs: str
    foo_group: str      # a group of domain Foo
    foo_user: str       # a user of domain Foo, no roles
    admin_id: str
    alice_id: str
    bob_id: str
    fooadmin_id: str
    rita_id: str

    def role(self, name: str) -> str:
        return self.core.assignments.find_role(name).id


@pytest.fixture
def world(service, gateway) -> World:
    core, stub = service.core, service.stub
    resources, identity, assignments = core.resources, core.users_and_groups, core.assignments
    default, foo_domain = resources.get_domain(DEFAULT_DOMAIN_ID), resources.find_domain(name="Foo")
    foo = foo_domain.id
    project = {name: resources.find_project(name=name, domain=default).id
               for name in ("acme", "cyberdyne")}
    project |= {name: resources.find_project(name=name, domain=foo_domain).id
                for name in ("bar", "baz")}
    users = {name: identity.find_user(name=name, domain_id=DEFAULT_DOMAIN_ID).id
             for name in ("admin", "alice", "bob")}

    fooadmin = identity.create_user("fooadmin", foo, FOOADMIN_PASSWORD).id
    assignments.grant(assignments.find_role("admin").id, target_type="domain", target_id=foo,
                      user_id=fooadmin)
    rita = identity.create_user("rita", DEFAULT_DOMAIN_ID, RITA_PASSWORD).id
    assignments.grant(assignments.find_role("reader").id, target_type="project",
                      target_id=project["acme"], user_id=rita)
    foo_user = identity.create_user("foouser", foo).id  # no password: never logs in
    foo_group = identity.create_group("foo-ops", foo).id

    def caller(name, password, scope=None, domain_id=DEFAULT_DOMAIN_ID) -> As:
        return As(service.channel, lambda: authenticate(stub, name, password, domain_id, scope))

    return World(
        core=core,
        sys=caller("admin", DEMO_PASSWORDS["admin"], SYSTEM),
        foo_admin=caller("fooadmin", FOOADMIN_PASSWORD, on_domain(foo), domain_id=foo),
        default_admin=caller("admin", DEMO_PASSWORDS["admin"], on_domain(DEFAULT_DOMAIN_ID)),
        reader=caller("rita", RITA_PASSWORD, on_project(project["acme"])),
        member=caller("bob", DEMO_PASSWORDS["bob"], on_project(project["acme"])),
        alice=caller("alice", DEMO_PASSWORDS["alice"]),
        project_admin=caller("alice", DEMO_PASSWORDS["alice"], on_project(project["cyberdyne"])),
        nova=caller("nova", DEMO_PASSWORDS["nova"], project_scope("service")), gateway=gateway,
        foo=foo, acme=project["acme"], cyberdyne=project["cyberdyne"], bar=project["bar"],
        baz=project["baz"], devs=identity.find_group("devs", DEFAULT_DOMAIN_ID).id,
        foo_group=foo_group, foo_user=foo_user, admin_id=users["admin"],
        alice_id=users["alice"], bob_id=users["bob"], fooadmin_id=fooadmin, rita_id=rita)


# ---- one passing and one refused call per default rule ---------------------------------

# rule -> how to call it: f(world) -> (a call the rule lets through, a call it refuses).
# Setup the calls need happens in f, through the core.
CASES: dict[str, Callable[[World], tuple[Callable, Callable]]] = {}


def case(rule: str):
    def register(fn):
        assert rule not in CASES, f"two cases for {rule}"
        CASES[rule] = fn
        return fn
    return register


# Domains: read by anyone scoped inside them, managed by system admins only.

@case("identity:get_domain")
def _(w):
    return (lambda: w.foo_admin.Domains.GetDomain(get(w.foo)),
            lambda: w.foo_admin.Domains.GetDomain(get(DEFAULT_DOMAIN_ID)))


@case("identity:list_domains")
def _(w):
    return (lambda: w.sys.Domains.ListDomains(apb.ListDomainsRequest()),
            lambda: w.default_admin.Domains.ListDomains(apb.ListDomainsRequest()))


@case("identity:create_domain")
def _(w):
    return (lambda: w.sys.Domains.CreateDomain(apb.CreateDomainRequest(name="Made")),
            lambda: w.default_admin.Domains.CreateDomain(apb.CreateDomainRequest(name="Made")))


@case("identity:update_domain")
def _(w):
    change = apb.UpdateDomainRequest(id=w.foo, description="changed")
    return (lambda: w.sys.Domains.UpdateDomain(change),
            lambda: w.foo_admin.Domains.UpdateDomain(change))  # not even its own domain


@case("identity:delete_domain")
def _(w):
    doomed = w.core.resources.create_domain("Doomed", enabled=False).id
    return (lambda: w.sys.Domains.DeleteDomain(delete(doomed)),
            lambda: w.default_admin.Domains.DeleteDomain(delete(doomed)))


# Projects: readers of the domain, and anyone scoped to the project, read it.

@case("identity:get_project")
def _(w):
    return (lambda: w.reader.Projects.GetProject(get(w.acme)),
            lambda: w.reader.Projects.GetProject(get(w.cyberdyne)))


@case("identity:list_projects")
def _(w):
    return (lambda: w.foo_admin.Projects.ListProjects(apb.ListProjectsRequest()),
            lambda: w.foo_admin.Projects.ListProjects(
                apb.ListProjectsRequest(domain_id=DEFAULT_DOMAIN_ID)))


@case("identity:list_project_parents")
def _(w):
    return (lambda: w.reader.Projects.ListProjectParents(get(w.acme)),
            lambda: w.reader.Projects.ListProjectParents(get(w.cyberdyne)))


@case("identity:list_project_subtree")
def _(w):
    return (lambda: w.reader.Projects.ListProjectSubtree(get(w.acme)),
            lambda: w.reader.Projects.ListProjectSubtree(get(w.cyberdyne)))


@case("identity:create_project")
def _(w):
    return (lambda: w.foo_admin.Projects.CreateProject(apb.CreateProjectRequest(name="qux")),
            lambda: w.foo_admin.Projects.CreateProject(
                apb.CreateProjectRequest(name="qux", domain_id=DEFAULT_DOMAIN_ID)))


@case("identity:update_project")
def _(w):
    return (lambda: w.foo_admin.Projects.UpdateProject(
                apb.UpdateProjectRequest(id=w.bar, description="changed")),
            lambda: w.foo_admin.Projects.UpdateProject(
                apb.UpdateProjectRequest(id=w.acme, description="changed")))


@case("identity:delete_project")
def _(w):
    return (lambda: w.foo_admin.Projects.DeleteProject(delete(w.baz)),
            lambda: w.foo_admin.Projects.DeleteProject(delete(w.acme)))


# Users.

@case("identity:get_user")
def _(w):
    return (lambda: w.alice.Users.GetUser(get(w.alice_id)),
            lambda: w.alice.Users.GetUser(get(w.bob_id)))


@case("identity:list_users")
def _(w):
    return (lambda: w.foo_admin.Users.ListUsers(apb.ListUsersRequest()),
            lambda: w.foo_admin.Users.ListUsers(apb.ListUsersRequest(domain_id=DEFAULT_DOMAIN_ID)))


@case("identity:create_user")
def _(w):
    return (lambda: w.foo_admin.Users.CreateUser(apb.CreateUserRequest(name="newbie")),
            lambda: w.foo_admin.Users.CreateUser(
                apb.CreateUserRequest(name="newbie", domain_id=DEFAULT_DOMAIN_ID)))


@case("identity:update_user")
def _(w):
    return (lambda: w.foo_admin.Users.UpdateUser(
                apb.UpdateUserRequest(id=w.foo_user, description="changed")),
            lambda: w.foo_admin.Users.UpdateUser(
                apb.UpdateUserRequest(id=w.bob_id, description="changed")))


@case("identity:delete_user")
def _(w):
    return (lambda: w.foo_admin.Users.DeleteUser(delete(w.foo_user)),
            lambda: w.foo_admin.Users.DeleteUser(delete(w.bob_id)))


@case("identity:change_password")
def _(w):
    return (lambda: w.alice.Users.ChangePassword(apb.ChangePasswordRequest(
                user_id=w.alice_id, original_password=DEMO_PASSWORDS["alice"],
                password="alice-new-password-1")),
            lambda: w.alice.Users.ChangePassword(apb.ChangePasswordRequest(
                user_id=w.bob_id, original_password=DEMO_PASSWORDS["bob"],
                password="bob-new-password-1")))


@case("identity:list_user_groups")
def _(w):
    return (lambda: w.member.Users.ListUserGroups(get(w.bob_id)),
            lambda: w.member.Users.ListUserGroups(get(w.alice_id)))


@case("identity:list_user_projects")
def _(w):
    return (lambda: w.member.Users.ListUserProjects(apb.ListUserProjectsRequest(id=w.bob_id)),
            lambda: w.member.Users.ListUserProjects(apb.ListUserProjectsRequest(id=w.alice_id)))


# Groups.

@case("identity:get_group")
def _(w):
    return (lambda: w.default_admin.Groups.GetGroup(get(w.devs)),
            lambda: w.foo_admin.Groups.GetGroup(get(w.devs)))


@case("identity:list_groups")
def _(w):
    return (lambda: w.foo_admin.Groups.ListGroups(apb.ListGroupsRequest()),
            lambda: w.foo_admin.Groups.ListGroups(apb.ListGroupsRequest(domain_id=DEFAULT_DOMAIN_ID)))


@case("identity:list_group_users")
def _(w):
    return (lambda: w.default_admin.Groups.ListGroupUsers(get(w.devs)),
            lambda: w.foo_admin.Groups.ListGroupUsers(get(w.devs)))


@case("identity:check_user_in_group")
def _(w):
    return (lambda: w.default_admin.Groups.CheckUserInGroup(membership(w.devs, w.bob_id)),
            lambda: w.foo_admin.Groups.CheckUserInGroup(membership(w.devs, w.bob_id)))


@case("identity:create_group")
def _(w):
    return (lambda: w.foo_admin.Groups.CreateGroup(apb.CreateGroupRequest(name="new-ops")),
            lambda: w.foo_admin.Groups.CreateGroup(
                apb.CreateGroupRequest(name="new-ops", domain_id=DEFAULT_DOMAIN_ID)))


@case("identity:update_group")
def _(w):
    return (lambda: w.foo_admin.Groups.UpdateGroup(
                apb.UpdateGroupRequest(id=w.foo_group, description="changed")),
            lambda: w.foo_admin.Groups.UpdateGroup(
                apb.UpdateGroupRequest(id=w.devs, description="changed")))


@case("identity:delete_group")
def _(w):
    return (lambda: w.foo_admin.Groups.DeleteGroup(delete(w.foo_group)),
            lambda: w.foo_admin.Groups.DeleteGroup(delete(w.devs)))


@case("identity:add_user_to_group")
def _(w):
    return (lambda: w.foo_admin.Groups.AddUserToGroup(membership(w.foo_group, w.foo_user)),
            lambda: w.foo_admin.Groups.AddUserToGroup(membership(w.devs, w.foo_user)))


@case("identity:remove_user_from_group")
def _(w):
    w.core.users_and_groups.add_user_to_group(w.foo_user, w.foo_group)
    return (lambda: w.foo_admin.Groups.RemoveUserFromGroup(membership(w.foo_group, w.foo_user)),
            lambda: w.foo_admin.Groups.RemoveUserFromGroup(membership(w.devs, w.bob_id)))


# Roles: read by system readers and domain-scoped readers (to grant them), managed by
# system admins.

@case("identity:get_role")
def _(w):
    return (lambda: w.foo_admin.Roles.GetRole(get(w.role("member"))),
            lambda: w.reader.Roles.GetRole(get(w.role("member"))))


@case("identity:list_roles")
def _(w):
    return (lambda: w.foo_admin.Roles.ListRoles(apb.ListRolesRequest()),
            lambda: w.reader.Roles.ListRoles(apb.ListRolesRequest()))


@case("identity:list_implied_roles")
def _(w):
    return (lambda: w.foo_admin.Roles.ListImpliedRoles(apb.ListImpliedRolesRequest()),
            lambda: w.reader.Roles.ListImpliedRoles(apb.ListImpliedRolesRequest()))


@case("identity:create_role")
def _(w):
    return (lambda: w.sys.Roles.CreateRole(apb.CreateRoleRequest(name="auditor")),
            lambda: w.default_admin.Roles.CreateRole(apb.CreateRoleRequest(name="auditor")))


@case("identity:update_role")
def _(w):
    scratch = w.core.assignments.create_role("scratch").id
    change = apb.UpdateRoleRequest(id=scratch, description="changed")
    return (lambda: w.sys.Roles.UpdateRole(change),
            lambda: w.default_admin.Roles.UpdateRole(change))


@case("identity:delete_role")
def _(w):
    scratch = w.core.assignments.create_role("scratch").id
    return (lambda: w.sys.Roles.DeleteRole(delete(scratch)),
            lambda: w.default_admin.Roles.DeleteRole(delete(scratch)))


@case("identity:create_implied_role")
def _(w):
    pair = apb.ImpliedRole(prior_role_id=w.core.assignments.create_role("scratch").id,
                           implied_role_id=w.role("reader"))
    return (lambda: w.sys.Roles.CreateImpliedRole(pair),
            lambda: w.default_admin.Roles.CreateImpliedRole(pair))


@case("identity:delete_implied_role")
def _(w):
    scratch = w.core.assignments.create_role("scratch").id
    w.core.assignments.add_implied_role(scratch, w.role("reader"))
    pair = apb.ImpliedRole(prior_role_id=scratch, implied_role_id=w.role("reader"))
    return (lambda: w.sys.Roles.DeleteImpliedRole(pair),
            lambda: w.default_admin.Roles.DeleteImpliedRole(pair))


# Assignments: a domain admin grants on its domain's projects and domain, to its
# domain's users and groups.

@case("identity:grant_role")
def _(w):
    return (lambda: w.foo_admin.Assignments.GrantRole(
                grant(w.role("member"), user_id=w.foo_user, project_id=w.bar)),
            lambda: w.foo_admin.Assignments.GrantRole(
                grant(w.role("member"), user_id=w.foo_user, project_id=w.acme)))


@case("identity:revoke_role")
def _(w):
    w.core.assignments.grant(w.role("member"), target_type="project", target_id=w.bar,
                             user_id=w.foo_user)
    return (lambda: w.foo_admin.Assignments.RevokeRole(
                grant(w.role("member"), user_id=w.foo_user, project_id=w.bar)),
            lambda: w.foo_admin.Assignments.RevokeRole(
                grant(w.role("member"), group_id=w.devs, project_id=w.acme)))


@case("identity:check_grant")
def _(w):
    return (lambda: w.foo_admin.Assignments.CheckGrant(
                grant(w.role("admin"), user_id=w.fooadmin_id, domain_id=w.foo)),
            lambda: w.foo_admin.Assignments.CheckGrant(
                grant(w.role("admin"), user_id=w.alice_id, project_id=w.cyberdyne)))


@case("identity:list_role_assignments")
def _(w):
    return (lambda: w.reader.Assignments.ListRoleAssignments(
                apb.ListRoleAssignmentsRequest(project_id=w.acme)),
            lambda: w.reader.Assignments.ListRoleAssignments(
                apb.ListRoleAssignmentsRequest(project_id=w.cyberdyne)))


# The catalog: system readers read it, system admins manage it.

def _region(w) -> str:
    return w.core.catalog.create_region("RegionDoomed").id


def _service(w) -> str:
    return w.core.catalog.create_service("image", "glance").id


def _endpoint(w) -> str:
    return w.core.catalog.create_endpoint(_service(w), "public", "http://127.0.0.1:9292",
                                          "RegionOne").id


def _an_endpoint(w) -> str:
    Endpoint = w.core.store.tables.Endpoint
    return Endpoint.select(Endpoint.id).order_by(Endpoint.id).first().id


def _keystone(w) -> str:
    return w.core.catalog.find_service("identity", "keystone").id


def _system_reads(service: str, method: str, request: Callable) -> Callable:
    return lambda w: (lambda: getattr(getattr(w.sys, service), method)(request(w)),
                      lambda: getattr(getattr(w.default_admin, service), method)(request(w)))


def _system_manages(service: str, method: str, request: Callable) -> Callable:
    def call(w):
        message = request(w)  # once: the setup it does must not run twice
        return (lambda: getattr(getattr(w.sys, service), method)(message),
                lambda: getattr(getattr(w.default_admin, service), method)(message))
    return call


CASES.update({
    "identity:get_region": _system_reads("Regions", "GetRegion", lambda w: get("RegionOne")),
    "identity:list_regions": _system_reads("Regions", "ListRegions",
                                           lambda w: apb.ListRegionsRequest()),
    "identity:create_region": _system_manages("Regions", "CreateRegion",
                                              lambda w: apb.Region(id="RegionTwo")),
    "identity:update_region": _system_manages("Regions", "UpdateRegion", lambda w: (
        apb.UpdateRegionRequest(id="RegionOne", description="changed"))),
    "identity:delete_region": _system_manages("Regions", "DeleteRegion",
                                              lambda w: delete(_region(w))),
    "identity:get_service": _system_reads("Services", "GetService", lambda w: get(_keystone(w))),
    "identity:list_services": _system_reads("Services", "ListServices",
                                            lambda w: apb.ListServicesRequest()),
    "identity:create_service": _system_manages("Services", "CreateService", lambda w: (
        apb.CreateServiceRequest(type="image", name="glance"))),
    "identity:update_service": _system_manages("Services", "UpdateService", lambda w: (
        apb.UpdateServiceRequest(id=_keystone(w), description="changed"))),
    "identity:delete_service": _system_manages("Services", "DeleteService",
                                               lambda w: delete(_service(w))),
    "identity:get_endpoint": _system_reads("Endpoints", "GetEndpoint",
                                           lambda w: get(_an_endpoint(w))),
    "identity:list_endpoints": _system_reads("Endpoints", "ListEndpoints",
                                             lambda w: apb.ListEndpointsRequest()),
    "identity:create_endpoint": _system_manages("Endpoints", "CreateEndpoint", lambda w: (
        apb.CreateEndpointRequest(service_id=_keystone(w), interface="internal",
                                  region_id="RegionOne", url="http://127.0.0.1:5001/v3/"))),
    "identity:update_endpoint": _system_manages("Endpoints", "UpdateEndpoint", lambda w: (
        apb.UpdateEndpointRequest(id=_an_endpoint(w), url="http://127.0.0.1:5002/v3/"))),
    "identity:delete_endpoint": _system_manages("Endpoints", "DeleteEndpoint",
                                                lambda w: delete(_endpoint(w))),
})


# Token operations: the token's own subject, a consuming service (`service`), a
# system reader (a system admin to revoke); admin on one project is none of these.

@case("identity:validate_token")
def _(w):
    subject = w.member.token  # bob's
    return (lambda: w.nova.Identity.ValidateToken(pb.ValidateTokenRequest(subject_token=subject)),
            lambda: w.project_admin.Identity.ValidateToken(
                pb.ValidateTokenRequest(subject_token=subject)))


@case("identity:check_token")
def _(w):
    subject = w.member.token
    return (lambda: http_token_call(w.gateway, "HEAD", w.sys.token, subject),
            lambda: http_token_call(w.gateway, "HEAD", w.project_admin.token, subject))


@case("identity:revoke_token")
def _(w):
    subject = w.member.token
    return (lambda: w.sys.Identity.RevokeToken(pb.RevokeTokenRequest(subject_token=subject)),
            lambda: w.project_admin.Identity.RevokeToken(pb.RevokeTokenRequest(subject_token=subject)))


@case("identity:watch_revocations")
def _(w):
    return (lambda: w.nova.watch(), lambda: w.project_admin.watch())


@case("identity:get_signing_keys")
def _(w):
    return (lambda: w.sys.Identity.GetSigningKeys(pb.GetSigningKeysRequest()),
            lambda: w.project_admin.Identity.GetSigningKeys(pb.GetSigningKeysRequest()))


@case("identity:list_domain_projects")
def _(w):
    subject = w.foo_admin.token
    return (lambda: w.foo_admin.Identity.ListDomainProjects(pb.ListDomainProjectsRequest()),
            lambda: w.project_admin.Identity.ListDomainProjects(
                pb.ListDomainProjectsRequest(subject_token=subject)))


def test_every_default_identity_rule_has_a_case():
    """The base profile's rules; each family's (policy_rules/families/) are tried in
    that family's own tests."""
    rules = {name for name in scoped.RULES if name.startswith("identity:")}
    assert sorted(rules - CASES.keys()) == [], "default rules without a case below"
    assert sorted(CASES.keys() - rules) == [], "cases for rules that are not defaults"


@pytest.mark.parametrize("rule", sorted(CASES))
def test_default_rule_lets_one_caller_through_and_refuses_another(world, rule):
    allowed, refused = CASES[rule](world)
    # Refused first: a refusal changes nothing, and the allowed call may end the
    # caller's session (a password change revokes the user's tokens).
    try:
        refused()
    except HttpRefused as e:
        assert e.status == 403, e  # a HEAD answer has no body to name the rule in
        allowed()
        return
    except grpc.RpcError as e:
        error = e
    else:
        pytest.fail(f"{rule} let through a call it should refuse")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, (error.code(), error.details())
    assert repr(rule) in error.details(), error.details()
    allowed()


# ---- the behaviours the defaults promise ----------------------------------------------

def test_a_domain_admin_creates_users_in_its_domain_only(world):
    made = world.foo_admin.Users.CreateUser(apb.CreateUserRequest(name="newbie"))
    assert made.domain_id == world.foo  # no domain named: the token's
    named = world.foo_admin.Users.CreateUser(apb.CreateUserRequest(name="named", domain_id=world.foo))
    assert named.domain_id == world.foo
    denied(lambda: world.foo_admin.Users.CreateUser(
        apb.CreateUserRequest(name="intruder", domain_id=DEFAULT_DOMAIN_ID)), "identity:create_user")
    assert world.core.users_and_groups.find_user(name="intruder", domain_id=DEFAULT_DOMAIN_ID) is None


def test_a_domain_admin_lists_the_users_of_its_domain_only(world):
    users = world.foo_admin.Users.ListUsers(apb.ListUsersRequest()).users
    assert {u.name for u in users} == {"fooadmin", "foouser"}
    assert {u.domain_id for u in users} == {world.foo}
    same = world.foo_admin.Users.ListUsers(apb.ListUsersRequest(domain_id=world.foo)).users
    assert [u.id for u in same] == [u.id for u in users]
    denied(lambda: world.foo_admin.Users.ListUsers(
        apb.ListUsersRequest(domain_id=DEFAULT_DOMAIN_ID)), "identity:list_users")
    denied(lambda: world.foo_admin.Users.GetUser(get(world.bob_id)), "identity:get_user")
    # The Default domain's admin is the mirror image.
    names = {u.name for u in world.default_admin.Users.ListUsers(apb.ListUsersRequest()).users}
    assert {"admin", "alice", "bob", "rita"} <= names and "fooadmin" not in names
    denied(lambda: world.default_admin.Users.ListUsers(
        apb.ListUsersRequest(domain_id=world.foo)), "identity:list_users")


def test_a_domain_admin_grants_inside_its_domain_only(world):
    member = world.role("member")
    world.foo_admin.Assignments.GrantRole(grant(member, user_id=world.foo_user, project_id=world.bar))
    assert world.core.assignments.has_grant(member, target_type="project", target_id=world.bar,
                                            user_id=world.foo_user)
    world.foo_admin.Assignments.GrantRole(grant(member, group_id=world.foo_group, project_id=world.bar))
    # Not on a project of another domain, not to a user or group of another domain.
    for request in (grant(member, user_id=world.foo_user, project_id=world.acme),
                    grant(member, user_id=world.bob_id, project_id=world.bar),
                    grant(member, group_id=world.devs, project_id=world.bar),
                    grant(member, user_id=world.foo_user, domain_id=DEFAULT_DOMAIN_ID),
                    grant(member, user_id=world.foo_user, system=True)):
        denied(lambda: world.foo_admin.Assignments.GrantRole(request), "identity:grant_role")
    assert not world.core.assignments.has_grant(member, target_type="project", target_id=world.bar,
                                                user_id=world.bob_id)
    denied(lambda: world.foo_admin.Assignments.RevokeRole(
        grant(member, group_id=world.devs, project_id=world.acme)), "identity:revoke_role")


def test_a_domain_admin_cannot_let_an_outsider_in_through_a_group(world):
    """Adding a Default user to a Foo group would be granting it Foo's roles by the back door."""
    denied(lambda: world.foo_admin.Groups.AddUserToGroup(membership(world.foo_group, world.bob_id)),
           "identity:add_user_to_group")
    assert not world.core.users_and_groups.is_member(world.bob_id, world.foo_group)
    world.core.users_and_groups.add_user_to_group(world.bob_id, world.foo_group)  # a system admin's doing
    denied(lambda: world.foo_admin.Groups.RemoveUserFromGroup(
        membership(world.foo_group, world.bob_id)), "identity:remove_user_from_group")
    world.foo_admin.Groups.AddUserToGroup(membership(world.foo_group, world.foo_user))
    world.foo_admin.Groups.RemoveUserFromGroup(membership(world.foo_group, world.foo_user))
    world.sys.Groups.AddUserToGroup(membership(world.foo_group, world.alice_id))


def test_a_project_reader_reads_its_project(world):
    reader = world.reader
    assert reader.Projects.GetProject(get(world.acme)).name == "acme"
    listed = reader.Assignments.ListRoleAssignments(
        apb.ListRoleAssignmentsRequest(project_id=world.acme)).role_assignments
    assert {a.project.id for a in listed} == {world.acme}
    assert world.rita_id in {a.user.id for a in listed}
    denied(lambda: reader.Projects.GetProject(get(world.cyberdyne)), "identity:get_project")
    denied(lambda: reader.Assignments.ListRoleAssignments(
        apb.ListRoleAssignmentsRequest(project_id=world.cyberdyne)), "identity:list_role_assignments")
    denied(lambda: reader.Assignments.ListRoleAssignments(apb.ListRoleAssignmentsRequest()),
           "identity:list_role_assignments")
    denied(lambda: reader.Projects.ListProjects(apb.ListProjectsRequest()), "identity:list_projects")
    denied(lambda: reader.Users.ListUsers(apb.ListUsersRequest()), "identity:list_users")
    denied(lambda: reader.Projects.UpdateProject(
        apb.UpdateProjectRequest(id=world.acme, description="x")), "identity:update_project")
    # A member (bob, through his group) reads it too.
    assert world.member.Projects.GetProject(get(world.acme)).id == world.acme
    world.member.Assignments.ListRoleAssignments(apb.ListRoleAssignmentsRequest(project_id=world.acme))
    denied(lambda: world.member.Projects.GetProject(get(world.cyberdyne)), "identity:get_project")


def test_everyone_reads_their_own_user_and_changes_their_own_password(world):
    password = {world.admin_id: DEMO_PASSWORDS["admin"], world.fooadmin_id: FOOADMIN_PASSWORD,
                world.rita_id: RITA_PASSWORD, world.bob_id: DEMO_PASSWORDS["bob"],
                world.alice_id: DEMO_PASSWORDS["alice"]}
    callers = [world.sys, world.foo_admin, world.default_admin, world.reader, world.member,
               world.alice, world.project_admin]
    for caller in callers:
        assert caller.Users.GetUser(get(caller.user_id)).id == caller.user_id
        other = world.bob_id if caller.user_id != world.bob_id else world.alice_id
        denied(lambda: caller.Users.ChangePassword(apb.ChangePasswordRequest(
            user_id=other, original_password=password[other], password="stolen-password-1")),
            "identity:change_password")
    for caller in (world.reader, world.member, world.alice, world.project_admin):
        other = world.bob_id if caller.user_id != world.bob_id else world.alice_id
        denied(lambda: caller.Users.GetUser(get(other)), "identity:get_user")
    # Last: a change revokes the user's tokens (admin's two, alice's two).
    for caller in (world.sys, world.foo_admin, world.reader, world.member, world.alice):
        caller.Users.ChangePassword(apb.ChangePasswordRequest(
            user_id=caller.user_id, original_password=password[caller.user_id],
            password=f"new-{password[caller.user_id]}"))
    for user_id, old in password.items():
        assert world.core.users_and_groups.check_password(world.core.users_and_groups.get_user(user_id), f"new-{old}")


def test_a_project_admin_is_neither_a_system_nor_a_domain_admin(world):
    """alice is admin on cyberdyne: her token has no domain and no system scope, and two
    absent facts must never compare equal (no target domain vs no token domain)."""
    pa = world.project_admin
    denied(lambda: pa.Domains.CreateDomain(apb.CreateDomainRequest(name="Mine")), "identity:create_domain")
    denied(lambda: pa.Domains.ListDomains(apb.ListDomainsRequest()), "identity:list_domains")
    denied(lambda: pa.Users.ListUsers(apb.ListUsersRequest()), "identity:list_users")
    denied(lambda: pa.Groups.ListGroups(apb.ListGroupsRequest()), "identity:list_groups")
    denied(lambda: pa.Projects.ListProjects(apb.ListProjectsRequest()), "identity:list_projects")
    denied(lambda: pa.Roles.ListRoles(apb.ListRolesRequest()), "identity:list_roles")
    denied(lambda: pa.Roles.CreateRole(apb.CreateRoleRequest(name="mine")), "identity:create_role")
    denied(lambda: pa.Assignments.ListRoleAssignments(apb.ListRoleAssignmentsRequest()),
           "identity:list_role_assignments")
    denied(lambda: pa.Assignments.GrantRole(
        grant(world.role("admin"), user_id=world.bob_id, project_id=world.cyberdyne)),
        "identity:grant_role")
    denied(lambda: pa.Assignments.GrantRole(
        grant(world.role("admin"), user_id=world.alice_id, system=True)), "identity:grant_role")
    denied(lambda: pa.Users.CreateUser(apb.CreateUserRequest(name="mine")), "identity:create_user")
    denied(lambda: pa.Projects.UpdateProject(
        apb.UpdateProjectRequest(id=world.cyberdyne, description="x")), "identity:update_project")
    denied(lambda: pa.Regions.ListRegions(apb.ListRegionsRequest()), "identity:list_regions")
    # What she may do: read her project.
    assert pa.Projects.GetProject(get(world.cyberdyne)).name == "cyberdyne"
    # The same for an unscoped token.
    denied(lambda: world.alice.Users.ListUsers(apb.ListUsersRequest()), "identity:list_users")
    denied(lambda: world.alice.Projects.GetProject(get(world.cyberdyne)), "identity:get_project")


# ---- an operator's policy file ----------------------------------------------------------

def _bob(running) -> As:
    return As(running.channel, lambda: authenticate(running.stub, "bob", DEMO_PASSWORDS["bob"],
                                                    scope=project_scope("acme")))


def _bob_lists_users(running) -> apb.ListUsersResponse:
    return _bob(running).Users.ListUsers(apb.ListUsersRequest())


OVERRIDES = {
    "json": ("policy.json", json.dumps({"identity:list_users": "role:member"}, indent=2)),
    "yaml": ("policy.yaml", '# members may list users\n"identity:list_users": "role:member"\n'),
    "legacy-list": ("policy.json", json.dumps({"identity:list_users": [["role:member"]]})),
    "yaml-legacy-list": ("policy.yaml", "identity:list_users:\n  - [role:member]\n"),
}


def test_by_default_a_project_member_cannot_list_users(deployment):
    running = start_service(deployment)
    try:
        denied(lambda: _bob_lists_users(running), "identity:list_users")
    finally:
        running.stop()


@pytest.mark.parametrize("form", sorted(OVERRIDES))
def test_an_operator_overrides_a_rule_in_a_file(deployment, tmp_path, form):
    name, text = OVERRIDES[form]
    path = tmp_path / name
    path.write_text(text)
    running = start_service(deployment.replace(policy_file=str(path)))
    try:
        users = _bob_lists_users(running).users
        assert {"admin", "alice", "bob"} <= {u.name for u in users}
        # Only the overridden rule changed.
        denied(lambda: _bob(running).Groups.ListGroups(apb.ListGroupsRequest()),
               "identity:list_groups")
    finally:
        running.stop()


BROKEN = {
    # name: (file name, text, line the error must name)
    "json-syntax": ("policy.json", '{\n  "identity:list_users": "role:member",\n'
                                   '  "identity:get_user": rule:owner,\n'
                                   '  "identity:list_groups": "role:member"\n}\n', 3),
    "yaml-bad-rule": ("policy.yaml", '"identity:list_users": "role:member"\n'
                                     '"identity:get_user": "rule:owner or"\n'
                                     '"identity:list_groups": "role:member"\n', 2),
    "unknown-rule": ("policy.json", '{\n  "identity:list_users": "role:member",\n'
                                    '  "identity:list_groups": "rule:no_such_rule"\n}\n', 3),
}


@pytest.mark.parametrize("form", sorted(BROKEN))
def test_a_broken_policy_file_is_refused_at_start_naming_the_line(deployment, tmp_path, form):
    name, text, line = BROKEN[form]
    path = tmp_path / name
    path.write_text(text)
    settings = deployment.replace(policy_file=str(path))
    for start in (start_service, Core):
        with pytest.raises(PolicyFileError) as info:
            start(settings)
        message = str(info.value)
        assert f"{path}:{line}:" in message, message
        assert info.value.line == line
    if form == "unknown-rule":
        assert "no_such_rule" in message and "identity:list_groups" in message
    if form == "yaml-bad-rule":
        assert "identity:get_user" in message
