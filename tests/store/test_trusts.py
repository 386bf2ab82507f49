"""The trust store on every backend: trusts are created, found, listed oldest first
(by trustor, by trustee, or all) and deleted; a trust needs its users, project and
parent and goes with any of them; and two replicas spending the last use of a trust
at once: exactly one gets it."""

import peewee as pw
import pytest

from identity_grpc.errors import NotFound
from identity_grpc.store.trusts import UsedUp

from .helpers import a_project, is_reference_error, quick_retries, run_on_both  # noqa: F401


@pytest.fixture
def people(store, default_domain):
    """(trustor id, trustee id, project id)."""
    return (store.users.create("alice", default_domain).id,
            store.users.create("bob", default_domain).id, a_project(store, default_domain))


def make_trust(store, people, trust_id: str, created_at: int = 100, **fields):
    trustor, trustee, project = people
    return store.trusts.create(trust_id, trustor, trustee, project, '["r1"]', created_at,
                               **fields)


def test_a_trust_is_created_found_and_deleted(store, people):
    make_trust(store, people, "t" * 32, impersonation=True, expires_at=5_000, remaining_uses=3)
    found = store.trusts.find("t" * 32)
    assert (found.trustor_id, found.trustee_id, found.project_id) == people
    assert (found.role_ids, found.impersonation, found.expires_at, found.remaining_uses,
            found.redelegation_count, found.redelegated_trust_id, found.created_at) == (
        '["r1"]', True, 5_000, 3, 0, None, 100)
    assert store.trusts.delete("t" * 32) is True
    assert store.trusts.find("t" * 32) is None
    assert store.trusts.delete("t" * 32) is False


def test_a_trust_may_have_no_project(store, people):
    trustor, trustee, _ = people
    store.trusts.create("t", trustor, trustee, None, "[]", 100)
    assert store.trusts.find("t").project_id is None


def test_trusts_are_listed_oldest_first_by_trustor_or_trustee(store, people, default_domain):
    trustor, trustee, project = people
    for trust_id, created_at in (("c", 200), ("b", 100), ("a", 200)):
        make_trust(store, people, trust_id, created_at)
    carol = store.users.create("carol", default_domain).id
    make_trust(store, (trustee, carol, project), "d", 50)
    def ids(**filters):
        rows, token = store.trusts.list_trusts(**filters)
        assert token == ""
        return [t.id for t in rows]

    assert ids(trustor_id=trustor) == ["b", "a", "c"]
    assert ids(trustee_id=trustee) == ["b", "a", "c"]
    assert ids(trustee_id=carol) == ["d"]
    assert ids(trustor_id=trustor, trustee_id=carol) == []
    assert ids() == ["d", "b", "a", "c"]
    assert ids(trustor_id="nobody") == []
    first, token = store.trusts.list_trusts(page_size=2)
    rest, last = store.trusts.list_trusts(page_size=2, page_token=token)
    assert [t.id for t in first + rest] == ["d", "b", "a", "c"] and last == ""


def test_only_unexpired_trusts_are_listed_when_asked(store, people):
    make_trust(store, people, "forever")
    make_trust(store, people, "later", expires_at=2_000)
    make_trust(store, people, "gone", expires_at=1_000)
    rows, _ = store.trusts.list_trusts(alive_at=1_000)
    assert sorted(t.id for t in rows) == ["forever", "later"]


def test_a_trust_needs_its_users_project_and_parent(store, people):
    trustor, trustee, project = people
    for who in (("no-such-user", trustee, project), (trustor, "no-such-user", project),
                (trustor, trustee, "no-such-project")):
        with pytest.raises(pw.IntegrityError) as missing:
            with store.db.atomic():
                make_trust(store, who, "t")
        assert is_reference_error(missing.value)
    with pytest.raises(pw.IntegrityError) as missing:
        with store.db.atomic():
            make_trust(store, people, "t", redelegated_trust_id="no-such-trust")
    assert is_reference_error(missing.value)


@pytest.mark.parametrize("gone", ["trustor", "trustee", "project", "parent"])
def test_trusts_go_with_their_users_project_or_parent(store, people, gone):
    trustor, trustee, project = people
    make_trust(store, people, "parent", redelegation_count=2)
    make_trust(store, (trustee, trustor, project), "child", redelegation_count=1,
               redelegated_trust_id="parent")
    assert store.trusts.redelegated_from("parent") == ["child"]
    if gone == "project":
        store.tables.Project.delete().where(store.tables.Project.id == project).execute()
    elif gone == "parent":
        store.trusts.delete("parent")
    else:
        store.users.delete(trustor if gone == "trustor" else trustee)
    assert store.trusts.find("parent") is None and store.trusts.find("child") is None


def test_uses_are_spent_one_at_a_time_until_none_is_left(store, people):
    make_trust(store, people, "t", remaining_uses=2)
    assert store.trusts.consume_use("t").remaining_uses == 1
    assert store.trusts.consume_use("t").remaining_uses == 0
    with pytest.raises(UsedUp):
        store.trusts.consume_use("t")
    assert store.trusts.find("t").remaining_uses == 0
    make_trust(store, people, "unlimited")
    assert store.trusts.consume_use("unlimited").remaining_uses is None
    with pytest.raises(NotFound):
        store.trusts.consume_use("no-such-trust")


def test_two_replicas_spending_the_last_use_at_once_spend_it_once(store, other_store, people,
                                                                  quick_retries):
    make_trust(store, people, "t", remaining_uses=1)

    def spend(replica, index):
        try:
            with replica.db.atomic():
                return replica.trusts.consume_use("t").remaining_uses
        except UsedUp:
            return "used up"

    assert sorted(run_on_both(store, other_store, spend), key=str) == [0, "used up"]
    assert store.trusts.find("t").remaining_uses == 0
