"""When the store goes away and comes back, the service says UNAVAILABLE meanwhile
(never INTERNAL) and recovers by itself, without a restart."""

import os
from urllib.parse import urlparse

import grpc
import psycopg2
import pytest

from conftest import PG_DSN
from support import login, project_scope

pytestmark = pytest.mark.every_backend


def _own_ports_to(server_port: int) -> list[int]:
    """The local ports of this process's TCP connections to `server_port`: the sockets
    among its open files (by inode) in the kernel's table of IPv4 connections."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    with open("/proc/self/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.split(":")[1], 16) == server_port:
                ports.append(int(local.split(":")[1], 16))
    return ports


def _cut_connections_of_this_process() -> int:
    """Terminate this process's sessions (the server under test runs in it), as a
    restart of the database would, leaving alone those of tests running beside it."""
    ports = _own_ports_to(urlparse(PG_DSN).port or 5432)
    conn = psycopg2.connect(PG_DSN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE client_port = ANY(%s) AND pid <> pg_backend_pid()", (ports,))
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
    assert _cut_connections_of_this_process() > 0
    codes = []
    for _ in range(80):
        try:
            login(stub, "alice", project_scope("acme"))
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as e:
            codes.append(e.code())
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, codes
    assert codes[-20:] == [grpc.StatusCode.OK] * 20, codes
