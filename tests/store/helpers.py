"""What the concept stores' conformance tests share: another domain to put things in,
two replicas running work at once (or racing to change one row), and paging with rows
inserted between pages."""

import threading
import time
from typing import Callable

import pytest

from identity_grpc.operations import retry
from identity_grpc.store import conflicts


def another_domain(store, name: str = "other") -> str:
    """A second domain (set up through the tables: the resource store is not what
    these tests are about)."""
    return store.tables.Domain.create(name=name).id


def a_project(store, domain_id: str, name: str = "p") -> str:
    return store.tables.Project.create(name=name, domain=domain_id).id


def is_reference_error(error: BaseException) -> bool:
    return conflicts.kind_of(error) == conflicts.REFERENCE


def run_on_both(store, other_store, work, timeout: float = 120) -> list:
    """Run `work(replica, index)` on both replicas at once, each in a thread of its
    own, retried as an operation is; the results by index. Fails on any error left
    after the retries, or a thread still running after `timeout` seconds."""
    results, errors = [None, None], []
    start = threading.Barrier(2, timeout=timeout)

    def run(replica, index):
        try:
            start.wait()
            results[index] = retry.retrying(replica.db, work)(replica, index)
        except Exception as e:  # reported below, with the backend's words
            errors.append(e)
        finally:
            replica.db.close()

    threads = [threading.Thread(target=run, args=(s, i)) for i, s in enumerate((store, other_store))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    return results


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(retry, "backoff", lambda attempt: 0.001)


def pages_with_inserts(list_page, insert, page_size: int = 2):
    """Page through `list_page(page_size, page_token)` to the end; before each page
    after the first, `insert(page_number)` adds rows. The names of every page's rows,
    in order."""
    names, token, number = [], "", 0
    while True:
        if number:
            insert(number)
        rows, token = list_page(page_size, token)
        names += [row.name for row in rows]
        number += 1
        if not token:
            return names


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
