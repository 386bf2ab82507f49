"""Roles, implied roles, grants (inherited and system ones too) and the assignment
query, through the real server."""

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from support import auth_md, login, project_scope, role_names, rpc_error, validate

CODE = grpc.StatusCode


def _role(admin, name, **fields):
    return admin.call(admin.roles.CreateRole, apb.CreateRoleRequest(name=name, **fields))


def _grant(admin, role_id, method="GrantRole", inherited=False, **where):
    actor = apb.Actor(**{k: v for k, v in where.items() if k in ("user_id", "group_id")})
    target = apb.Target(**{k: v for k, v in where.items() if k in ("project_id", "domain_id", "system")})
    return admin.call(getattr(admin.assignments, method),
                      apb.GrantRequest(role_id=role_id, actor=actor, target=target, inherited=inherited))


def _ids(service):
    core = service.core
    default = core.resources.find_domain("default")
    return {
        "alice": core.users_and_groups.find_user(name="alice", domain_id="default").id,
        "bob": core.users_and_groups.find_user(name="bob", domain_id="default").id,
        "devs": core.users_and_groups.find_group("devs", "default").id,
        "acme": core.resources.find_project(name="acme", domain=default).id,
        "member": core.assignments.find_role("member").id,
        "reader": core.assignments.find_role("reader").id,
        "compute-user": core.assignments.find_role("compute-user").id,
    }


def test_role_lifecycle_and_implications(admin):
    auditor = _role(admin, "auditor", description="reads logs")
    viewer = _role(admin, "viewer")
    admin.call(admin.roles.CreateImpliedRole, apb.ImpliedRole(prior_role_id=auditor.id, implied_role_id=viewer.id))
    implied = admin.call(admin.roles.ListImpliedRoles, apb.ListImpliedRolesRequest(prior_role_id=auditor.id))
    assert [(i.prior_role_id, i.implied_role_id) for i in implied.implied_roles] == [(auditor.id, viewer.id)]
    error = rpc_error(admin.call, admin.roles.CreateImpliedRole,
                      apb.ImpliedRole(prior_role_id=viewer.id, implied_role_id=auditor.id))
    assert error.code() == CODE.INVALID_ARGUMENT and "cycle" in error.details()
    updated = admin.call(admin.roles.UpdateRole, apb.UpdateRoleRequest(id=auditor.id, name="auditor2"))
    assert (updated.name, updated.description) == ("auditor2", "reads logs")
    names = [r.name for r in admin.call(admin.roles.ListRoles, apb.ListRolesRequest()).roles]
    assert {"admin", "member", "reader", "service", "auditor2", "viewer"} <= set(names)
    admin.call(admin.roles.DeleteRole, apb.DeleteRequest(id=auditor.id))
    assert not admin.call(admin.roles.ListImpliedRoles, apb.ListImpliedRolesRequest(prior_role_id=auditor.id)).implied_roles
    assert rpc_error(_role, admin, "member").code() == CODE.ALREADY_EXISTS


def test_grant_check_revoke_shows_in_tokens_at_once(admin, service, stub):
    ids = _ids(service)
    nova = login(stub, "nova", project_scope("service")).token
    token = login(stub, "alice", project_scope("acme")).token
    _grant(admin, ids["member"], user_id=ids["alice"], project_id=ids["acme"])
    _grant(admin, ids["member"], "CheckGrant", user_id=ids["alice"], project_id=ids["acme"])
    assert role_names(validate(stub, nova, token)) == {"compute-user", "member", "reader"}
    _grant(admin, ids["member"], "RevokeRole", user_id=ids["alice"], project_id=ids["acme"])
    error = rpc_error(_grant, admin, ids["member"], "CheckGrant", user_id=ids["alice"], project_id=ids["acme"])
    assert error.code() == CODE.NOT_FOUND
    assert role_names(validate(stub, nova, token)) == {"compute-user"}
    error = rpc_error(_grant, admin, ids["member"], "RevokeRole", user_id=ids["alice"], project_id=ids["acme"])
    assert error.code() == CODE.NOT_FOUND


def test_grant_bad_input(admin, service):
    ids = _ids(service)
    for where, field in (({"project_id": ids["acme"]}, "actor"), ({"user_id": ids["alice"]}, "target")):
        error = rpc_error(_grant, admin, ids["member"], **where)
        assert error.code() == CODE.INVALID_ARGUMENT and field in error.details()
    assert rpc_error(_grant, admin, "nope", user_id=ids["alice"], project_id=ids["acme"]).code() == CODE.NOT_FOUND
    assert rpc_error(_grant, admin, ids["member"], user_id="nope", project_id=ids["acme"]).code() == CODE.NOT_FOUND
    error = rpc_error(_grant, admin, ids["member"], inherited=True, user_id=ids["alice"], system=True)
    assert error.code() == CODE.INVALID_ARGUMENT


def test_inherited_grants_reach_every_project_below(admin, service, stub):
    ids = _ids(service)
    nova = login(stub, "nova", project_scope("service")).token
    top = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(name="top", domain_id="default"))
    child = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(name="child", parent_id=top.id))
    _grant(admin, ids["member"], inherited=True, user_id=ids["bob"], project_id=top.id)
    # Inherited: not on the project itself, on everything below it.
    assert rpc_error(login, stub, "bob", project_scope("top")).code() == CODE.UNAUTHENTICATED
    token = login(stub, "bob", project_scope("child")).token
    assert role_names(validate(stub, nova, token)) == {"member", "reader"}
    unscoped = login(stub, "bob").token
    listed = {p.name for p in stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(unscoped)).projects}
    assert {"acme", "child"} <= listed and "top" not in listed
    grandchild = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(name="grandchild", parent_id=child.id))
    listed = {p.name for p in stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(unscoped)).projects}
    assert "grandchild" in listed  # a new project below shows without waiting
    assert grandchild.parent_id == child.id
    # Removing the inherited grant refuses the tokens that relied on it.
    _grant(admin, ids["member"], "RevokeRole", inherited=True, user_id=ids["bob"], project_id=top.id)
    assert rpc_error(validate, stub, nova, token).code() == CODE.UNAUTHENTICATED


def test_inherited_domain_grant_applies_to_its_projects(admin, service, stub):
    ids = _ids(service)
    foo = service.core.resources.find_domain(name="Foo")
    _grant(admin, ids["reader"], inherited=True, user_id=ids["alice"], domain_id=foo.id)
    token = login(stub, "alice", project_scope("bar", domain_name="Foo"))
    assert role_names(token.token_info) == {"reader"}
    assert rpc_error(login, stub, "alice", pb.Scope(domain=pb.DomainSelector(name="Foo"))).code() == CODE.UNAUTHENTICATED


def test_domain_specific_roles_show_only_what_they_imply(admin, service, stub):
    ids = _ids(service)
    foo = service.core.resources.find_domain(name="Foo")
    bar = service.core.resources.find_project(name="bar", domain=foo)
    local = _role(admin, "foo-dev", domain_id=foo.id)
    admin.call(admin.roles.CreateImpliedRole, apb.ImpliedRole(prior_role_id=local.id, implied_role_id=ids["member"]))
    _grant(admin, local.id, user_id=ids["alice"], project_id=bar.id)
    token = login(stub, "alice", project_scope("bar", domain_name="Foo"))
    assert role_names(token.token_info) == {"member", "reader"}
    error = rpc_error(_grant, admin, local.id, user_id=ids["alice"], project_id=ids["acme"])
    assert error.code() == CODE.FAILED_PRECONDITION
    scoped = admin.call(admin.roles.ListRoles, apb.ListRolesRequest(domain_id=foo.id)).roles
    assert [r.name for r in scoped] == ["foo-dev"]


def test_assignment_query_direct_effective_and_names(admin, service):
    ids = _ids(service)
    direct = admin.call(admin.assignments.ListRoleAssignments,
                        apb.ListRoleAssignmentsRequest(user_id=ids["bob"])).role_assignments
    assert list(direct) == []  # bob's role comes through his group only
    effective = admin.call(admin.assignments.ListRoleAssignments, apb.ListRoleAssignmentsRequest(
        user_id=ids["bob"], effective=True, include_names=True)).role_assignments
    got = {(a.role.name, a.user.name, a.project.name, a.via_group_id) for a in effective}
    assert got == {("member", "bob", "acme", ids["devs"]), ("reader", "bob", "acme", ids["devs"])}
    reader = next(a for a in effective if a.role.name == "reader")
    assert reader.implied_by_role_id == ids["member"] and reader.project.domain_name == "Default"
    on_acme = admin.call(admin.assignments.ListRoleAssignments,
                         apb.ListRoleAssignmentsRequest(project_id=ids["acme"])).role_assignments
    assert {(a.role.id, a.WhichOneof("actor")) for a in on_acme} == {
        (ids["compute-user"], "user"), (ids["member"], "group")}
    system = admin.call(admin.assignments.ListRoleAssignments,
                        apb.ListRoleAssignmentsRequest(system=True, include_names=True)).role_assignments
    assert [(a.role.name, a.user.name, a.system) for a in system] == [("admin", "admin", True)]
    by_role = admin.call(admin.assignments.ListRoleAssignments, apb.ListRoleAssignmentsRequest(
        project_id=ids["acme"], effective=True, role_id=ids["reader"])).role_assignments
    assert {a.user.id for a in by_role} == {ids["bob"]}
    error = rpc_error(admin.call, admin.assignments.ListRoleAssignments,
                      apb.ListRoleAssignmentsRequest(group_id=ids["devs"], effective=True))
    assert error.code() == CODE.INVALID_ARGUMENT


@pytest.mark.every_backend
def test_a_role_description_beyond_what_every_backend_holds_is_invalid_argument(admin):
    """65,536 bytes: INTERNAL on MariaDB (TEXT), kept by the others; now refused alike."""
    role = _role(admin, "auditor")
    for method, request in ((admin.roles.CreateRole, apb.CreateRoleRequest(name="r", description="d" * 65_536)),
                            (admin.roles.UpdateRole, apb.UpdateRoleRequest(id=role.id, description="d" * 65_536))):
        error = rpc_error(admin.call, method, request)
        assert error.code() == CODE.INVALID_ARGUMENT and error.details().startswith("role.description: ")


def test_assignments_in_a_project_subtree_on_grpc(admin, service):
    """include_subtree: the project's assignments and those of every project below it;
    it needs a project to start from."""
    ids = _ids(service)
    top = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(name="top"))
    leaf = admin.call(admin.projects.CreateProject,
                      apb.CreateProjectRequest(name="leaf", parent_id=top.id))
    _grant(admin, ids["reader"], user_id=ids["bob"], project_id=top.id)
    _grant(admin, ids["member"], user_id=ids["alice"], project_id=leaf.id)
    listed = admin.call(admin.assignments.ListRoleAssignments,
                        apb.ListRoleAssignmentsRequest(project_id=top.id, include_subtree=True))
    assert sorted((a.project.id, a.role.id) for a in listed.role_assignments) == sorted(
        [(top.id, ids["reader"]), (leaf.id, ids["member"])])
    assert not listed.truncated and not listed.next_page_token
    alone = admin.call(admin.assignments.ListRoleAssignments,
                       apb.ListRoleAssignmentsRequest(project_id=top.id))
    assert [a.project.id for a in alone.role_assignments] == [top.id]
    error = rpc_error(admin.call, admin.assignments.ListRoleAssignments,
                      apb.ListRoleAssignmentsRequest(include_subtree=True))
    assert error.code() == CODE.INVALID_ARGUMENT and "include_subtree" in error.details()
