"""A role change drops exactly what was computed from that role, on this server and
(through the feed) on every other: the scope answers that carried it or a role
implying it, domain-specific roles included, and the project lists of everyone who
held a deleted role. Answers that never touched it stay cached."""

from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from support import auth_md, login, project_scope, role_names, validate


def _scope_key(service, user_id: str, project_name: str):
    core = service.core
    project = core.resources.find_project(name=project_name,
                                          domain=core.resources.get_domain("default"))
    return (user_id, "project", project.id, None)


def _cached(service, key) -> bool:
    return key in service.core.cache._entries


def test_renaming_a_role_drops_only_the_answers_that_carried_it(admin, service, stub):
    nova = login(stub, "nova", project_scope("service")).token
    alice = login(stub, "alice", project_scope("acme"))
    bob = login(stub, "bob", project_scope("acme"))
    assert "compute-user" in role_names(validate(stub, nova, alice.token))
    assert "compute-user" not in role_names(validate(stub, nova, bob.token))
    alice_key = _scope_key(service, alice.token_info.user.id, "acme")
    bob_key = _scope_key(service, bob.token_info.user.id, "acme")
    assert _cached(service, alice_key) and _cached(service, bob_key)
    role = service.core.assignments.find_role("compute-user")
    admin.call(admin.roles.UpdateRole, apb.UpdateRoleRequest(id=role.id, name="compute-user2"))
    assert not _cached(service, alice_key)
    assert _cached(service, bob_key)  # bob's roles on acme never involved it
    assert "compute-user2" in role_names(validate(stub, nova, alice.token))


def test_an_implication_of_a_domain_specific_role_shows_at_once(admin, service, stub):
    """A domain-specific role is never in a token, only what it implies: the answer
    still depends on it."""
    nova = login(stub, "nova", project_scope("service")).token
    alice = login(stub, "alice", project_scope("acme"))
    ops = admin.call(admin.roles.CreateRole, apb.CreateRoleRequest(name="ops", domain_id="default"))
    admin.call(admin.assignments.GrantRole, apb.GrantRequest(
        role_id=ops.id, actor=apb.Actor(user_id=alice.token_info.user.id),
        target=apb.Target(project_id=alice.token_info.project.id)))
    before = role_names(validate(stub, nova, alice.token))
    assert "ops" not in before and "reader" not in before
    reader = service.core.assignments.find_role("reader")
    admin.call(admin.roles.CreateImpliedRole,
               apb.ImpliedRole(prior_role_id=ops.id, implied_role_id=reader.id))
    assert "reader" in role_names(validate(stub, nova, alice.token))
    admin.call(admin.roles.DeleteImpliedRole,
               apb.ImpliedRole(prior_role_id=ops.id, implied_role_id=reader.id))
    assert "reader" not in role_names(validate(stub, nova, alice.token))


def test_deleting_a_held_role_drops_the_projects_it_reached(admin, service, stub):
    alice = login(stub, "alice")
    listed = stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(alice.token))
    assert {p.name for p in listed.projects} == {"acme", "cyberdyne"}
    role = service.core.assignments.find_role("compute-user")
    admin.call(admin.roles.DeleteRole, apb.DeleteRequest(id=role.id))
    listed = stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(alice.token))
    assert {p.name for p in listed.projects} == {"cyberdyne"}
