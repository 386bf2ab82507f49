"""The retry of an operation on a real store conflict: SQLite's write lock held by
another connection. One that clears in time is invisible to the caller; one that
never clears ends in Aborted (gRPC ABORTED, HTTP 409) with nothing written, never in
a store-unavailable error; anything that is not a conflict is not retried."""

import sqlite3

import peewee as pw
import pytest

from identity_grpc.errors import Aborted
from identity_grpc.operations import retry


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A SQLite store that fails at once on a lock (no busy wait), a table, and a
    second connection that can hold the write lock; retries without the pauses."""
    monkeypatch.setattr(retry, "backoff", lambda attempt: 0)
    path = tmp_path / "store.db"
    db = pw.SqliteDatabase(str(path), pragmas={"journal_mode": "wal", "busy_timeout": 0},
                           lock_type="IMMEDIATE")
    db.execute_sql("CREATE TABLE item (name TEXT UNIQUE)")
    other = sqlite3.connect(str(path), isolation_level=None)
    yield db, other
    other.close()
    db.close()


def count(db) -> int:
    return db.execute_sql("SELECT count(*) FROM item").fetchone()[0]


def test_a_conflict_that_clears_is_retried_invisibly(store):
    db, other = store
    other.execute("BEGIN IMMEDIATE")
    attempts = []

    def add():
        attempts.append(1)
        if len(attempts) == 3:
            other.execute("COMMIT")  # the other writer finishes meanwhile
        with db.atomic():
            db.execute_sql("INSERT INTO item VALUES ('a')")

    retry.retrying(db, add)()
    assert len(attempts) == 3
    assert count(db) == 1


def test_a_conflict_that_never_clears_ends_in_aborted_with_nothing_written(store):
    db, other = store
    other.execute("BEGIN IMMEDIATE")
    attempts = []

    def add():
        attempts.append(1)
        with db.atomic():
            db.execute_sql("INSERT INTO item VALUES ('a')")

    with pytest.raises(Aborted, match="nothing was changed"):
        retry.retrying(db, add)()
    assert len(attempts) == retry.ATTEMPTS
    other.execute("COMMIT")
    assert count(db) == 0


def test_a_unique_clash_is_not_retried(store):
    db, _ = store
    db.execute_sql("INSERT INTO item VALUES ('a')")
    attempts = []

    def add():
        attempts.append(1)
        with db.atomic():
            db.execute_sql("INSERT INTO item VALUES ('a')")

    with pytest.raises(pw.IntegrityError):
        retry.retrying(db, add)()
    assert len(attempts) == 1
