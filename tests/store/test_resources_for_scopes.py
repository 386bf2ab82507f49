"""What scope resolution reads of domains through the resource store, on every backend."""

from identity_grpc.store.models import DEFAULT_DOMAIN_ID


def test_enabled_domains_are_read_by_id_in_one_query(store):
    Domain = store.tables.Domain
    off = Domain.create(name="Off", enabled=False)
    on = Domain.create(name="On")
    found = store.resources.enabled_domains([DEFAULT_DOMAIN_ID, off.id, on.id, "nope", on.id])
    assert sorted(d.id for d in found) == sorted([DEFAULT_DOMAIN_ID, on.id])
    assert store.resources.enabled_domains([]) == []
