"""The credential store (API keys, which are application credentials: only a hash of
each secret) on every backend: keys are created, found (by id, or by their user and
name, unique per user), listed oldest first and deleted; a key needs its user and
project and goes with either; the users' access rules are reused when identical, held
by keys and go with their user; and two replicas deleting one key at once: exactly one
deletes it."""

import peewee as pw
import pytest

from identity_grpc.errors import AlreadyExists

from .helpers import a_project, is_reference_error, quick_retries, run_on_both  # noqa: F401


@pytest.fixture
def owner(store, default_domain):
    """(user id, project id) for keys to belong to."""
    return store.users.create("alice", default_domain).id, a_project(store, default_domain)


def make_key(store, owner, key_id: str, created_at: int = 100, **fields):
    user_id, project_id = owner
    fields.setdefault("name", key_id)
    return store.credentials.create(key_id, user_id, project_id, f"sha256:{key_id}", '["r1"]',
                                    created_at, **fields)


def test_a_key_is_created_found_and_deleted(store, owner):
    key = make_key(store, owner, "k" * 32, name="ci", expires_at=5_000)
    found = store.credentials.find("k" * 32)
    assert (found.id, found.name, found.user_id, found.project_id) == ("k" * 32, "ci", *owner)
    assert (found.secret_hash, found.role_ids, found.expires_at, found.created_at) == (
        "sha256:" + "k" * 32, '["r1"]', 5_000, 100)
    assert (found.description, found.unrestricted) == ("", False)
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


def test_a_keys_description_restriction_and_microsecond_expiry_are_kept(store, owner):
    make_key(store, owner, "k", description="nightly backups", unrestricted=True,
             expires_at=1_900_000_000_123_456)
    found = store.credentials.find("k")
    assert (found.description, found.unrestricted, found.expires_at) == (
        "nightly backups", True, 1_900_000_000_123_456)


def test_a_name_is_unique_per_user_and_finds_its_key(store, owner, default_domain):
    make_key(store, owner, "a", name="ci")
    with pytest.raises(AlreadyExists) as clash:
        with store.db.atomic():
            make_key(store, owner, "b", name="ci")
    assert "'ci'" in str(clash.value)
    other = store.users.create("bob", default_domain).id
    make_key(store, (other, owner[1]), "c", name="ci")  # another user's name is its own
    assert store.credentials.find_by_name(owner[0], "ci").id == "a"
    assert store.credentials.find_by_name(other, "ci").id == "c"
    assert store.credentials.find_by_name(owner[0], "cd") is None
    assert [k.id for k in store.credentials.list_for_user(owner[0], name="ci")] == ["a"]
    assert store.credentials.list_for_user(owner[0], name="nope") == []


def test_identical_access_rules_are_one_rule_of_the_user(store, owner, default_domain):
    user_id = owner[0]
    first = store.credentials.find_or_create_rule("r1", user_id, "compute", "/v2.1/servers",
                                                  "GET", 100)
    again = store.credentials.find_or_create_rule("r2", user_id, "compute", "/v2.1/servers",
                                                  "GET", 200)
    other = store.credentials.find_or_create_rule("r3", user_id, "compute", "/v2.1/servers",
                                                  "POST", 150)
    assert (first.id, again.id, other.id) == ("r1", "r1", "r3")
    bob = store.users.create("bob", default_domain).id
    assert store.credentials.find_or_create_rule("r4", bob, "compute", "/v2.1/servers", "GET",
                                                 100).id == "r4"
    assert [r.id for r in store.credentials.rules_of_user(user_id)] == ["r1", "r3"]
    found = store.credentials.find_rule("r1")
    assert (found.user_id, found.service, found.path, found.method) == (
        user_id, "compute", "/v2.1/servers", "GET")
    assert store.credentials.find_rule("nope") is None


def test_keys_hold_access_rules_until_they_go(store, owner):
    user_id = owner[0]
    for rule_id, created_at in (("r2", 100), ("r1", 200)):
        store.credentials.find_or_create_rule(rule_id, user_id, "compute", f"/{rule_id}",
                                              "GET", created_at)
    make_key(store, owner, "k", access_rule_ids=("r1", "r2"))
    make_key(store, owner, "j", access_rule_ids=("r2",))
    assert [r.id for r in store.credentials.rules_of_key("k")] == ["r2", "r1"]
    assert store.credentials.rule_in_use("r1") and store.credentials.rule_in_use("r2")
    store.credentials.delete("k")
    assert not store.credentials.rule_in_use("r1") and store.credentials.rule_in_use("r2")
    assert [r.id for r in store.credentials.rules_of_user(user_id)] == ["r2", "r1"]
    assert store.credentials.delete_rule("r1") is True
    assert store.credentials.delete_rule("r1") is False
    with pytest.raises(pw.IntegrityError) as missing:
        with store.db.atomic():
            make_key(store, owner, "m", access_rule_ids=("r1",))
    assert is_reference_error(missing.value)


def test_access_rules_go_with_their_user(store, owner):
    user_id = owner[0]
    store.credentials.find_or_create_rule("r1", user_id, "compute", "/x", "GET", 100)
    make_key(store, owner, "k", access_rule_ids=("r1",))
    store.users.delete(user_id)
    assert store.credentials.find_rule("r1") is None
    assert store.credentials.find("k") is None
