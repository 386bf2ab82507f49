"""The project tag store on every backend: tags are added, replaced, removed and read
for many projects in one query; they go with their project; and a project list keeps
the projects its tag filter asks for."""

from identity_grpc.store.project_tags import TagFilter

from .helpers import a_project


def test_tags_are_added_replaced_and_removed(store, default_domain):
    project = a_project(store, default_domain)
    tags = store.project_tags
    assert tags.add(project, "b") is True and tags.add(project, "a") is True
    assert tags.add(project, "a") is False
    assert tags.tags_of([project]) == {project: ("a", "b")}
    assert tags.has(project, "a") and not tags.has(project, "c")
    assert tags.count(project) == 2
    tags.replace(project, ["z", "y", "z"])
    assert tags.tags_of([project]) == {project: ("y", "z")}
    assert tags.remove(project, "y") is True and tags.remove(project, "y") is False
    tags.replace(project, [])
    assert tags.tags_of([project]) == {} and tags.count(project) == 0


def test_tags_of_many_projects_and_none(store, default_domain):
    first, second, third = (a_project(store, default_domain, n) for n in ("p", "q", "r"))
    store.project_tags.replace(first, ["x"])
    store.project_tags.replace(second, ["x", "y"])
    assert store.project_tags.tags_of([first, second, third, "nope"]) == {
        first: ("x",), second: ("x", "y")}
    assert store.project_tags.tags_of([]) == {}


def test_tags_go_with_their_project(store, default_domain):
    project = a_project(store, default_domain)
    store.project_tags.replace(project, ["x", "y"])
    assert store.resources.delete_project(project) == 1
    assert store.project_tags.tags_of([project]) == {}
    assert store.tables.ProjectTag.select().count() == 0


def _names(store, **filters) -> list[str]:
    rows, _ = store.resources.list_projects(tags=TagFilter(**filters))
    return [p.name for p in rows]


def test_lists_filter_projects_by_their_tags(store, default_domain):
    for name, tags in (("ab", ["a", "b"]), ("a", ["a"]), ("bc", ["b", "c"]), ("none", [])):
        store.project_tags.replace(a_project(store, default_domain, name), tags)
    assert _names(store) == ["a", "ab", "bc", "none"]
    assert _names(store, all_of=("a", "b")) == ["ab"]
    assert _names(store, all_of=("a",)) == ["a", "ab"]
    assert _names(store, any_of=("a", "c")) == ["a", "ab", "bc"]
    assert _names(store, not_all_of=("a", "b")) == ["a", "bc", "none"]
    assert _names(store, none_of=("a",)) == ["bc", "none"]
    assert _names(store, all_of=("b",), none_of=("c",)) == ["ab"]
    assert _names(store, all_of=("zzz",)) == []


def test_a_filtered_list_pages(store, default_domain):
    for name in ("p1", "p2", "p3"):
        store.project_tags.replace(a_project(store, default_domain, name), ["t"])
    a_project(store, default_domain, "p0")
    rows, token = store.resources.list_projects(page_size=2, tags=TagFilter(all_of=("t",)))
    assert [p.name for p in rows] == ["p1", "p2"] and token
    rows, token = store.resources.list_projects(page_size=2, page_token=token,
                                                tags=TagFilter(all_of=("t",)))
    assert [p.name for p in rows] == ["p3"] and not token
