"""AssignmentStore on every backend: roles and their unique names, the implied-role
graph, grants and the reads effective roles are made of, and paging, the effective
assignment list's included (`assignment_pages` over the store)."""

import pytest

from identity_grpc.assignment_pages import AssignmentQuery, list_page
from identity_grpc.assignments import RoleGraph
from identity_grpc.errors import AlreadyExists, InvalidArgument, NotFound
from identity_grpc.store.models import SYSTEM_TARGET

from .helpers import ROUNDS, is_reference_error, pages_while_inserting, race


@pytest.fixture
def acme(store):
    return store.resources.create_domain("acme")


@pytest.fixture
def roles(store) -> dict:
    """admin -> member -> reader, and a lone `auditor`: name -> id."""
    a = store.assignments
    made = {name: a.create_role(name).id for name in ("admin", "member", "reader", "auditor")}
    a.add_implication(made["admin"], made["member"])
    a.add_implication(made["member"], made["reader"])
    return made


# ---- roles ----------------------------------------------------------------------

def test_a_role_is_created_found_changed_and_deleted(store, acme):
    a = store.assignments
    role = a.create_role("viewer", "sees things")
    mine = a.create_role("viewer", domain_id=acme.id)  # a domain's own role of that name
    assert a.find_role("viewer").id == role.id and a.find_role("viewer", acme.id).id == mine.id
    assert a.find_role("nope") is None
    got = a.get_role(role.id)
    assert (got.name, got.description, got.domain_id) == ("viewer", "sees things", None)
    assert a.get_role(mine.id).domain_id == acme.id
    assert a.count_roles_in_domain(acme.id) == 1
    assert set(a.roles_by_ids([role.id, "nope"])) == {role.id} and a.roles_by_ids([]) == {}
    assert {r.id for r in a.all_roles()} >= {role.id, mine.id}
    changed = a.update_role(role.id, lambda row: {"name": "watcher"})
    assert changed.name == "watcher" == a.get_role(role.id).name
    assert a.delete_role(role.id) == 1 and a.delete_role(role.id) == 0
    with pytest.raises(NotFound, match=f"role {role.id} not found"):
        a.get_role(role.id)


def test_a_role_name_is_taken_once_globally_and_once_per_domain(store, acme):
    a = store.assignments
    a.create_role("viewer")
    a.create_role("viewer", domain_id=acme.id)
    with pytest.raises(AlreadyExists, match="a role named 'viewer' already exists$"):
        a.create_role("viewer")
    with pytest.raises(AlreadyExists, match=f"a role named 'viewer' already exists in domain {acme.id}"):
        a.create_role("viewer", domain_id=acme.id)
    other = a.create_role("other")
    with pytest.raises(AlreadyExists, match="a role named 'viewer' already exists"):
        a.update_role(other.id, lambda row: {"name": "viewer"})
    with pytest.raises(NotFound, match="role nope not found"):
        a.update_role("nope", lambda row: {"name": "x"})


def test_a_role_of_a_missing_domain_is_refused(store):
    with pytest.raises(Exception) as refused:
        with store.db.atomic():
            store.assignments.create_role("r", domain_id="nope")
    assert is_reference_error(refused.value), refused.value


def test_role_pages_cover_every_role_once_in_name_order(store):
    for i in range(0, 14, 2):
        store.assignments.create_role(f"r{i:02d}")

    def insert(n):
        store.assignments.create_role(f"r{n * 3 - 1:02d}x")
        store.assignments.create_role(f"r{n * 3 + 7:02d}y")
    pages = pages_while_inserting(lambda token: store.assignments.list_roles(
        page_size=3, page_token=token), insert)
    names = [r.name for page in pages for r in page]
    assert names == sorted(names) and len(names) == len(set(names))
    assert {f"r{i:02d}" for i in range(0, 14, 2)} <= set(names)
    assert [r.name for r in store.assignments.list_roles(name="r04")[0]] == ["r04"]


def test_two_replicas_changing_one_role_lose_neither_change(store, other_store):
    role = store.assignments.create_role("r")
    race(store, other_store, lambda replica: lambda change: replica.assignments.update_role(
        role.id, change))
    assert sorted(store.assignments.get_role(role.id).description) == sorted(
        "a" * ROUNDS + "b" * ROUNDS)


# ---- the implied-role graph -------------------------------------------------------

def test_the_implied_role_graph_reads_every_edge_or_one_roles(store, roles):
    a = store.assignments
    assert sorted(a.implications()) == sorted([(roles["admin"], roles["member"]),
                                               (roles["member"], roles["reader"])])
    assert a.implications(roles["member"]) == [(roles["member"], roles["reader"])]
    assert a.implications(roles["reader"]) == []
    a.add_implication(roles["admin"], roles["member"])  # again: nothing changes
    assert len(a.implications(roles["admin"])) == 1
    graph = RoleGraph.load(a)
    assert set(graph.closure([roles["admin"]])) == {roles["admin"], roles["member"], roles["reader"]}
    assert [r.name for r in graph.expand([roles["member"]])] == ["member", "reader"]


def test_removing_an_implication_that_is_not_there_is_not_found(store, roles):
    a = store.assignments
    a.remove_implication(roles["admin"], roles["member"])
    with pytest.raises(NotFound, match="no such role implication"):
        a.remove_implication(roles["admin"], roles["member"])
    assert a.implications(roles["admin"]) == []


def test_an_implication_of_a_missing_role_is_refused(store, roles):
    with pytest.raises(Exception) as refused:
        with store.db.atomic():
            store.assignments.add_implication(roles["admin"], "nope")
    assert is_reference_error(refused.value), refused.value


def test_deleting_a_role_deletes_its_grants_and_implications(store, roles, default_domain):
    a = store.assignments
    a.grant(roles["member"], "user", "u1", "domain", default_domain)
    a.delete_role(roles["member"])
    assert a.implications() == []
    assert a.grants_held([("user", "u1")]) == []


# ---- grants ---------------------------------------------------------------------

def test_a_grant_is_given_once_found_and_revoked(store, roles):
    a = store.assignments
    a.grant(roles["reader"], "user", "u1", "project", "p1")
    a.grant(roles["reader"], "user", "u1", "project", "p1")  # again: nothing changes
    assert a.has_grant(roles["reader"], "user", "u1", "project", "p1")
    assert not a.has_grant(roles["reader"], "user", "u1", "project", "p1", inherited=True)
    assert a.grants_held([("user", "u1")]) == [("project", "p1", roles["reader"])]
    a.revoke(roles["reader"], "user", "u1", "project", "p1")
    with pytest.raises(NotFound, match="no such role assignment"):
        a.revoke(roles["reader"], "user", "u1", "project", "p1")
    assert not a.has_grant(roles["reader"], "user", "u1", "project", "p1")


def test_a_grant_of_a_missing_role_is_refused(store):
    with pytest.raises(Exception) as refused:
        with store.db.atomic():
            store.assignments.grant("nope", "user", "u1", "project", "p1")
    assert is_reference_error(refused.value), refused.value


def test_what_actors_hold_on_targets(store, roles):
    a = store.assignments
    a.grant(roles["reader"], "user", "u1", "project", "p1")
    a.grant(roles["member"], "group", "g1", "project", "p2", inherited=True)
    a.grant(roles["admin"], "group", "g1", "domain", "d1", inherited=True)
    a.grant(roles["auditor"], "user", "u2", "system", SYSTEM_TARGET)
    u1_and_g1 = [("user", "u1"), ("group", "g1")]
    assert a.role_ids_held(u1_and_g1, [("project", "p1", False)]) == {roles["reader"]}
    assert a.role_ids_held(u1_and_g1, [("project", "p3", False), ("project", ["p2"], True),
                                       ("domain", "d1", True)]) == {roles["member"], roles["admin"]}
    assert a.role_ids_held([("user", "u2")], [("project", "p1", False)]) == set()
    assert a.target_ids(u1_and_g1, "project") == {"p1"}
    assert a.target_ids(u1_and_g1, "project", inherited=True) == {"p2"}
    assert a.target_ids(u1_and_g1, "domain", inherited=True) == {"d1"}
    assert sorted(a.grants_held(u1_and_g1)) == sorted([
        ("project", "p1", roles["reader"]), ("project", "p2", roles["member"]),
        ("domain", "d1", roles["admin"])])


def test_deleting_the_grants_on_a_target_leaves_the_others(store, roles):
    a = store.assignments
    a.grant(roles["reader"], "user", "u1", "project", "p1")
    a.grant(roles["member"], "group", "g1", "project", "p1", inherited=True)
    a.grant(roles["reader"], "user", "u1", "project", "p2")
    assert a.delete_on_target("project", "p1") == 2
    assert a.grants_held([("user", "u1"), ("group", "g1")]) == [("project", "p2", roles["reader"])]


def test_grants_page_in_key_order_and_find_their_siblings(store, roles):
    a = store.assignments
    for actor in ("u1", "u2"):
        for role in ("admin", "member", "reader"):
            a.grant(roles[role], "user", actor, "project", "p1")
    first = a.grants_in_key_order(None, None, None, None, False, 2)
    rest = a.grants_in_key_order(None, None, None, _key(first[-1]), False, 100)
    again = a.grants_in_key_order(None, None, None, _key(first[-1]), True, 100)
    assert len(first + rest) == 6 and again[0].role_id == first[-1].role_id
    keys = [_key(g) for g in first + rest]
    assert keys == sorted(keys)
    only = a.grants_in_key_order([("user", "u2")], [("project", "p1", None)], roles["member"],
                                 None, False, 100)
    assert [(g.actor_id, g.role_id) for g in only] == [("u2", roles["member"])]
    last = max((g for g in first + rest if g.actor_id == "u1"), key=lambda g: g.role_id)
    assert sorted(a.roles_beside(last)) == sorted(
        r for r in (roles["admin"], roles["member"], roles["reader"]) if r < last.role_id)


def test_grant_pages_cover_every_grant_once_while_grants_are_added(store, roles):
    a = store.assignments
    for i in range(0, 12, 2):
        a.grant(roles["reader"], "user", f"u{i:02d}", "project", "p1")
    before = {_key(g) for g in a.grants_in_key_order(None, None, None, None, False, 1000)}
    seen, after = [], None
    while True:
        page = a.grants_in_key_order(None, None, None, after, False, 3)
        seen += page
        if len(page) < 3:
            break
        after = _key(page[-1])
        n = len(seen)
        a.grant(roles["reader"], "user", f"u{n - 2:02d}x", "project", "p1")  # behind
        a.grant(roles["reader"], "user", f"u{n + 5:02d}y", "project", "p1")  # ahead
    keys = [_key(g) for g in seen]
    assert keys == sorted(keys) and len(keys) == len(set(keys)) and before <= set(keys)


def _key(grant) -> tuple:
    return (grant.actor_type, grant.actor_id, grant.target_type, grant.target_id,
            bool(grant.inherited), grant.role_id)


# ---- effective assignment pages ---------------------------------------------------

class _NoProjects:
    """The Resources stand-in an effective list by domain needs: none."""


def test_effective_pages_cover_every_row_once_while_members_and_projects_are_added(
        store, roles, acme):
    t = store.tables
    group = t.Group.create(name="g", domain=acme.id)
    users = [t.User.create(id=f"user{i:02d}", name=f"user{i:02d}", domain=acme.id) for i in (0, 2, 4)]
    for user in users:
        t.GroupMembership.create(user=user.id, group=group.id)
    for i in (0, 2, 4):
        store.resources.create_project(f"p{i}", acme.id)
    store.assignments.grant(roles["admin"], "group", group.id, "domain", acme.id, inherited=True)
    graph = RoleGraph.load(store.assignments)
    query = AssignmentQuery(domain_id=acme.id, effective=True)

    def rows(token: str = "", size: int = 1000):
        return list_page(store, query, graph, _NoProjects(), size, token)
    before = set(rows()[0])
    assert len(before) == 3 * 3 * 3  # members x projects x (admin, member, reader)

    def insert(n):  # on the first pages: a member and a project, before or after the cursor
        if n > 4:
            return
        user = t.User.create(id=f"user{n % 5:02d}x", name=f"n{n}", domain=acme.id)
        t.GroupMembership.create(user=user.id, group=group.id)
        store.resources.create_project(f"q{n}", acme.id)
    pages = pages_while_inserting(lambda token: rows(token, 4), insert)
    seen = [a for page in pages for a in page]
    assert all(len(page) <= 4 for page in pages)
    assert len(seen) == len(set(seen)), "a row came twice"
    assert before <= set(seen), "a row there from the start was skipped"


def test_an_effective_page_token_is_tied_to_its_filters(store, roles, acme):
    graph = RoleGraph.load(store.assignments)
    for i in range(3):
        store.assignments.grant(roles["reader"], "user", f"u{i}", "domain", acme.id)
    query = AssignmentQuery(domain_id=acme.id, effective=True)
    _, token = list_page(store, query, graph, _NoProjects(), 1, "")
    assert token
    with pytest.raises(InvalidArgument, match="page_token"):
        list_page(store, AssignmentQuery(domain_id=acme.id), graph, _NoProjects(), 1, token)
