"""Endpoint URL templates, filled in the way Keystone fills them, everywhere a catalog is
shown: a token's own catalog (gRPC Authenticate, HTTP POST /v3/auth/tokens), the Catalog
RPC and GET /v3/auth/catalog, and a validated subject token's catalog (ValidateToken,
GET /v3/auth/tokens). `$(key)s` and `%(key)s` alike, for the keys project_id, tenant_id
and user_id; a project's URL is left out of a catalog with no project in it; a template
naming any other key is refused when the endpoint is created."""

import json
import urllib.error
import urllib.request

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from support import (ADMIN_PASSWORD, DEMO_PASSWORDS, AdminClient, auth_md, login, project_scope,
                     rpc_error, system_admin_token)
from test_gateway_discovery import fetch

DOMAIN_SCOPE = pb.Scope(domain=pb.DomainSelector(id="default"))
TEMPLATES = {  # interface: (template, what it becomes for project P and user U)
    "public": ("http://127.0.0.1:8776/v3/%(project_id)s", "http://127.0.0.1:8776/v3/{P}"),
    "internal": ("http://10.0.0.1:8776/v3/%(tenant_id)s", "http://10.0.0.1:8776/v3/{P}"),
    "admin": ("http://10.0.0.2:8776/v3/$(tenant_id)s/users/%(user_id)s?q=a%20b",
              "http://10.0.0.2:8776/v3/{P}/users/{U}?q=a%20b"),
}
USER_ONLY = ("http://10.0.0.3:9000/home/%(user_id)s", "http://10.0.0.3:9000/home/{U}")


@pytest.fixture
def volume(service, admin: AdminClient) -> str:
    """A volume service with templated endpoints, and a files service naming only the user,
    made through the admin API."""
    made = admin.call(admin.services.CreateService, apb.CreateServiceRequest(type="volumev3",
                                                                             name="cinder"))
    for interface, (template, _) in TEMPLATES.items():
        admin.call(admin.endpoints.CreateEndpoint, apb.CreateEndpointRequest(
            service_id=made.id, interface=interface, url=template, region_id="RegionOne"))
    files = admin.call(admin.services.CreateService, apb.CreateServiceRequest(type="files"))
    admin.call(admin.endpoints.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=files.id, interface="public", url=USER_ONLY[0], region_id="RegionOne"))
    return made.id


def expected(project_id: str | None, user_id: str) -> dict[str, set[str]]:
    """Service type -> the URLs a token of that project (or none) and user must see."""
    fill = lambda text: text.format(P=project_id, U=user_id)  # noqa: E731
    return {"volumev3": {fill(filled) for _, filled in TEMPLATES.values()} if project_id else set(),
            "files": {fill(USER_ONLY[1])}}


def grpc_urls(services) -> dict[str, set[str]]:
    return {s.type: {e.url for e in s.endpoints} for s in services if s.type in ("volumev3", "files")}


def http_urls(catalog: list[dict]) -> dict[str, set[str]]:
    return {s["type"]: {e["url"] for e in s["endpoints"]} for s in catalog
            if s["type"] in ("volumev3", "files")}


def test_templates_are_filled_in_every_grpc_catalog(service, stub, volume):
    alice = login(stub, "alice", project_scope("acme"))
    acme, alice_id = alice.token_info.project.id, alice.token_info.user.id
    want = expected(acme, alice_id)
    assert grpc_urls(alice.token_info.catalog) == want  # Authenticate
    assert grpc_urls(stub.Catalog(pb.CatalogRequest(), metadata=auth_md(alice.token)).services) == want
    nova = login(stub, "nova", project_scope("service"))
    seen = stub.ValidateToken(pb.ValidateTokenRequest(subject_token=alice.token),
                              metadata=auth_md(nova.token)).token_info
    assert grpc_urls(seen.catalog) == want  # the subject's project and user, not nova's
    assert grpc_urls(nova.token_info.catalog) == expected(nova.token_info.project.id,
                                                          nova.token_info.user.id)

    # No project in scope: the project's URLs are left out, the user's stay.
    admin = login(stub, "admin", DOMAIN_SCOPE)
    assert grpc_urls(admin.token_info.catalog) == expected(None, admin.token_info.user.id)
    system = login(stub, "admin", pb.Scope(system=pb.SystemScope(all=True)))
    assert grpc_urls(stub.Catalog(pb.CatalogRequest(), metadata=auth_md(system.token)).services) \
        == expected(None, system.token_info.user.id)


def post_json(url: str, body: dict, headers: dict | None = None):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


def http_login(gateway: str, name: str, password: str, scope: dict):
    status, headers, body = post_json(f"{gateway}/v3/auth/tokens", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": name, "domain": {"id": "default"}, "password": password}}},
        "scope": scope}})
    assert status == 201, body
    return headers["X-Subject-Token"], body["token"]


def test_templates_are_filled_in_every_http_catalog(service, gateway, volume):
    acme_scope = {"project": {"name": "acme", "domain": {"id": "default"}}}
    alice, token = http_login(gateway, "alice", DEMO_PASSWORDS["alice"], acme_scope)
    want = expected(token["project"]["id"], token["user"]["id"])
    assert http_urls(token["catalog"]) == want  # POST /v3/auth/tokens
    status, _, body = fetch(f"{gateway}/v3/auth/catalog", headers={"X-Auth-Token": alice})
    assert status == 200 and http_urls(json.loads(body)["catalog"]) == want
    nova, _ = http_login(gateway, "nova", DEMO_PASSWORDS["nova"],
                         {"project": {"name": "service", "domain": {"id": "default"}}})
    status, _, body = fetch(f"{gateway}/v3/auth/tokens",
                            headers={"X-Auth-Token": nova, "X-Subject-Token": alice})
    assert status == 200 and http_urls(json.loads(body)["token"]["catalog"]) == want

    admin, token = http_login(gateway, "admin", ADMIN_PASSWORD, {"domain": {"id": "default"}})
    assert http_urls(token["catalog"]) == expected(None, token["user"]["id"])
    status, _, body = fetch(f"{gateway}/v3/auth/catalog", headers={"X-Auth-Token": admin})
    assert status == 200 and http_urls(json.loads(body)["catalog"]) == expected(None, token["user"]["id"])


@pytest.mark.parametrize("url, problem", [
    ("http://x:8776/v3/%(project)s", "unknown substitution '%(project)s'"),
    ("http://x:8776/v3/$(domain_id)s", "unknown substitution '$(domain_id)s'"),
    ("http://x:8776/v3/$(public_port)s", "unknown substitution"),  # Keystone's config keys
    ("http://x:8776/v3/$(project_id", "malformed substitution"),
    ("http://x:8776/v3/%(project_id)d", "malformed substitution"),
])
def test_an_endpoint_whose_template_cannot_be_filled_is_refused(service, stub, gateway, admin, volume,
                                                                url, problem):
    error = rpc_error(admin.call, admin.endpoints.CreateEndpoint, apb.CreateEndpointRequest(
        service_id=volume, interface="public", url=url))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("endpoint.url: ") and problem in error.details()
    listed = admin.call(admin.endpoints.ListEndpoints, apb.ListEndpointsRequest(service_id=volume))
    one = listed.endpoints[0].id
    error = rpc_error(admin.call, admin.endpoints.UpdateEndpoint,
                      apb.UpdateEndpointRequest(id=one, url=url))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT

    token = system_admin_token(stub)
    status, _, body = post_json(f"{gateway}/v3/endpoints", {"endpoint": {
        "service_id": volume, "interface": "public", "url": url}}, {"X-Auth-Token": token})
    assert status == 400 and problem in body["error"]["message"], body
    after = admin.call(admin.endpoints.ListEndpoints, apb.ListEndpointsRequest(service_id=volume))
    assert len(after.endpoints) == len(listed.endpoints)  # nothing was made
