"""Endpoint filtering (OS-EP-FILTER), through the real server on both transports:
endpoint groups, endpoints and groups given to projects, Keystone's wire format, bad
input, and the catalog a filtered project's tokens show (at once, on every replica).
Each rule is checked passing and failing in both policy profiles."""

import dataclasses
import time

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import endpoint_filter_pb2 as epb
from identity_api.admin.v1 import endpoint_filter_pb2_grpc as egrpc
from identity_api.v1 import identity_pb2 as pb

from conftest import ServerProcess, start_service
from identity_grpc.policy_rules.families import endpoint_filter as family
from support import AdminClient, auth_md, login, project_scope, rpc_error, system_admin_token
from test_gateway_admin import Api

CODE = grpc.StatusCode
EP = "/v3/OS-EP-FILTER"


class Filters:
    """The endpoint-filter stubs and the catalog stubs, calling with one token."""

    def __init__(self, channel, token: str):
        self.admin = AdminClient(channel, token)
        self.md = self.admin.metadata
        self.groups = egrpc.EndpointGroupsStub(channel)
        self.projects = egrpc.ProjectEndpointsStub(channel)

    def call(self, method, request):
        return method(request, metadata=self.md)

    def fails(self, method, request) -> grpc.RpcError:
        return rpc_error(method, request, metadata=self.md)


@pytest.fixture
def ops(service) -> Filters:
    return Filters(service.channel, system_admin_token(service.stub))


@pytest.fixture
def api(service, gateway) -> Api:
    return Api(gateway, system_admin_token(service.stub))


@dataclasses.dataclass
class Cloud:
    acme: str
    cyberdyne: str
    identity: str  # the identity service's endpoint
    compute: str  # nova's
    compute_service: str


@pytest.fixture
def cloud(ops) -> Cloud:
    a = ops.admin
    projects = {p.name: p.id for p in a.call(a.projects.ListProjects,
                                             apb.ListProjectsRequest()).projects}
    services = {s.type: s.id for s in a.call(a.services.ListServices,
                                             apb.ListServicesRequest()).services}
    endpoints = {e.service_id: e.id for e in a.call(a.endpoints.ListEndpoints,
                                                    apb.ListEndpointsRequest()).endpoints}
    return Cloud(projects["acme"], projects["cyberdyne"], endpoints[services["identity"]],
                 endpoints[services["compute"]], services["compute"])


def _catalog_ids(stub, token: str) -> set[str]:
    services = stub.Catalog(pb.CatalogRequest(), metadata=auth_md(token)).services
    return {e.id for s in services for e in s.endpoints}


def _token_ids(token_info) -> set[str]:
    return {e.id for s in token_info.catalog for e in s.endpoints}


def _alice(stub):
    return login(stub, "alice", project_scope("acme"))


# ---- endpoint groups over gRPC ----------------------------------------------------

def test_endpoint_group_create_get_list_update_delete(ops, cloud):
    g = ops.groups
    made = ops.call(g.CreateEndpointGroup, epb.CreateEndpointGroupRequest(
        name="compute", description="nova", filters=epb.EndpointGroupFilters(
            service_id=cloud.compute_service, interface="public")))
    assert (made.name, made.description, made.filters.service_id, made.filters.interface,
            made.filters.region_id) == ("compute", "nova", cloud.compute_service, "public", "")
    assert ops.call(g.GetEndpointGroup, apb.GetRequest(id=made.id)) == made
    listed = ops.call(g.ListEndpointGroups, epb.ListEndpointGroupsRequest()).endpoint_groups
    assert list(listed) == [made]
    assert not ops.call(g.ListEndpointGroups,
                        epb.ListEndpointGroupsRequest(name="other")).endpoint_groups
    endpoints = ops.call(g.ListEndpointsAssociatedWithEndpointGroup, apb.GetRequest(id=made.id))
    assert [e.id for e in endpoints.endpoints] == [cloud.compute]

    renamed = ops.call(g.UpdateEndpointGroup, epb.UpdateEndpointGroupRequest(
        id=made.id, name="regional", filters=epb.EndpointGroupFilters(region_id="RegionOne")))
    assert (renamed.name, renamed.description, renamed.filters.region_id,
            renamed.filters.service_id) == ("regional", "nova", "RegionOne", "")
    endpoints = ops.call(g.ListEndpointsAssociatedWithEndpointGroup, apb.GetRequest(id=made.id))
    assert {e.id for e in endpoints.endpoints} == {cloud.compute, cloud.identity}

    ops.call(g.DeleteEndpointGroup, apb.DeleteRequest(id=made.id))
    assert ops.fails(g.GetEndpointGroup, apb.GetRequest(id=made.id)).code() == CODE.NOT_FOUND
    assert ops.fails(g.DeleteEndpointGroup, apb.DeleteRequest(id=made.id)).code() == CODE.NOT_FOUND


def test_endpoint_group_bad_input(ops, cloud):
    g = ops.groups
    some = epb.EndpointGroupFilters(interface="public")
    for request, field in [
            (epb.CreateEndpointGroupRequest(filters=some), "name"),
            (epb.CreateEndpointGroupRequest(name="x"), "filters"),
            (epb.CreateEndpointGroupRequest(name="x" * 256, filters=some), "name"),
            (epb.CreateEndpointGroupRequest(name="x", description="\x00", filters=some),
             "description"),
            (epb.CreateEndpointGroupRequest(
                name="x", filters=epb.EndpointGroupFilters(service_id="s" * 65)), "service_id")]:
        error = ops.fails(g.CreateEndpointGroup, request)
        assert error.code() == CODE.INVALID_ARGUMENT, (request, error.details())
        assert field in error.details()
    made = ops.call(g.CreateEndpointGroup, epb.CreateEndpointGroupRequest(name="x", filters=some))
    error = ops.fails(g.UpdateEndpointGroup, epb.UpdateEndpointGroupRequest(
        id=made.id, filters=epb.EndpointGroupFilters()))
    assert error.code() == CODE.INVALID_ARGUMENT and "filters" in error.details()
    assert ops.fails(g.GetEndpointGroup, apb.GetRequest(id="nope")).code() == CODE.NOT_FOUND
    assert ops.fails(g.GetEndpointGroup, apb.GetRequest()).code() == CODE.INVALID_ARGUMENT
    for method, request in [
            (g.AddEndpointGroupToProject, epb.EndpointGroupProject(
                endpoint_group_id=made.id, project_id="nope")),
            (g.AddEndpointGroupToProject, epb.EndpointGroupProject(
                endpoint_group_id="nope", project_id=cloud.acme)),
            (g.GetEndpointGroupInProject, epb.EndpointGroupProject(
                endpoint_group_id=made.id, project_id=cloud.acme)),
            (g.RemoveEndpointGroupFromProject, epb.EndpointGroupProject(
                endpoint_group_id=made.id, project_id=cloud.acme)),
            (ops.projects.AddEndpointToProject, epb.ProjectEndpoint(
                project_id=cloud.acme, endpoint_id="nope")),
            (ops.projects.AddEndpointToProject, epb.ProjectEndpoint(
                project_id="nope", endpoint_id=cloud.compute)),
            (ops.projects.CheckEndpointInProject, epb.ProjectEndpoint(
                project_id=cloud.acme, endpoint_id=cloud.compute)),
            (ops.projects.RemoveEndpointFromProject, epb.ProjectEndpoint(
                project_id=cloud.acme, endpoint_id=cloud.compute)),
            (ops.projects.ListEndpointsForProject, apb.GetRequest(id="nope")),
            (ops.projects.ListProjectsForEndpoint, apb.GetRequest(id="nope"))]:
        assert ops.fails(method, request).code() == CODE.NOT_FOUND, method


# ---- what tokens see ----------------------------------------------------------------

def test_a_filtered_project_sees_only_its_endpoints_at_once(ops, cloud, stub):
    before = _alice(stub)
    assert _token_ids(before.token_info) == {cloud.identity, cloud.compute}
    p = ops.projects
    given = epb.ProjectEndpoint(project_id=cloud.acme, endpoint_id=cloud.compute)
    ops.call(p.AddEndpointToProject, given)
    ops.call(p.AddEndpointToProject, given)  # again: nothing changes
    ops.call(p.CheckEndpointInProject, given)
    fresh = _alice(stub)
    assert _token_ids(fresh.token_info) == {cloud.compute}
    assert {s.type for s in fresh.token_info.catalog} == {"compute"}  # no empty service
    assert _catalog_ids(stub, before.token) == {cloud.compute}  # an older token too
    # Another project is not filtered.
    cyberdyne = login(stub, "alice", project_scope("cyberdyne"))
    assert _token_ids(cyberdyne.token_info) == {cloud.identity, cloud.compute}
    listed = ops.call(p.ListProjectsForEndpoint, apb.GetRequest(id=cloud.compute)).projects
    assert [x.id for x in listed] == [cloud.acme]

    # A group adds what it matches; the project's endpoints are both.
    group = ops.call(ops.groups.CreateEndpointGroup, epb.CreateEndpointGroupRequest(
        name="identity", filters=epb.EndpointGroupFilters(interface="public",
                                                          region_id="RegionOne")))
    ops.call(ops.groups.AddEndpointGroupToProject, epb.EndpointGroupProject(
        endpoint_group_id=group.id, project_id=cloud.acme))
    assert _catalog_ids(stub, before.token) == {cloud.identity, cloud.compute}
    ops.call(p.RemoveEndpointFromProject, given)
    assert ops.fails(p.CheckEndpointInProject, given).code() == CODE.NOT_FOUND
    ops.call(ops.groups.UpdateEndpointGroup, epb.UpdateEndpointGroupRequest(
        id=group.id, filters=epb.EndpointGroupFilters(service_id="no-such-service")))
    assert _catalog_ids(stub, before.token) == set()  # filtered, matching nothing
    ops.call(ops.groups.UpdateEndpointGroup, epb.UpdateEndpointGroupRequest(
        id=group.id, filters=epb.EndpointGroupFilters(service_id=cloud.compute_service)))
    assert _catalog_ids(stub, before.token) == {cloud.compute}
    endpoints = ops.call(p.ListEndpointsForProject, apb.GetRequest(id=cloud.acme)).endpoints
    assert [e.id for e in endpoints] == [cloud.compute]
    groups = ops.call(ops.groups.ListEndpointGroupsForProject, apb.GetRequest(id=cloud.acme))
    assert [x.id for x in groups.endpoint_groups] == [group.id]
    projects = ops.call(ops.groups.ListProjectsAssociatedWithEndpointGroup,
                        apb.GetRequest(id=group.id)).projects
    assert [x.id for x in projects] == [cloud.acme]

    # Deleting the group leaves the project unfiltered.
    ops.call(ops.groups.DeleteEndpointGroup, apb.DeleteRequest(id=group.id))
    assert _catalog_ids(stub, before.token) == {cloud.identity, cloud.compute}
    assert not ops.call(ops.groups.ListEndpointGroupsForProject,
                        apb.GetRequest(id=cloud.acme)).endpoint_groups


def test_a_deleted_endpoint_or_project_takes_its_associations_along(ops, cloud, stub):
    a = ops.admin
    svc = a.call(a.services.CreateService, apb.CreateServiceRequest(type="image"))
    ep = a.call(a.endpoints.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=svc.id, interface="public", url="http://glance", region_id="RegionOne"))
    ops.call(ops.projects.AddEndpointToProject,
             epb.ProjectEndpoint(project_id=cloud.acme, endpoint_id=ep.id))
    token = _alice(stub).token
    assert _catalog_ids(stub, token) == {ep.id}
    a.call(a.endpoints.DeleteEndpoint, apb.DeleteRequest(id=ep.id))
    assert _catalog_ids(stub, token) == {cloud.identity, cloud.compute}  # no filter left

    temp = a.call(a.projects.CreateProject, apb.CreateProjectRequest(name="temp"))
    group = ops.call(ops.groups.CreateEndpointGroup, epb.CreateEndpointGroupRequest(
        name="g", filters=epb.EndpointGroupFilters(interface="public")))
    ops.call(ops.groups.AddEndpointGroupToProject,
             epb.EndpointGroupProject(endpoint_group_id=group.id, project_id=temp.id))
    a.call(a.projects.DeleteProject, apb.DeleteRequest(id=temp.id))
    assert not ops.call(ops.groups.ListProjectsAssociatedWithEndpointGroup,
                        apb.GetRequest(id=group.id)).projects


@pytest.mark.every_backend
def test_a_filter_change_reaches_another_replica(service, ops, cloud, stub):
    replica = ServerProcess(service.core.settings)
    try:
        token = _alice(stub).token
        assert _catalog_ids(replica.stub, token) == {cloud.identity, cloud.compute}
        ops.call(ops.projects.AddEndpointToProject,
                 epb.ProjectEndpoint(project_id=cloud.acme, endpoint_id=cloud.identity))
        deadline = time.monotonic() + 10
        while _catalog_ids(replica.stub, token) != {cloud.identity}:
            assert time.monotonic() < deadline, "the replica never saw the filter"
            time.sleep(0.05)
    finally:
        replica.stop()


# ---- Keystone's wire format -----------------------------------------------------------

def test_endpoint_groups_over_http(api, cloud):
    body = {"endpoint_group": {"name": "g1", "description": "d",
                               "filters": {"service_id": cloud.compute_service}}}
    made = api("POST", f"{EP}/endpoint_groups", body, expect=201)["endpoint_group"]
    assert set(made) == {"id", "name", "description", "filters", "links"}
    assert made["filters"] == {"service_id": cloud.compute_service}
    assert made["links"]["self"].endswith(f"{EP}/endpoint_groups/{made['id']}")
    listed = api.get(f"{EP}/endpoint_groups")
    assert made in listed["endpoint_groups"] and "links" in listed
    assert api.get(f"{EP}/endpoint_groups/{made['id']}")["endpoint_group"] == made
    assert api.status("HEAD", f"{EP}/endpoint_groups/{made['id']}") == 200
    changed = api("PATCH", f"{EP}/endpoint_groups/{made['id']}", {"endpoint_group": {
        "name": "g2", "filters": {"interface": "public"}}}, expect=200)["endpoint_group"]
    assert (changed["name"], changed["description"], changed["filters"]) == (
        "g2", "d", {"interface": "public"})
    endpoints = api.get(f"{EP}/endpoint_groups/{made['id']}/endpoints")["endpoints"]
    assert {e["id"] for e in endpoints} == {cloud.identity, cloud.compute}
    assert {"region", "region_id", "service_id", "url", "interface"} <= set(endpoints[0])

    gp = f"{EP}/endpoint_groups/{made['id']}/projects/{cloud.acme}"
    assert api.status("GET", gp) == 404
    api("PUT", gp, expect=204)
    assert api.status("HEAD", gp) == 200
    association = api.get(gp)["project_endpoint_group"]
    assert (association["endpoint_group_id"], association["project_id"]) == (
        made["id"], cloud.acme)
    assert [p["id"] for p in api.get(f"{EP}/endpoint_groups/{made['id']}/projects")[
        "projects"]] == [cloud.acme]
    assert [g["id"] for g in api.get(f"{EP}/projects/{cloud.acme}/endpoint_groups")[
        "endpoint_groups"]] == [made["id"]]
    api("DELETE", gp, expect=204)
    assert api.status("DELETE", gp) == 404

    api("DELETE", f"{EP}/endpoint_groups/{made['id']}", expect=204)
    assert api.status("GET", f"{EP}/endpoint_groups/{made['id']}") == 404
    assert made["id"] not in [g["id"] for g in api.get(f"{EP}/endpoint_groups")["endpoint_groups"]]


@pytest.mark.parametrize("body, field", [
    ({"endpoint_group": {"name": "x"}}, "filters"),
    ({"endpoint_group": {"name": "x", "filters": {}}}, "filters"),
    ({"endpoint_group": {"name": "x", "filters": {"colour": "red"}}}, "filters"),
    ({"endpoint_group": {"name": "x", "filters": {"interface": 3}}}, "interface"),
    ({"endpoint_group": {"name": "x", "filters": []}}, "filters"),
    ({"endpoint_group": {"filters": {"interface": "public"}}}, "name"),
    ({"endpoint_group": {"name": 7, "filters": {"interface": "public"}}}, "name"),
    ({"nothing": {}}, "endpoint_group"),
])
def test_bad_endpoint_groups_over_http_are_400_naming_the_field(api, body, field):
    status, _, parsed, raw = _raw(api, "POST", f"{EP}/endpoint_groups", body)
    assert status == 400, raw
    assert field in parsed["error"]["message"]


def _raw(api: Api, method: str, path: str, body=None):
    from test_gateway_admin import call
    return call(api.base + path, method, api.token, body)


def test_project_endpoints_over_http_and_the_auth_catalog(api, cloud, service, gateway):
    pe = f"{EP}/projects/{cloud.acme}/endpoints/{cloud.compute}"
    assert api.status("GET", pe) == 404
    assert api.status("PUT", f"{EP}/projects/{cloud.acme}/endpoints/nope") == 404
    assert api.status("PUT", f"{EP}/projects/nope/endpoints/{cloud.compute}") == 404
    api("PUT", pe, expect=204)
    assert api.status("HEAD", pe) == 204
    assert api.status("GET", pe) == 204
    endpoints = api.get(f"{EP}/projects/{cloud.acme}/endpoints")["endpoints"]
    assert [e["id"] for e in endpoints] == [cloud.compute]
    assert endpoints[0]["links"]["self"].endswith(f"/v3/endpoints/{cloud.compute}")
    projects = api.get(f"{EP}/endpoints/{cloud.compute}/projects")["projects"]
    assert [p["id"] for p in projects] == [cloud.acme]

    alice = Api(gateway, _alice(service.stub).token)
    catalog = alice.get("/v3/auth/catalog")["catalog"]
    assert [(s["type"], [e["id"] for e in s["endpoints"]]) for s in catalog] == [
        ("compute", [cloud.compute])]
    token = alice("POST", "/v3/auth/tokens", {"auth": {
        "identity": {"methods": ["token"], "token": {"id": alice.token}},
        "scope": {"project": {"id": cloud.acme}}}}, expect=201)["token"]
    assert [s["type"] for s in token["catalog"]] == ["compute"]

    api("DELETE", pe, expect=204)
    assert api.status("DELETE", pe) == 404
    assert {s["type"] for s in alice.get("/v3/auth/catalog")["catalog"]} == {
        "identity", "compute"}


# ---- policy, in both profiles -----------------------------------------------------------

def _calls(f: Filters, cloud: Cloud, group_id: str) -> dict:
    """rule -> a call of it on existing things (changes put back by later calls)."""
    g, p = f.groups, f.projects
    gp = epb.EndpointGroupProject(endpoint_group_id=group_id, project_id=cloud.acme)
    pe = epb.ProjectEndpoint(project_id=cloud.acme, endpoint_id=cloud.compute)
    return {
        "create_endpoint_group": (g.CreateEndpointGroup, epb.CreateEndpointGroupRequest(
            name="n", filters=epb.EndpointGroupFilters(interface="public"))),
        "get_endpoint_group": (g.GetEndpointGroup, apb.GetRequest(id=group_id)),
        "list_endpoint_groups": (g.ListEndpointGroups, epb.ListEndpointGroupsRequest()),
        "update_endpoint_group": (g.UpdateEndpointGroup, epb.UpdateEndpointGroupRequest(
            id=group_id, name="renamed")),
        "list_endpoints_associated_with_endpoint_group": (
            g.ListEndpointsAssociatedWithEndpointGroup, apb.GetRequest(id=group_id)),
        "list_projects_associated_with_endpoint_group": (
            g.ListProjectsAssociatedWithEndpointGroup, apb.GetRequest(id=group_id)),
        "list_endpoint_groups_for_project": (g.ListEndpointGroupsForProject,
                                             apb.GetRequest(id=cloud.acme)),
        "add_endpoint_group_to_project": (g.AddEndpointGroupToProject, gp),
        "get_endpoint_group_in_project": (g.GetEndpointGroupInProject, gp),
        "remove_endpoint_group_from_project": (g.RemoveEndpointGroupFromProject, gp),
        "add_endpoint_to_project": (p.AddEndpointToProject, pe),
        "check_endpoint_in_project": (p.CheckEndpointInProject, pe),
        "list_endpoints_for_project": (p.ListEndpointsForProject, apb.GetRequest(id=cloud.acme)),
        "list_projects_for_endpoint": (p.ListProjectsForEndpoint,
                                       apb.GetRequest(id=cloud.compute)),
        "remove_endpoint_from_project": (p.RemoveEndpointFromProject, pe),
        "delete_endpoint_group": (g.DeleteEndpointGroup, apb.DeleteRequest(id=group_id)),
    }


@pytest.mark.parametrize("profile", ["keystone", "scoped"])
def test_each_rule_lets_one_caller_through_and_refuses_another(deployment, profile):
    """keystone: an admin on any project passes every rule, a project user without it
    none; scoped: only the system admin passes, the project admin is refused."""
    running = start_service(dataclasses.replace(deployment, policy_profile=profile))
    try:
        stub, channel = running.stub, running.channel
        sys_filters = Filters(channel, system_admin_token(stub))
        project_admin = Filters(channel, login(stub, "admin", project_scope("admin")).token)
        alice = Filters(channel, _alice(stub).token)
        allowed, refused = ((project_admin, alice) if profile == "keystone"
                            else (sys_filters, project_admin))
        a = sys_filters.admin
        projects = {x.name: x.id for x in a.call(a.projects.ListProjects,
                                                 apb.ListProjectsRequest()).projects}
        services = {s.type: s.id for s in a.call(a.services.ListServices,
                                                 apb.ListServicesRequest()).services}
        endpoints = {e.service_id: e.id for e in a.call(a.endpoints.ListEndpoints,
                                                        apb.ListEndpointsRequest()).endpoints}
        cloud = Cloud(projects["acme"], projects["cyberdyne"], endpoints[services["identity"]],
                      endpoints[services["compute"]], services["compute"])
        group = sys_filters.call(sys_filters.groups.CreateEndpointGroup,
                                 epb.CreateEndpointGroupRequest(
                                     name="g", filters=epb.EndpointGroupFilters(interface="public")))
        cases = _calls(refused, cloud, group.id)
        assert set(cases) == {n.removeprefix("identity:") for n in family.KEYSTONE} == {
            n.removeprefix("identity:") for n in family.SCOPED}
        for rule, (method, request) in cases.items():
            error = refused.fails(method, request)
            assert error.code() == CODE.PERMISSION_DENIED, (profile, rule, error.details())
            assert f"identity:{rule}" in error.details()
        for rule, (method, request) in _calls(allowed, cloud, group.id).items():
            allowed.call(method, request)  # no error
    finally:
        running.stop()


def test_http_refusals_are_403_naming_the_rule(service, gateway, cloud):
    alice = Api(gateway, _alice(service.stub).token)
    status, _, parsed, _ = _raw(alice, "GET", f"{EP}/endpoint_groups")
    assert status == 403 and "identity:list_endpoint_groups" in parsed["error"]["message"]
    status, _, parsed, _ = _raw(alice, "PUT", f"{EP}/projects/{cloud.acme}/endpoints/{cloud.compute}")
    assert status == 403 and "identity:add_endpoint_to_project" in parsed["error"]["message"]
    assert _raw(Api(gateway, None), "GET", f"{EP}/endpoint_groups")[0] == 401
