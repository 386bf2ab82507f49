"""The one way a row changes (`ConceptStore.update`: read locked, change as a function
of what was read, write, in one transaction) and the retry around an operation, on
every backend: two replicas changing one row at once lose neither change, a change
that refuses writes nothing, and a lock that never clears ends in Aborted."""

import threading
import time

import pytest

from identity_grpc.errors import Aborted, InvalidArgument, NotFound
from identity_grpc.operations import retry
from identity_grpc.store.models import DEFAULT_DOMAIN_ID, is_sqlite

ROUNDS = 10


@pytest.fixture(autouse=True)
def blank_description(store):
    """The default domain's description starts empty, so appends are easy to count."""
    store.tables.Domain.update(description="").execute()


def description(store) -> str:
    return store.tables.Domain.get_by_id(DEFAULT_DOMAIN_ID).description


def append_letter(store, letter: str, pause: float = 0.0):
    """Append `letter` to the default domain's description; `pause` between the read
    and the write widens the window another replica's change would fall into."""
    def change(row):
        time.sleep(pause)
        return {"description": row.description + letter}
    return store.resources.update(store.tables.Domain, DEFAULT_DOMAIN_ID, change,
                                  "domain default not found")


def test_a_change_is_a_function_of_the_row_as_the_transaction_reads_it(store):
    row = append_letter(store, "a")
    assert row.description == "a" == description(store)
    assert store.resources.update(store.tables.Domain, DEFAULT_DOMAIN_ID, lambda row: {},
                                  "missing").description == "a"  # nothing to set


def test_a_missing_row_is_not_found_and_a_refused_change_writes_nothing(store):
    with pytest.raises(NotFound, match="domain nope not found"):
        store.resources.update(store.tables.Domain, "nope", lambda row: {"name": "x"},
                               "domain nope not found")

    def refuse(row):
        raise InvalidArgument("description", "refused")
    with pytest.raises(InvalidArgument):
        store.resources.update(store.tables.Domain, DEFAULT_DOMAIN_ID, refuse, "missing")
    assert description(store) == ""


def test_two_replicas_changing_one_row_at_once_lose_neither_change(store, other_store):
    """Each change reads, waits for the other to have read too where the backend lets
    it (the row lock makes the second wait instead), then writes: with a read outside
    the lock one of the two appends would be lost."""
    retry.backoff = lambda attempt: 0.001  # restored below
    errors = []

    def run(replica, letter):
        try:
            for _ in range(ROUNDS):
                retry.retrying(replica.db, append_letter)(replica, letter, 0.003)
        except Exception as e:  # reported below, with the backend's words
            errors.append(e)
        finally:
            replica.db.close()

    try:
        threads = [threading.Thread(target=run, args=(s, c))
                   for s, c in ((store, "a"), (other_store, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
    finally:
        retry.backoff = _BACKOFF
    assert not errors, errors
    final = description(store)
    assert sorted(final) == sorted("a" * ROUNDS + "b" * ROUNDS)


_BACKOFF = retry.backoff


def _short_lock_wait(store) -> None:
    """Make this connection give up on a held lock within a fraction of a second."""
    db = store.db
    if is_sqlite(db):
        db.execute_sql("PRAGMA busy_timeout = 50")
    elif "Postgres" in type(db).__name__:
        db.execute_sql("SET lock_timeout = '100ms'")
    else:
        db.execute_sql("SET SESSION innodb_lock_wait_timeout = 1")


def test_a_lock_that_never_clears_ends_in_aborted_with_nothing_written(store, other_store,
                                                                      monkeypatch):
    monkeypatch.setattr(retry, "backoff", lambda attempt: 0)
    _short_lock_wait(store)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with other_store.db.atomic():
            other_store.resources.update(other_store.tables.Domain, DEFAULT_DOMAIN_ID,
                                         lambda row: {"description": "held"}, "missing")
            holding.set()
            release.wait(60)
            raise RuntimeError("roll back")  # the holder writes nothing in the end

    holder = threading.Thread(target=lambda: _swallow(hold))
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(Aborted, match="nothing was changed"):
            retry.retrying(store.db, append_letter)(store, "x")
    finally:
        release.set()
        holder.join(timeout=60)
        other_store.db.close()
    assert description(store) == ""


def _swallow(work) -> None:
    try:
        work()
    except RuntimeError:
        pass
