"""`identity-manage generate`: the synthetic deployment benchmarks run against.

The command runs as an operator runs it (a subprocess over a bootstrapped store, on
every backend); the probe user it creates then authenticates through the real gRPC
server and sees its five projects. On SQLite the hot paths (password
authentication, rescoping, validation, ListProjects, ListDomains, Catalog) are run
through the server while every statement is recorded, and each one is explained:
none may read a large table from end to end, with or without planner statistics.
"""

import subprocess
import sys

import pytest
from identity_api.v1 import identity_pb2 as pb

from conftest import start_service, store_env
from identity_grpc.bootstrap import bootstrap
from identity_grpc.config import Settings
from identity_grpc.core import Core
from identity_grpc.store.db import open_database
from identity_grpc.synthetic import Shape, Sizes, domain_name, project_name, user_name
from identity_grpc.tokens.keys import KeyRepository
from plans import QueryLog, full_scans
from support import ADMIN_PASSWORD, auth_md, clean_env, role_names, rpc_error

pytestmark = pytest.mark.every_backend

PASSWORD = "generated-password"
SIZES = Sizes(users=200, projects=60, domains=5, groups=12, assignments=500, memberships=250)
SIZE_FLAGS = [f"--{name}={value}" for name, value in vars(SIZES).items()]
SMALL = Sizes(users=1_000, projects=100, domains=10, groups=10, assignments=3_000, memberships=1_000)


def manage(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = clean_env(**store_env(settings))  # its hash made with the servers' parameters
    return subprocess.run([sys.executable, "-m", "identity_grpc.manage", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def password_auth(name: str, domain_name: str, scope: pb.Scope | None = None,
                  password: str = PASSWORD) -> pb.AuthenticateRequest:
    request = pb.AuthenticateRequest(password=pb.PasswordMethod(
        user=pb.UserSelector(name=name, domain=pb.DomainSelector(name=domain_name)),
        password=password))
    if scope is not None:
        request.scope.CopyFrom(scope)
    return request


def project_by_name(name: str, domain: str) -> pb.Scope:
    return pb.Scope(project=pb.ProjectSelector(name=name, domain=pb.DomainSelector(name=domain)))


def probe_projects(shape: Shape) -> set[str]:
    """The probe user's projects: 1-4 of domain 0 (3 direct, inherited from 0, and
    group 0's), and group 1's project 5 of domain 1."""
    return {project_name(shape.project(0, k)) for k in (1, 2, 3, 4)} | {
        project_name(shape.project(1 % shape.sizes.domains, 5))}


def exercise_hot_paths(stub, shape: Shape, user: int = 0) -> None:
    """Every hot path once, for one generated user, through the gRPC API."""
    name, domain = user_name(user), domain_name(user % shape.sizes.domains)
    unscoped = stub.Authenticate(password_auth(name, domain)).token
    projects = stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(unscoped)).projects
    stub.ListDomains(pb.ListDomainsRequest(), metadata=auth_md(unscoped))
    rpc_error(stub.Authenticate, password_auth(name, domain, password="not-the-password"))
    if not projects:  # a user holding a role on its domain only
        return
    first, last = projects[0], projects[-1]
    scoped = stub.Authenticate(password_auth(
        name, domain, project_by_name(first.name, first.domain.name))).token
    by_id = stub.Authenticate(pb.AuthenticateRequest(
        token=pb.TokenMethod(token=unscoped),
        scope=pb.Scope(project=pb.ProjectSelector(id=last.id)))).token
    stub.Authenticate(pb.AuthenticateRequest(
        token=pb.TokenMethod(token=by_id), scope=project_by_name(first.name, first.domain.name)))
    for token in (scoped, by_id):
        stub.ValidateToken(pb.ValidateTokenRequest(subject_token=token), metadata=auth_md(token))
        stub.Catalog(pb.CatalogRequest(), metadata=auth_md(token))


def test_generate_loads_the_deployment_and_the_probe_user_works(bootstrapped, tables):
    t = tables
    Domain, Project, User, Password = t.Domain, t.Project, t.User, t.Password
    Group, GroupMembership, RoleAssignment = t.Group, t.GroupMembership, t.RoleAssignment
    before = {m: m.select().count() for m in (Domain, Project, User, Password, Group,
                                              GroupMembership, RoleAssignment)}
    result = manage(bootstrapped, "generate", *SIZE_FLAGS)
    assert result.returncode == 0, result.stderr
    assert "generated 1,227 rows" in result.stdout and "rows/s" in result.stdout
    assert "assignments" in result.stderr  # the progress lines

    added = {m: m.select().count() - n for m, n in before.items()}
    assert added == {Domain: 5, Project: 60, User: 200, Password: 200, Group: 12,
                     GroupMembership: 250, RoleAssignment: 500}
    # 12 projects a domain: 0, 5 and 10 head families, the other 9 are their children.
    assert Project.select().where(Project.parent.is_null(False)).count() == 5 * 9
    assert len({p.hash for p in Password.select().join(User).where(
        User.name.startswith("gen-user-"))}) == 1

    shape = Shape(SIZES)
    running = start_service(bootstrapped)
    try:
        stub = running.stub
        token = stub.Authenticate(password_auth(user_name(0), domain_name(0))).token
        projects = stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(token)).projects
        assert {p.name for p in projects} == probe_projects(shape)
        domains = stub.ListDomains(pb.ListDomainsRequest(), metadata=auth_md(token)).domains
        assert [d.name for d in domains] == [domain_name(0)]
        child = project_name(shape.project(0, 1))
        scoped = stub.Authenticate(password_auth(user_name(0), domain_name(0),
                                                 project_by_name(child, domain_name(0))))
        assert role_names(scoped.token_info) == {"member", "reader"}
        # Project 4 is reached by inheritance from its parent and by group 0.
        inherited = project_name(shape.project(0, 4))
        rescoped = stub.Authenticate(pb.AuthenticateRequest(
            token=pb.TokenMethod(token=token), scope=project_by_name(inherited, domain_name(0))))
        assert role_names(rescoped.token_info) == {"member", "reader"}
        exercise_hot_paths(stub, shape, user=7)  # any other user works too
    finally:
        running.stop()


def test_generate_refuses_a_second_run_and_a_store_not_set_up(bootstrapped, tables, tmp_path):
    assert manage(bootstrapped, "generate", *SIZE_FLAGS).returncode == 0
    again = manage(bootstrapped, "generate", *SIZE_FLAGS)
    assert again.returncode == 1
    assert "already holds generated data" in again.stderr and "fresh store" in again.stderr
    Domain = tables.Domain
    assert Domain.select().where(Domain.name.startswith("gen-domain-")).count() == 5

    bare = bootstrapped.replace(database_url=f"sqlite:///{tmp_path}/bare.db")
    refused = manage(bare, "generate", "--size", "small")
    assert refused.returncode == 1 and "identity-manage setup" in refused.stderr
    too_small = manage(bootstrapped, "generate", "--domains", "10", "--projects", "20")
    assert too_small.returncode == 1 and "--projects must be at least 60" in too_small.stderr


def explain_hot_paths(settings: Settings, users=(0, 1, 12, 345, 998)) -> dict[str, list[str]]:
    """Run the hot paths for a few users of a `--size small` store through the
    server, then explain every statement they ran: {statement: full scans}."""
    running = start_service(settings)
    try:
        with QueryLog() as log:
            for user in users:
                exercise_hot_paths(running.stub, Shape(SMALL), user)
    finally:
        running.stop()
    db = open_database(settings.database_url)
    statements = log.reads()
    assert any("role_assignment" in sql for sql, _ in statements)
    return {sql: found for sql, params in statements if (found := full_scans(db, sql, params))}


def test_hot_path_queries_use_indexes(bootstrapped):
    """With the statistics the generator's ANALYZE leaves (PostgreSQL: could use an
    index, since it rightly reads a table of a few pages whole)."""
    assert manage(bootstrapped, "generate", "--size", "small").returncode == 0
    assert explain_hot_paths(bootstrapped) == {}


def test_hot_path_queries_use_indexes_without_statistics_on_sqlite(tmp_path):
    """How SQLite plans a store that was never analyzed (every store the service
    made itself): it knows no column's spread, so an index on the wrong columns
    first is taken at its word."""
    settings = Settings(listen="127.0.0.1:0", database_url=f"sqlite:///{tmp_path}/identity.db",
                        key_dir=str(tmp_path / "keys"),
                        admin_password_file=str(tmp_path / "admin-password"), poll_interval=0.05)
    open_database(settings.database_url)
    KeyRepository.initialize(settings.key_dir, settings.max_active_keys)
    core = Core(settings)
    bootstrap(core, ADMIN_PASSWORD, settings.advertised_url)
    core.close()
    assert manage(settings, "generate", "--size", "small").returncode == 0
    open_database(settings.database_url).execute_sql("DROP TABLE sqlite_stat1")
    assert explain_hot_paths(settings) == {}
