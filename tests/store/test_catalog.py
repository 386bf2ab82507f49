"""CatalogStore on every backend: regions, services and endpoints, what a region still
used refuses, a service deleted with its endpoints, and paging."""

import pytest

from identity_grpc.errors import AlreadyExists, NotFound

from .helpers import ROUNDS, is_reference_error, pages_while_inserting, race


@pytest.fixture
def compute(store):
    return store.catalog.create_service("compute", "nova", "computes")


def test_a_region_is_created_found_changed_and_deleted(store):
    c = store.catalog
    top = c.create_region("eu", "europe")
    west = c.create_region("eu-west", parent_region_id="eu")
    assert (c.get_region("eu").description, c.get_region("eu-west").parent_region_id) == (
        "europe", "eu")
    assert c.find_region("nope") is None
    assert c.child_region_ids(top.id) == ["eu-west"]
    moved = c.update_region(west.id, lambda row: {"parent_region": None, "description": "w"})
    assert (moved.parent_region_id, moved.description) == (None, "w")
    assert c.get_region(west.id).parent_region_id is None
    assert c.delete_region("eu-west") == 1 and c.delete_region("eu-west") == 0
    with pytest.raises(NotFound, match="region eu-west not found"):
        c.get_region("eu-west")
    with pytest.raises(NotFound, match="region nope not found"):
        c.update_region("nope", lambda row: {"description": "x"})


def test_a_region_id_is_taken_once(store):
    store.catalog.create_region("eu")
    with pytest.raises(AlreadyExists, match="region 'eu' already exists"):
        store.catalog.create_region("eu")


@pytest.mark.parametrize("user", ["endpoint", "child region"])
def test_deleting_a_region_still_used_is_refused(store, compute, user):
    c = store.catalog
    c.create_region("eu")
    if user == "endpoint":
        endpoint = c.create_endpoint(compute.id, "public", "https://eu", region_id="eu")
        assert c.endpoint_ids_in_region("eu") == [endpoint.id]
    else:
        c.create_region("eu-west", parent_region_id="eu")
    with pytest.raises(Exception) as refused:
        with store.db.atomic():
            c.delete_region("eu")
    assert is_reference_error(refused.value), refused.value
    assert c.find_region("eu") is not None


def test_region_pages_cover_every_region_once_in_id_order(store):
    for i in range(0, 14, 2):
        store.catalog.create_region(f"r{i:02d}")

    def insert(n):
        store.catalog.create_region(f"r{n * 3 - 1:02d}x")
        store.catalog.create_region(f"r{n * 3 + 7:02d}y")
    pages = pages_while_inserting(lambda token: store.catalog.list_regions(
        page_size=3, page_token=token), insert)
    ids = [r.id for page in pages for r in page]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert {f"r{i:02d}" for i in range(0, 14, 2)} <= set(ids)


def test_a_service_is_created_found_changed_and_deleted_with_its_endpoints(store, compute):
    c = store.catalog
    assert (c.get_service(compute.id).type, c.get_service(compute.id).name) == ("compute", "nova")
    assert c.find_service_by_type_and_name("compute", "nova").id == compute.id
    assert c.find_service_by_type_and_name("compute", "other") is None
    changed = c.update_service(compute.id, lambda row: {"enabled": False})
    assert changed.enabled is False and c.get_service(compute.id).enabled is False
    endpoints = {c.create_endpoint(compute.id, i, f"https://{i}").id for i in ("public", "admin")}
    assert set(c.delete_service(compute.id)) == endpoints
    assert c.find_service(compute.id) is None
    assert all(c.find_endpoint(e) is None for e in endpoints)
    with pytest.raises(NotFound, match=f"service {compute.id} not found"):
        c.get_service(compute.id)


def test_only_enabled_services_and_endpoints_are_what_tokens_carry(store, compute):
    c = store.catalog
    off = c.create_service("image", enabled=False)
    on = c.create_endpoint(compute.id, "public", "https://on")
    c.create_endpoint(compute.id, "admin", "https://off", enabled=False)
    c.create_endpoint(off.id, "public", "https://image")
    assert [s.id for s in c.enabled_services()] == [compute.id]
    assert [e.id for e in c.enabled_endpoints() if e.service_id == compute.id] == [on.id]


def test_an_endpoint_is_created_found_changed_and_deleted(store, compute):
    c = store.catalog
    c.create_region("eu")
    endpoint = c.create_endpoint(compute.id, "public", "https://x", region_id="eu")
    got = c.get_endpoint(endpoint.id)
    assert (got.service_id, got.interface, got.url, got.region_id, got.enabled) == (
        compute.id, "public", "https://x", "eu", True)
    changed = c.update_endpoint(endpoint.id, lambda row: {"region": None, "url": "https://y"})
    assert (changed.region_id, changed.url) == (None, "https://y")
    assert c.get_endpoint(endpoint.id).url == "https://y"
    assert c.delete_endpoint(endpoint.id) == 1 and c.delete_endpoint(endpoint.id) == 0
    with pytest.raises(NotFound, match=f"endpoint {endpoint.id} not found"):
        c.get_endpoint(endpoint.id)


def test_an_endpoint_of_a_missing_service_or_region_is_refused(store, compute):
    for service_id, region_id in (("nope", None), (compute.id, "nowhere")):
        with pytest.raises(Exception) as refused:
            with store.db.atomic():
                store.catalog.create_endpoint(service_id, "public", "https://x", region_id)
        assert is_reference_error(refused.value), refused.value


def test_endpoints_and_services_are_listed_by_their_filters(store, compute):
    c = store.catalog
    image = c.create_service("image", "glance")
    c.create_region("eu")
    a = c.create_endpoint(compute.id, "public", "https://a", region_id="eu")
    b = c.create_endpoint(compute.id, "admin", "https://b", enabled=False)
    g = c.create_endpoint(image.id, "public", "https://g")
    assert {e.id for e in c.list_endpoints(service_id=compute.id)[0]} == {a.id, b.id}
    assert {e.id for e in c.list_endpoints(interface="public")[0]} == {a.id, g.id}
    assert [e.id for e in c.list_endpoints(region_id="eu")[0]] == [a.id]
    assert [e.id for e in c.list_endpoints(enabled=False)[0]] == [b.id]
    assert [s.id for s in c.list_services(type="image")[0]] == [image.id]
    assert [s.id for s in c.list_services(name="nova")[0]] == [compute.id]


def test_endpoint_pages_cover_every_endpoint_once_in_id_order(store, compute):
    for i in range(7):
        store.catalog.create_endpoint(compute.id, "public", f"https://{i}")
    before = {e.id for e in store.catalog.list_endpoints()[0]}
    pages = pages_while_inserting(
        lambda token: store.catalog.list_endpoints(page_size=3, page_token=token),
        lambda n: store.catalog.create_endpoint(compute.id, "admin", f"https://new{n}"))
    ids = [e.id for page in pages for e in page]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) and before <= set(ids)


def test_service_pages_cover_every_service_once_in_type_order(store):
    for i in range(0, 10, 2):
        store.catalog.create_service(f"t{i:02d}")
    pages = pages_while_inserting(
        lambda token: store.catalog.list_services(page_size=2, page_token=token),
        lambda n: store.catalog.create_service(f"t{n * 2 + 1:02d}"))
    types = [s.type for page in pages for s in page]
    assert types == sorted(types) and len(types) == len(set(types))
    assert {f"t{i:02d}" for i in range(0, 10, 2)} <= set(types)


def test_two_replicas_changing_one_service_lose_neither_change(store, other_store, compute):
    race(store, other_store, lambda replica: lambda change: replica.catalog.update_service(
        compute.id, change))
    assert sorted(store.catalog.get_service(compute.id).description) == sorted(
        "computes" + "a" * ROUNDS + "b" * ROUNDS)
