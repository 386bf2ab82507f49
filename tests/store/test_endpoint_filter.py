"""EndpointFilterStore on every backend: endpoint groups, endpoints and groups given to
projects, and the associations going with their project, endpoint or group."""

import pytest

from identity_grpc.errors import NotFound
from identity_grpc.store.endpoint_filter import filters_of

from .helpers import a_project


@pytest.fixture
def world(store, default_domain):
    c = store.catalog
    compute = c.create_service("compute", "nova")
    image = c.create_service("image", "glance")
    c.create_region("r1")
    return {
        "project": a_project(store, default_domain, "p"),
        "other": a_project(store, default_domain, "q"),
        "compute": compute.id,
        "nova": c.create_endpoint(compute.id, "public", "http://nova", "r1").id,
        "nova-admin": c.create_endpoint(compute.id, "admin", "http://nova-admin").id,
        "glance": c.create_endpoint(image.id, "public", "http://glance", "r1").id,
    }


def test_an_endpoint_group_is_created_found_listed_changed_and_deleted(store):
    f = store.endpoint_filter
    made = f.create_group("g1", "one", "first", {"interface": "public", "region_id": "r1"})
    assert (made.name, made.description, filters_of(f.get_group("g1"))) == (
        "one", "first", {"interface": "public", "region_id": "r1"})
    f.create_group("g2", "two", "", {"interface": "admin"})
    rows, token = f.list_groups(page_size=1)
    more, last = f.list_groups(page_size=1, page_token=token)
    assert [r.id for r in rows + more] == ["g1", "g2"] and last == ""
    assert [r.id for r in f.list_groups(name="two")[0]] == ["g2"]
    changed = f.update_group("g1", lambda row: {"filters": {"service_id": "s"}, "name": "uno"})
    assert (changed.name, filters_of(f.get_group("g1"))) == ("uno", {"service_id": "s"})
    assert f.delete_group("g1") == 1 and f.delete_group("g1") == 0
    assert f.find_group("g1") is None
    with pytest.raises(NotFound, match="endpoint group g1 not found"):
        f.update_group("g1", lambda row: {"name": "x"})


def test_endpoints_given_to_a_project_are_found_both_ways(store, world):
    f, p = store.endpoint_filter, world["project"]
    assert f.add_project_endpoint(p, world["nova"]) is True
    assert f.add_project_endpoint(p, world["nova"]) is False
    f.add_project_endpoint(p, world["glance"])
    f.add_project_endpoint(world["other"], world["nova"])
    assert f.has_project_endpoint(p, world["nova"])
    assert f.endpoint_ids_of_project(p) == sorted([world["nova"], world["glance"]])
    assert f.project_ids_of_endpoint(world["nova"]) == sorted([p, world["other"]])
    assert f.remove_project_endpoint(p, world["nova"]) == 1
    assert f.remove_project_endpoint(p, world["nova"]) == 0
    assert not f.has_project_endpoint(p, world["nova"])


def test_groups_given_to_a_project_are_found_both_ways(store, world):
    f, p = store.endpoint_filter, world["project"]
    f.create_group("g1", "one", "", {"interface": "public"})
    f.create_group("g2", "two", "", {"interface": "admin"})
    assert f.add_project_group(p, "g2") is True and f.add_project_group(p, "g2") is False
    f.add_project_group(p, "g1")
    f.add_project_group(world["other"], "g1")
    assert [g.id for g in f.groups_of_project(p)] == ["g1", "g2"]
    assert f.project_ids_of_group("g1") == sorted([p, world["other"]])
    assert f.has_project_group(p, "g1")
    assert f.remove_project_group(p, "g1") == 1 and f.remove_project_group(p, "g1") == 0
    assert [g.id for g in f.groups_of_project(p)] == ["g2"]


def test_what_a_group_filters_matches(store, world):
    c = store.catalog
    assert [e.id for e in c.endpoints_matching(interface="public", region_id="r1")] == sorted(
        [world["nova"], world["glance"]])
    assert [e.id for e in c.endpoints_matching(service_id=world["compute"])] == sorted(
        [world["nova"], world["nova-admin"]])
    assert c.endpoints_matching(service_id="nope") == []
    assert [e.id for e in c.endpoints_by_ids([world["glance"], "nope"])] == [world["glance"]]


def test_associations_go_with_their_project_endpoint_or_group(store, world):
    f, p = store.endpoint_filter, world["project"]
    f.create_group("g1", "one", "", {"interface": "public"})
    f.add_project_group(world["other"], "g1")
    f.add_project_group(p, "g1")
    f.add_project_endpoint(p, world["nova"])
    f.add_project_endpoint(world["other"], world["glance"])
    store.catalog.delete_endpoint(world["nova"])
    assert f.endpoint_ids_of_project(p) == []
    store.resources.delete_project(world["other"])
    assert f.project_ids_of_group("g1") == [p]
    assert f.project_ids_of_endpoint(world["glance"]) == []
    f.delete_group("g1")
    assert f.groups_of_project(p) == []
