"""The store conformance suite: each of its tests is about what a backend does, so
every test here runs on every backend (the `every_backend` mark, see
tests/conftest.py), narrowed only by IDENTITY_TEST_BACKENDS."""

import pytest


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py's, which reads the mark
def pytest_generate_tests(metafunc):
    metafunc.definition.add_marker(pytest.mark.every_backend)
