"""What the resources, assignments and catalog conformance tests share: walking a
list page by page while rows are added, and two replicas changing one row at once."""

import threading
import time
from typing import Callable

import peewee as pw

from identity_grpc.operations import retry
from identity_grpc.store import conflicts

ROUNDS = 6


def pages_while_inserting(list_page: Callable[[str], tuple[list, str]],
                          insert: Callable[[int], None]) -> list[list]:
    """Every page of `list_page(token)`, `insert(n)` called after page n."""
    pages, token = [], ""
    while True:
        rows, token = list_page(token)
        pages.append(rows)
        if not token:
            return pages
        insert(len(pages))


def is_reference_error(error: BaseException) -> bool:
    return isinstance(error, pw.IntegrityError) and conflicts.kind_of(error) == conflicts.REFERENCE


def appending(update: Callable[[object, Callable], object], letter: str, pause: float = 0.003):
    """A change that appends `letter` to a row's description, `pause` between the read
    and the write (where another replica's change would fall)."""
    def change(row):
        time.sleep(pause)
        return {"description": row.description + letter}
    return lambda: update(change)


def race(store, other_store, update_on: Callable[[object], Callable]) -> None:
    """Two replicas append ROUNDS letters each ("a" by `store`, "b" by `other_store`)
    to one row's description at once, each attempt retried as an operation is.
    `update_on(replica)(change)` changes the row through that replica's store."""
    saved, retry.backoff = retry.backoff, (lambda attempt: 0.001)
    errors = []

    def run(replica, letter):
        try:
            work = appending(update_on(replica), letter)
            for _ in range(ROUNDS):
                retry.retrying(replica.db, work)()
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
        retry.backoff = saved
    assert not errors, errors
