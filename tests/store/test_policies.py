"""The policy store on every backend: policies are created, found, listed by id (and
by type) a page at a time, changed as a function of what was read, and deleted."""

from identity_grpc.errors import NotFound

import pytest


def test_a_policy_is_created_found_changed_and_deleted(store):
    made = store.policies.create("application/json", '{"a": "b"}', '{"k": 1}')
    found = store.policies.get(made.id)
    assert (found.type, found.blob, found.extra) == ("application/json", '{"a": "b"}', '{"k": 1}')
    changed = store.policies.update(made.id, lambda row: {"blob": row.blob + "!"})
    assert changed.blob == '{"a": "b"}!' and store.policies.get(made.id).blob == changed.blob
    assert store.policies.delete(made.id) is True and store.policies.delete(made.id) is False
    assert store.policies.find(made.id) is None
    with pytest.raises(NotFound):
        store.policies.get(made.id)
    with pytest.raises(NotFound):
        store.policies.update(made.id, lambda row: {"blob": "x"})


def test_policies_are_listed_by_id_and_type_a_page_at_a_time(store):
    ids = sorted(store.policies.create(t, "b").id for t in ("x", "y", "x"))
    rows, token = store.policies.list(page_size=2)
    assert [r.id for r in rows] == ids[:2] and token
    rows, token = store.policies.list(page_size=2, page_token=token)
    assert [r.id for r in rows] == ids[2:] and not token
    rows, _ = store.policies.list("x")
    assert len(rows) == 2 and {r.type for r in rows} == {"x"}
