"""The `keystone` policy profile (the default), rule by rule, on both transports.

Every `identity:*` rule of the profile's base file has a case: one request, made first
by a caller the rule refuses (PERMISSION_DENIED naming the rule on gRPC, 403 naming it
on the gateway) and then by one it lets through. What sets the profile apart is that
`admin` on a project (alice on cyberdyne) manages the whole cloud, as in Keystone, so
most cases let that project admin through and refuse a project member (bob) or reader
(rita). Rules of the API families (`policy_rules/families/`) are tested with their
families.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from identity_grpc.policy_rules import keystone, rules_for
from identity_grpc.store.models import DEFAULT_DOMAIN_ID
from support import DEMO_PASSWORDS, rpc_error
from test_policy_defaults import (World, delete, get, grant, membership,  # noqa: F401
                                  world)

pytestmark = pytest.mark.policy_profile("keystone")


@dataclass
class Case:
    """One request and two callers (names of World's callers); `refused` None for a
    rule that lets anyone holding a token through. `grpc(caller)` makes the request
    over gRPC; `http` is (method, path, JSON body or None, extra headers) for the
    gateway, or None where the gateway does not serve the operation."""

    allowed: str
    refused: str | None
    grpc: Callable | None
    http: tuple | None = None


CASES: dict[str, Callable[[World], Case]] = {}


def case(rule: str):
    def register(fn):
        assert rule not in CASES, f"two cases for {rule}"
        CASES[rule] = fn
        return fn
    return register


def admin_not_member(rule, grpc_call, http=None):
    """The common shape: the project admin may, the project member may not."""
    CASES[rule] = lambda w: Case("project_admin", "member", grpc_call(w), http(w) if http else None)


# ---- domains ----------------------------------------------------------------------

admin_not_member("identity:get_domain",
                 lambda w: lambda c: c.Domains.GetDomain(get(w.foo)),
                 lambda w: ("GET", f"/v3/domains/{w.foo}", None, {}))
admin_not_member("identity:list_domains",
                 lambda w: lambda c: c.Domains.ListDomains(apb.ListDomainsRequest()),
                 lambda w: ("GET", "/v3/domains", None, {}))
admin_not_member("identity:create_domain",
                 lambda w: lambda c: c.Domains.CreateDomain(apb.CreateDomainRequest(name="Made")),
                 lambda w: ("POST", "/v3/domains", {"domain": {"name": "Made"}}, {}))
admin_not_member("identity:update_domain",
                 lambda w: lambda c: c.Domains.UpdateDomain(
                     apb.UpdateDomainRequest(id=w.foo, description="changed")),
                 lambda w: ("PATCH", f"/v3/domains/{w.foo}",
                            {"domain": {"description": "changed"}}, {}))


@case("identity:delete_domain")
def _(w):
    doomed = w.core.resources.create_domain("Doomed", enabled=False).id
    return Case("project_admin", "member", lambda c: c.Domains.DeleteDomain(delete(doomed)),
                ("DELETE", f"/v3/domains/{doomed}", None, {}))


# ---- projects ---------------------------------------------------------------------

admin_not_member("identity:get_project",
                 lambda w: lambda c: c.Projects.GetProject(get(w.bar)),
                 lambda w: ("GET", f"/v3/projects/{w.bar}", None, {}))
admin_not_member("identity:list_projects",
                 lambda w: lambda c: c.Projects.ListProjects(apb.ListProjectsRequest()),
                 lambda w: ("GET", "/v3/projects", None, {}))
admin_not_member("identity:list_project_parents",
                 lambda w: lambda c: c.Projects.ListProjectParents(get(w.bar)))
admin_not_member("identity:list_project_subtree",
                 lambda w: lambda c: c.Projects.ListProjectSubtree(get(w.bar)))
admin_not_member("identity:create_project",
                 lambda w: lambda c: c.Projects.CreateProject(
                     apb.CreateProjectRequest(name="qux", domain_id=w.foo)),
                 lambda w: ("POST", "/v3/projects",
                            {"project": {"name": "qux", "domain_id": w.foo}}, {}))
admin_not_member("identity:update_project",
                 lambda w: lambda c: c.Projects.UpdateProject(
                     apb.UpdateProjectRequest(id=w.bar, description="changed")),
                 lambda w: ("PATCH", f"/v3/projects/{w.bar}",
                            {"project": {"description": "changed"}}, {}))
admin_not_member("identity:delete_project",
                 lambda w: lambda c: c.Projects.DeleteProject(delete(w.baz)),
                 lambda w: ("DELETE", f"/v3/projects/{w.baz}", None, {}))

# ---- users ------------------------------------------------------------------------

admin_not_member("identity:get_user",
                 lambda w: lambda c: c.Users.GetUser(get(w.fooadmin_id)),
                 lambda w: ("GET", f"/v3/users/{w.fooadmin_id}", None, {}))
admin_not_member("identity:list_users",
                 lambda w: lambda c: c.Users.ListUsers(apb.ListUsersRequest()),
                 lambda w: ("GET", "/v3/users", None, {}))
admin_not_member("identity:create_user",
                 lambda w: lambda c: c.Users.CreateUser(
                     apb.CreateUserRequest(name="newbie", domain_id=w.foo)),
                 lambda w: ("POST", "/v3/users", {"user": {"name": "newbie", "domain_id": w.foo}}, {}))
admin_not_member("identity:update_user",
                 lambda w: lambda c: c.Users.UpdateUser(
                     apb.UpdateUserRequest(id=w.foo_user, description="changed")),
                 lambda w: ("PATCH", f"/v3/users/{w.foo_user}",
                            {"user": {"description": "changed"}}, {}))
admin_not_member("identity:delete_user",
                 lambda w: lambda c: c.Users.DeleteUser(delete(w.foo_user)),
                 lambda w: ("DELETE", f"/v3/users/{w.foo_user}", None, {}))


@case("identity:change_password")
def _(w):
    # The user itself or an admin, proving the original password as Keystone has it
    # (this case once refused the admin); another user does not.
    change = {"original_password": DEMO_PASSWORDS["bob"], "password": "bob-new-password-1"}
    return Case("project_admin", "reader",
                lambda c: c.Users.ChangePassword(apb.ChangePasswordRequest(user_id=w.bob_id, **change)),
                ("POST", f"/v3/users/{w.bob_id}/password", {"user": change}, {}))


@case("identity:list_user_groups")
def _(w):
    return Case("project_admin", "reader", lambda c: c.Users.ListUserGroups(get(w.bob_id)),
                ("GET", f"/v3/users/{w.bob_id}/groups", None, {}))


@case("identity:list_user_projects")
def _(w):
    return Case("project_admin", "reader",
                lambda c: c.Users.ListUserProjects(apb.ListUserProjectsRequest(id=w.bob_id)),
                ("GET", f"/v3/users/{w.bob_id}/projects", None, {}))


# ---- groups -----------------------------------------------------------------------

admin_not_member("identity:get_group",
                 lambda w: lambda c: c.Groups.GetGroup(get(w.foo_group)),
                 lambda w: ("GET", f"/v3/groups/{w.foo_group}", None, {}))
admin_not_member("identity:list_groups",
                 lambda w: lambda c: c.Groups.ListGroups(apb.ListGroupsRequest()),
                 lambda w: ("GET", "/v3/groups", None, {}))
admin_not_member("identity:list_group_users",
                 lambda w: lambda c: c.Groups.ListGroupUsers(get(w.devs)),
                 lambda w: ("GET", f"/v3/groups/{w.devs}/users", None, {}))
admin_not_member("identity:check_user_in_group",
                 lambda w: lambda c: c.Groups.CheckUserInGroup(membership(w.devs, w.bob_id)),
                 lambda w: ("GET", f"/v3/groups/{w.devs}/users/{w.bob_id}", None, {}))
admin_not_member("identity:create_group",
                 lambda w: lambda c: c.Groups.CreateGroup(
                     apb.CreateGroupRequest(name="ops", domain_id=w.foo)),
                 lambda w: ("POST", "/v3/groups", {"group": {"name": "ops", "domain_id": w.foo}}, {}))
admin_not_member("identity:update_group",
                 lambda w: lambda c: c.Groups.UpdateGroup(
                     apb.UpdateGroupRequest(id=w.foo_group, description="changed")),
                 lambda w: ("PATCH", f"/v3/groups/{w.foo_group}",
                            {"group": {"description": "changed"}}, {}))
admin_not_member("identity:delete_group",
                 lambda w: lambda c: c.Groups.DeleteGroup(delete(w.foo_group)),
                 lambda w: ("DELETE", f"/v3/groups/{w.foo_group}", None, {}))
admin_not_member("identity:add_user_to_group",
                 lambda w: lambda c: c.Groups.AddUserToGroup(membership(w.foo_group, w.foo_user)),
                 lambda w: ("PUT", f"/v3/groups/{w.foo_group}/users/{w.foo_user}", None, {}))


@case("identity:remove_user_from_group")
def _(w):
    w.core.users_and_groups.add_user_to_group(w.foo_user, w.foo_group)
    return Case("project_admin", "member",
                lambda c: c.Groups.RemoveUserFromGroup(membership(w.foo_group, w.foo_user)),
                ("DELETE", f"/v3/groups/{w.foo_group}/users/{w.foo_user}", None, {}))


# ---- roles ------------------------------------------------------------------------

admin_not_member("identity:get_role",
                 lambda w: lambda c: c.Roles.GetRole(get(w.role("reader"))),
                 lambda w: ("GET", f"/v3/roles/{w.role('reader')}", None, {}))
admin_not_member("identity:list_roles",
                 lambda w: lambda c: c.Roles.ListRoles(apb.ListRolesRequest()),
                 lambda w: ("GET", "/v3/roles", None, {}))
admin_not_member("identity:list_implied_roles",
                 lambda w: lambda c: c.Roles.ListImpliedRoles(apb.ListImpliedRolesRequest()))
admin_not_member("identity:create_role",
                 lambda w: lambda c: c.Roles.CreateRole(apb.CreateRoleRequest(name="made")),
                 lambda w: ("POST", "/v3/roles", {"role": {"name": "made"}}, {}))


@case("identity:update_role")
def _(w):
    scratch = w.core.assignments.create_role("scratch").id
    return Case("project_admin", "member",
                lambda c: c.Roles.UpdateRole(apb.UpdateRoleRequest(id=scratch, description="x")),
                ("PATCH", f"/v3/roles/{scratch}", {"role": {"description": "x"}}, {}))


@case("identity:delete_role")
def _(w):
    scratch = w.core.assignments.create_role("scratch").id
    return Case("project_admin", "member", lambda c: c.Roles.DeleteRole(delete(scratch)),
                ("DELETE", f"/v3/roles/{scratch}", None, {}))


@case("identity:create_implied_role")
def _(w):
    pair = apb.ImpliedRole(prior_role_id=w.core.assignments.create_role("scratch").id,
                           implied_role_id=w.role("reader"))
    return Case("project_admin", "member", lambda c: c.Roles.CreateImpliedRole(pair))


@case("identity:delete_implied_role")
def _(w):
    scratch = w.core.assignments.create_role("scratch").id
    w.core.assignments.add_implied_role(scratch, w.role("reader"))
    pair = apb.ImpliedRole(prior_role_id=scratch, implied_role_id=w.role("reader"))
    return Case("project_admin", "member", lambda c: c.Roles.DeleteImpliedRole(pair))


# ---- grants -----------------------------------------------------------------------

def _grant_path(w, role: str) -> str:
    return f"/v3/projects/{w.bar}/users/{w.foo_user}/roles/{w.role(role)}"


admin_not_member("identity:grant_role",
                 lambda w: lambda c: c.Assignments.GrantRole(
                     grant(w.role("member"), user_id=w.foo_user, project_id=w.bar)),
                 lambda w: ("PUT", _grant_path(w, "member"), None, {}))


def _granted(w):
    w.core.assignments.grant(w.role("member"), target_type="project", target_id=w.bar,
                             user_id=w.foo_user)


@case("identity:revoke_role")
def _(w):
    _granted(w)
    return Case("project_admin", "member",
                lambda c: c.Assignments.RevokeRole(
                    grant(w.role("member"), user_id=w.foo_user, project_id=w.bar)),
                ("DELETE", _grant_path(w, "member"), None, {}))


@case("identity:check_grant")
def _(w):
    _granted(w)
    return Case("project_admin", "member",
                lambda c: c.Assignments.CheckGrant(
                    grant(w.role("member"), user_id=w.foo_user, project_id=w.bar)),
                ("GET", _grant_path(w, "member"), None, {}))


admin_not_member("identity:list_role_assignments",
                 lambda w: lambda c: c.Assignments.ListRoleAssignments(
                     apb.ListRoleAssignmentsRequest(project_id=w.bar)),
                 lambda w: ("GET", f"/v3/role_assignments?scope.project.id={w.bar}", None, {}))


# ---- the catalog ------------------------------------------------------------------

@case("identity:get_region")
def _(w):
    return Case("alice", None, lambda c: c.Regions.GetRegion(get("RegionOne")),
                ("GET", "/v3/regions/RegionOne", None, {}))


@case("identity:list_regions")
def _(w):
    return Case("alice", None, lambda c: c.Regions.ListRegions(apb.ListRegionsRequest()),
                ("GET", "/v3/regions", None, {}))


admin_not_member("identity:create_region",
                 lambda w: lambda c: c.Regions.CreateRegion(apb.Region(id="Made")),
                 lambda w: ("POST", "/v3/regions", {"region": {"id": "Made"}}, {}))
admin_not_member("identity:update_region",
                 lambda w: lambda c: c.Regions.UpdateRegion(
                     apb.UpdateRegionRequest(id="RegionOne", description="changed")),
                 lambda w: ("PATCH", "/v3/regions/RegionOne",
                            {"region": {"description": "changed"}}, {}))


@case("identity:delete_region")
def _(w):
    doomed = w.core.catalog.create_region("RegionDoomed").id
    return Case("project_admin", "member", lambda c: c.Regions.DeleteRegion(delete(doomed)),
                ("DELETE", f"/v3/regions/{doomed}", None, {}))


def _keystone(w) -> str:
    return w.core.catalog.find_service("identity", "keystone").id


def _endpoint(w) -> str:
    return w.core.catalog.create_endpoint(_keystone(w), "admin", "http://127.0.0.1:9/v3",
                                          "RegionOne").id


admin_not_member("identity:get_service",
                 lambda w: lambda c: c.Services.GetService(get(_keystone(w))),
                 lambda w: ("GET", f"/v3/services/{_keystone(w)}", None, {}))
admin_not_member("identity:list_services",
                 lambda w: lambda c: c.Services.ListServices(apb.ListServicesRequest()),
                 lambda w: ("GET", "/v3/services", None, {}))
admin_not_member("identity:create_service",
                 lambda w: lambda c: c.Services.CreateService(
                     apb.CreateServiceRequest(type="image", name="glance")),
                 lambda w: ("POST", "/v3/services", {"service": {"type": "image"}}, {}))
admin_not_member("identity:update_service",
                 lambda w: lambda c: c.Services.UpdateService(
                     apb.UpdateServiceRequest(id=_keystone(w), description="changed")),
                 lambda w: ("PATCH", f"/v3/services/{_keystone(w)}",
                            {"service": {"description": "changed"}}, {}))


@case("identity:delete_service")
def _(w):
    doomed = w.core.catalog.create_service("image", "glance").id
    return Case("project_admin", "member", lambda c: c.Services.DeleteService(delete(doomed)),
                ("DELETE", f"/v3/services/{doomed}", None, {}))


@case("identity:get_endpoint")
def _(w):
    endpoint = _endpoint(w)
    return Case("project_admin", "member", lambda c: c.Endpoints.GetEndpoint(get(endpoint)),
                ("GET", f"/v3/endpoints/{endpoint}", None, {}))


admin_not_member("identity:list_endpoints",
                 lambda w: lambda c: c.Endpoints.ListEndpoints(apb.ListEndpointsRequest()),
                 lambda w: ("GET", "/v3/endpoints", None, {}))
admin_not_member("identity:create_endpoint",
                 lambda w: lambda c: c.Endpoints.CreateEndpoint(apb.CreateEndpointRequest(
                     service_id=_keystone(w), interface="internal", region_id="RegionOne",
                     url="http://127.0.0.1:5001/v3/")),
                 lambda w: ("POST", "/v3/endpoints", {"endpoint": {
                     "service_id": _keystone(w), "interface": "internal",
                     "region_id": "RegionOne", "url": "http://127.0.0.1:5001/v3/"}}, {}))


@case("identity:update_endpoint")
def _(w):
    endpoint = _endpoint(w)
    return Case("project_admin", "member",
                lambda c: c.Endpoints.UpdateEndpoint(
                    apb.UpdateEndpointRequest(id=endpoint, url="http://127.0.0.1:5002/v3/")),
                ("PATCH", f"/v3/endpoints/{endpoint}",
                 {"endpoint": {"url": "http://127.0.0.1:5002/v3/"}}, {}))


@case("identity:delete_endpoint")
def _(w):
    endpoint = _endpoint(w)
    return Case("project_admin", "member", lambda c: c.Endpoints.DeleteEndpoint(delete(endpoint)),
                ("DELETE", f"/v3/endpoints/{endpoint}", None, {}))


# ---- tokens: a service, an admin, or the token's own user ---------------------------

def _subject(w) -> dict:
    return {"X-Subject-Token": w.foo_admin.token}


@case("identity:validate_token")
def _(w):
    return Case("project_admin", "reader", lambda c: c.Identity.ValidateToken(
        pb.ValidateTokenRequest(subject_token=w.foo_admin.token)),
        ("GET", "/v3/auth/tokens", None, _subject(w)))


@case("identity:check_token")
def _(w):
    return Case("project_admin", "reader", None, ("HEAD", "/v3/auth/tokens", None, _subject(w)))


@case("identity:revoke_token")
def _(w):
    return Case("project_admin", "reader", lambda c: c.Identity.RevokeToken(
        pb.RevokeTokenRequest(subject_token=w.foo_admin.token)),
        ("DELETE", "/v3/auth/tokens", None, _subject(w)))


@case("identity:watch_revocations")
def _(w):
    return Case("project_admin", "reader", lambda c: c.watch())


@case("identity:get_signing_keys")
def _(w):
    return Case("project_admin", "reader",
                lambda c: c.Identity.GetSigningKeys(pb.GetSigningKeysRequest()))


@case("identity:list_domain_projects")
def _(w):
    return Case("project_admin", "reader", lambda c: c.Identity.ListDomainProjects(
        pb.ListDomainProjectsRequest(subject_token=w.foo_admin.token)))


# ---- the tests --------------------------------------------------------------------

def test_every_rule_of_the_keystone_profile_has_a_case():
    rules = {name for name in keystone.RULES if name.startswith("identity:")}
    assert sorted(rules - CASES.keys()) == [], "rules without a case below"
    assert sorted(CASES.keys() - rules) == [], "cases for rules that are not in the profile"


def test_the_default_profile_is_keystone():
    from identity_grpc.config import Settings
    assert Settings().policy_profile == "keystone"
    assert rules_for("keystone")["identity:create_domain"] == "rule:admin_required"


def _grpc_cases():
    return sorted(rule for rule in CASES if rule != "identity:check_token")


@pytest.mark.parametrize("rule", _grpc_cases())
def test_rule_over_grpc(world, rule):
    c = CASES[rule](world)
    if c.refused is not None:
        error = rpc_error(lambda: c.grpc(getattr(world, c.refused)))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, (error.code(), error.details())
        assert repr(rule) in error.details(), error.details()
    c.grpc(getattr(world, c.allowed))  # raises if refused


def _http(world, caller: str, method: str, path: str, body, headers) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        world.gateway + path, method=method, data=data,
        headers={"X-Auth-Token": getattr(world, caller).token, "Content-Type": "application/json",
                 **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.parametrize("rule", sorted(r for r in CASES if r != "identity:watch_revocations"))
def test_rule_over_http(world, rule):
    c = CASES[rule](world)
    if c.http is None:
        pytest.skip(f"the gateway does not serve {rule}")
    if c.refused is not None:
        status, body = _http(world, c.refused, *c.http)
        assert status == 403, (status, body)
        if c.http[0] != "HEAD":
            assert rule in json.loads(body)["error"]["message"], body
    status, body = _http(world, c.allowed, *c.http)
    assert status < 300, (status, body)


def test_a_project_admin_manages_another_domain_as_in_keystone(world):
    """The profile's point: Tempest's and every admin-openrc's admin is an admin on a
    project, and Keystone lets it manage everything."""
    admin = world.project_admin
    made = admin.Users.CreateUser(apb.CreateUserRequest(name="anywhere", domain_id=world.foo))
    admin.Assignments.GrantRole(grant(world.role("member"), user_id=made.id, project_id=world.bar))
    assert made.id in {u.id for u in admin.Users.ListUsers(
        apb.ListUsersRequest(domain_id=world.foo)).users}
    error = rpc_error(lambda: world.member.Users.DeleteUser(delete(made.id)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_domain_manager_manages_its_own_domain_only(world):
    manager = world.role("manager")  # bootstrap makes it, as Keystone's does
    world.core.assignments.grant(manager, target_type="domain", target_id=world.foo,
                                 user_id=world.foo_user)
    world.core.users_and_groups.update_user(world.foo_user, password="foo-user-password-1")
    from test_policy_defaults import As, authenticate, on_domain
    me = As(_channel(world), lambda: authenticate(
        _stub(world), "foouser", "foo-user-password-1", world.foo, on_domain(world.foo)))
    made = me.Users.CreateUser(apb.CreateUserRequest(name="managed"))
    assert made.domain_id == world.foo
    error = rpc_error(lambda: me.Users.CreateUser(
        apb.CreateUserRequest(name="elsewhere", domain_id=DEFAULT_DOMAIN_ID)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def _channel(world):
    return world.sys._channel


def _stub(world):
    from identity_api.v1 import identity_pb2_grpc as igrpc
    return igrpc.IdentityStub(_channel(world))
