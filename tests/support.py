"""Helpers for tests: build requests the way a client would, and a settable clock."""

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import grpc
import psycopg2
import pytest
from identity_api.v1 import identity_pb2 as pb

ADMIN_PASSWORD = "admin-secret-for-tests"
DEMO_PASSWORDS = {"alice": "mypassword123", "bob": "bobpassword123", "nova": "novapass",
                  "admin": ADMIN_PASSWORD}


class FakeClock:
    """Real time plus an offset a test can advance, so expiry is tested without sleeping."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def user(name: str, domain_id: str = "default") -> pb.UserSelector:
    return pb.UserSelector(name=name, domain=pb.DomainSelector(id=domain_id))


def project_scope(name: str = "", domain_id: str = "default", project_id: str = "",
                  domain_name: str = "") -> pb.Scope:
    if project_id:
        return pb.Scope(project=pb.ProjectSelector(id=project_id))
    domain = pb.DomainSelector(name=domain_name) if domain_name else pb.DomainSelector(id=domain_id)
    return pb.Scope(project=pb.ProjectSelector(name=name, domain=domain))


def password_request(name: str, password: str | None = None, scope: pb.Scope | None = None,
                     **kwargs) -> pb.AuthenticateRequest:
    password = DEMO_PASSWORDS.get(name, "") if password is None else password
    request = pb.AuthenticateRequest(
        password=pb.PasswordMethod(user=user(name), password=password), **kwargs)
    if scope is not None:
        request.scope.CopyFrom(scope)
    return request


def login(stub, name: str, scope: pb.Scope | None = None, **kwargs) -> pb.AuthenticateResponse:
    """Authenticate a demo user with its password."""
    return stub.Authenticate(password_request(name, scope=scope, **kwargs))


def rescope(stub, token: str, scope: pb.Scope, **kwargs) -> pb.AuthenticateResponse:
    return stub.Authenticate(pb.AuthenticateRequest(token=pb.TokenMethod(token=token),
                                                    scope=scope, **kwargs))


def auth_md(token: str) -> tuple:
    return (("x-auth-token", token),)


def validate(stub, caller_token: str, subject_token: str, **kwargs) -> pb.Token:
    return stub.ValidateToken(pb.ValidateTokenRequest(subject_token=subject_token, **kwargs),
                              metadata=auth_md(caller_token)).token_info


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    """Run a call that must fail and return its error."""
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value


def role_names(token_info: pb.Token) -> set[str]:
    return {r.name for r in token_info.roles}


class AdminClient:
    """Stubs of every admin service on one channel, calling with one token."""

    def __init__(self, channel, token: str):
        from identity_api.admin.v1 import admin_pb2_grpc as agrpc
        self.metadata = auth_md(token)
        for service in ("Domains", "Projects", "Users", "Groups", "Roles", "Assignments",
                        "Regions", "Services", "Endpoints", "ApiKeys"):
            setattr(self, service.lower(), getattr(agrpc, f"{service}Stub")(channel))

    def call(self, method, request):
        return method(request, metadata=self.metadata)


def time_ratio(first, second, rounds: int = 11) -> float:
    """Fastest time of `first()` over fastest time of `second()`, called in turns.
    Load from tests running beside this one only ever adds time, and it can still
    fall on one call's median and not the other's (a ratio of 2.1 was seen under
    `-n 3`); the fastest of each is what the work itself costs, so a skipped hash
    still shows (a ratio near 0.1)."""
    def timed(call) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    first(), second()  # warm connections and caches
    pairs = [(timed(first), timed(second)) for _ in range(rounds)]
    return min(a for a, _ in pairs) / min(b for _, b in pairs)


def system_admin_token(stub) -> str:
    return login(stub, "admin", pb.Scope(system=pb.SystemScope(all=True))).token


ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: the caller's minus any IDENTITY_* and OS_*
    variable, the gateway on a free port (never a fixed one two tests could share), no
    shutdown drain, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDENTITY_", "OS_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["IDENTITY_HTTP_LISTEN"] = "127.0.0.1:0"
    env["IDENTITY_SHUTDOWN_DRAIN_SECONDS"] = "0"  # tests of the drain set their own
    env.update(extra)
    return env


SAMPLES_DIR = Path(os.environ.get("IDENTITY_KEYSTONE_SAMPLES",
                                  ROOT.parent / "shared" / "keystone-samples"))


class ReferenceSamples(Mapping):
    """Keystone's recorded wire format (../shared/keystone-samples), by name, read on
    first use. CI has shared/ beside the checkout; a clone without it skips the tests
    that compare against it, saying where it looked, rather than failing to collect."""

    def __init__(self, filename: str, key: str):
        self._path = SAMPLES_DIR / filename
        self._key = key
        self._by_key: dict | None = None

    def _load(self) -> dict:
        if self._by_key is None:
            if not self._path.exists():
                pytest.skip(f"reference samples not found at {self._path} "
                            "(set IDENTITY_KEYSTONE_SAMPLES to their folder)")
            samples = json.loads(self._path.read_text())["samples"]
            self._by_key = {s[self._key]: s for s in samples}
        return self._by_key

    def __getitem__(self, name: str) -> dict:
        return self._load()[name]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


SAMPLES = ReferenceSamples("samples.json", "name")
MIDDLEWARE_SAMPLES = ReferenceSamples("middleware.json", "title")


def http_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of one raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def read_until_closed(sock, timeout: float = 10.0) -> bytes:
    """Everything the server sends on `sock` until it closes it (or `timeout`)."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


# ---- stores built once per test process, copied per test ---------------------------

def mysql_connect(url: str, database: str | None = None, **kwargs):
    """A pymysql connection to the server `url` names (its path is ignored)."""
    import pymysql
    parsed = urlparse(url)
    return pymysql.connect(host=parsed.hostname, port=parsed.port or 3306,
                           user=parsed.username or "root", password=parsed.password or "",
                           database=database, autocommit=True, **kwargs)


def backend_of(database_url: str) -> str:
    return database_url.split(":", 1)[0]


class StoreTemplates:
    """Stores set up once per test process, backend and kind (bootstrapped, or with
    the demo dataset too), each copied into a test's own empty store: the tables with
    their rows and counters, and the key directory (keys belong to a store).

    `build(settings, demo)` sets up the store `settings` names, the way the tests'
    fixtures always did. A template is built again once `max_age` seconds old, so a
    copy's timestamps are never much older than a store made for the test would be
    (the change feed keeps its rows `change_retention`, ten minutes by default)."""

    def __init__(self, directory: Path, build, max_age: float = 300.0):
        self._directory = directory
        self._build = build
        self._max_age = max_age
        self._templates: dict[tuple, _Template] = {}

    def copy_into(self, settings, demo: bool) -> None:
        """Fill the empty store and key directory `settings` names with a copy."""
        # What a template holds depends on every setting but where it lives.
        key = (backend_of(settings.database_url), demo, settings.replace(
            database_url="sqlite:///template", key_dir="", credential_key_dir="",
            admin_password_file=""))
        template = self._templates.get(key)
        if template is None or time.monotonic() - template.built_at > self._max_age:
            if template is not None:
                template.drop()
            template = self._templates[key] = self._new_template(settings, demo)
        template.copy_into(settings)
        for name in ("key_dir", "credential_key_dir", "admin_password_file"):
            source, target = getattr(template.settings, name), getattr(settings, name)
            if os.path.isdir(source):
                shutil.copytree(source, target)
            elif os.path.exists(source):
                shutil.copy2(source, target)

    def _new_template(self, settings, demo: bool) -> "_Template":
        directory = Path(tempfile.mkdtemp(prefix="template-", dir=self._directory))
        kind = {"sqlite": _SqliteTemplate, "postgresql": _PostgresqlTemplate,
                "mysql": _MysqlTemplate}[backend_of(settings.database_url)]
        template = kind(settings, directory)
        self._build(template.settings, demo)
        template.built()
        return template

    def close(self) -> None:
        for template in self._templates.values():
            template.drop()
        self._templates.clear()


class _Template:
    """One template store: `settings` name it; `built()` records what copies need."""

    def __init__(self, settings, directory: Path, database_url: str):
        self.settings = settings.replace(
            database_url=database_url, key_dir=str(directory / "keys"),
            credential_key_dir=str(directory / "credential-keys"),
            admin_password_file=str(directory / "admin-password"))
        self.built_at = 0.0

    def built(self) -> None:
        self.built_at = time.monotonic()

    def copy_into(self, settings) -> None:
        raise NotImplementedError

    def drop(self) -> None:
        pass


class _SqliteTemplate(_Template):
    """A file, copied whole (its write-ahead log checkpointed into it first)."""

    def __init__(self, settings, directory: Path):
        self.path = directory / "identity.db"
        super().__init__(settings, directory, f"sqlite:///{self.path}")

    def built(self) -> None:
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        super().built()

    def copy_into(self, settings) -> None:
        target = settings.database_url.removeprefix("sqlite:///")  # an absolute path
        shutil.copy2(self.path, target)  # and its mode, 0600


def _table_order(names: list[str]) -> list[str]:
    """Tables referenced before the tables referencing them (the models' order),
    then any other (the schema version)."""
    import peewee
    from identity_grpc.store.models import Tables
    tables = Tables(peewee.SqliteDatabase(None))  # never opened: names and references only
    ordered = [m._meta.table_name for m in peewee.sort_models(tables.all)]
    return [t for t in ordered if t in names] + sorted(set(names) - set(ordered))


class _PostgresqlTemplate(_Template):
    """A schema beside the tests' own: copied by replaying its definition as pg_dump
    writes it (tables, indexes, constraints and sequences, under the test's schema
    name), then its rows table by table, then its sequences' positions."""

    def __init__(self, settings, directory: Path):
        self.dsn, _, _ = settings.database_url.partition("?")
        self.schema = f"tmpl_{uuid.uuid4().hex[:16]}"
        self._execute(f"CREATE SCHEMA {self.schema}")
        super().__init__(settings, directory, f"{self.dsn}?schema={self.schema}")

    def _execute(self, sql: str, fetch: bool = False):
        conn = psycopg2.connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if fetch else None
        finally:
            conn.close()

    def built(self) -> None:
        dump = subprocess.run(
            ["pg_dump", "--schema-only", "--no-owner", "--no-privileges",
             f"--schema={self.schema}", f"--dbname={self.dsn}"],
            capture_output=True, text=True, check=True, timeout=60).stdout
        # psql's own commands (\restrict...) and the schema, which the test has, go.
        self.definition = "\n".join(
            line for line in dump.splitlines()
            if not line.startswith("\\") and line != f"CREATE SCHEMA {self.schema};")
        rows = self._execute("SELECT tablename FROM pg_tables WHERE schemaname = "
                             f"'{self.schema}'", fetch=True)
        self.tables = _table_order([name for (name,) in rows])
        self.sequences = self._execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = "
            f"'{self.schema}' AND last_value IS NOT NULL", fetch=True)
        super().built()

    def copy_into(self, settings) -> None:
        schema = settings.database_url.rsplit("schema=", 1)[1]
        statements = [self.definition.replace(self.schema, schema)]
        statements += [f'INSERT INTO {schema}."{t}" SELECT * FROM {self.schema}."{t}"'
                       for t in self.tables]
        statements += [f"SELECT setval('{schema}.\"{name}\"', {value})"
                       for name, value in self.sequences]
        self._execute(";\n".join(statements))

    def drop(self) -> None:
        self._execute(f"DROP SCHEMA {self.schema} CASCADE")


class _MysqlTemplate(_Template):
    """A database beside the tests' own: each table made again as SHOW CREATE TABLE
    describes it (with its AUTO_INCREMENT position), then filled from the template."""

    def __init__(self, settings, directory: Path):
        parsed = urlparse(settings.database_url)
        self.server = parsed._replace(path="").geturl()
        self.database = f"tmpl_{uuid.uuid4().hex[:16]}"
        with mysql_connect(self.server) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {self.database} "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        super().__init__(settings, directory, f"{self.server}/{self.database}")

    def built(self) -> None:
        with mysql_connect(self.server, self.database) as conn, conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            self.tables = _table_order([name for (name,) in cur.fetchall()])
            self.definitions = []
            for table in self.tables:
                cur.execute(f"SHOW CREATE TABLE `{table}`")
                self.definitions.append(cur.fetchone()[1])
        super().built()

    def copy_into(self, settings) -> None:
        database = urlparse(settings.database_url).path.lstrip("/")
        with mysql_connect(self.server, database) as conn, conn.cursor() as cur:
            cur.execute("SET foreign_key_checks = 0")
            for definition in self.definitions:
                cur.execute(definition)
            for table in self.tables:
                cur.execute(f"INSERT INTO `{table}` SELECT * FROM {self.database}.`{table}`")

    def drop(self) -> None:
        with mysql_connect(self.server) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE {self.database}")
