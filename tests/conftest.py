"""Shared fixtures: one suite; the bulk on SQLite, the end-to-end set on every backend.

`database_url` is a SQLite file in the test's tmp dir, a PostgreSQL schema of its own
or a MariaDB/MySQL database of its own (each dropped afterwards). A test gets the
first backend of IDENTITY_TEST_BACKENDS (SQLite by default) unless it is marked
`every_backend` (a module's `pytestmark`, a class or a test; everything under
tests/store/ through its conftest.py): then it runs once per backend. With
IDENTITY_TEST_ALL_BACKENDS=1 every test does. Where a backend's server is not
reachable its tests are skipped with the reason, never faked.
`service` is a real server on an ephemeral port over a bootstrapped store with the
demo dataset, driven through the generated stubs.

Stores and servers hash passwords with cheap argon2 parameters (`CHEAP_HASHING`),
except in tests marked `real_hashing` (those measuring or pinning the hashing): they
get the configured, OWASP, ones. The bootstrapped store (with or without the demo
dataset) is built once per test process, backend and parameters, and each test gets
a copy of its own (`support.StoreTemplates`).
"""

import os
import subprocess
import sys
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg2
import pytest
from identity_api.v1 import identity_pb2_grpc as rpc

from identity_grpc.bootstrap import bootstrap
from identity_grpc.demo import load_demo
from identity_grpc.config import Settings
from identity_grpc.core import Core
from identity_grpc.credential_keys import CredentialKeys
from identity_grpc.store import Store
from identity_grpc.store.db import make_database, open_database
from identity_grpc.store.models import Tables
from identity_grpc.tokens.keys import KeyRepository
from identity_grpc.transport.grpc_server import create_server
from support import ADMIN_PASSWORD, FakeClock, StoreTemplates, mysql_connect

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = os.environ.get("IDENTITY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("IDENTITY_TEST_MYSQL", "mysql://root@127.0.0.1:3306")
# Every backend by default (each skipped, saying why, where its server is absent);
# IDENTITY_TEST_BACKENDS narrows the set, e.g. "sqlite" for a quick run. Its first
# backend is the one the bulk of the suite runs on; tests marked `every_backend` run
# on all of them, and with IDENTITY_TEST_ALL_BACKENDS=1 every test does.
BACKENDS = [b.strip() for b in os.environ.get(
    "IDENTITY_TEST_BACKENDS", "sqlite,postgresql,mysql").split(",") if b.strip()]
DEFAULT_BACKEND = BACKENDS[0]
ALL_BACKENDS = os.environ.get("IDENTITY_TEST_ALL_BACKENDS", "") not in ("", "0")
# The cheapest argon2id the settings allow: each hash takes microseconds, not ~15 ms.
CHEAP_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 8}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_hashing: the test measures or pins password hashing, so its stores "
        "and servers use the configured (OWASP) argon2 parameters, not CHEAP_HASHING")
    config.addinivalue_line(
        "markers", "every_backend: the test's outcome can differ by backend (or it is "
        "end to end), so it runs on every backend of IDENTITY_TEST_BACKENDS, not only "
        "the first (SQLite)")
    config.addinivalue_line(
        "markers", "policy_profile(name): the default rules of the test's servers "
        "(`keystone` or `scoped`; unmarked tests get `scoped`)")


def pytest_generate_tests(metafunc):
    """`database_url` once per backend for tests marked `every_backend` (and for all
    with IDENTITY_TEST_ALL_BACKENDS=1), else once, on DEFAULT_BACKEND. Each backend
    keeps its id (`test_x[sqlite]`), and the every-backend ones carry the mark, so
    `-m every_backend` selects them wherever the mark came from."""
    if "database_url" not in metafunc.fixturenames:
        return
    every = metafunc.definition.get_closest_marker("every_backend") is not None
    backends = BACKENDS if every or ALL_BACKENDS else [DEFAULT_BACKEND]
    marks = [pytest.mark.every_backend] if every else []
    metafunc.parametrize("database_url", [pytest.param(b, id=b, marks=marks) for b in backends],
                         indirect=True)


def _pg_unreachable_reason() -> str | None:
    try:
        psycopg2.connect(PG_DSN, connect_timeout=3).close()
    except psycopg2.Error as e:
        return f"PostgreSQL not reachable at {PG_DSN}: {str(e).strip()}"
    return None


@pytest.fixture
def database_url(request, tmp_path):
    """An empty store of the test's own on its backend (`pytest_generate_tests`)."""
    backend = getattr(request, "param", DEFAULT_BACKEND)
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/identity.db"
        return
    if backend == "mysql":
        yield from _mysql_database()
        return
    reason = _pg_unreachable_reason()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    conn = psycopg2.connect(PG_DSN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    conn.close()
    yield f"{PG_DSN}?schema={schema}"
    conn = psycopg2.connect(PG_DSN)  # a fresh one: a test may have cut connections
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def _mysql_database():
    """A database of its own on the local MariaDB/MySQL, dropped afterwards."""
    import pymysql
    try:
        conn = mysql_connect(MYSQL_URL, connect_timeout=3)
    except pymysql.Error as e:
        pytest.skip(f"MariaDB/MySQL not reachable at {MYSQL_URL}: {e}")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    yield f"{MYSQL_URL.rstrip('/')}/{name}"
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {name}")
    conn.close()


@pytest.fixture
def hashing(request) -> dict:
    """The argon2 settings of the test's stores and servers: CHEAP_HASHING unless
    the test is marked `real_hashing`. A store's hashes and its servers' parameters
    must agree, or every login would rehash its password."""
    return {} if request.node.get_closest_marker("real_hashing") else CHEAP_HASHING


@pytest.fixture
def policy_profile(request) -> str:
    """The default rules of the test's servers: `scoped`, which most tests were written
    against (system, domain and project admins kept apart), unless the test is marked
    `policy_profile("keystone")` (the product's default)."""
    marker = request.node.get_closest_marker("policy_profile")
    return marker.args[0] if marker else "scoped"


@pytest.fixture
def settings(database_url, tmp_path, hashing, policy_profile) -> Settings:
    return Settings(
        listen="127.0.0.1:0", database_url=database_url, key_dir=str(tmp_path / "keys"),
        credential_key_dir=str(tmp_path / "credential-keys"),
        admin_password_file=str(tmp_path / "admin-password"), poll_interval=0.05,
        policy_profile=policy_profile, **hashing)


def set_up_store(settings: Settings, demo: bool) -> None:
    """What `identity-manage setup` does (with `--demo`: and the demo dataset)."""
    open_database(settings.database_url).close()
    KeyRepository.initialize(settings.key_dir, settings.max_active_keys)
    CredentialKeys.initialize(settings.credential_key_dir)
    core = Core(settings)
    bootstrap(core, ADMIN_PASSWORD, settings.advertised_url)
    core.close()
    if demo:
        core = Core(settings)
        load_demo(core)
        core.close()


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory):
    templates = StoreTemplates(tmp_path_factory.mktemp("templates"), set_up_store)
    yield templates
    templates.close()


@pytest.fixture
def bootstrapped(settings, store_templates, request) -> Settings:
    """A store after `identity-manage setup`: roles, admin, catalog; no demo data
    unless the test also asks for `deployment`. A copy of one built once per test
    process, the test's own to change."""
    store_templates.copy_into(settings, demo="deployment" in request.fixturenames)
    return settings


@pytest.fixture
def deployment(bootstrapped) -> Settings:
    """A store initialised, bootstrapped and loaded with the demo dataset."""
    return bootstrapped


@pytest.fixture
def tables(bootstrapped) -> Tables:
    """The tables of the test's bootstrapped store (with the demo dataset if the test
    asks for `deployment`), bound to a store opened for the test alone and closed
    afterwards: for a test whose server runs in another process, or that reads the
    database apart from any core. A test with an in-process server uses its core's
    own, `service.core.store.tables`.

    The store is built on `make_database`, not opened with `Store.open`: the schema is
    already up to date, and (while product code still uses the transitional
    module-level models) opening one would bind the process-wide proxy to it, under
    any core running in the test's process."""
    store = Store(make_database(bootstrapped.database_url))
    yield store.tables
    store.close()


def store_env(settings: Settings) -> dict[str, str]:
    """The IDENTITY_* variables naming the store of `settings` and its hashing
    parameters, for a `server.py` or `identity-manage` run over it."""
    return {"IDENTITY_DATABASE_URL": settings.database_url,
            "IDENTITY_KEY_DIR": settings.key_dir,
            "IDENTITY_CREDENTIAL_KEY_DIR": settings.credential_key_dir,
            "IDENTITY_POLICY_PROFILE": settings.policy_profile,
            "IDENTITY_ARGON2_TIME_COST": str(settings.argon2_time_cost),
            "IDENTITY_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
            "IDENTITY_ARGON2_PARALLELISM": str(settings.argon2_parallelism)}


@dataclass
class RunningService:
    core: Core
    server: grpc.Server
    port: int
    channel: grpc.Channel
    stub: rpc.IdentityStub
    clock: FakeClock

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(0).wait()
        self.core.close()


def start_service(settings: Settings, clock: FakeClock | None = None) -> RunningService:
    clock = clock or FakeClock()
    core = Core(settings, clock=clock).start()
    server, port = create_server(core, "127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return RunningService(core, server, port, channel, rpc.IdentityStub(channel), clock)


@pytest.fixture
def service(deployment):
    running = start_service(deployment)
    yield running
    running.stop()


@pytest.fixture
def stub(service) -> rpc.IdentityStub:
    return service.stub


class ServerProcess:
    """`server.py` in a process of its own: a real second replica."""

    def __init__(self, settings: Settings, **extra_env: str):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "IDENTITY_LISTEN": "127.0.0.1:0",
               "IDENTITY_HTTP_LISTEN": "127.0.0.1:0", **store_env(settings),
               "IDENTITY_POLL_INTERVAL": str(settings.poll_interval),
               "IDENTITY_SHUTDOWN_DRAIN_SECONDS": "0", **extra_env}
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "server.py")], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()  # blocks until it serves (or dies)
        if "gRPC on" not in line:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        self.http_port = int(self.proc.stdout.readline().rsplit(":", 1)[1])
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = rpc.IdentityStub(self.channel)

    def stop(self) -> None:
        self.channel.close()
        self.proc.terminate()
        try:  # a graceful stop takes up to the 5 s grace; a loaded CI machine, longer
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # shutdown is test_operations' subject, not ours
            self.proc.kill()
            self.proc.wait(timeout=10)
            warnings.warn("a replica server did not stop within 30 s of SIGTERM; killed")


@pytest.fixture
def replica(service):
    """A second server process over the same store and keys as `service`."""
    process = ServerProcess(service.core.settings)
    yield process
    process.stop()


@pytest.fixture
def admin(service):
    """The admin services, called with the bootstrap admin's system-scoped token."""
    from support import AdminClient, system_admin_token
    return AdminClient(service.channel, system_admin_token(service.stub))


@pytest.fixture
def gateway(service):
    """The HTTP gateway over the same core as `service`, on a free port; its base URL."""
    from identity_grpc.gateway.server import HttpServer
    http = HttpServer(service.core, "127.0.0.1:0").start()
    yield f"http://127.0.0.1:{http.port}"
    http.stop()


# A real OpenLDAP server (tests/ldap_server.py): each test gets one of its own, loaded
# with slapadd before it starts (about 0.15 s); skipped, with the reason, where slapd
# or python-ldap is not installed (tools/system-packages installs them).
@pytest.fixture
def make_slapd():
    """`make_slapd(users=..., groups=..., tls=False)`: a started Slapd holding that
    tree, stopped and removed after the test."""
    from ldap_server import Slapd, skip_reason
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    servers = []

    def make(users=(), groups=(), tls=False):
        server = Slapd(users=users, groups=groups, tls=tls)
        servers.append(server)
        return server.start()
    yield make
    for server in servers:
        server.close()


@pytest.fixture
def slapd(make_slapd):
    """slapd serving the standard tree (`ldap_server.STANDARD_USERS`, `STANDARD_GROUPS`)."""
    from ldap_server import STANDARD_GROUPS, STANDARD_USERS
    return make_slapd(STANDARD_USERS, STANDARD_GROUPS)


@pytest.fixture
def slapd_tls(make_slapd):
    """The standard tree served with TLS: StartTLS on `url`, and `ldaps_url`, under a
    CA of its own (`ca_file`; `wrong_ca_file` a CA that signed nothing here)."""
    from ldap_server import STANDARD_GROUPS, STANDARD_USERS
    return make_slapd(STANDARD_USERS, STANDARD_GROUPS, tls=True)
