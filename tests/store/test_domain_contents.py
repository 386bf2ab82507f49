"""What a domain holds, as the stores list it for deleting the domain with its
contents (`Resources.delete_domain`), on every backend."""

from .helpers import another_domain


def test_a_domains_projects_users_groups_and_roles_are_listed(store, default_domain):
    other = another_domain(store)
    r = store.resources
    top = r.create_project("top", other)
    child = r.create_project("child", other, parent_id=top.id)
    r.create_project("elsewhere", default_domain)
    assert r.project_parents_in_domain(other) == {top.id: None, child.id: top.id}
    users = sorted(store.users.create(n, other).id for n in ("u1", "u2"))
    store.users.create("u3", default_domain)
    assert store.users.ids_in_domain(other) == users
    group = store.groups.create("g", other)
    store.groups.create("g", default_domain)
    assert store.groups.ids_in_domain(other) == [group.id]
    role = store.assignments.create_role("local", domain_id=other)
    store.assignments.create_role("global")
    assert store.assignments.role_ids_in_domain(other) == [role.id]
    assert store.users.ids_in_domain("nope") == [] and r.project_parents_in_domain("nope") == {}
