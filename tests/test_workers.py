"""Several server processes on one port (`processes` setting): each worker really
listens on the shared port, connections spread over them, and they behave as
replicas of one another (tokens cross, revocations reach every worker)."""

import os
import signal
import time
from pathlib import Path

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

from conftest import ServerProcess
from support import login, project_scope, validate


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (any address), from /proc/net/tcp*."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def worker_pids(supervisor: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == supervisor and b"multiprocessing.spawn" in cmdline:
            pids.append(int(entry.name))
    return pids


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


@pytest.fixture
def workers(deployment):
    process = ServerProcess(deployment, IDENTITY_PROCESSES="2")
    yield process
    process.stop()


def fresh_stub(port: int) -> tuple[grpc.Channel, rpc.IdentityStub]:
    # A channel of its own (not shared through the global subchannel pool), so a
    # new connection the kernel may hand to either worker.
    channel = grpc.insecure_channel(f"127.0.0.1:{port}",
                                    options=[("grpc.use_local_subchannel_pool", 1)])
    return channel, rpc.IdentityStub(channel)


def test_every_worker_listens_on_the_one_port(workers):
    pids = worker_pids(workers.proc.pid)
    assert len(pids) == 2
    listening = listening_inodes(workers.port)
    assert len(listening) >= 2
    for pid in pids:
        assert socket_inodes(pid) & listening, f"worker {pid} does not listen on {workers.port}"
    assert workers.stub.Ping(pb.PingRequest()) == pb.PingResponse()


def test_workers_are_replicas_of_one_another(workers):
    channels = [fresh_stub(workers.port) for _ in range(8)]
    try:
        stubs = [stub for _, stub in channels]
        nova = [login(stub, "nova", project_scope("service")).token for stub in stubs]
        alice = login(stubs[0], "alice", project_scope("acme")).token
        for stub, caller in zip(stubs, nova):
            assert validate(stub, caller, alice).user.name == "alice"
        stubs[0].RevokeToken(pb.RevokeTokenRequest(subject_token=alice),
                             metadata=(("x-auth-token", alice),))
        deadline = time.monotonic() + 1.0
        pending = list(zip(stubs, nova))
        while pending:
            assert time.monotonic() < deadline, "a worker still accepts the revoked token"
            pending = [(s, c) for s, c in pending
                       if not _refused(s, c, alice)]
            time.sleep(0.02)
    finally:
        for channel, _ in channels:
            channel.close()


def _refused(stub, caller: str, subject: str) -> bool:
    try:
        validate(stub, caller, subject)
        return False
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in e.details()
        return True


def test_a_dead_worker_stops_the_service_so_its_supervisor_restarts_it(workers):
    pids = worker_pids(workers.proc.pid)
    os.kill(pids[0], signal.SIGKILL)
    assert workers.proc.wait(timeout=15) == 1
    for pid in pids[1:]:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{pid}").exists()


def test_ping_needs_no_token(stub):
    assert stub.Ping(pb.PingRequest()) == pb.PingResponse()
