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
"""

import sqlite3

import peewee as pw

TRANSIENT = "transient"
UNIQUE = "unique"
REFERENCE = "reference"

_MYSQL_TRANSIENT = {1213, 1205, 1020}
_MYSQL_UNIQUE = {1062, 1586}
_MYSQL_REFERENCE = {1451, 1452, 1216, 1217}
_PG_TRANSIENT = {"40001", "40P01", "55P03"}
_PG_UNIQUE = "23505"
_PG_REFERENCE = "23503"


def original(error: BaseException) -> BaseException:
    """The driver's exception behind a Peewee one (or the error itself)."""
    if isinstance(error, pw.PeeweeException):
        orig = getattr(error, "orig", None)
        if isinstance(orig, BaseException):
            return orig
        if error.args and isinstance(error.args[0], BaseException):
            return error.args[0]
    return error


def kind_of(error: BaseException) -> str | None:
    """TRANSIENT, UNIQUE, REFERENCE, or None for anything else (a bug, or a store
    that is down: neither is cured by running the same work again at once)."""
    cause = original(error)
    if isinstance(cause, sqlite3.Error):
        return _sqlite_kind(cause)
    pgcode = getattr(cause, "pgcode", None)
    if pgcode:
        if pgcode in _PG_TRANSIENT:
            return TRANSIENT
        return {_PG_UNIQUE: UNIQUE, _PG_REFERENCE: REFERENCE}.get(pgcode)
    code = cause.args[0] if cause.args and isinstance(cause.args[0], int) else None
    if code in _MYSQL_TRANSIENT:
        return TRANSIENT
    if code in _MYSQL_UNIQUE:
        return UNIQUE
    if code in _MYSQL_REFERENCE:
        return REFERENCE
    return None


def _sqlite_kind(cause: sqlite3.Error) -> str | None:
    name = getattr(cause, "sqlite_errorname", "") or ""
    message = str(cause)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "is locked" in message:
        return TRANSIENT
    if "UNIQUE constraint failed" in message or name in ("SQLITE_CONSTRAINT_UNIQUE",
                                                          "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return UNIQUE
    if "FOREIGN KEY constraint failed" in message or name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return REFERENCE
    return None
