"""A database error that is not a lost connection is a bug: INTERNAL / HTTP 500 with
a request id that the server's log holds beside the traceback, and the connections
are left alone, so the next calls work on them. Only a store that cannot be reached
is UNAVAILABLE / 503 (tests/test_store_outage.py)."""

import logging
import re
import sqlite3
import threading
from urllib.parse import urlparse

import grpc
import psycopg2
import pytest
from identity_api.admin.v1 import admin_pb2 as apb

from conftest import PG_DSN
from support import rpc_error, system_admin_token
from test_gateway_admin import call

pytestmark = pytest.mark.every_backend

REQUEST_ID = re.compile(r"req-[0-9a-f-]{36}")


def _rename_table(database_url: str, old: str, new: str) -> None:
    """Rename a table under the running server, from a connection of the test's own."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))  # an absolute path
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")
        conn.commit()
        conn.close()
    elif database_url.startswith("postgresql"):
        schema = database_url.rsplit("schema=", 1)[1]
        conn = psycopg2.connect(PG_DSN)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"ALTER TABLE {schema}.{old} RENAME TO {new}")
        conn.close()
    else:
        import pymysql
        parsed = urlparse(database_url)
        conn = pymysql.connect(host=parsed.hostname, port=parsed.port or 3306,
                               user=parsed.username or "root", password=parsed.password or "",
                               database=parsed.path.lstrip("/"), autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"RENAME TABLE {old} TO {new}")
        conn.close()


@pytest.fixture
def closes(service):
    """The names of the threads that close a store connection while the test runs
    (the store watcher opens and closes its own on every poll; nobody else should)."""
    db = service.core.db
    original, seen = db.close, []

    def close(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return original(*args, **kwargs)
    db.close = close
    yield seen
    db.close = original


def _logged(caplog, request_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if request_id in r.getMessage()]


def test_a_missing_table_is_internal_with_a_request_id_and_the_pool_is_kept(
        service, admin, gateway, database_url, caplog, closes):
    caplog.set_level(logging.INFO)
    token = system_admin_token(service.stub)
    regions = apb.ListRegionsRequest()
    assert admin.call(admin.regions.ListRegions, regions).regions
    _rename_table(database_url, "region", "region_moved")
    try:
        error = rpc_error(admin.call, admin.regions.ListRegions, regions)
        assert error.code() == grpc.StatusCode.INTERNAL, error.details()
        request_id = REQUEST_ID.search(error.details()).group()
        assert ("x-openstack-request-id", request_id) in error.trailing_metadata()
        logged = _logged(caplog, request_id)
        assert any(r.exc_info and "region" in str(r.exc_info[1]) for r in logged), logged

        status, headers, body, raw = call(f"{gateway}/v3/regions", token=token)
        assert status == 500, raw
        http_id = headers["x-openstack-request-id"]
        assert http_id in body["error"]["message"]
        assert any(r.exc_info for r in _logged(caplog, http_id))
    finally:
        _rename_table(database_url, "region_moved", "region")
    for _ in range(10):
        assert admin.call(admin.regions.ListRegions, regions).regions
        assert call(f"{gateway}/v3/regions", token=token)[0] == 200
    assert set(closes) <= {"store-watcher"}, closes



def _error_of(db, sql: str = "SELECT 1") -> Exception:
    try:
        db.execute_sql(sql)
    except Exception as e:  # noqa: BLE001 - the error is what is looked at
        return e
    raise AssertionError(f"{sql!r} did not fail")


def _kinds(make, bad_sql: list[str]) -> tuple:
    """kind_of for: a refused connection, each bad statement, a closed connection."""
    from identity_grpc.store import conflicts
    unreachable = _error_of(make(refused=True))
    db = make(refused=False)
    failures = [conflicts.kind_of(_error_of(db, sql)) for sql in bad_sql]
    db.connection().close()  # closed under the database object's feet
    closed = _error_of(db)
    db.close()
    return conflicts.kind_of(unreachable), failures, conflicts.kind_of(closed)


def test_only_each_driver_s_connection_failures_are_connection_errors(tmp_path):
    """What `conflicts.kind_of` says of real errors from each real driver: refused and
    closed connections are CONNECTION; a missing table or column, a statement the
    store rejects, a division by zero are not."""
    import peewee as pw
    from playhouse.pool import PooledMySQLDatabase, PooledPostgresqlDatabase

    from conftest import MYSQL_URL, _pg_unreachable_reason
    from identity_grpc.store.conflicts import CONNECTION

    bad_sql = ["SELECT * FROM no_such_table", "UPDATE no_such_table SET WHERE 1"]
    assert _kinds(lambda refused: pw.SqliteDatabase(
        str(tmp_path / ("no/such/dir.db" if refused else "x.db"))),
        bad_sql) == (CONNECTION, [None, None], CONNECTION)
    if _pg_unreachable_reason() is None:
        pg = urlparse(PG_DSN)
        assert _kinds(lambda refused: PooledPostgresqlDatabase(
            pg.path.lstrip("/"), host=pg.hostname, user=pg.username,
            port=1 if refused else pg.port or 5432),
            bad_sql + ["SELECT 1/0"]) == (CONNECTION, [None, None, None], CONNECTION)
    my = urlparse(MYSQL_URL)

    def mysql(refused: bool):
        return PooledMySQLDatabase("mysql", host=my.hostname, user=my.username or "root",
                                   password=my.password or "",
                                   port=1 if refused else my.port or 3306)
    try:
        mysql(False).execute_sql("SELECT 1")
    except pw.OperationalError:
        return  # no MariaDB/MySQL here
    assert _kinds(mysql, bad_sql + ["SELECT no_such_column FROM user"]) == (
        CONNECTION, [None, None, None], CONNECTION)
