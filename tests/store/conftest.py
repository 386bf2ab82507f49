"""The store conformance suite: the same tests on every backend (SQLite, PostgreSQL,
MariaDB; each skipped, saying why, where its server is absent; the `every_backend`
mark, see tests/conftest.py, narrowed only by IDENTITY_TEST_BACKENDS). A backend is
correct when it passes them. Tests here talk to the store interfaces
(`identity_grpc.store`), never to a server: what a manager or a transport adds is
tested elsewhere."""

import pytest

from identity_grpc.store import Store
from identity_grpc.store.models import DEFAULT_DOMAIN_ID


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py's, which reads the mark
def pytest_generate_tests(metafunc):
    metafunc.definition.add_marker(pytest.mark.every_backend)


@pytest.fixture
def store(database_url):
    """A fresh, upgraded store of its own (the default domain only)."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


@pytest.fixture
def other_store(database_url, store):
    """A second store over the same database, as another replica opens it."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


@pytest.fixture
def default_domain() -> str:
    return DEFAULT_DOMAIN_ID
