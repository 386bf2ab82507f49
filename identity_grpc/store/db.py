"""Opening a store from a database URL.

`sqlite:///var/identity.db` (the default; WAL so readers never wait for the writer,
a busy timeout so writers queue instead of failing, and transactions that take the
write lock as they begin, since a deferred one that has read cannot wait for it once
another process has written: it fails at once with "database is locked"),
`postgresql://user@host/db` (several replicas share one database) and
`mysql://user@host/db`. A `schema` query parameter on PostgreSQL selects a schema,
which is how tests isolate themselves.
"""

import os
from urllib.parse import parse_qs, unquote, urlparse

import peewee as pw
from playhouse.pool import PooledMySQLDatabase, PooledPostgresqlDatabase

from ..validation import refuse_nul
from . import models, schema

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


def make_database(url: str) -> pw.Database:
    """A Peewee database for `url`, not yet connected."""
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if scheme == "sqlite":
        path = unquote(parsed.path)
        if parsed.netloc:  # sqlite://relative/path is a common slip; accept it
            path = parsed.netloc + path
        elif path.startswith("/") and not url.startswith("sqlite:////"):
            path = path[1:]  # sqlite:///var/x.db is relative, sqlite:////abs/x.db absolute
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return SqliteStore(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    common = dict(
        database=unquote(parsed.path.lstrip("/")),
        host=parsed.hostname or "127.0.0.1",
        user=unquote(parsed.username or ""),
        password=unquote(parsed.password or ""),
        max_connections=int(query.get("max_connections", 64)),
        stale_timeout=300,
    )
    if parsed.port:
        common["port"] = parsed.port
    if scheme in ("postgres", "postgresql"):
        if "schema" in query:
            common["options"] = f"-c search_path={query['schema']}"
        return PostgresqlStore(**common)
    if scheme in ("mysql", "mariadb"):
        return MySQLStore(charset="utf8mb4", **common)
    raise ValueError(f"database_url: unsupported scheme {parsed.scheme!r} "
                     "(use sqlite:///, postgresql:// or mysql://)")


def open_database(url: str, upgrade: bool = True) -> pw.Database:
    """Open the store at `url`, bind the models to it and bring its schema up to date."""
    db = make_database(url)
    models.database_proxy.initialize(db)
    db.connect(reuse_if_open=True)
    if upgrade:
        schema.upgrade(db)
    return db
