"""The unified limit store on every backend: registered limits (one per service,
region and resource, a region of None meaning every region), limits of projects and
domains (one per registered resource and owner), their filters and pages, and what
goes with a deleted service, project or domain."""

import peewee as pw
import pytest

from .helpers import a_project, another_domain, is_reference_error


@pytest.fixture
def service(store) -> str:
    return store.catalog.create_service("compute", "nova").id


@pytest.fixture
def region(store) -> str:
    return store.catalog.create_region("RegionOne").id


def test_registered_limits_are_created_found_listed_and_deleted(store, service, region):
    limits = store.limits
    everywhere = limits.create_registered(service, None, "cores", 10)
    there = limits.create_registered(service, region, "cores", 20, "in RegionOne")
    assert limits.registered_for(service, None, "cores").id == everywhere.id
    assert limits.registered_for(service, region, "cores").id == there.id
    assert limits.registered_for(service, region, "ram") is None
    found = limits.get_registered(there.id)
    assert (found.service_id, found.region_id, found.resource_name, found.default_limit,
            found.description) == (service, region, "cores", 20, "in RegionOne")
    assert limits.get_registered(everywhere.id).region_id is None
    rows, _ = limits.list_registered(region_id=region)
    assert [r.id for r in rows] == [there.id]
    rows, _ = limits.list_registered(service_id=service, resource_name="cores")
    assert {r.id for r in rows} == {everywhere.id, there.id}
    changed = limits.update_registered(there.id, lambda row: {"default_limit": 30})
    assert changed.default_limit == 30
    assert limits.delete_registered(there.id) is True and limits.find_registered(there.id) is None


def test_one_registered_limit_per_service_region_and_resource(store, service, region):
    store.limits.create_registered(service, None, "cores", 10)
    store.limits.create_registered(service, region, "cores", 10)
    for region_id in (None, region):
        with pytest.raises(pw.IntegrityError):
            with store.db.atomic():
                store.limits.create_registered(service, region_id, "cores", 5)


def test_limits_of_projects_and_domains(store, service, region, default_domain):
    registered = store.limits.create_registered(service, region, "cores", 10)
    project = a_project(store, default_domain)
    other_domain = another_domain(store)
    elsewhere = a_project(store, other_domain, "q")
    mine = store.limits.create_limit(registered.id, project, None, 5, "p")
    theirs = store.limits.create_limit(registered.id, None, other_domain, 7)
    far = store.limits.create_limit(registered.id, elsewhere, None, 9)
    got = store.limits.get_limit(mine.id)
    assert (got.project_id, got.domain_id, got.resource_limit, got.description) == (
        project, None, 5, "p")
    assert got.registered_limit.resource_name == "cores"
    assert store.limits.limit_for(registered.id, other_domain).id == theirs.id
    assert store.limits.count_limits_of(registered.id) == 3

    def ids(**filters):
        return sorted(r.id for r in store.limits.list_limits(**filters)[0])
    assert ids(project_id=project) == [mine.id]
    assert ids(domain_id=other_domain) == [theirs.id]
    assert ids(of_domain=other_domain) == sorted([theirs.id, far.id])
    assert ids(service_id=service, region_id=region, resource_name="cores") == sorted(
        [mine.id, theirs.id, far.id])
    assert ids(resource_name="ram") == []
    rows, token = store.limits.list_limits(page_size=2)
    more, last = store.limits.list_limits(page_size=2, page_token=token)
    assert len(rows) == 2 and len(more) == 1 and not last
    with pytest.raises(pw.IntegrityError) as twice:
        with store.db.atomic():
            store.limits.create_limit(registered.id, project, None, 1)
    assert not is_reference_error(twice.value)
    updated = store.limits.update_limit(mine.id, lambda row: {"resource_limit": 6})
    assert updated.resource_limit == 6 and updated.registered_limit.id == registered.id
    assert store.limits.delete_limit(mine.id) is True and store.limits.find_limit(mine.id) is None


def test_limits_go_with_their_project_domain_service_or_region(store, service, region):
    domain = another_domain(store)
    project = a_project(store, domain)
    registered = store.limits.create_registered(service, region, "cores", 10)
    store.limits.create_limit(registered.id, project, None, 5)
    store.resources.delete_project(project)
    assert store.limits.count_limits_of(registered.id) == 0
    store.limits.create_limit(registered.id, None, domain, 5)
    store.resources.delete_domain(domain)
    assert store.limits.count_limits_of(registered.id) == 0
    store.catalog.delete_region(region)
    assert store.limits.find_registered(registered.id) is None
    again = store.limits.create_registered(service, None, "cores", 10)
    store.catalog.delete_service(service)
    assert store.limits.find_registered(again.id) is None
