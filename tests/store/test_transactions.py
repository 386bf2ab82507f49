"""The one way a row changes (`ConceptStore.update`: read locked, change as a function
of what was read, write, in one transaction) and the retry around an operation, on
every backend: two replicas changing one row at once lose neither change, a change
that refuses writes nothing, and a lock that never clears ends in Aborted."""

import threading

import pytest

from identity_grpc.errors import Aborted, InvalidArgument, NotFound
from identity_grpc.operations import retry
from identity_grpc.store.models import DEFAULT_DOMAIN_ID, is_sqlite

from .helpers import ROUNDS, race



@pytest.fixture(autouse=True)
def blank_description(store):
    """The default domain's description starts empty, so appends are easy to count."""
    store.tables.Domain.update(description="").execute()


def description(store) -> str:
    return store.tables.Domain.get_by_id(DEFAULT_DOMAIN_ID).description


def append_letter(store, letter: str):
    """Append `letter` to the default domain's description."""
    return store.resources.update(
        store.tables.Domain, DEFAULT_DOMAIN_ID,
        lambda row: {"description": row.description + letter}, "domain default not found")


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
    """Each change reads, pauses, then writes: with a read outside the row lock one of
    the two appends would be lost."""
    race(store, other_store, lambda replica: lambda change: replica.resources.update(
        replica.tables.Domain, DEFAULT_DOMAIN_ID, change, "domain default not found"))
    assert sorted(description(store)) == sorted("a" * ROUNDS + "b" * ROUNDS)


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
