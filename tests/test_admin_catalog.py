"""Managing the catalog over the admin API: regions, services and endpoints, with the
admin's system-scoped token, and what tokens' catalogs show right after a change."""

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.v1 import identity_pb2 as pb

from support import auth_md, login, project_scope, rpc_error

SYSTEM = pb.Scope(system=pb.SystemScope(all=True))


class Admin:
    """The three catalog stubs, calling with one token."""

    def __init__(self, channel, token: str):
        self.md = auth_md(token)
        self.regions = agrpc.RegionsStub(channel)
        self.services = agrpc.ServicesStub(channel)
        self.endpoints = agrpc.EndpointsStub(channel)

    def call(self, method, request):
        return method(request, metadata=self.md)

    def fails(self, method, request) -> grpc.RpcError:
        return rpc_error(method, request, metadata=self.md)


@pytest.fixture
def admin(service, stub) -> Admin:
    return Admin(service.channel, login(stub, "admin", SYSTEM).token)


def _all_pages(method, request, field: str, md) -> list:
    """Every row of a list, fetched one per page."""
    rows, pages = [], 0
    request.page_size = 1
    while True:
        response = method(request, metadata=md)
        rows.extend(getattr(response, field))
        pages += 1
        assert len(getattr(response, field)) <= 1
        if not response.next_page_token:
            return rows
        assert pages < 100
        request.page_token = response.next_page_token


def _catalog_urls(stub, token: str) -> set[str]:
    services = stub.Catalog(pb.CatalogRequest(), metadata=auth_md(token)).services
    return {e.url for s in services for e in s.endpoints}


def _token_urls(token_info) -> set[str]:
    return {e.url for s in token_info.catalog for e in s.endpoints}


# ---- regions -------------------------------------------------------------------

def test_region_create_get_list_update_delete(admin):
    r = admin.regions
    two = admin.call(r.CreateRegion, apb.Region(id="RegionTwo", description="second",
                                                parent_region_id="RegionOne"))
    assert (two.id, two.description, two.parent_region_id) == ("RegionTwo", "second", "RegionOne")
    assert admin.call(r.GetRegion, apb.GetRequest(id="RegionTwo")) == two
    admin.call(r.CreateRegion, apb.Region(id="RegionThree"))
    generated = admin.call(r.CreateRegion, apb.Region(description="no id given"))
    assert generated.id

    everything = admin.call(r.ListRegions, apb.ListRegionsRequest()).regions
    assert {x.id for x in everything} == {"RegionOne", "RegionTwo", "RegionThree", generated.id}
    children = admin.call(r.ListRegions, apb.ListRegionsRequest(parent_region_id="RegionOne"))
    assert [x.id for x in children.regions] == ["RegionTwo"]
    paged = _all_pages(r.ListRegions, apb.ListRegionsRequest(), "regions", admin.md)
    assert [x.id for x in paged] == [x.id for x in everything]

    # Only the fields set change.
    updated = admin.call(r.UpdateRegion, apb.UpdateRegionRequest(id="RegionTwo", description="2nd"))
    assert (updated.description, updated.parent_region_id) == ("2nd", "RegionOne")
    moved = admin.call(r.UpdateRegion, apb.UpdateRegionRequest(id="RegionTwo",
                                                               parent_region_id="RegionThree"))
    assert (moved.description, moved.parent_region_id) == ("2nd", "RegionThree")
    cleared = admin.call(r.UpdateRegion, apb.UpdateRegionRequest(id="RegionTwo", parent_region_id=""))
    assert (cleared.description, cleared.parent_region_id) == ("2nd", "")

    admin.call(r.DeleteRegion, apb.DeleteRequest(id="RegionTwo"))
    error = admin.fails(r.GetRegion, apb.GetRequest(id="RegionTwo"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = admin.fails(r.DeleteRegion, apb.DeleteRequest(id="RegionTwo"))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_region_bad_input(admin):
    r = admin.regions
    error = admin.fails(r.CreateRegion, apb.Region(id="RegionOne"))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    error = admin.fails(r.CreateRegion, apb.Region(id="Orphan", parent_region_id="Nowhere"))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "Nowhere" in error.details()
    error = admin.fails(r.CreateRegion, apb.Region(id="x" * 256))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "region.id" in error.details()
    error = admin.fails(r.CreateRegion, apb.Region(id="A\x00B"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = admin.fails(r.GetRegion, apb.GetRequest(id="Nowhere"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = admin.fails(r.UpdateRegion, apb.UpdateRegionRequest(id="Nowhere", description="x"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = admin.fails(r.UpdateRegion, apb.UpdateRegionRequest(id="RegionOne",
                                                                parent_region_id="Nowhere"))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_region_cycles_are_refused(admin):
    r = admin.regions
    admin.call(r.CreateRegion, apb.Region(id="Child", parent_region_id="RegionOne"))
    admin.call(r.CreateRegion, apb.Region(id="Grandchild", parent_region_id="Child"))
    for region_id, parent in (("RegionOne", "RegionOne"), ("RegionOne", "Grandchild"),
                              ("Child", "Grandchild")):
        error = admin.fails(r.UpdateRegion, apb.UpdateRegionRequest(id=region_id,
                                                                    parent_region_id=parent))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "parent_region_id" in error.details()
    assert admin.call(r.GetRegion, apb.GetRequest(id="RegionOne")).parent_region_id == ""


def test_region_in_use_cannot_be_deleted(admin):
    r, e = admin.regions, admin.endpoints
    # RegionOne holds the bootstrap endpoints.
    error = admin.fails(r.DeleteRegion, apb.DeleteRequest(id="RegionOne"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "endpoint" in error.details() and "child region" not in error.details()

    admin.call(r.CreateRegion, apb.Region(id="Parent"))
    admin.call(r.CreateRegion, apb.Region(id="Kid", parent_region_id="Parent"))
    error = admin.fails(r.DeleteRegion, apb.DeleteRequest(id="Parent"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "child region" in error.details() and "Kid" in error.details()

    svc = admin.call(admin.services.CreateService, apb.CreateServiceRequest(type="dns"))
    ep = admin.call(e.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface="public", url="http://dns", region_id="Kid"))
    error = admin.fails(r.DeleteRegion, apb.DeleteRequest(id="Kid"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "endpoint" in error.details() and ep.id in error.details()

    admin.call(e.DeleteEndpoint, apb.DeleteRequest(id=ep.id))
    admin.call(r.DeleteRegion, apb.DeleteRequest(id="Kid"))
    admin.call(r.DeleteRegion, apb.DeleteRequest(id="Parent"))
    ids = {x.id for x in admin.call(r.ListRegions, apb.ListRegionsRequest()).regions}
    assert ids == {"RegionOne"}


# ---- services ------------------------------------------------------------------

def test_service_create_get_list_update_delete(admin):
    s = admin.services
    glance = admin.call(s.CreateService, apb.CreateServiceRequest(
        type="image", name="glance", description="images"))
    assert (glance.type, glance.name, glance.description, glance.enabled) == (
        "image", "glance", "images", True)
    assert admin.call(s.GetService, apb.GetRequest(id=glance.id)) == glance
    off = admin.call(s.CreateService, apb.CreateServiceRequest(type="image", name="other",
                                                               enabled=False))
    assert not off.enabled

    everything = admin.call(s.ListServices, apb.ListServicesRequest()).services
    assert {x.type for x in everything} == {"identity", "compute", "image"}
    by_type = admin.call(s.ListServices, apb.ListServicesRequest(type="image")).services
    assert {x.id for x in by_type} == {glance.id, off.id}
    by_name = admin.call(s.ListServices, apb.ListServicesRequest(name="glance")).services
    assert [x.id for x in by_name] == [glance.id]
    both = admin.call(s.ListServices, apb.ListServicesRequest(type="compute", name="glance"))
    assert list(both.services) == []
    paged = _all_pages(s.ListServices, apb.ListServicesRequest(), "services", admin.md)
    assert [x.id for x in paged] == [x.id for x in everything]
    paged = _all_pages(s.ListServices, apb.ListServicesRequest(type="image"), "services", admin.md)
    assert [x.id for x in paged] == [x.id for x in by_type]

    renamed = admin.call(s.UpdateService, apb.UpdateServiceRequest(id=glance.id, name="glance2"))
    assert (renamed.type, renamed.name, renamed.description, renamed.enabled) == (
        "image", "glance2", "images", True)
    disabled = admin.call(s.UpdateService, apb.UpdateServiceRequest(id=glance.id, enabled=False))
    assert (disabled.name, disabled.enabled) == ("glance2", False)

    admin.call(s.DeleteService, apb.DeleteRequest(id=glance.id))
    assert admin.fails(s.GetService, apb.GetRequest(id=glance.id)).code() == grpc.StatusCode.NOT_FOUND


def test_service_bad_input(admin):
    s = admin.services
    for request in (apb.CreateServiceRequest(), apb.CreateServiceRequest(type="  "),
                    apb.CreateServiceRequest(type="t" * 256),
                    apb.CreateServiceRequest(type="image", name="n" * 256)):
        error = admin.fails(s.CreateService, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "service." in error.details()
    compute = admin.call(s.ListServices, apb.ListServicesRequest(type="compute")).services[0]
    error = admin.fails(s.UpdateService, apb.UpdateServiceRequest(id=compute.id, type=""))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    for call, request in ((s.GetService, apb.GetRequest(id="nope")),
                          (s.UpdateService, apb.UpdateServiceRequest(id="nope", name="x")),
                          (s.DeleteService, apb.DeleteRequest(id="nope"))):
        assert admin.fails(call, request).code() == grpc.StatusCode.NOT_FOUND
    error = admin.fails(s.ListServices, apb.ListServicesRequest(page_token="garbage"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_deleting_a_service_deletes_its_endpoints(admin):
    s, e = admin.services, admin.endpoints
    svc = admin.call(s.CreateService, apb.CreateServiceRequest(type="network", name="neutron"))
    eps = [admin.call(e.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface=i, url=f"http://{i}:9696", region_id="RegionOne"))
        for i in ("public", "internal", "admin")]
    admin.call(s.DeleteService, apb.DeleteRequest(id=svc.id))
    for ep in eps:
        assert admin.fails(e.GetEndpoint, apb.GetRequest(id=ep.id)).code() == grpc.StatusCode.NOT_FOUND
    assert list(admin.call(e.ListEndpoints, apb.ListEndpointsRequest(service_id=svc.id)).endpoints) == []


# ---- endpoints -----------------------------------------------------------------

def test_endpoint_create_get_list_update_delete(admin):
    s, e = admin.services, admin.endpoints
    admin.call(admin.regions.CreateRegion, apb.Region(id="RegionTwo"))
    svc = admin.call(s.CreateService, apb.CreateServiceRequest(type="image", name="glance"))
    public = admin.call(e.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface="public", url="http://glance:9292", region_id="RegionOne"))
    assert (public.service_id, public.interface, public.region_id, public.url, public.enabled) == (
        svc.id, "public", "RegionOne", "http://glance:9292", True)
    assert admin.call(e.GetEndpoint, apb.GetRequest(id=public.id)) == public
    internal = admin.call(e.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface="internal", url="http://10.0.0.1:9292", region_id="RegionTwo"))
    noregion = admin.call(e.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface="admin", url="http://10.0.0.2:9292", enabled=False))
    assert (noregion.region_id, noregion.enabled) == ("", False)

    def ids(**filters):
        return {x.id for x in admin.call(e.ListEndpoints, apb.ListEndpointsRequest(**filters)).endpoints}

    assert ids(service_id=svc.id) == {public.id, internal.id, noregion.id}
    assert ids(service_id=svc.id, interface="public") == {public.id}
    assert ids(region_id="RegionTwo") == {internal.id}
    assert public.id in ids(interface="public") and internal.id not in ids(interface="public")
    assert ids(service_id=svc.id, region_id="RegionTwo", interface="public") == set()
    everything = admin.call(e.ListEndpoints, apb.ListEndpointsRequest()).endpoints
    assert len(everything) == 5  # identity and compute, from bootstrap and the demo, and ours
    paged = _all_pages(e.ListEndpoints, apb.ListEndpointsRequest(), "endpoints", admin.md)
    assert [x.id for x in paged] == [x.id for x in everything]
    paged = _all_pages(e.ListEndpoints, apb.ListEndpointsRequest(service_id=svc.id), "endpoints",
                       admin.md)
    assert {x.id for x in paged} == ids(service_id=svc.id) and len(paged) == 3

    moved = admin.call(e.UpdateEndpoint, apb.UpdateEndpointRequest(id=public.id, url="http://g:1"))
    assert (moved.interface, moved.region_id, moved.url, moved.enabled) == (
        "public", "RegionOne", "http://g:1", True)
    moved = admin.call(e.UpdateEndpoint, apb.UpdateEndpointRequest(
        id=public.id, interface="internal", region_id="RegionTwo"))
    assert (moved.interface, moved.region_id, moved.url) == ("internal", "RegionTwo", "http://g:1")
    moved = admin.call(e.UpdateEndpoint, apb.UpdateEndpointRequest(id=public.id, region_id=""))
    assert (moved.region_id, moved.url) == ("", "http://g:1")
    moved = admin.call(e.UpdateEndpoint, apb.UpdateEndpointRequest(id=public.id, enabled=False))
    assert (moved.enabled, moved.interface) == (False, "internal")

    admin.call(e.DeleteEndpoint, apb.DeleteRequest(id=public.id))
    assert admin.fails(e.GetEndpoint, apb.GetRequest(id=public.id)).code() == grpc.StatusCode.NOT_FOUND
    assert ids(service_id=svc.id) == {internal.id, noregion.id}


def test_endpoint_bad_input(admin):
    s, e = admin.services, admin.endpoints
    svc = admin.call(s.CreateService, apb.CreateServiceRequest(type="image"))
    good = dict(service_id=svc.id, interface="public", url="http://x", region_id="RegionOne")
    invalid = [({"interface": "private"}, "endpoint.interface"),
               ({"interface": ""}, "endpoint.interface"),
               ({"url": ""}, "endpoint.url"),
               ({"url": "   "}, "endpoint.url"),
               ({"url": "http://x\x00"}, "endpoint.url"),
               ({"service_id": ""}, "service_id")]
    for change, field in invalid:
        error = admin.fails(e.CreateEndpoint, apb.CreateEndpointRequest(**{**good, **change}))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, change
        assert field in error.details()
    for change, what in (({"service_id": "nope"}, "service nope"),
                         ({"region_id": "Nowhere"}, "region Nowhere")):
        error = admin.fails(e.CreateEndpoint, apb.CreateEndpointRequest(**{**good, **change}))
        assert error.code() == grpc.StatusCode.NOT_FOUND and what in error.details()

    ep = admin.call(e.CreateEndpoint, apb.CreateEndpointRequest(**good))
    for update in (apb.UpdateEndpointRequest(id=ep.id, interface="private"),
                   apb.UpdateEndpointRequest(id=ep.id, url="")):
        assert admin.fails(e.UpdateEndpoint, update).code() == grpc.StatusCode.INVALID_ARGUMENT
    error = admin.fails(e.UpdateEndpoint, apb.UpdateEndpointRequest(id=ep.id, region_id="Nowhere"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = admin.fails(e.UpdateEndpoint, apb.UpdateEndpointRequest(id="nope", url="http://y"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = admin.fails(e.ListEndpoints, apb.ListEndpointsRequest(interface="private"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert admin.call(e.GetEndpoint, apb.GetRequest(id=ep.id)) == ep  # nothing half-applied


# ---- what tokens see -------------------------------------------------------------

def test_catalog_changes_show_in_tokens_at_once(admin, stub):
    s, e = admin.services, admin.endpoints
    before = login(stub, "alice", project_scope("acme"))
    assert "http://glance:9292" not in _token_urls(before.token_info)

    svc = admin.call(s.CreateService, apb.CreateServiceRequest(type="image", name="glance"))
    ep = admin.call(e.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface="public", url="http://glance:9292", region_id="RegionOne"))
    fresh = login(stub, "alice", project_scope("acme"))
    image = next(x for x in fresh.token_info.catalog if x.type == "image")
    assert [(x.id, x.interface, x.region, x.url) for x in image.endpoints] == [
        (ep.id, "public", "RegionOne", "http://glance:9292")]
    assert "http://glance:9292" in _catalog_urls(stub, before.token)  # an older token, too

    admin.call(e.UpdateEndpoint, apb.UpdateEndpointRequest(id=ep.id, url="http://glance:9393"))
    assert "http://glance:9393" in _token_urls(login(stub, "alice", project_scope("acme")).token_info)
    assert "http://glance:9292" not in _catalog_urls(stub, before.token)

    admin.call(e.UpdateEndpoint, apb.UpdateEndpointRequest(id=ep.id, enabled=False))
    assert "http://glance:9393" not in _catalog_urls(stub, before.token)
    admin.call(e.UpdateEndpoint, apb.UpdateEndpointRequest(id=ep.id, enabled=True))
    assert "http://glance:9393" in _catalog_urls(stub, before.token)

    admin.call(e.DeleteEndpoint, apb.DeleteRequest(id=ep.id))
    assert "http://glance:9393" not in _token_urls(
        login(stub, "alice", project_scope("acme")).token_info)
    assert "http://glance:9393" not in _catalog_urls(stub, before.token)

    admin.call(s.DeleteService, apb.DeleteRequest(id=svc.id))
    services = stub.Catalog(pb.CatalogRequest(), metadata=auth_md(before.token)).services
    assert "image" not in {x.type for x in services}


def test_deleting_a_service_takes_its_endpoints_out_of_the_catalog(admin, stub):
    compute = admin.call(admin.services.ListServices,
                         apb.ListServicesRequest(type="compute")).services[0]
    alice = login(stub, "alice", project_scope("acme")).token
    assert "http://127.0.0.1:8774/v2.1" in _catalog_urls(stub, alice)
    admin.call(admin.services.DeleteService, apb.DeleteRequest(id=compute.id))
    assert "http://127.0.0.1:8774/v2.1" not in _catalog_urls(stub, alice)
    fresh = login(stub, "alice", project_scope("acme")).token_info
    assert "compute" not in {x.type for x in fresh.catalog}


# ---- policy --------------------------------------------------------------------

def test_non_admin_is_refused_naming_the_rule(admin, service, stub):
    svc = admin.call(admin.services.CreateService, apb.CreateServiceRequest(type="image"))
    ep = admin.call(admin.endpoints.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface="public", url="http://x", region_id="RegionOne"))
    alice = Admin(service.channel, login(stub, "alice", project_scope("acme")).token)
    r, s, e = alice.regions, alice.services, alice.endpoints
    calls = [
        ("get_region", r.GetRegion, apb.GetRequest(id="RegionOne")),
        ("get_region", r.GetRegion, apb.GetRequest(id="Nowhere")),  # no hint it is missing
        ("list_regions", r.ListRegions, apb.ListRegionsRequest()),
        ("create_region", r.CreateRegion, apb.Region(id="Mine")),
        ("update_region", r.UpdateRegion, apb.UpdateRegionRequest(id="RegionOne", description="x")),
        ("delete_region", r.DeleteRegion, apb.DeleteRequest(id="RegionOne")),
        ("get_service", s.GetService, apb.GetRequest(id=svc.id)),
        ("list_services", s.ListServices, apb.ListServicesRequest()),
        ("create_service", s.CreateService, apb.CreateServiceRequest(type="mine")),
        ("update_service", s.UpdateService, apb.UpdateServiceRequest(id=svc.id, name="x")),
        ("delete_service", s.DeleteService, apb.DeleteRequest(id=svc.id)),
        ("get_endpoint", e.GetEndpoint, apb.GetRequest(id=ep.id)),
        ("list_endpoints", e.ListEndpoints, apb.ListEndpointsRequest()),
        ("create_endpoint", e.CreateEndpoint, apb.CreateEndpointRequest(
            service_id=svc.id, interface="public", url="http://mine")),
        ("update_endpoint", e.UpdateEndpoint, apb.UpdateEndpointRequest(id=ep.id, url="http://y")),
        ("delete_endpoint", e.DeleteEndpoint, apb.DeleteRequest(id=ep.id)),
    ]
    for rule, method, request in calls:
        error = alice.fails(method, request)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, rule
        assert f"identity:{rule}" in error.details()
    # Nothing changed.
    assert admin.call(admin.endpoints.GetEndpoint, apb.GetRequest(id=ep.id)) == ep
    assert admin.call(admin.services.GetService, apb.GetRequest(id=svc.id)) == svc
    regions = admin.call(admin.regions.ListRegions, apb.ListRegionsRequest()).regions
    assert [x.id for x in regions] == ["RegionOne"]
    # The admin's project-scoped token is no system token either.
    project_admin = Admin(service.channel, login(stub, "admin", project_scope("admin")).token)
    error = project_admin.fails(project_admin.regions.ListRegions, apb.ListRegionsRequest())
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_catalog_calls_need_a_token(service):
    regions = agrpc.RegionsStub(service.channel)
    error = rpc_error(regions.ListRegions, apb.ListRegionsRequest())
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.every_backend
def test_catalog_text_beyond_what_every_backend_holds_is_invalid_argument(admin):
    """URLs and descriptions are TEXT, 65,535 bytes on MariaDB (INTERNAL there, kept
    by the others): refused alike on every backend, naming the field."""
    long = "d" * 65_536
    svc = admin.call(admin.services.CreateService, apb.CreateServiceRequest(type="image"))
    ep = admin.call(admin.endpoints.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface="public", url="http://x"))
    for method, request, field in (
            (admin.regions.CreateRegion, apb.Region(id="Long", description=long), "region.description"),
            (admin.regions.UpdateRegion, apb.UpdateRegionRequest(id="RegionOne", description=long),
             "region.description"),
            (admin.services.CreateService, apb.CreateServiceRequest(type="t", description=long),
             "service.description"),
            (admin.services.UpdateService, apb.UpdateServiceRequest(id=svc.id, description=long),
             "service.description"),
            (admin.endpoints.CreateEndpoint, apb.CreateEndpointRequest(
                service_id=svc.id, interface="public", url="http://x/" + long), "endpoint.url"),
            (admin.endpoints.UpdateEndpoint, apb.UpdateEndpointRequest(id=ep.id, url="http://x/" + long),
             "endpoint.url")):
        error = admin.fails(method, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, error.details())
        assert error.details().startswith(f"{field}: "), error.details()
