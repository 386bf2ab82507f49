"""The two append-only tables every server follows (the change feed and the
revocation events), on every backend: rows come back in id order past any id, ids
never go back, not even after the newest rows were pruned, pruning keeps the newest,
and what one replica appends another reads."""

import threading

import pytest
from identity_api.revocation import Revocation

from identity_grpc.change_feed import vars_of

EVENT = {"issued_before": 1_000, "expires_at": 2_000}


def feeds(store):
    """(name, feed, append one row): the change feed and the revocation events."""
    return [("changes", store.feed, lambda: store.feed.append([("user", "u1")])),
            ("revocations", store.revocations, lambda: store.revocations.append(dict(EVENT)))]


@pytest.mark.parametrize("which", [0, 1], ids=["changes", "revocations"])
def test_rows_come_back_in_id_order_past_any_id(store, which):
    _, feed, append = feeds(store)[which]
    assert feed.id_range() == (None, None) and feed.highest_id() == 0
    for _ in range(5):
        append()
    ids = [row["id"] for row in feed.all_rows()]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [row["id"] for row in feed.rows_after(ids[2])] == ids[3:]
    assert feed.id_range() == (ids[0], ids[-1]) and feed.highest_id() == ids[-1]


@pytest.mark.parametrize("which", [0, 1], ids=["changes", "revocations"])
def test_ids_never_go_back_after_the_newest_rows_are_deleted(store, which):
    _, feed, append = feeds(store)[which]
    append(), append()
    newest = feed.highest_id()
    feed.model.delete().execute()  # every row gone, as after a pruner ran wild
    append()
    assert feed.highest_id() > newest


def test_changes_keep_their_order_and_kinds(store):
    store.feed.append([("user", "u1"), ("role", "r1"), ("catalog", "c1")])
    store.feed.append([])  # nothing to record: nothing written
    assert [(r["entity"], r["entity_id"]) for r in store.feed.all_rows()] == [
        ("user", "u1"), ("role", "r1"), ("catalog", "c1")]
    nonces = [r["nonce"] for r in store.feed.all_rows()]
    assert len(set(nonces)) == 3  # the same change twice would still be told apart


def test_pruning_changes_keeps_the_newest_whatever_its_age(store):
    store.feed.append([("user", "u1"), ("user", "u2"), ("user", "u3")])
    newest = store.feed.highest_id()
    store.feed.prune(older_than=10**12, retention=0)  # everything is old
    assert [r["id"] for r in store.feed.all_rows()] == [newest]


def test_pruning_revocations_drops_only_expired_events_and_never_the_newest(store):
    kept = store.revocations.append({"issued_before": 1, "expires_at": 5_000})
    store.revocations.append({"issued_before": 1, "expires_at": 100})
    newest = store.revocations.append({"issued_before": 1, "expires_at": 100})
    assert store.revocations.prune(now=1_000) == 1
    assert [r["id"] for r in store.revocations.all_rows()] == [kept, newest]


def test_a_revocation_comes_back_with_every_field(store):
    event = Revocation(issued_before=1_700_000_000_123, expires_at=1_700_003_600,
                       user_id="u1", project_id="p1", domain_id="d1")
    store.revocations.append(vars_of(event))
    (row,) = store.revocations.all_rows()
    assert Revocation(**{n: row[n] for n in Revocation.__slots__}) == event


def test_a_users_events_are_found_for_folding(store):
    audit = store.revocations.append({**EVENT, "audit_id": "a1", "token_user_id": "u1"})
    cutoff = store.revocations.append({**EVENT, "user_id": "u1"})
    store.revocations.append({**EVENT, "audit_id": "a2", "token_user_id": "u2"})
    store.revocations.append({**EVENT, "project_id": "p1"})
    found = store.revocations.owned_by("u1")
    assert sorted(found) == sorted([(audit, "a1", 1_000, 2_000), (cutoff, None, 1_000, 2_000)])
    store.revocations.delete_ids([audit, cutoff])
    assert store.revocations.owned_by("u1") == []
    assert len(store.revocations.all_rows()) == 2


def test_what_one_replica_appends_the_other_reads(store, other_store):
    store.feed.append([("project", "p1")])
    other_store.revocations.append(dict(EVENT))
    assert [r["entity_id"] for r in other_store.feed.all_rows()] == ["p1"]
    assert len(store.revocations.all_rows()) == 1


def test_concurrent_appends_from_two_replicas_get_distinct_ids(store, other_store):
    """Two replicas appending at once: every row lands, each id once."""
    def append_many(replica):
        for _ in range(20):
            with replica.db.atomic():
                replica.feed.append([("user", "u")])
        replica.db.close()

    threads = [threading.Thread(target=append_many, args=(s,)) for s in (store, other_store)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    ids = [r["id"] for r in store.feed.all_rows()]
    assert len(ids) == len(set(ids)) == 40
