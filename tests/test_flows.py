"""The flows a client of an identity service goes through, end to end over gRPC."""

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb

from support import auth_md, login, project_scope, rescope, role_names, rpc_error, validate

pytestmark = pytest.mark.every_backend


def test_default_sequence_unscoped_list_rescope_catalog_validate(stub):
    unscoped = login(stub, "alice")
    assert unscoped.token_info.WhichOneof("scope") is None
    assert list(unscoped.token_info.roles) == [] and list(unscoped.token_info.catalog) == []

    projects = stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(unscoped.token)).projects
    assert sorted(p.name for p in projects) == ["acme", "cyberdyne"]
    acme = next(p for p in projects if p.name == "acme")

    scoped = rescope(stub, unscoped.token, pb.Scope(project=pb.ProjectSelector(id=acme.id)))
    info = scoped.token_info
    assert info.project.id == acme.id and info.project.name == "acme"
    assert role_names(info) == {"compute-user"}
    assert list(info.methods) == ["password", "token"]
    assert list(info.audit_ids) == [info.audit_ids[0], unscoped.token_info.audit_ids[0]]
    compute = next(s for s in info.catalog if s.type == "compute")
    public = next(e for e in compute.endpoints if e.interface == "public")
    assert public.url == "http://127.0.0.1:8774/v2.1" and public.region == "RegionOne"

    nova = login(stub, "nova", project_scope("service"))
    seen = validate(stub, nova.token, scoped.token)
    assert (seen.user.id, seen.user.name, seen.user.domain.id, seen.user.domain.name) == (
        info.user.id, "alice", "default", "Default")
    assert seen.project.id == acme.id
    assert role_names(seen) == role_names(info)
    assert list(seen.methods) == ["password", "token"]
    assert seen.issued_at == info.issued_at and seen.expires_at == info.expires_at
    assert list(seen.audit_ids) == list(info.audit_ids)


def test_rescoped_token_keeps_the_original_expiry(stub, service):
    unscoped = login(stub, "alice")
    service.clock.advance(600)
    scoped = rescope(stub, unscoped.token, project_scope("acme"))
    assert scoped.token_info.expires_at == unscoped.token_info.expires_at
    assert scoped.token_info.issued_at.seconds >= unscoped.token_info.issued_at.seconds + 600


def test_shortcut_project_by_id_by_name_with_domain_id_or_name(stub):
    by_name = login(stub, "alice", project_scope("acme", domain_id="default"))
    by_domain_name = login(stub, "alice", project_scope("acme", domain_name="Default"))
    by_id = login(stub, "alice", project_scope(project_id=by_name.token_info.project.id))
    for response in (by_name, by_domain_name, by_id):
        assert response.token_info.project.name == "acme"
        assert "compute-user" in role_names(response.token_info)
        assert list(response.token_info.methods) == ["password"]


def test_role_through_group_only(stub):
    bob = login(stub, "bob", project_scope("acme"))
    assert role_names(bob.token_info) == {"member", "reader"}


def test_implied_roles_are_expanded(stub):
    alice = login(stub, "alice", project_scope("cyberdyne"))
    assert role_names(alice.token_info) == {"admin", "manager", "member", "reader"}


def test_domain_scoped_token_and_list_domains(stub):
    admin = login(stub, "admin")
    domains = stub.ListDomains(pb.ListDomainsRequest(), metadata=auth_md(admin.token)).domains
    assert [d.name for d in domains] == ["Default"]
    scoped = rescope(stub, admin.token, pb.Scope(domain=pb.DomainSelector(name="Default")))
    assert scoped.token_info.domain.id == "default"
    assert "admin" in role_names(scoped.token_info)
    assert scoped.token_info.catalog  # scoped tokens carry the catalog
    alice = login(stub, "alice")
    assert list(stub.ListDomains(pb.ListDomainsRequest(), metadata=auth_md(alice.token)).domains) == []


def test_system_scoped_token(stub):
    admin = login(stub, "admin", pb.Scope(system=pb.SystemScope(all=True)))
    assert admin.token_info.system.all
    assert role_names(admin.token_info) == {"admin", "manager", "member", "reader"}
    nova = login(stub, "nova", project_scope("service"))
    assert validate(stub, nova.token, admin.token).system.all


def test_scope_without_role_unknown_or_disabled_target_is_refused_alike(stub, service):
    cases = [
        project_scope("bar", domain_name="Foo"),            # exists, no role
        project_scope("nope"),                              # does not exist
        pb.Scope(domain=pb.DomainSelector(name="Foo")),     # domain without a role
        pb.Scope(system=pb.SystemScope(all=True)),          # no system role
    ]
    details = set()
    for scope in cases:
        error = rpc_error(stub.Authenticate, _alice(scope))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        details.add(error.details())
    assert len(details) == 1  # nothing tells the cases apart


def test_disabled_project_cannot_be_scoped_to(stub, service):
    acme = login(stub, "alice", project_scope("acme")).token_info.project.id
    service.core.resources.set_project_enabled(acme, False)
    error = rpc_error(login, stub, "alice", project_scope("acme"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_no_catalog_leaves_the_catalog_out(stub):
    scoped = login(stub, "alice", project_scope("acme"), no_catalog=True)
    assert list(scoped.token_info.catalog) == []
    nova = login(stub, "nova", project_scope("service"))
    assert list(validate(stub, nova.token, scoped.token, no_catalog=True).catalog) == []
    assert list(validate(stub, nova.token, scoped.token).catalog)


def test_catalog_rpc_fills_project_templates(stub, service):
    catalog = service.core.catalog
    volume = catalog.create_service("volumev3", "cinder")
    catalog.create_endpoint(volume.id, "public", "http://127.0.0.1:8776/v3/$(project_id)s", "RegionOne")
    catalog.create_endpoint(volume.id, "internal", "http://10.0.0.1:8776/v3/$(tenant_id)s", "RegionOne")
    scoped = login(stub, "alice", project_scope("acme"))
    project_id = scoped.token_info.project.id
    services = stub.Catalog(pb.CatalogRequest(), metadata=auth_md(scoped.token)).services
    cinder = next(s for s in services if s.type == "volumev3")
    assert sorted(e.url for e in cinder.endpoints) == [
        f"http://10.0.0.1:8776/v3/{project_id}", f"http://127.0.0.1:8776/v3/{project_id}"]
    assert {s.type for s in services} == {"identity", "compute", "volumev3"}
    # A domain-scoped token has no project to fill in: templated endpoints are left out.
    admin = login(stub, "admin", pb.Scope(domain=pb.DomainSelector(id="default")))
    services = stub.Catalog(pb.CatalogRequest(), metadata=auth_md(admin.token)).services
    assert list(next(s for s in services if s.type == "volumev3").endpoints) == []


def test_catalog_needs_a_scoped_token(stub):
    unscoped = login(stub, "alice")
    error = rpc_error(stub.Catalog, pb.CatalogRequest(), metadata=auth_md(unscoped.token))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_unscoped_request_uses_the_default_project(stub, service):
    core = service.core
    acme = login(stub, "alice", project_scope("acme")).token_info.project.id
    carol = core.users_and_groups.create_user("carol", "default", "carolpassword1", default_project_id=acme)
    core.assignments.grant(core.assignments.find_role("member").id, target_type="project",
                           target_id=acme, user_id=carol.id)
    token = login(stub, "carol", password="carolpassword1")
    assert token.token_info.project.id == acme


def _alice(scope):
    from support import password_request
    return password_request("alice", scope=scope)
