"""Several server processes on one port (`processes` setting): each worker really
listens on the shared port, connections spread over them, and they behave as
replicas of one another (tokens cross, revocations reach every worker). The default
(`auto`) starts one per core, each serving on a core of its own, its password
hashing threads on every core."""

import os
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

from conftest import ServerProcess
from identity_grpc import placement
from identity_grpc.config import Settings
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


def thread_cpus(pid: int) -> list[set[int]]:
    """The cores each thread of `pid` may run on, from /proc (Python 3.11 does not
    name threads for the kernel, so they are told apart by this alone)."""
    threads = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:  # ended meanwhile
            continue
        listed = next(line.split(":", 1)[1].strip() for line in status.splitlines()
                      if line.startswith("Cpus_allowed_list"))
        cpus = set()
        for part in listed.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
        threads.append(cpus)
    return threads


@pytest.mark.skipif(len(placement.allowed_cpus()) < 2, reason="one core: auto starts one process")
def test_auto_starts_one_worker_per_core_each_on_its_own_core(deployment):
    cores = placement.allowed_cpus()
    # One hashing thread per worker, started by the worker's first login.
    process = ServerProcess(deployment, IDENTITY_PROCESSES="auto",
                            IDENTITY_PASSWORD_HASH_CONCURRENCY="1")
    try:
        pids = worker_pids(process.proc.pid)
        assert len(pids) == len(cores)
        for _ in range(8):  # new connections, spread over the workers by the kernel
            channel, stub = fresh_stub(process.port)
            login(stub, "alice", project_scope("acme"))
            channel.close()
        serving, hashing = [], 0
        for pid in pids:
            threads = thread_cpus(pid)
            pinned = [cpus for cpus in threads if len(cpus) == 1]
            free = [cpus for cpus in threads if len(cpus) > 1]
            assert len({min(cpus) for cpus in pinned}) == 1, (pid, threads)  # one core
            assert len(pinned) >= 8, (pid, threads)  # gRPC's, the log writer, the feed...
            assert len(free) <= 1 and all(cpus == set(cores) for cpus in free), (pid, threads)
            serving.append(min(pinned[0]))
            hashing += len(free)
        assert sorted(serving) == cores[:len(pids)]  # a core each
        assert hashing >= 1  # a hashing thread on every core, where a login ran
    finally:
        process.stop()


def test_cpu_affinity_off_leaves_workers_unpinned(deployment):
    process = ServerProcess(deployment, IDENTITY_PROCESSES="2", IDENTITY_CPU_AFFINITY="off")
    try:
        for pid in worker_pids(process.proc.pid):
            for cpus in thread_cpus(pid):
                assert cpus == set(placement.allowed_cpus()), (pid, cpus)
    finally:
        process.stop()


def test_auto_is_one_process_over_a_store_only_one_process_can_see():
    settings = Settings(processes=0)
    assert placement.process_count(settings) == len(placement.allowed_cpus())
    assert placement.process_count(settings.replace(database_url="sqlite:///:memory:")) == 1
    assert placement.process_count(settings.replace(processes=3)) == 3


def test_a_core_that_cannot_be_had_leaves_the_thread_unpinned_and_says_so(caplog):
    before, seen = os.sched_getaffinity(0), {}

    def pin_to_a_core_that_is_not_there():
        placement.pin_thread(max(placement.allowed_cpus()) + 4096)
        seen["cpus"] = os.sched_getaffinity(0)

    thread = threading.Thread(target=pin_to_a_core_that_is_not_there)
    thread.start()
    thread.join(timeout=10)
    assert seen["cpus"] == before
    assert any("could not keep this worker on core" in r.getMessage() for r in caplog.records)
