"""Managing domains and projects (hierarchy included) through the real server."""

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from support import login, project_scope, rpc_error, validate

CODE = grpc.StatusCode


def _create_project(admin, name, **fields):
    return admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(name=name, **fields))


def _list_all(admin, method, request, field):
    """Every item across pages, following next_page_token."""
    items, token = [], ""
    while True:
        request.page_token = token
        answer = admin.call(method, request)
        items += list(getattr(answer, field))
        token = answer.next_page_token
        if not token:
            return items


def test_domain_lifecycle(admin):
    acme = admin.call(admin.domains.CreateDomain, apb.CreateDomainRequest(name="Acme", description="d"))
    assert (acme.name, acme.description, acme.enabled) == ("Acme", "d", True)
    assert admin.call(admin.domains.GetDomain, apb.GetRequest(id=acme.id)) == acme
    renamed = admin.call(admin.domains.UpdateDomain, apb.UpdateDomainRequest(id=acme.id, name="Acme2"))
    assert (renamed.name, renamed.description) == ("Acme2", "d")  # only the named field changed
    names = [d.name for d in admin.call(admin.domains.ListDomains, apb.ListDomainsRequest()).domains]
    assert names == sorted(names) and {"Acme2", "Default", "Foo"} <= set(names)
    error = rpc_error(admin.call, admin.domains.DeleteDomain, apb.DeleteRequest(id=acme.id))
    assert error.code() == CODE.FAILED_PRECONDITION and "disabled" in error.details()
    admin.call(admin.domains.UpdateDomain, apb.UpdateDomainRequest(id=acme.id, enabled=False))
    admin.call(admin.domains.DeleteDomain, apb.DeleteRequest(id=acme.id))
    assert rpc_error(admin.call, admin.domains.GetDomain, apb.GetRequest(id=acme.id)).code() == CODE.NOT_FOUND


def test_deleting_a_disabled_domain_deletes_what_it_holds(admin, service):
    """As Keystone does (this test once pinned the refusal of a domain still holding
    projects): see test_keystone_behaviour.py for users, groups, roles and tokens."""
    foo = service.core.resources.find_domain(name="Foo")
    admin.call(admin.domains.UpdateDomain, apb.UpdateDomainRequest(id=foo.id, enabled=False))
    admin.call(admin.domains.DeleteDomain, apb.DeleteRequest(id=foo.id))
    projects = admin.call(admin.projects.ListProjects, apb.ListProjectsRequest()).projects
    assert not {"bar", "baz"} & {p.name for p in projects}
    error = rpc_error(admin.call, admin.domains.DeleteDomain, apb.DeleteRequest(id="default"))
    assert error.code() == CODE.FAILED_PRECONDITION


def test_duplicate_names_are_refused(admin):
    error = rpc_error(admin.call, admin.domains.CreateDomain, apb.CreateDomainRequest(name="Foo"))
    assert error.code() == CODE.ALREADY_EXISTS and "Foo" in error.details()
    error = rpc_error(_create_project, admin, "acme", domain_id="default")
    assert error.code() == CODE.ALREADY_EXISTS
    error = rpc_error(admin.call, admin.domains.CreateDomain, apb.CreateDomainRequest(name=""))
    assert error.code() == CODE.INVALID_ARGUMENT and "name" in error.details()


def test_projects_list_filter_and_page(admin):
    for i in range(5):
        _create_project(admin, f"p{i}", domain_id="default", enabled=i % 2 == 0)
    request = apb.ListProjectsRequest(domain_id="default", page_size=2)
    first = admin.call(admin.projects.ListProjects, request)
    assert len(first.projects) == 2 and first.next_page_token
    everything = _list_all(admin, admin.projects.ListProjects,
                           apb.ListProjectsRequest(domain_id="default", page_size=2), "projects")
    names = [p.name for p in everything]
    assert len(names) == len(set(names)) and {"p0", "p4", "acme", "admin"} <= set(names)
    disabled = admin.call(admin.projects.ListProjects, apb.ListProjectsRequest(enabled=False)).projects
    assert sorted(p.name for p in disabled) == ["p1", "p3"]
    by_name = admin.call(admin.projects.ListProjects, apb.ListProjectsRequest(name="bar")).projects
    assert [p.name for p in by_name] == ["bar"]
    error = rpc_error(admin.call, admin.projects.ListProjects, apb.ListProjectsRequest(page_token="nonsense!"))
    assert error.code() == CODE.INVALID_ARGUMENT and "page_token" in error.details()


def test_project_hierarchy_parents_subtree_and_rules(admin):
    top = _create_project(admin, "top", domain_id="default")
    mid = _create_project(admin, "mid", parent_id=top.id)  # domain taken from the parent
    leaf = _create_project(admin, "leaf", parent_id=mid.id)
    assert (mid.domain_id, leaf.parent_id) == ("default", mid.id)
    parents = admin.call(admin.projects.ListProjectParents, apb.GetRequest(id=leaf.id)).projects
    assert [p.name for p in parents] == ["mid", "top"]
    subtree = admin.call(admin.projects.ListProjectSubtree, apb.GetRequest(id=top.id)).projects
    assert [p.name for p in subtree] == ["mid", "leaf"]

    error = rpc_error(admin.call, admin.projects.DeleteProject, apb.DeleteRequest(id=mid.id))
    assert error.code() == CODE.FAILED_PRECONDITION and "child" in error.details()
    # Cycles are impossible: a project cannot move below itself or its descendants.
    for new_parent in (top.id, leaf.id):
        error = rpc_error(admin.call, admin.projects.UpdateProject,
                          apb.UpdateProjectRequest(id=top.id, parent_id=new_parent))
        assert error.code() == CODE.INVALID_ARGUMENT and "parent_id" in error.details()
    # Parents stay within one domain.
    bar = admin.call(admin.projects.ListProjects, apb.ListProjectsRequest(name="bar")).projects[0]
    error = rpc_error(_create_project, admin, "stray", parent_id=bar.id, domain_id="default")
    assert error.code() == CODE.INVALID_ARGUMENT
    # Moving a leaf to the top level works, and the old parent can then go.
    admin.call(admin.projects.UpdateProject, apb.UpdateProjectRequest(id=leaf.id, parent_id=""))
    admin.call(admin.projects.DeleteProject, apb.DeleteRequest(id=mid.id))
    assert admin.call(admin.projects.GetProject, apb.GetRequest(id=leaf.id)).parent_id == ""


def test_project_depth_is_bounded(admin):
    parent = ""
    for depth in range(5):
        parent = _create_project(admin, f"level{depth}", domain_id="default", parent_id=parent).id
    error = rpc_error(_create_project, admin, "too-deep", parent_id=parent)
    assert error.code() == CODE.INVALID_ARGUMENT and "levels" in error.details()


def test_update_changes_only_the_named_fields(admin):
    project = _create_project(admin, "web", domain_id="default", description="before")
    updated = admin.call(admin.projects.UpdateProject,
                         apb.UpdateProjectRequest(id=project.id, enabled=False))
    assert (updated.name, updated.description, updated.enabled) == ("web", "before", False)


def test_deleting_a_project_removes_its_assignments_and_refuses_its_tokens(admin, service, stub):
    nova = login(stub, "nova", project_scope("service")).token
    project = _create_project(admin, "temp", domain_id="default")
    alice = service.core.users_and_groups.find_user(name="alice", domain_id="default")
    member = service.core.assignments.find_role("member")
    service.core.assignments.grant(member.id, target_type="project", target_id=project.id, user_id=alice.id)
    token = login(stub, "alice", project_scope("temp")).token
    admin.call(admin.projects.DeleteProject, apb.DeleteRequest(id=project.id))
    assert rpc_error(validate, stub, nova, token).code() == CODE.UNAUTHENTICATED
    names = {p.name for p in stub.ListProjects(pb.ListProjectsRequest(),
                                               metadata=(("x-auth-token", login(stub, "alice").token),)).projects}
    assert "temp" not in names


@pytest.mark.parametrize("field", ["id"])
def test_unknown_ids_are_not_found(admin, field):
    for method in (admin.domains.GetDomain, admin.projects.GetProject,
                   admin.projects.ListProjectParents):
        assert rpc_error(admin.call, method, apb.GetRequest(id="nope")).code() == CODE.NOT_FOUND


@pytest.mark.every_backend
def test_a_description_beyond_what_every_backend_holds_is_invalid_argument(admin):
    """65,536 bytes: MariaDB's TEXT cannot hold it (INTERNAL there), SQLite and
    PostgreSQL kept it; now refused everywhere, naming the field."""
    long = "d" * 65_536
    domain = admin.call(admin.domains.CreateDomain, apb.CreateDomainRequest(name="Long"))
    project = _create_project(admin, "long")
    for method, request, field in (
            (admin.domains.CreateDomain, apb.CreateDomainRequest(name="L2", description=long), "domain"),
            (admin.domains.UpdateDomain, apb.UpdateDomainRequest(id=domain.id, description=long), "domain"),
            (admin.projects.CreateProject, apb.CreateProjectRequest(name="l2", description=long), "project"),
            (admin.projects.UpdateProject, apb.UpdateProjectRequest(id=project.id, description=long),
             "project")):
        error = rpc_error(admin.call, method, request)
        assert error.code() == CODE.INVALID_ARGUMENT, error.details()
        assert error.details().startswith(f"{field}.description: "), error.details()
