"""Replicas follow the shared feeds (revocation events, changes) by id: ids must never
be handed out twice, and a follower that finds they were must not trust them.

Two real server processes share one store: the in-process `service` (replica A,
whose pruner and store the tests drive) and the `replica` subprocess (B). Pruning is
forced; a rewind of the ids (what a store restored from a backup, or an engine that
forgets its counter, does) is made by deleting the newest rows and setting the
backend's counter back.
"""

import time

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb

from conftest import ServerProcess
from identity_grpc.store.models import is_sqlite
from support import auth_md, login, project_scope, role_names, validate

pytestmark = pytest.mark.every_backend

FAR_FUTURE = 4_000_000_000  # a prune "now" past every expiry and retention


def _revoke(stub, caller_token: str, subject_token: str) -> None:
    stub.RevokeToken(pb.RevokeTokenRequest(subject_token=subject_token),
                     metadata=auth_md(caller_token))


def _roles_seen_by(server: ServerProcess, token: str) -> set[str] | None:
    """The token's roles as `server` validates it; None when it refuses it."""
    caller = login(server.stub, "nova", project_scope("service")).token
    try:
        return role_names(validate(server.stub, caller, token))
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e.details()
        return None


def _eventually(predicate, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"not so within {within}s"
        time.sleep(0.05)


def _rewind(db, model, to_id: int) -> None:
    """Delete the rows above `to_id` and set the table's id counter back to it."""
    model.delete().where(model.id > to_id).execute()
    table = model._meta.table_name
    if is_sqlite(db):
        db.execute_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (to_id, table))
    elif "postgres" in type(getattr(db, "obj", db)).__name__.lower():
        db.execute_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"{max(to_id, 1)}, {'true' if to_id else 'false'})")
    else:
        db.execute_sql(f"ALTER TABLE `{table}` AUTO_INCREMENT = {to_id + 1}")


def _max_id(model) -> int:
    return model.select(model.id).order_by(model.id.desc()).scalar() or 0


def _remove_compute_user(core, token_info) -> None:
    role = core.assignments.find_role("compute-user")
    core.assignments.revoke(role.id, target_type="project", target_id=token_info.project.id,
                            user_id=token_info.user.id)


@pytest.fixture
def pruning_replica(service):
    """Replica B, pruning both feeds as hard as it can: every 0.1 s, no retention."""
    process = ServerProcess(service.core.settings, IDENTITY_PRUNE_INTERVAL="0.1",
                            IDENTITY_CHANGE_RETENTION="0")
    yield process
    process.stop()


def test_pruning_keeps_the_newest_row_so_ids_keep_rising(service, stub):
    core = service.core
    RevocationEvent, Change = core.store.tables.RevocationEvent, core.store.tables.Change
    nova = login(stub, "nova", project_scope("service")).token
    for _ in range(3):
        _revoke(stub, nova, login(stub, "alice", project_scope("acme")).token)
    newest_event, newest_change = _max_id(RevocationEvent), _max_id(Change)
    core.watcher.prune(now=FAR_FUTURE)
    assert [e.id for e in RevocationEvent.select()] == [newest_event]
    assert [c.id for c in Change.select()] == [newest_change]
    _revoke(stub, nova, login(stub, "alice", project_scope("acme")).token)
    assert _max_id(RevocationEvent) > newest_event


def test_a_pruning_replica_still_follows_revocations_and_role_removals(
        service, stub, pruning_replica):
    core, b = service.core, pruning_replica
    nova = login(stub, "nova", project_scope("service")).token
    for _ in range(3):  # feeds pruned down to their newest row, and again
        decoy = login(stub, "alice", project_scope("acme")).token
        _revoke(stub, nova, decoy)
        _eventually(lambda: _roles_seen_by(b, decoy) is None)
        core.watcher.prune(now=FAR_FUTURE)
    alice = login(stub, "alice", project_scope("acme"))
    assert "compute-user" in _roles_seen_by(b, alice.token)
    _remove_compute_user(core, alice.token_info)
    _eventually(lambda: "compute-user" not in (_roles_seen_by(b, alice.token) or set()))
    victim = login(stub, "alice", project_scope("cyberdyne")).token
    _revoke(stub, nova, victim)
    _eventually(lambda: _roles_seen_by(b, victim) is None)


def test_a_revocation_reusing_a_consumed_id_is_still_applied_by_the_other_replica(
        service, stub, replica):
    core = service.core
    RevocationEvent = core.store.tables.RevocationEvent
    nova = login(stub, "nova", project_scope("service")).token
    decoy = login(stub, "alice", project_scope("acme")).token
    alice = login(stub, "alice", project_scope("cyberdyne")).token
    _revoke(stub, nova, decoy)
    _eventually(lambda: _roles_seen_by(replica, decoy) is None)  # B consumed the newest id
    assert _roles_seen_by(replica, alice) is not None
    newest = _max_id(RevocationEvent)
    _rewind(core.db, RevocationEvent, newest - 1)
    _revoke(stub, nova, alice)
    assert _max_id(RevocationEvent) == newest  # the id B already consumed, handed out again
    _eventually(lambda: _roles_seen_by(replica, alice) is None)


def test_a_role_removal_reusing_a_consumed_change_id_takes_effect_on_the_other_replica(
        service, stub, replica):
    core = service.core
    Change = core.store.tables.Change
    alice = login(stub, "alice", project_scope("acme"))
    while time.time() % 1 > 0.3:  # the same change ("user", alice) twice in one second
        time.sleep(0.01)
    core.users_and_groups.update_user(alice.token_info.user.id, description="touched")
    newest = _max_id(Change)
    time.sleep(4 * core.settings.poll_interval)  # B consumed the newest change
    assert "compute-user" in _roles_seen_by(replica, alice.token)  # and caches the roles
    _rewind(core.db, Change, newest - 1)
    _remove_compute_user(core, alice.token_info)
    assert _max_id(Change) <= newest
    _eventually(lambda: "compute-user" not in (_roles_seen_by(replica, alice.token) or set()))
