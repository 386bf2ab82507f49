"""What a failed write means, whichever backend reported it.

Replicas write to one store at once, and each backend reports their collisions in its
own words. Peewee wraps the driver's exception (keeping it as `orig` since Peewee 4,
as `args[0]` before); the codes below are read from that original:

* **transient** — the transaction lost a race and was rolled back (or, for a lock
  wait, its statement was; the whole transaction is rolled back on the way out).
  Nothing was written, and the same unit of work run again will most likely pass:
  MariaDB/MySQL deadlock 1213, lock wait timeout 1205 and snapshot conflict 1020
  (MariaDB's `innodb_snapshot_isolation`); PostgreSQL serialization failure 40001,
  deadlock 40P01 and lock timeout 55P03; SQLite SQLITE_BUSY / SQLITE_LOCKED ("database
  is locked"), such as a deferred transaction that read first failing to upgrade.
* **unique** — a unique name or key is taken: AlreadyExists, never worth retrying
  (the name stays taken).
* **reference** — a row the write refers to (or that refers to the row deleted) came
  or went after the unit of work checked it: its checks are stale, and running it
  again turns this into the precise NotFound / FailedPrecondition of those checks.
* **connection** — the store could not be reached, or the connection to it broke:
  the only errors reported to clients as the store being unavailable (UNAVAILABLE,
  HTTP 503), after which the thread lets go of its connection. PostgreSQL: any
  libpq-level failure (no SQLSTATE: refused, reset, closed by the server), SQLSTATE
  class 08 (connection exception), 57P01-57P03 (the server shutting down or
  starting) and 53300 (too many connections); MariaDB/MySQL: the client's
  2002/2003/2005/2006/2013/2055 (cannot connect, server gone away, lost
  connection), the server's 1040 (too many connections), 1053 (shutting down),
  1927 (connection killed), 4031 (disconnected for inactivity) and 1044/1045 (the
  store refused our credentials); SQLite: a database file that cannot be opened
  (SQLITE_CANTOPEN) or read and written (SQLITE_IOERR), or a closed connection;
  any driver's InterfaceError on a closed connection, and Peewee's pool having no
  connection left. Anything else (a missing table, a value a column refuses, a
  statement the store rejects) is a bug, reported as INTERNAL with a request id and
  the connection left as it is.
"""

import sqlite3

import peewee as pw
from playhouse.pool import MaxConnectionsExceeded

TRANSIENT = "transient"
UNIQUE = "unique"
REFERENCE = "reference"
CONNECTION = "connection"

_MYSQL_TRANSIENT = {1213, 1205, 1020}
_MYSQL_UNIQUE = {1062, 1586}
_MYSQL_REFERENCE = {1451, 1452, 1216, 1217}
_PG_TRANSIENT = {"40001", "40P01", "55P03"}
_PG_UNIQUE = "23505"
_PG_REFERENCE = "23503"
_MYSQL_CONNECTION = {2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053, 1927, 4031, 1044, 1045}
_PG_CONNECTION = {"57P01", "57P02", "57P03", "53300"}
_SQLITE_CONNECTION = ("SQLITE_CANTOPEN", "SQLITE_IOERR")


def original(error: BaseException) -> BaseException:
    """The driver's exception behind a Peewee one (or the error itself). Peewee may
    wrap twice (a failed connect inside a failed query), so this unwraps to the end."""
    for _ in range(4):
        if not isinstance(error, pw.PeeweeException):
            break
        orig = getattr(error, "orig", None)
        if not isinstance(orig, BaseException):
            orig = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
        if orig is None:
            break
        error = orig
    return error


def kind_of(error: BaseException) -> str | None:
    """TRANSIENT, UNIQUE, REFERENCE, CONNECTION, or None for anything else (a bug).
    Only the first and the third are cured by running the same work again at once."""
    cause = original(error)
    if isinstance(cause, sqlite3.Error):
        return _sqlite_kind(cause)
    if isinstance(cause, MaxConnectionsExceeded):
        return CONNECTION
    if _is_psycopg2(cause):
        return _pg_kind(cause)
    if isinstance(error, pw.InterfaceError):
        return CONNECTION  # a closed connection (PyMySQL's, or Peewee's own check)
    code = cause.args[0] if cause.args and isinstance(cause.args[0], int) else None
    if code in _MYSQL_TRANSIENT:
        return TRANSIENT
    if code in _MYSQL_UNIQUE:
        return UNIQUE
    if code in _MYSQL_REFERENCE:
        return REFERENCE
    if code in _MYSQL_CONNECTION and type(cause).__module__.startswith(("pymysql", "MySQLdb")):
        return CONNECTION
    return None


def _is_psycopg2(cause: BaseException) -> bool:
    return type(cause).__module__.startswith("psycopg2")


def _pg_kind(cause: BaseException) -> str | None:
    import psycopg2  # only where PostgreSQL is in use
    pgcode = getattr(cause, "pgcode", None)
    if not pgcode:
        # No SQLSTATE: libpq itself failed (refused, reset, closed), or the
        # connection object was already closed. Client-side mistakes without one
        # (ProgrammingError "can't adapt type") are bugs.
        if isinstance(cause, psycopg2.InterfaceError) or type(cause) in (
                psycopg2.OperationalError, psycopg2.DatabaseError):
            return CONNECTION
        return None
    if pgcode in _PG_TRANSIENT:
        return TRANSIENT
    if pgcode.startswith("08") or pgcode in _PG_CONNECTION:
        return CONNECTION
    return {_PG_UNIQUE: UNIQUE, _PG_REFERENCE: REFERENCE}.get(pgcode)


def _sqlite_kind(cause: sqlite3.Error) -> str | None:
    name = getattr(cause, "sqlite_errorname", "") or ""
    message = str(cause)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "is locked" in message:
        return TRANSIENT
    if (name.startswith(_SQLITE_CONNECTION) or "unable to open database" in message
            or "disk I/O error" in message or "closed database" in message):
        return CONNECTION
    if "UNIQUE constraint failed" in message or name in ("SQLITE_CONSTRAINT_UNIQUE",
                                                          "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return UNIQUE
    if "FOREIGN KEY constraint failed" in message or name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return REFERENCE
    return None
