"""When the store goes away and comes back, the service says UNAVAILABLE meanwhile
(never INTERNAL) and recovers by itself, without a restart."""

import grpc
import psycopg2
import pytest

from conftest import PG_DSN
from support import login, project_scope


def _cut_connections_of(schema_url: str) -> int:
    """Terminate every other session on the test database, as a restart would."""
    conn = psycopg2.connect(PG_DSN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'")
        cut = cur.fetchone()[0]
    conn.close()
    return cut


def test_the_service_recovers_when_its_store_connections_are_cut(service, stub, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("needs a database server whose connections can be cut")
    login(stub, "alice", project_scope("acme"))
    # Touch the store from many worker threads, so that many hold a connection.
    for _ in range(40):
        login(stub, "bob")
    assert _cut_connections_of(database_url) > 0
    codes = []
    for _ in range(80):
        try:
            login(stub, "alice", project_scope("acme"))
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as e:
            codes.append(e.code())
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, codes
    assert codes[-20:] == [grpc.StatusCode.OK] * 20, codes
