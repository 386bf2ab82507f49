"""Several replicas over one store: concurrent management writes, and key rotation.

Two real server processes (the in-process `service` and the `replica` subprocess)
share one database. Threads released together by a barrier call the admin API
through both at once; the outcome is read back through the API and counted in the
database. Nothing written may be lost, a unique name is taken exactly once (the
others get ALREADY_EXISTS, never INTERNAL, UNKNOWN or UNAVAILABLE), concurrent
changes to one entity all land, and a write racing the deletion of what it refers to
gets OK or NOT_FOUND. The races that collide only now and then (a deleted row that
several writers wait on) run for RACES rounds: enough that, before colliding operations
were retried, each failed on MariaDB in most runs.

Key rotation runs the procedure of docs/replicas.md: two processes with separate key
directories (as on separate hosts), `identity-manage rotate-keys` on one, then the
repository copied to the other with rsync.
"""

import base64
import dataclasses
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb

from conftest import ServerProcess
from identity_grpc.tokens.keys import KeyRepository
from support import AdminClient, clean_env, login, project_scope, system_admin_token, validate

pytestmark = pytest.mark.every_backend

OK = grpc.StatusCode.OK
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
CALL_TIMEOUT = 30  # seconds: a lock wait shows as DEADLINE_EXCEEDED, not a hung test


# ---- calling through every replica at once ---------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str = ""
    value: object = None


def at_once(calls: list[Callable[[], object]]) -> list[Outcome]:
    """Run each call in a thread of its own, all released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Outcome | None] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        barrier.wait(timeout=30)
        try:
            outcomes[i] = Outcome(OK, value=call())
        except grpc.RpcError as e:
            outcomes[i] = Outcome(e.code(), e.details())

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(o is not None for o in outcomes), "a call never returned"
    return outcomes


def all_ok(outcomes: list[Outcome]) -> list:
    failed = [(o.code.name, o.details) for o in outcomes if o.code != OK]
    assert not failed, f"{len(failed)} of {len(outcomes)} calls failed: {failed[:5]}"
    return [o.value for o in outcomes]


class Replica(AdminClient):
    """The admin services of one replica; `call` carries the admin token and a deadline."""

    def call(self, method, request):
        return method(request, metadata=self.metadata, timeout=CALL_TIMEOUT)


@pytest.fixture
def replicas(service, replica) -> list[Replica]:
    """The admin API of both server processes, called with one system admin token
    (tokens cross replicas)."""
    token = system_admin_token(service.stub)
    return [Replica(service.channel, token), Replica(replica.channel, token)]


@pytest.fixture
def tables(service):
    """What the replicas wrote, as the database holds it: the tables of the in-process
    replica's own store (this module's tests all run `service`)."""
    return service.core.store.tables


def create_user(r: Replica, name: str, **fields) -> apb.User:
    return r.call(r.users.CreateUser, apb.CreateUserRequest(name=name, domain_id="default", **fields))


def create_project(r: Replica, name: str) -> apb.Project:
    return r.call(r.projects.CreateProject, apb.CreateProjectRequest(name=name, domain_id="default"))


def create_group(r: Replica, name: str) -> apb.Group:
    return r.call(r.groups.CreateGroup, apb.CreateGroupRequest(name=name, domain_id="default"))


def create_role(r: Replica, name: str) -> apb.Role:
    return r.call(r.roles.CreateRole, apb.CreateRoleRequest(name=name))


def create_domain(r: Replica, name: str) -> apb.Domain:
    return r.call(r.domains.CreateDomain, apb.CreateDomainRequest(name=name))


def names_in_store(model, names) -> list[str]:
    return sorted(row.name for row in model.select(model.name).where(model.name.in_(list(names))))


# ---- (a) many distinct entities at once --------------------------------------------------------

THREADS = 8
PER_THREAD = 4


@pytest.mark.slow
def test_distinct_entities_created_through_both_replicas_all_exist(replicas, tables):
    def batch(thread: int) -> list[str]:
        r = replicas[thread % 2]
        ids = []
        for i in range(PER_THREAD):
            name = f"bulk-{thread}-{i}"
            ids += [create_user(r, name).id, create_project(r, name).id, create_group(r, name).id]
        return ids

    created = all_ok(at_once([lambda t=t: batch(t) for t in range(THREADS)]))
    names = [f"bulk-{t}-{i}" for t in range(THREADS) for i in range(PER_THREAD)]
    for model in (tables.User, tables.Project, tables.Group):
        assert names_in_store(model, names) == sorted(names), model.__name__
    # And each replica lists every one of them.
    ids = {i for batch_ids in created for i in batch_ids}
    for r in replicas:
        listed = {u.id for u in r.call(r.users.ListUsers, apb.ListUsersRequest(
            domain_id="default", page_size=1000)).users}
        listed |= {p.id for p in r.call(r.projects.ListProjects, apb.ListProjectsRequest(
            domain_id="default", page_size=1000)).projects}
        listed |= {g.id for g in r.call(r.groups.ListGroups, apb.ListGroupsRequest(
            domain_id="default", page_size=1000)).groups}
        assert ids <= listed


# ---- (b) one unique name wanted by everyone ---------------------------------------------------

CLAIMANTS = 6
ROUNDS = 3
RACES = 30  # rounds of a race that collides only now and then
CLASHES = {  # how each kind is created, the end of its clash message, the table holding it
    "user": (create_user, "already exists in domain default", "User"),
    "project": (create_project, "already exists in domain default", "Project"),
    "group": (create_group, "already exists in domain default", "Group"),
    "role": (create_role, "already exists", "Role"),
    "domain": (create_domain, "already exists", "Domain"),
}


def clashes(outcomes: list[Outcome]) -> Counter:
    """The outcomes' codes, once every one is checked to be OK or ALREADY_EXISTS."""
    odd = [(o.code.name, o.details) for o in outcomes if o.code not in (OK, ALREADY_EXISTS)]
    assert not odd, odd
    return Counter(o.code for o in outcomes)


@pytest.mark.slow
def test_one_unique_name_claimed_through_both_replicas_is_taken_once(replicas, tables):
    for kind, (create, clash, table) in CLASHES.items():
        model = getattr(tables, table)
        for round_ in range(ROUNDS):
            name = f"contested-{kind}-{round_}"
            outcomes = at_once([lambda i=i: create(replicas[i % 2], name)
                                for i in range(CLAIMANTS)])
            assert clashes(outcomes) == {OK: 1, ALREADY_EXISTS: CLAIMANTS - 1}, kind
            for o in outcomes:
                if o.code == ALREADY_EXISTS:
                    assert o.details == f"a {kind} named {name!r} {clash}"
            assert names_in_store(model, [name]) == [name]


@pytest.mark.slow
def test_a_name_freed_while_others_claim_it_is_taken_at_most_once(replicas, tables):
    """Its holder deleted through one replica while claimants ask for the name through
    both: each claimant either gets it or is told it exists (before the delete, or
    after another claimant won), whoever wins the race. On MariaDB the claimants
    waiting on the deleted row deadlock one another; they are run again."""
    for round_ in range(RACES):
        name = f"reborn-{round_}"
        holder = create_user(replicas[0], name).id
        outcomes = at_once([lambda: replicas[1].call(replicas[1].users.DeleteUser,
                                                     apb.DeleteRequest(id=holder))]
                           + [lambda i=i: create_user(replicas[i % 2], name)
                              for i in range(CLAIMANTS)])
        assert outcomes[0].code == OK, outcomes[0]
        claims = outcomes[1:]
        assert clashes(claims)[OK] <= 1
        assert {o.details for o in claims if o.code == ALREADY_EXISTS} <= {
            f"a user named {name!r} already exists in domain default"}
        winners = [o.value.id for o in claims if o.code == OK]
        User = tables.User
        assert [u.id for u in User.select().where(User.name == name)] == winners


# ---- (c) concurrent changes to one entity all land --------------------------------------------

MEMBERS = 8


def _users(r: Replica, prefix: str, count: int) -> list[str]:
    return [create_user(r, f"{prefix}-{i}").id for i in range(count)]


def add_member(r: Replica, group_id: str, user_id: str):
    return r.call(r.groups.AddUserToGroup, apb.GroupMembershipRequest(group_id=group_id,
                                                                      user_id=user_id))


def remove_member(r: Replica, group_id: str, user_id: str):
    return r.call(r.groups.RemoveUserFromGroup, apb.GroupMembershipRequest(group_id=group_id,
                                                                           user_id=user_id))


def members(tables, group_id: str) -> list[str]:
    """The group's members as the database holds them."""
    GroupMembership = tables.GroupMembership
    return sorted(m.user_id for m in
                  GroupMembership.select().where(GroupMembership.group == group_id))


@pytest.mark.slow
def test_concurrent_adds_to_one_group_all_land(replicas, tables):
    group = create_group(replicas[0], "crowd").id
    users = _users(replicas[1], "member", MEMBERS)
    # Each user added twice, once through each replica: adding is idempotent.
    all_ok(at_once([lambda u=u, r=r: add_member(r, group, u) for u in users for r in replicas]))
    assert members(tables, group) == sorted(users)
    for r in replicas:
        listed = r.call(r.groups.ListGroupUsers, apb.GetRequest(id=group)).users
        assert sorted(u.id for u in listed) == sorted(users)


@pytest.mark.slow
def test_members_removed_and_added_again_at_once_all_succeed(replicas, tables):
    """Each member removed through one replica while added again, twice through each:
    every call succeeds, whichever order they land in. On MariaDB the adds waiting on the
    removed row deadlock one another; they are run again."""
    group = create_group(replicas[0], "revolving").id
    users = _users(replicas[1], "revolver", MEMBERS)
    for u in users:
        add_member(replicas[0], group, u)
    for round_ in range(RACES // 2):
        calls = []
        for u in users:
            calls.append(lambda u=u: remove_member(replicas[round_ % 2], group, u))
            calls += [lambda u=u, r=r: add_member(r, group, u) for r in replicas * 2]
        all_ok(at_once(calls))
        for u in set(users) - set(members(tables, group)):  # removed last: back in for the next round
            add_member(replicas[0], group, u)
    for r in replicas:
        listed = r.call(r.groups.ListGroupUsers, apb.GetRequest(id=group)).users
        assert sorted(u.id for u in listed) == members(tables, group) == sorted(users)


def grant_request(project_id: str, user_id: str, role_id: str) -> apb.GrantRequest:
    return apb.GrantRequest(role_id=role_id, actor=apb.Actor(user_id=user_id),
                            target=apb.Target(project_id=project_id))


def grants_on(tables, project_id: str) -> list[tuple[str, str]]:
    RoleAssignment = tables.RoleAssignment
    stored = RoleAssignment.select().where((RoleAssignment.target_type == "project")
                                           & (RoleAssignment.target_id == project_id))
    return sorted((a.actor_id, a.role_id) for a in stored)


@pytest.mark.slow
def test_concurrent_grants_on_one_project_all_land(replicas, tables):
    project = create_project(replicas[0], "busy").id
    users = _users(replicas[1], "grantee", MEMBERS // 2)
    roles = [create_role(replicas[i % 2], f"busy-role-{i}").id for i in range(2)]
    # Each grant made twice, once through each replica: granting is idempotent.
    all_ok(at_once([lambda u=u, role=role, r=r: r.call(r.assignments.GrantRole,
                                                       grant_request(project, u, role))
                    for u in users for role in roles for r in replicas]))
    expected = sorted((u, role) for u in users for role in roles)
    assert grants_on(tables, project) == expected
    for r in replicas:
        listed = r.call(r.assignments.ListRoleAssignments,
                        apb.ListRoleAssignmentsRequest(project_id=project)).role_assignments
        assert sorted((a.user.id, a.role.id) for a in listed) == expected


@pytest.mark.slow
def test_grants_revoked_and_made_again_at_once_all_succeed(replicas, tables):
    """Each grant revoked through one replica while made again, twice through each:
    every call succeeds (MariaDB deadlocks are run again), and the grants end as stored."""
    project = create_project(replicas[0], "flapping").id
    role = create_role(replicas[1], "flapping-role").id
    users = _users(replicas[1], "flapper", MEMBERS)
    for u in users:
        replicas[0].call(replicas[0].assignments.GrantRole, grant_request(project, u, role))
    for round_ in range(RACES // 2):
        calls = []
        for u in users:
            r = replicas[round_ % 2]
            calls.append(lambda u=u, r=r: r.call(r.assignments.RevokeRole,
                                                 grant_request(project, u, role)))
            calls += [lambda u=u, r=r: r.call(r.assignments.GrantRole,
                                              grant_request(project, u, role))
                      for r in replicas * 2]
        all_ok(at_once(calls))
        for u in set(users) - {a for a, _ in grants_on(tables, project)}:
            replicas[0].call(replicas[0].assignments.GrantRole, grant_request(project, u, role))
    assert grants_on(tables, project) == sorted((u, role) for u in users)


@pytest.mark.slow
def test_concurrent_updates_of_different_fields_of_one_user_all_land(replicas, service):
    user = create_user(replicas[0], "shifting", enabled=False).id
    project = create_project(replicas[1], "home").id
    fields = {  # each field changed by its own thread, alternately through each replica
        "name": dict(name="shifted"),
        "email": dict(email="shifted@example.com"),
        "description": dict(description="changed from two places at once"),
        "enabled": dict(enabled=True),
        "default_project_id": dict(default_project_id=project),
        "extra": dict(extra=apb.Extra(values={"team": "blue"})),
        "password": dict(password="a-new-password-1"),
    }
    all_ok(at_once([lambda i=i, f=f: replicas[i % 2].call(
        replicas[i % 2].users.UpdateUser, apb.UpdateUserRequest(id=user, **f))
        for i, f in enumerate(fields.values())]))
    for r in replicas:
        got = r.call(r.users.GetUser, apb.GetRequest(id=user))
        assert (got.name, got.email, got.description, got.enabled, got.default_project_id,
                dict(got.extra)) == ("shifted", "shifted@example.com",
                                     "changed from two places at once", True, project,
                                     {"team": "blue"})
    # The new name, the new password and being enabled together let the user in.
    assert login(service.stub, "shifted", password="a-new-password-1").token_info.user.id == user


# ---- (d) what a write refers to, deleted under it ----------------------------------------------

@pytest.mark.slow
def test_endpoints_created_for_a_service_being_deleted_get_ok_or_not_found(replicas, tables):
    """A service deleted through one replica while endpoints are added to it through
    both: an endpoint is created (and goes with the service) or NOT_FOUND names the
    service. Before, the insert's foreign key failure was INTERNAL on every backend,
    MariaDB deadlocked, and SQLite's delete (a transaction that reads first) failed
    with "database is locked"."""
    for round_ in range(RACES):
        service_id = replicas[0].call(replicas[0].services.CreateService, apb.CreateServiceRequest(
            type="compute", name=f"doomed-{round_}")).id
        outcomes = at_once(
            [lambda: replicas[1].call(replicas[1].services.DeleteService,
                                      apb.DeleteRequest(id=service_id))]
            + [lambda i=i: replicas[i % 2].call(replicas[i % 2].endpoints.CreateEndpoint,
                                                apb.CreateEndpointRequest(
                                                    service_id=service_id, interface="public",
                                                    url=f"http://compute-{i}.example"))
               for i in range(CLAIMANTS)])
        assert outcomes[0].code == OK, outcomes[0]
        for o in outcomes[1:]:
            assert o.code == OK or (o.code == grpc.StatusCode.NOT_FOUND
                                    and o.details == f"service {service_id} not found"), o
        Endpoint = tables.Endpoint
        assert Endpoint.select().where(Endpoint.service == service_id).count() == 0


# ---- key rotation across replicas with key directories of their own ---------------------------

def key_id_of_token(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))[1:5]


def key_id_in(directory: Path, index: int) -> bytes:
    return KeyRepository(directory).key_set.keys[index].key_id


def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"not so within {within}s"
        time.sleep(0.02)


def accepted(server: ServerProcess, token: str) -> bool:
    """Does `server` validate `token`? (Asked with a fresh service token from it.)"""
    caller = login(server.stub, "nova", project_scope("service")).token
    try:
        return validate(server.stub, caller, token).user.name == "alice"
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e.details()
        return False


def issue(server: ServerProcess) -> str:
    return login(server.stub, "alice", project_scope("acme")).token


def rotate_keys(key_dir: Path) -> None:
    """`identity-manage rotate-keys`, as an operator runs it on one node."""
    done = subprocess.run([sys.executable, "-m", "identity_grpc.manage", "rotate-keys"],
                          env=clean_env(IDENTITY_KEY_DIR=str(key_dir)),
                          cwd=key_dir.parent, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def copy_keys(source: Path, target: Path) -> None:
    """The copy docs/replicas.md describes: every key but the staged one (deleting retired keys), then
    the staged key, so a replica never holds the new staged key without the new
    primary. By content (`--checksum`): every key file has the same size, and two
    rotations within a second leave the same timestamp, which rsync's quick check
    would take for an unchanged file."""
    for command in (["rsync", "-a", "--checksum", "--delete", "--exclude=0",
                     f"{source}/", f"{target}/"],
                    ["rsync", "-a", "--checksum", f"{source}/0", f"{target}/0"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_a_key_repository_caught_mid_copy_loads_with_the_new_primary(tmp_path):
    """Between the copy's two steps a replica holds the new primary and, still as its
    staged key `0`, the same key: one key under two names, which must not stop it."""
    rotated = KeyRepository.initialize(tmp_path / "a")
    shutil.copytree(rotated.directory, tmp_path / "b")
    replica = KeyRepository(tmp_path / "b")
    rotated.rotate()
    shutil.copy2(rotated.directory / "2", tmp_path / "b" / "2")
    assert replica.reload_if_changed()
    assert replica.indexes() == [0, 1, 2]
    assert replica.primary.key_id == rotated.primary.key_id == replica.key_set.keys[0].key_id


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("rsync") is None,
                    reason="rsync not installed: the documented procedure copies keys with it")
def test_key_rotation_procedure_across_replicas(deployment, tmp_path):
    keys_a, keys_b = Path(deployment.key_dir), tmp_path / "keys-b"
    shutil.copytree(keys_a, keys_b)  # the first distribution, at installation
    a = ServerProcess(deployment)
    b = ServerProcess(dataclasses.replace(deployment, key_dir=str(keys_b)))
    max_active = deployment.max_active_keys
    try:
        first = issue(a)
        assert key_id_of_token(first) == key_id_in(keys_a, 1)
        assert accepted(b, first)

        # Rotate on A only: A signs with its former staged key, which B already holds.
        rotate_keys(keys_a)
        new_primary = key_id_in(keys_a, 2)
        assert new_primary == key_id_in(keys_b, 0)
        eventually(lambda: key_id_of_token(issue(a)) == new_primary)
        second = issue(a)
        assert accepted(b, second)  # before any copy
        assert key_id_of_token(issue(b)) == key_id_in(keys_b, 1)  # B still signs with its own

        copy_keys(keys_a, keys_b)
        eventually(lambda: key_id_of_token(issue(b)) == new_primary)
        for server in (a, b):
            assert accepted(server, first) and accepted(server, second)

        # Rotate (and copy) until the first primary is retired: what it signed is refused.
        rotations = 1
        while (keys_a / "1").exists():
            rotate_keys(keys_a)
            rotations += 1
            newest = key_id_in(keys_a, max(int(p.name) for p in keys_a.iterdir()))
            eventually(lambda: key_id_of_token(issue(a)) == newest)
            assert accepted(b, issue(a))  # before the copy, again
            copy_keys(keys_a, keys_b)
        # Kept: the staged key, the primary and max_active_keys - 2 former primaries.
        assert rotations == max_active - 1
        assert not (keys_b / "1").exists()
        for server in (a, b):
            eventually(lambda: not accepted(server, first))
            assert accepted(server, second)
        eventually(lambda: key_id_of_token(issue(b)) == newest)
    finally:
        a.stop()
        b.stop()
