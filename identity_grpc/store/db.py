"""Opening a store from a database URL.

`sqlite:///var/identity.db` (the default; WAL so readers never wait for the writer,
a busy timeout so writers queue instead of failing, and transactions that take the
write lock as they begin, since a deferred one that has read cannot wait for it once
another process has written: it fails at once with "database is locked"),
`postgresql://user@host/db` (several replicas share one database) and
`mysql://user@host/db`. A `schema` query parameter on PostgreSQL selects a schema,
which is how tests isolate themselves; `connect_timeout` (seconds, default 10) bounds
each connection attempt, so a database that does not answer is an error, not a hang.

A store that cannot be opened (a bad URL, a server that refuses or does not answer,
a schema newer than the code) raises `StoreError` with one line saying why.

A SQLite store holds password and API-key hashes, so its file is created 0600 before
SQLite opens it (SQLite gives the `-wal` and `-shm` files the database file's mode),
and an existing one that group or others may read is tightened, saying so in the log.
"""

import logging
import os
import stat
from urllib.parse import parse_qs, unquote, urlparse, urlunparse

import peewee as pw
from playhouse.pool import PooledMySQLDatabase, PooledPostgresqlDatabase

from ..validation import refuse_nul
from . import schema

log = logging.getLogger(__name__)
SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")
CONNECT_TIMEOUT_SECONDS = 10


class StoreError(RuntimeError):
    """The store cannot be opened: what is wrong, in one line (without the URL)."""


SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10_000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


class _RefusesNul:
    """Every value sent to the store is checked for NUL, which the backends treat
    differently (PostgreSQL refuses it with an error, SQLite and MariaDB keep it):
    a lookup, filter or write carrying one is the caller's mistake, answered as
    such on every backend, whatever path it took."""

    def execute_sql(self, sql, params=None):
        if params:
            refuse_nul(params)
        return super().execute_sql(sql, params)


class SqliteStore(_RefusesNul, pw.SqliteDatabase):
    pass


class PostgresqlStore(_RefusesNul, PooledPostgresqlDatabase):
    pass


class MySQLStore(_RefusesNul, PooledMySQLDatabase):
    pass


def _parse(url: str) -> tuple[str, str, dict[str, str]]:
    """(scheme, SQLite path or "", query) of a database URL; ValueError naming what is wrong."""
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme not in SCHEMES:
        raise ValueError(f"database_url: unsupported scheme {parsed.scheme!r} "
                         "(use sqlite:///, postgresql:// or mysql://)")
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    for name in ("connect_timeout", "max_connections"):
        if name in query and not (query[name].isdigit() and int(query[name]) > 0):
            raise ValueError(f"database_url: {name} must be a positive integer, not {query[name]!r}")
    path = ""
    if scheme == "sqlite":
        path = unquote(parsed.path)
        if parsed.netloc:  # sqlite://relative/path is a common slip; accept it
            path = parsed.netloc + path
        elif path.startswith("/") and not url.startswith("sqlite:////"):
            path = path[1:]  # sqlite:///var/x.db is relative, sqlite:////abs/x.db absolute
        if not path:
            raise ValueError("database_url: no SQLite file named (sqlite:///relative.db, "
                             "sqlite:////absolute.db)")
    return scheme, path, query


def check_database_url(url: str) -> None:
    """Refuse a URL that cannot name a store, before anything is opened."""
    _parse(url)


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names (None for another backend, or SQLite in memory),
    for a caller that must not create it by opening it."""
    scheme, path, _ = _parse(url)
    return path if scheme == "sqlite" and path != ":memory:" else None


def describe_url(url: str) -> str:
    """The URL with its password (if any) hidden, for messages and logs."""
    parsed = urlparse(url)
    if not parsed.password:
        return url
    netloc = parsed.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunparse(parsed._replace(netloc=f"{user}:***@{netloc[2]}"))


def make_database(url: str) -> pw.Database:
    """A Peewee database for `url`, not yet connected."""
    scheme, path, query = _parse(url)
    if scheme == "sqlite":
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            _keep_private(path)
        return SqliteStore(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    parsed = urlparse(url)
    common = dict(
        database=unquote(parsed.path.lstrip("/")),
        host=parsed.hostname or "127.0.0.1",
        user=unquote(parsed.username or ""),
        password=unquote(parsed.password or ""),
        max_connections=int(query.get("max_connections", 64)),
        stale_timeout=300,
        connect_timeout=int(query.get("connect_timeout", CONNECT_TIMEOUT_SECONDS)),
    )
    if parsed.port:
        common["port"] = parsed.port
    if scheme in ("postgres", "postgresql"):
        if "schema" in query:
            common["options"] = f"-c search_path={query['schema']}"
        return PostgresqlStore(**common)
    return MySQLStore(charset="utf8mb4", **common)


def _keep_private(path: str) -> None:
    """The store file exists and is 0600, as are its -wal, -shm and -journal files if
    any, whatever the umask and whatever made them."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(name, mode & 0o700)
            log.warning("%s could be read by group or others (mode %04o); now %04o",
                        name, mode, mode & 0o700)


def open_database(url: str, upgrade: bool = True) -> pw.Database:
    """Open the store at `url` and bring its schema up to date (bind tables to it with
    `models.Tables`, or open a whole `Store`).
    Raises StoreError when it cannot be opened or its schema is newer than the code."""
    try:
        db = make_database(url)
    except ValueError as e:
        raise StoreError(str(e).removeprefix("database_url: ")) from None
    except OSError as e:  # the SQLite file or its directory cannot be made
        raise StoreError(f"cannot create {e.filename}: {e.strerror}") from None
    try:
        db.connect(reuse_if_open=True)
    except (pw.PeeweeException, OSError) as e:
        raise StoreError(f"cannot connect: {_first_line(e)}") from None
    if upgrade:
        try:
            schema.upgrade(db)
        except schema.SchemaTooNew as e:
            db.close()
            raise StoreError(str(e)) from None
        except pw.DatabaseError as e:  # not a database, no right to create tables...
            db.close()
            raise StoreError(f"cannot read or upgrade the schema: {_first_line(e)}") from None
    return db


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
