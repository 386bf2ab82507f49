"""What the concept stores' conformance tests share: another domain to put things in,
two replicas running work at once, and paging with rows inserted between pages."""

import threading

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
