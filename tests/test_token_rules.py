"""What a token promises, checked through the running server: size, lifetime,
signing-key rotation, surviving restarts, and that tokens cost the store nothing."""

import base64
import re
import time

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service
from identity_grpc.store.models import is_sqlite
from identity_grpc.tokens.keys import KeyRepository
from support import login, project_scope, rescope, rpc_error, validate

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


def _key_id(token: str) -> bytes:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[1:5]


def test_tokens_are_url_safe_and_at_most_255_bytes_for_every_scope(stub):
    unscoped = login(stub, "admin").token
    tokens = [
        unscoped,
        login(stub, "admin", project_scope("admin")).token,
        login(stub, "admin", pb.Scope(domain=pb.DomainSelector(id="default"))).token,
        login(stub, "admin", pb.Scope(system=pb.SystemScope(all=True))).token,
        rescope(stub, unscoped, project_scope("admin")).token,
    ]
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(token.encode()) <= 255


def test_expiry_is_enforced_to_the_second(stub, service):
    alice = login(stub, "alice", project_scope("acme"))
    issued, expires = alice.token_info.issued_at.seconds, alice.token_info.expires_at.seconds
    assert expires - issued == 3600
    # Hold the clock one second before expiry: still valid; at expiry: refused. The
    # validating service's own token is issued then, so it is not the one expiring.
    service.clock.offset = expires - 1 - time.time()
    nova = login(stub, "nova", project_scope("service"))
    assert validate(stub, nova.token, alice.token)
    service.clock.offset = expires - time.time()
    error = rpc_error(validate, stub, nova.token, alice.token)
    assert error.code() == UNAUTHENTICATED and "expired" in error.details()


def test_token_lifetime_is_configurable(deployment):
    running = start_service(deployment.replace(token_lifetime=120))
    try:
        info = login(running.stub, "alice").token_info
        assert info.expires_at.seconds - info.issued_at.seconds == 120
    finally:
        running.stop()


def test_rotation_keeps_tokens_valid_until_their_key_retires(stub, service):
    keys_dir = service.core.settings.key_dir
    nova = login(stub, "nova", project_scope("service")).token
    alice = login(stub, "alice", project_scope("acme")).token
    old_primary = service.core.keys.primary.key_id
    assert _key_id(alice) == old_primary

    operator = KeyRepository(keys_dir)  # as `identity-manage rotate-keys` would
    operator.rotate()
    _wait_for(lambda: service.core.keys.primary.key_id != old_primary)
    fresh_nova = login(stub, "nova", project_scope("service")).token
    assert _key_id(fresh_nova) == operator.primary.key_id != old_primary
    assert validate(stub, fresh_nova, alice).user.name == "alice"  # signed by a secondary now

    operator.rotate()  # with 3 active keys, alice's key is the oldest still kept
    _wait_for(lambda: len(service.core.keys.indexes()) == 3 and old_primary not in _active(service))
    error = rpc_error(validate, stub, fresh_nova, alice)
    assert error.code() == UNAUTHENTICATED and "key" in error.details()
    assert rpc_error(validate, stub, nova, nova).code() == UNAUTHENTICATED


def _active(service) -> set[bytes]:
    return {bytes.fromhex(k) for k in service.core.keys.public_keys()}


def _wait_for(condition, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_tokens_survive_a_server_restart(deployment):
    first = start_service(deployment)
    nova = login(first.stub, "nova", project_scope("service")).token
    alice = login(first.stub, "alice", project_scope("acme")).token
    first.stop()
    second = start_service(deployment)
    try:
        assert validate(second.stub, nova, alice).project.name == "acme"
    finally:
        second.stop()


def _store_snapshot(tables) -> dict:
    snapshot = {m.__name__: m.select().count() for m in tables.all}
    snapshot["max_event"] = tables.RevocationEvent.select().order_by(
        tables.RevocationEvent.id.desc()).first()
    return snapshot


def test_issuing_and_validating_write_nothing(stub, service):
    tables = service.core.store.tables
    db = service.core.store.db
    sqlite = is_sqlite(db)
    login(stub, "alice")  # any first-use work happens before we measure
    before = _store_snapshot(tables)
    version_before = db.execute_sql("PRAGMA data_version").fetchone()[0] if sqlite else None
    nova = login(stub, "nova", project_scope("service")).token
    alice = login(stub, "alice")
    scoped = rescope(stub, alice.token, project_scope("acme")).token
    for _ in range(3):
        validate(stub, nova, scoped)
        stub.ListProjects(pb.ListProjectsRequest(), metadata=(("x-auth-token", alice.token),))
    assert _store_snapshot(tables) == before
    if sqlite:  # data_version moves when any other connection commits to the file
        assert db.execute_sql("PRAGMA data_version").fetchone()[0] == version_before


@pytest.mark.parametrize("lifetime", [0, -5])
def test_a_token_lifetime_must_be_positive(deployment, lifetime):
    with pytest.raises(ValueError, match="token_lifetime"):
        start_service(deployment.replace(token_lifetime=lifetime))
