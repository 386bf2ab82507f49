"""Two cores in one process, each over a store of its own: no process-wide binding
joins them, so what one writes the other never sees, and each authenticates, lists and
validates against its own store while the other runs."""

import pytest

from identity_grpc.bootstrap import bootstrap
from identity_grpc.config import Settings
from identity_grpc.core import Core
from identity_grpc.errors import Unauthenticated
from identity_grpc.records import PasswordCredentials, ScopeRequest, Selector
from identity_grpc.store.models import DEFAULT_DOMAIN_ID
from identity_grpc.tokens.keys import KeyRepository
from support import ADMIN_PASSWORD


def _core(tmp_path, name: str, hashing: dict) -> Core:
    settings = Settings(listen="127.0.0.1:0", database_url=f"sqlite:///{tmp_path}/{name}.db",
                        key_dir=str(tmp_path / f"{name}-keys"), **hashing)
    KeyRepository.initialize(settings.key_dir, settings.max_active_keys)
    core = Core(settings)
    bootstrap(core, ADMIN_PASSWORD, settings.advertised_url)
    return core


@pytest.fixture
def cores(tmp_path, hashing):
    first, second = _core(tmp_path, "first", hashing), _core(tmp_path, "second", hashing)
    yield first, second
    first.close()
    second.close()


def _login(core: Core, name: str, password: str):
    credentials = PasswordCredentials(
        user=Selector(name=name, domain=Selector(id=DEFAULT_DOMAIN_ID)), password=password)
    return core.tokens.authenticate(credentials, ScopeRequest(), include_catalog=False)


def test_two_cores_in_one_process_each_keep_to_their_own_store(cores):
    first, second = cores
    assert first.db is not second.db and first.store.tables.User is not second.store.tables.User
    erin = first.users_and_groups.create_user("erin", DEFAULT_DOMAIN_ID, "erin-password-1")
    first.resources.create_project("only-in-first", DEFAULT_DOMAIN_ID)
    assert second.users_and_groups.find_user(name="erin", domain_id=DEFAULT_DOMAIN_ID) is None
    assert second.resources.find_project(
        name="only-in-first", domain=second.resources.get_domain(DEFAULT_DOMAIN_ID)) is None
    token, info = _login(first, "erin", "erin-password-1")
    assert info.identity.user.id == erin.id
    with pytest.raises(Unauthenticated):
        _login(second, "erin", "erin-password-1")
    # Each validates its own tokens, with its own keys, while the other is open.
    assert first.tokens.validate(token, include_catalog=False).identity.user.id == erin.id
    with pytest.raises(Unauthenticated):
        second.tokens.validate(token, include_catalog=False)
    admin_token, _ = _login(second, "admin", ADMIN_PASSWORD)
    assert second.tokens.validate(admin_token, include_catalog=False).identity.user.name == "admin"
