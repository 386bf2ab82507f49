"""What scope resolution and consuming services read of domains through the resource
store, on every backend."""

from identity_grpc.store.models import DEFAULT_DOMAIN_ID


def test_enabled_domains_are_read_by_id_in_one_query(store):
    Domain = store.tables.Domain
    off = Domain.create(name="Off", enabled=False)
    on = Domain.create(name="On")
    found = store.resources.enabled_domains([DEFAULT_DOMAIN_ID, off.id, on.id, "nope", on.id])
    assert sorted(d.id for d in found) == sorted([DEFAULT_DOMAIN_ID, on.id])
    assert store.resources.enabled_domains([]) == []


def test_a_domains_enabled_projects_come_with_their_domain_by_name(store):
    Project = store.tables.Project
    other = store.tables.Domain.create(name="Other")
    Project.create(name="zeta", domain=DEFAULT_DOMAIN_ID)
    Project.create(name="alpha", domain=DEFAULT_DOMAIN_ID)
    Project.create(name="off", domain=DEFAULT_DOMAIN_ID, enabled=False)
    Project.create(name="elsewhere", domain=other.id)
    found = store.resources.enabled_projects_of_domain(DEFAULT_DOMAIN_ID)
    assert [(p.name, p.domain.name) for p in found] == [("alpha", "Default"), ("zeta", "Default")]
    assert store.resources.enabled_projects_of_domain("nope") == []
