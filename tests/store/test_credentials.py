"""The credential store (API keys: only a hash of each secret) on every backend: keys
are created, found, listed oldest first and deleted; a key needs its user and project
and goes with either; and two replicas deleting one key at once: exactly one deletes
it."""

import peewee as pw
import pytest

from .helpers import a_project, is_reference_error, quick_retries, run_on_both  # noqa: F401


@pytest.fixture
def owner(store, default_domain):
    """(user id, project id) for keys to belong to."""
    return store.users.create("alice", default_domain).id, a_project(store, default_domain)


def make_key(store, owner, key_id: str, created_at: int = 100, **fields):
    user_id, project_id = owner
    return store.credentials.create(key_id, user_id, project_id, f"sha256:{key_id}", '["r1"]',
                                    created_at, **fields)


def test_a_key_is_created_found_and_deleted(store, owner):
    key = make_key(store, owner, "k" * 32, name="ci", expires_at=5_000)
    found = store.credentials.find("k" * 32)
    assert (found.id, found.name, found.user_id, found.project_id) == ("k" * 32, "ci", *owner)
    assert (found.secret_hash, found.role_ids, found.expires_at, found.created_at) == (
        "sha256:" + "k" * 32, '["r1"]', 5_000, 100)
    assert key.id == found.id
    assert store.credentials.delete(key.id) is True
    assert store.credentials.find(key.id) is None
    assert store.credentials.delete(key.id) is False


def test_a_users_keys_are_listed_oldest_first_then_by_id(store, owner, default_domain):
    for key_id, created_at in (("c", 200), ("b", 100), ("a", 200)):
        make_key(store, owner, key_id, created_at)
    other = store.users.create("bob", default_domain).id
    make_key(store, (other, owner[1]), "d")
    assert [k.id for k in store.credentials.list_for_user(owner[0])] == ["b", "a", "c"]
    assert sorted(store.credentials.ids_for_user(owner[0])) == ["a", "b", "c"]
    assert store.credentials.list_for_user("nobody") == []


def test_a_key_needs_its_user_and_project(store, owner):
    for user_id, project_id in (("no-such-user", owner[1]), (owner[0], "no-such-project")):
        with pytest.raises(pw.IntegrityError) as missing:
            with store.db.atomic():
                make_key(store, (user_id, project_id), "k")
        assert is_reference_error(missing.value)


def test_keys_go_with_their_user_or_their_project(store, owner, default_domain):
    make_key(store, owner, "a")
    second = a_project(store, default_domain, "q")
    make_key(store, (owner[0], second), "b")
    store.tables.Project.delete().where(store.tables.Project.id == second).execute()
    assert store.credentials.ids_for_user(owner[0]) == ["a"]
    store.users.delete(owner[0])
    assert store.credentials.find("a") is None


def test_two_replicas_deleting_one_key_at_once_delete_it_once(store, other_store, owner,
                                                             quick_retries):
    make_key(store, owner, "k")

    def delete(replica, index):
        with replica.db.atomic():
            return replica.credentials.delete("k")

    assert sorted(run_on_both(store, other_store, delete)) == [False, True]
