"""The credential blob store on every backend: rows hold only ciphertext and the hash of
its key; they are created, found, listed oldest first (filtered by owner and type),
changed inside a transaction, re-encrypted only when still under the old key, and
deleted; an id is unique; a row needs its user (and its project, if any) and goes
with either; two replicas deleting one row at once: exactly one deletes it."""

import peewee as pw
import pytest

from identity_grpc.errors import AlreadyExists, NotFound

from .helpers import a_project, is_reference_error, quick_retries, run_on_both  # noqa: F401


@pytest.fixture
def owner(store, default_domain):
    """(user id, project id) for credentials to belong to."""
    return store.users.create("alice", default_domain).id, a_project(store, default_domain)


def make(store, owner, credential_id: str, type_: str = "totp", created_at: int = 100,
         project: bool = True, key_hash: str = "h1"):
    user_id, project_id = owner
    return store.credential_blobs.create(credential_id, user_id, project_id if project else None,
                                         type_, f"cipher-{credential_id}", key_hash,
                                         created_at=created_at)


def test_a_credential_is_created_found_changed_and_deleted(store, owner):
    made = make(store, owner, "c1", type_="ec2")
    found = store.credential_blobs.find("c1")
    assert (found.id, found.user_id, found.project_id, found.type) == ("c1", *owner, "ec2")
    assert (found.encrypted_blob, found.key_hash, found.extra, found.created_at) == (
        "cipher-c1", "h1", "{}", 100)
    assert made.id == found.id
    with store.db.atomic():
        changed = store.credential_blobs.update_credential(
            "c1", lambda row: {"encrypted_blob": row.encrypted_blob + "!", "key_hash": "h2"})
    assert (changed.encrypted_blob, changed.key_hash) == ("cipher-c1!", "h2")
    assert store.credential_blobs.find("c1").encrypted_blob == "cipher-c1!"
    with pytest.raises(NotFound):
        store.credential_blobs.update_credential("nope", lambda row: {})
    assert store.credential_blobs.delete("c1") is True
    assert store.credential_blobs.find("c1") is None
    assert store.credential_blobs.delete("c1") is False
    with pytest.raises(NotFound):
        store.credential_blobs.get("c1")


def test_an_id_is_taken_once(store, owner):
    make(store, owner, "same")
    with pytest.raises(AlreadyExists):
        make(store, owner, "same")
    assert len(store.credential_blobs.list()) == 1


def test_lists_are_oldest_first_and_filter_by_owner_and_type(store, owner, default_domain):
    for credential_id, created_at, type_ in (("c", 200, "ec2"), ("b", 100, "totp"),
                                             ("a", 200, "totp")):
        make(store, owner, credential_id, type_, created_at)
    bob = store.users.create("bob", default_domain).id
    make(store, (bob, owner[1]), "d", "totp", 50)
    rows = store.credential_blobs
    assert [r.id for r in rows.list()] == ["d", "b", "a", "c"]
    assert [r.id for r in rows.list(user_id=owner[0])] == ["b", "a", "c"]
    assert [r.id for r in rows.list(type_="totp")] == ["d", "b", "a"]
    assert [r.id for r in rows.list(user_id=owner[0], type_="ec2")] == ["c"]
    assert [r.id for r in rows.list(limit=2)] == ["d", "b"]
    assert rows.list(user_id="nobody") == []


def test_reencrypting_replaces_only_what_is_still_under_the_old_key(store, owner):
    for credential_id in ("a", "b", "c"):
        make(store, owner, credential_id, key_hash="old")
    make(store, owner, "d", key_hash="new")
    rows = store.credential_blobs
    assert [r.id for r in rows.not_encrypted_with("new", 10)] == ["a", "b", "c"]
    assert [r.id for r in rows.not_encrypted_with("new", 2)] == ["a", "b"]
    assert rows.key_hashes() == {"old", "new"}
    assert rows.reencrypt("a", "old", "cipher-a'", "new") is True
    assert rows.reencrypt("a", "old", "cipher-a''", "new") is False  # not under "old" now
    assert (rows.find("a").encrypted_blob, rows.find("a").key_hash) == ("cipher-a'", "new")
    for credential_id in ("b", "c"):
        rows.reencrypt(credential_id, "old", "x", "new")
    assert rows.not_encrypted_with("new", 10) == [] and rows.key_hashes() == {"new"}


def test_a_credential_needs_its_user_and_its_project(store, owner):
    for user_id, project_id in (("no-such-user", owner[1]), (owner[0], "no-such-project")):
        with pytest.raises(pw.IntegrityError) as missing:
            with store.db.atomic():
                make(store, (user_id, project_id), "c")
        assert is_reference_error(missing.value)
    make(store, owner, "no-project", project=False)
    assert store.credential_blobs.find("no-project").project_id is None


def test_credentials_go_with_their_user_or_their_project(store, owner, default_domain):
    make(store, owner, "a")
    second = a_project(store, default_domain, "q")
    make(store, (owner[0], second), "b")
    store.tables.Project.delete().where(store.tables.Project.id == second).execute()
    assert [r.id for r in store.credential_blobs.list(user_id=owner[0])] == ["a"]
    store.users.delete(owner[0])
    assert store.credential_blobs.find("a") is None


def test_two_replicas_deleting_one_credential_at_once_delete_it_once(store, other_store, owner,
                                                                    quick_retries):
    make(store, owner, "c")

    def delete(replica, index):
        with replica.db.atomic():
            return replica.credential_blobs.delete("c")

    assert sorted(run_on_both(store, other_store, delete)) == [False, True]
