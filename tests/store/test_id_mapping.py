"""IdMappingStore: the way back from a directory entry's public id, kept once however
many replicas record it."""

import peewee as pw
import pytest


def _domain(store, name="ldap"):
    return store.resources.create_domain(name).id


def test_a_mapping_is_kept_once_and_read_back(store, other_store):
    domain = _domain(store)
    store.id_mapping.record("a" * 64, domain, "jdoe", "user")
    other_store.id_mapping.record("a" * 64, domain, "jdoe", "user")  # another replica
    store.id_mapping.record("b" * 64, domain, "devs", "group")
    found = other_store.id_mapping.find("a" * 64)
    assert (found.domain_id, found.local_id, found.entity_type) == (domain, "jdoe", "user")
    assert store.id_mapping.find("c" * 64) is None
    assert store.id_mapping.public_ids(domain, "user") == ["a" * 64]
    assert store.id_mapping.public_ids(domain, "group") == ["b" * 64]


def test_a_mapping_needs_its_domain(store):
    with pytest.raises(pw.IntegrityError):
        store.id_mapping.record("a" * 64, "no-such-domain", "jdoe", "user")


def test_purging_a_domain_forgets_only_its_mappings(store):
    first, second = _domain(store, "first"), _domain(store, "second")
    store.id_mapping.record("a" * 64, first, "jdoe", "user")
    store.id_mapping.record("b" * 64, second, "jdoe", "user")
    assert store.id_mapping.purge_domain(first) == 1
    assert store.id_mapping.find("a" * 64) is None
    assert store.id_mapping.find("b" * 64).domain_id == second
