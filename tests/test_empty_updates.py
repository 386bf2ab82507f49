"""An update that sets no field changes nothing and answers OK with the entity as it
is, on every update RPC and PATCH route (it used to run an UPDATE with no column,
which the store refused, and answered UNAVAILABLE / 503)."""

import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from google.protobuf import json_format

from support import system_admin_token
from test_gateway_admin import call


def _entities(core) -> dict[str, str]:
    """An id of each kind of entity the demo deployment holds."""
    tables = core.store.tables
    default = core.resources.find_domain("default")
    return {
        "domain": core.resources.find_domain(name="Foo").id,
        "project": core.resources.find_project(name="acme", domain=default).id,
        "user": core.users_and_groups.find_user(name="alice", domain_id="default").id,
        "group": core.users_and_groups.find_group("devs", "default").id,
        "role": core.assignments.find_role("member").id,
        "region": tables.Region.select().first().id,
        "service": tables.Service.select().first().id,
        "endpoint": tables.Endpoint.select().first().id,
    }


# kind -> (AdminClient service, entity name in RPCs, update request)
UPDATES = {
    "domain": ("domains", "Domain", apb.UpdateDomainRequest),
    "project": ("projects", "Project", apb.UpdateProjectRequest),
    "user": ("users", "User", apb.UpdateUserRequest),
    "group": ("groups", "Group", apb.UpdateGroupRequest),
    "role": ("roles", "Role", apb.UpdateRoleRequest),
    "region": ("regions", "Region", apb.UpdateRegionRequest),
    "service": ("services", "Service", apb.UpdateServiceRequest),
    "endpoint": ("endpoints", "Endpoint", apb.UpdateEndpointRequest),
}


@pytest.mark.parametrize("kind", sorted(UPDATES))
def test_an_update_setting_nothing_returns_the_entity_unchanged(admin, service, kind):
    ident = _entities(service.core)[kind]
    service_name, entity, request_type = UPDATES[kind]
    stub = getattr(admin, service_name)
    before = admin.call(getattr(stub, f"Get{entity}"), apb.GetRequest(id=ident))
    updated = admin.call(getattr(stub, f"Update{entity}"), request_type(id=ident))
    assert json_format.MessageToDict(updated) == json_format.MessageToDict(before)
    after = admin.call(getattr(stub, f"Get{entity}"), apb.GetRequest(id=ident))
    assert after == before


@pytest.mark.parametrize("kind", sorted(UPDATES))
def test_a_patch_setting_nothing_returns_the_entity_unchanged(service, gateway, kind):
    ident = _entities(service.core)[kind]
    token = system_admin_token(service.stub)
    url = f"{gateway}/v3/{kind}s/{ident}"
    status, _, before, raw = call(url, token=token)
    assert status == 200, raw
    status, _, patched, raw = call(url, "PATCH", token, {kind: {}})
    assert (status, patched) == (200, before), raw
    assert call(url, token=token)[2] == before
