"""The user store (users and their password history) on every backend: users are
created, found by id and by name, listed a page at a time and deleted with their
passwords; a name is unique in its domain only; a user needs its domain and keeps it
from being deleted; a change is a function of the row as its transaction reads it,
and two replicas changing one user lose neither change; failed password checks count
by compare-and-set; and a quota's count holds against two replicas creating at once
(the resource store's `lock_domain`)."""

import threading

import peewee as pw
import pytest

from identity_grpc.errors import AlreadyExists, NotFound, ResourceExhausted
from identity_grpc.quotas import DomainQuotas

from .helpers import (a_project, another_domain, is_reference_error, pages_with_inserts,
                      quick_retries, run_on_both)  # noqa: F401  (a fixture)


def test_a_user_is_created_found_by_id_and_by_name_and_deleted(store, default_domain):
    user = store.users.create("alice", default_domain, email="a@example.com", enabled=False)
    assert store.users.get(user.id).email == "a@example.com"
    assert store.users.find(user.id).enabled is False
    assert store.users.find_by_name(default_domain, "alice").id == user.id
    assert store.users.exists(user.id)
    assert store.users.delete(user.id) is True
    assert store.users.find(user.id) is None and not store.users.exists(user.id)
    assert store.users.find_by_name(default_domain, "alice") is None


def test_a_user_comes_with_its_domain_and_many_users_in_one_query(store, default_domain):
    alice = store.users.create("alice", default_domain)
    bob = store.users.create("bob", another_domain(store))
    found = store.users.find_with_domain(alice.id)
    assert (found.name, found.domain.id, found.domain.enabled) == ("alice", default_domain, True)
    assert store.users.find_with_domain("nope") is None
    assert {k: v.name for k, v in store.users.by_ids([alice.id, bob.id, "nope", bob.id]).items()} == {
        alice.id: "alice", bob.id: "bob"}
    assert store.users.by_ids([]) == {}


def test_a_missing_user_is_not_found(store, default_domain):
    with pytest.raises(NotFound, match="^user nope not found$"):
        store.users.get("nope")
    assert store.users.find("nope") is None
    assert store.users.find_by_name(default_domain, "nope") is None
    assert store.users.delete("nope") is False
    with pytest.raises(NotFound, match="^user nope not found$"):
        with store.db.atomic():
            store.users.update("nope", lambda row: {"email": "x"})


def test_a_name_is_unique_in_its_domain_only(store, default_domain):
    store.users.create("alice", default_domain)
    with pytest.raises(AlreadyExists, match="a user named 'alice' already exists in domain default"):
        with store.db.atomic():
            store.users.create("alice", default_domain)
    other = another_domain(store)
    assert store.users.create("alice", other).domain_id == other
    assert store.users.count_in_domain(default_domain) == 1
    assert store.users.count_in_domain(other) == 1


def test_a_user_needs_its_domain_and_keeps_it_from_being_deleted(store):
    with pytest.raises(pw.IntegrityError) as missing:
        with store.db.atomic():
            store.users.create("alice", "no-such-domain")
    assert is_reference_error(missing.value)
    other = another_domain(store)
    store.users.create("alice", other)
    with pytest.raises(pw.IntegrityError) as held:
        with store.db.atomic():
            store.tables.Domain.delete().where(store.tables.Domain.id == other).execute()
    assert is_reference_error(held.value)


def test_deleting_a_user_deletes_its_passwords(store, default_domain):
    user = store.users.create("alice", default_domain)
    store.users.add_password(user.id, "h1", 100, None)
    store.users.delete(user.id)
    assert store.tables.Password.select().count() == 0
    assert store.users.latest_password(user.id) is None


def test_users_are_listed_by_name_with_every_filter_given(store, default_domain):
    other = another_domain(store)
    for name, domain, enabled in (("b", default_domain, True), ("a", default_domain, False),
                                  ("a", other, True), ("c", other, True)):
        store.users.create(name, domain, enabled=enabled)
    rows, token = store.users.list_page()
    assert [r.name for r in rows] == ["a", "a", "b", "c"] and token == ""
    assert rows[0].id < rows[1].id  # the same name: by id
    assert [r.name for r in store.users.list_page(domain_id=other)[0]] == ["a", "c"]
    assert [r.domain_id for r in store.users.list_page(name="a", enabled=True)[0]] == [other]
    assert [r.name for r in store.users.list_page(enabled=False)[0]] == ["a"]


def test_pages_cover_every_user_once_in_order_with_users_inserted_between_pages(
        store, default_domain):
    for name in ("b", "d", "f", "h"):
        store.users.create(name, default_domain)

    def insert(number):  # one before the pages read so far, one still ahead
        store.users.create(f"a{number}", default_domain)
        store.users.create(f"z{number}", default_domain)

    names = pages_with_inserts(lambda size, token: store.users.list_page(
        page_size=size, page_token=token), insert)
    # What was inserted behind the cursor is on no page; what was ahead of it is.
    assert names == ["b", "d", "f", "h", "z1", "z2"]

def test_a_change_is_made_from_the_row_its_transaction_reads(store, default_domain):
    user = store.users.create("alice", default_domain, description="x")
    with store.db.atomic():
        row = store.users.update(user.id, lambda row: {"description": row.description + "y"})
    assert row.description == "xy" == store.users.get(user.id).description
    with store.db.atomic():
        store.users.update(user.id, lambda row: {})  # nothing to set: nothing written
    assert store.users.get(user.id).description == "xy"


def test_a_rename_onto_a_taken_name_is_already_exists_and_writes_nothing(store, default_domain):
    store.users.create("alice", default_domain)
    bob = store.users.create("bob", default_domain)
    with pytest.raises(AlreadyExists, match="a user named 'alice' already exists in domain default"):
        with store.db.atomic():
            store.users.update(bob.id, lambda row: {"name": "alice", "email": "b@example.com"})
    assert store.users.get(bob.id).name == "bob" and store.users.get(bob.id).email == ""


def test_two_replicas_changing_one_user_at_once_lose_neither_change(
        store, other_store, default_domain, quick_retries):
    user = store.users.create("alice", default_domain, description="")
    rounds = 5

    def append(replica, index):
        letter = "ab"[index]
        for _ in range(rounds):
            retry_once(replica, user.id, letter)

    def retry_once(replica, user_id, letter):
        with replica.db.atomic():
            replica.users.update(user_id, lambda row: {"description": row.description + letter})

    run_on_both(store, other_store, append)
    assert sorted(store.users.get(user.id).description) == sorted("a" * rounds + "b" * rounds)


def test_a_second_change_waits_for_the_first_and_sees_what_it_wrote(
        store, other_store, default_domain):
    """The first change blocks between its read and its write; the second, on another
    replica, reads only once the first has committed, and builds on it."""
    user = store.users.create("alice", default_domain, description="")
    first_read, release = threading.Event(), threading.Event()

    def slow(row):
        first_read.set()
        assert release.wait(30)
        return {"description": row.description + "a"}

    def first():
        with store.db.atomic():
            store.users.update(user.id, slow)
        store.db.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_read.wait(30)
        seen = []

        def second():
            with other_store.db.atomic():
                other_store.users.update(
                    user.id, lambda row: seen.append(row.description) or {
                        "description": row.description + "b"})
            other_store.db.close()
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(timeout=0.3)
        assert waiting.is_alive() and not seen  # held by the first one's lock
        release.set()
        waiting.join(timeout=60)
        assert not waiting.is_alive() and seen == ["a"]
    finally:
        release.set()
        thread.join(timeout=60)
    assert store.users.get(user.id).description == "ab"


def test_failed_checks_are_counted_by_compare_and_set(store, default_domain):
    user = store.users.create("alice", default_domain)
    assert store.users.set_failures_if(user.id, (0, None), (1, 500)) is True
    assert store.users.set_failures_if(user.id, (0, None), (1, 600)) is False  # stale
    assert store.users.set_failures_if(user.id, (1, 500), (2, 500)) is True
    row = store.users.get(user.id)
    assert (row.failed_auth_count, row.failed_auth_at) == (2, 500)
    store.users.reset_failures(user.id)
    row = store.users.get(user.id)
    assert (row.failed_auth_count, row.failed_auth_at) == (0, None)


def test_passwords_come_back_newest_first_and_a_rehash_keeps_their_dates(store, default_domain):
    user = store.users.create("alice", default_domain)
    assert store.users.latest_password(user.id) is None
    for n in range(3):
        store.users.add_password(user.id, f"h{n}", 100 + n, 1_000 + n if n else None)
    assert store.users.latest_password(user.id).hash == "h2"
    assert [p.hash for p in store.users.recent_passwords(user.id, 2)] == ["h2", "h1"]
    latest = store.users.latest_password(user.id)
    store.users.rehash_password(latest.id, "h2-again")
    again = store.users.latest_password(user.id)
    assert (again.id, again.hash, again.created_at, again.expires_at) == (
        latest.id, "h2-again", 102, 1_002)


def test_password_expiries_are_each_users_current_password_only(store, default_domain):
    alice = store.users.create("alice", default_domain)
    bob = store.users.create("bob", default_domain)
    carol = store.users.create("carol", default_domain)  # no password at all
    store.users.add_password(alice.id, "h", 1, 500)
    store.users.add_password(alice.id, "h", 2, None)  # the current one never expires
    store.users.add_password(bob.id, "h", 1, 700)
    assert store.users.password_expiries([alice.id, bob.id, carol.id, bob.id]) == {
        alice.id: None, bob.id: 700}
    assert store.users.password_expiries([]) == {}


# ---- what the user concept asks of the resource store ----------------------------

def test_domains_and_projects_are_known_to_exist(store, default_domain):
    assert store.resources.domain_exists(default_domain)
    assert not store.resources.domain_exists("nope")
    project = a_project(store, default_domain)
    assert store.resources.project_exists(project) and not store.resources.project_exists("nope")
    assert store.resources.count_projects_in_domain(default_domain) == 1
    assert store.resources.count_projects_in_domain(another_domain(store)) == 0


def test_a_domain_is_locked_only_inside_a_transaction(store, default_domain):
    with pytest.raises(RuntimeError):
        store.resources.lock_domain(default_domain)
    with store.db.atomic():
        store.resources.lock_domain(default_domain)


def test_two_replicas_racing_for_a_domains_last_place_get_one_user(
        store, other_store, default_domain, quick_retries):
    quotas = DomainQuotas(users=1)

    def create(replica, index):
        try:
            with replica.db.atomic():
                quotas.check("users", default_domain, replica)
                replica.users.create(f"user{index}", default_domain)
            return "created"
        except ResourceExhausted:
            return "refused"

    assert sorted(run_on_both(store, other_store, create)) == ["created", "refused"]
    assert store.users.count_in_domain(default_domain) == 1
