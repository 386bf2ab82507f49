"""ResourceStore on every backend: domains and projects, their unique names, the
project hierarchy, paging, and what a domain or project still referenced refuses."""

import pytest

from identity_grpc.errors import AlreadyExists, InvalidArgument, NotFound

from .helpers import ROUNDS, is_reference_error, pages_while_inserting, race


@pytest.fixture
def acme(store):
    return store.resources.create_domain("acme", "the acme domain")


def tree(store, domain_id: str) -> dict:
    """root -> (a -> (a1, a2 -> a21), b): by name, each with its id."""
    r = store.resources
    made = {"root": r.create_project("root", domain_id)}
    for name, parent in (("b", "root"), ("a", "root"), ("a2", "a"), ("a1", "a"), ("a21", "a2")):
        made[name] = r.create_project(name, domain_id, parent_id=made[parent].id)
    return made


# ---- domains ------------------------------------------------------------------

def test_a_domain_is_created_found_changed_and_deleted(store, acme):
    r = store.resources
    assert r.get_domain(acme.id).name == "acme"
    assert r.find_domain(acme.id).description == "the acme domain"
    assert r.find_domain_by_name("acme").id == acme.id
    assert r.domain_exists(acme.id) and not r.domain_exists("nope")
    assert r.find_domain("nope") is None and r.find_domain_by_name("nope") is None
    changed = r.update_domain(acme.id, lambda row: {"name": "acme2", "enabled": False})
    assert (changed.name, changed.enabled) == ("acme2", False)
    assert (r.get_domain(acme.id).name, r.get_domain(acme.id).enabled) == ("acme2", False)
    assert set(r.domains_by_ids([acme.id, "nope"])) == {acme.id}
    assert r.domains_by_ids([]) == {}
    assert r.delete_domain(acme.id) == 1
    assert r.delete_domain(acme.id) == 0
    with pytest.raises(NotFound, match=f"domain {acme.id} not found"):
        r.get_domain(acme.id)


def test_a_domain_name_is_taken_once(store, acme):
    with pytest.raises(AlreadyExists, match="a domain named 'acme' already exists"):
        store.resources.create_domain("acme")
    other = store.resources.create_domain("other")
    with pytest.raises(AlreadyExists, match="a domain named 'acme' already exists"):
        store.resources.update_domain(other.id, lambda row: {"name": "acme"})
    assert store.resources.get_domain(other.id).name == "other"


def test_changing_a_missing_domain_is_not_found_and_a_refused_change_writes_nothing(store, acme):
    with pytest.raises(NotFound, match="domain nope not found"):
        store.resources.update_domain("nope", lambda row: {"name": "x"})

    def refuse(row):
        raise InvalidArgument("domain.name", "refused")
    with pytest.raises(InvalidArgument):
        store.resources.update_domain(acme.id, refuse)
    assert store.resources.get_domain(acme.id).name == "acme"


@pytest.mark.parametrize("holder", ["project", "user", "group", "role"])
def test_deleting_a_domain_that_still_holds_anything_is_refused(store, acme, holder):
    t = store.tables
    if holder == "project":
        store.resources.create_project("p", acme.id)
    elif holder == "user":
        t.User.create(name="u", domain=acme.id)
    elif holder == "group":
        t.Group.create(name="g", domain=acme.id)
    else:
        store.assignments.create_role("r", domain_id=acme.id)
    with pytest.raises(Exception) as refused:
        with store.db.atomic():
            store.resources.delete_domain(acme.id)
    assert is_reference_error(refused.value), refused.value
    assert store.resources.find_domain(acme.id) is not None


def test_two_replicas_changing_one_domain_lose_neither_change(store, other_store, acme):
    race(store, other_store, lambda replica: lambda change: replica.resources.update_domain(
        acme.id, change))
    assert sorted(store.resources.get_domain(acme.id).description) == sorted(
        "the acme domain" + "a" * ROUNDS + "b" * ROUNDS)


def test_domain_pages_cover_every_domain_once_in_name_order(store):
    for i in range(0, 20, 2):
        store.resources.create_domain(f"d{i:02d}")
    seen_before = {d.name for d in store.resources.list_domains(page_size=1000)[0]}

    def insert(n):  # one before the cursor, one after it
        store.resources.create_domain(f"d{n * 4 - 1:02d}x")
        store.resources.create_domain(f"d{n * 4 + 9:02d}y")
    pages = pages_while_inserting(
        lambda token: store.resources.list_domains(page_size=3, page_token=token), insert)
    names = [d.name for page in pages for d in page]
    assert all(len(page) <= 3 for page in pages)
    assert names == sorted(names) and len(names) == len(set(names))
    assert seen_before <= set(names)


def test_domains_are_listed_by_name_and_enabled(store, acme):
    store.resources.create_domain("off", enabled=False)
    r = store.resources
    assert [d.name for d in r.list_domains(name="acme")[0]] == ["acme"]
    assert [d.name for d in r.list_domains(enabled=False)[0]] == ["off"]
    assert "off" not in [d.name for d in r.list_domains(enabled=True)[0]]


# ---- projects -----------------------------------------------------------------

def test_a_project_is_created_found_changed_and_deleted(store, acme):
    r = store.resources
    p = r.create_project("web", acme.id, "the web project", enabled=False)
    got = r.get_project(p.id)
    assert (got.name, got.domain_id, got.description, got.enabled, got.parent_id) == (
        "web", acme.id, "the web project", False, None)
    assert r.find_project(p.id).id == p.id and r.find_project("nope") is None
    assert r.find_project_by_name(acme.id, "web").id == p.id
    assert r.find_project_by_name("default", "web") is None
    assert r.count_projects_in_domain(acme.id) == 1
    changed = r.update_project(p.id, lambda row: {"name": "www", "enabled": True})
    assert (changed.name, changed.enabled) == ("www", True)
    assert r.get_project(p.id).name == "www"
    assert set(r.projects_by_ids([p.id, "nope"])) == {p.id} and r.projects_by_ids([]) == {}
    assert r.delete_project(p.id) == 1 and r.delete_project(p.id) == 0
    with pytest.raises(NotFound, match=f"project {p.id} not found"):
        r.get_project(p.id)


def test_a_project_name_is_taken_once_per_domain(store, acme, default_domain):
    r = store.resources
    r.create_project("web", acme.id)
    r.create_project("web", default_domain)  # another domain: another name
    with pytest.raises(AlreadyExists, match=f"a project named 'web' already exists in domain {acme.id}"):
        r.create_project("web", acme.id)
    other = r.create_project("api", acme.id)
    with pytest.raises(AlreadyExists, match=f"a project named 'web' already exists in domain {acme.id}"):
        r.update_project(other.id, lambda row: {"name": "web"})
    with pytest.raises(NotFound, match="project nope not found"):
        r.update_project("nope", lambda row: {"name": "x"})


def test_a_project_in_a_missing_domain_is_refused(store):
    with pytest.raises(Exception) as refused:
        with store.db.atomic():
            store.resources.create_project("p", "nope")
    assert is_reference_error(refused.value), refused.value


def test_deleting_a_project_with_children_is_refused(store, acme):
    made = tree(store, acme.id)
    assert store.resources.count_children(made["a"].id) == 2
    with pytest.raises(Exception) as refused:
        with store.db.atomic():
            store.resources.delete_project(made["a"].id)
    assert is_reference_error(refused.value), refused.value
    assert store.resources.find_project(made["a"].id) is not None


def test_the_hierarchy_reads_ancestors_subtree_descendants_and_height(store, acme):
    r = store.resources
    made = tree(store, acme.id)
    ids = {name: p.id for name, p in made.items()}
    assert [p.name for p in r.ancestors(made["a21"], max_depth=5)] == ["a2", "a", "root"]
    assert [p.name for p in r.ancestors(made["a21"], max_depth=1)] == ["a2", "a"]
    assert r.ancestors(made["root"], max_depth=5) == []
    assert [p.name for p in r.subtree(ids["root"])] == ["a", "a1", "a2", "a21", "b"]
    # with a limit the nearest levels come first (a, b, then a1), shown depth first
    assert [p.name for p in r.subtree(ids["root"], limit=3)] == ["a", "a1", "b"]
    assert r.subtree(ids["a1"]) == []
    assert r.descendant_ids({ids["a"]}) == {ids["a1"], ids["a2"], ids["a21"]}
    assert r.descendant_ids({ids["a2"], ids["b"]}) == {ids["a21"]}
    assert (r.height(ids["root"]), r.height(ids["a2"]), r.height(ids["b"])) == (3, 1, 0)


def test_a_project_moves_below_another(store, acme):
    made = tree(store, acme.id)
    moved = store.resources.update_project(made["a2"].id, lambda row: {"parent": made["b"].id})
    assert moved.parent_id == made["b"].id
    assert [p.name for p in store.resources.subtree(made["b"].id)] == ["a2", "a21"]


def test_projects_of_domains_and_domains_of_projects(store, acme, default_domain):
    r = store.resources
    made = tree(store, acme.id)
    elsewhere = r.create_project("elsewhere", default_domain, enabled=False)
    all_acme = {p.id for p in made.values()}
    assert r.project_ids_in_domains([acme.id]) == all_acme
    assert r.project_ids_in_domains([]) == set()
    assert r.domain_ids_of_projects([made["a"].id, elsewhere.id]) == {acme.id, default_domain}
    assert r.domain_ids_of_projects([]) == set()
    rows = r.projects_with_domains([made["b"].id, made["a"].id, elsewhere.id])
    assert [(p.name, p.domain.name) for p in rows] == [("a", "acme"), ("b", "acme"),
                                                        ("elsewhere", "Default")]
    assert [p.name for p in r.projects_with_domains(all_acme | {elsewhere.id}, enabled=False)] == [
        "elsewhere"]
    assert len(r.projects_with_domains(all_acme, limit=2)) == 2


def test_project_ids_from_page_a_domain_or_a_subtree_in_id_order(store, acme):
    r = store.resources
    made = tree(store, acme.id)
    below_root = sorted(p.id for n, p in made.items() if n != "root")
    assert r.project_ids_from(None, 100, below=made["root"].id, max_depth=5) == below_root
    assert r.project_ids_from(None, 100, below=made["root"].id, max_depth=2) == sorted(
        made[n].id for n in ("a", "b", "a1", "a2"))
    everything = sorted(p.id for p in made.values())
    assert r.project_ids_from(None, 100, domain_id=acme.id) == everything
    assert r.project_ids_from(everything[2], 2, domain_id=acme.id) == everything[2:4]


def test_project_pages_cover_every_project_once_in_name_order(store, acme):
    for i in range(0, 16, 2):
        store.resources.create_project(f"p{i:02d}", acme.id)
    before = {p.name for p in store.resources.list_projects(domain_id=acme.id)[0]}

    def insert(n):
        store.resources.create_project(f"p{n * 3 - 1:02d}x", acme.id)
        store.resources.create_project(f"p{n * 3 + 8:02d}y", acme.id)
    pages = pages_while_inserting(lambda token: store.resources.list_projects(
        domain_id=acme.id, page_size=3, page_token=token), insert)
    names = [p.name for page in pages for p in page]
    assert names == sorted(names) and len(names) == len(set(names)) and before <= set(names)


def test_projects_are_listed_by_parent_name_and_level(store, acme):
    r = store.resources
    made = tree(store, acme.id)
    assert [p.name for p in r.list_projects(parent_id=made["a"].id)[0]] == ["a1", "a2"]
    assert [p.name for p in r.list_projects(domain_id=acme.id, top_level=True)[0]] == ["root"]
    assert [p.name for p in r.list_projects(name="a21")[0]] == ["a21"]


def test_two_replicas_changing_one_project_lose_neither_change(store, other_store, acme):
    project = store.resources.create_project("p", acme.id)
    race(store, other_store, lambda replica: lambda change: replica.resources.update_project(
        project.id, change))
    assert sorted(store.resources.get_project(project.id).description) == sorted(
        "a" * ROUNDS + "b" * ROUNDS)
