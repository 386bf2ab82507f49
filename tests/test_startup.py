"""Starting the real server (`server.py` in a subprocess) on a configuration that cannot
work: each mistake is one line on stderr, `identity service: ...`, naming the setting, the
file or the address, and exit status 2 (never a traceback), with one process or several.
And what a started server (and `identity-manage`) leaves readable: the SQLite store and
its -wal/-shm files 0600, no bootstrap password in /proc/<pid>/environ.

These test operation, not the backend, so they use SQLite (and, for an unreachable
database, PostgreSQL URLs on loopback ports where nothing answers).
"""

import json
import os
import queue
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time
import urllib.request
from dataclasses import fields
from pathlib import Path

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2_grpc as rpc

from identity_grpc.config import POSITIVE, RANGES, Settings
from support import ADMIN_PASSWORD, AdminClient, clean_env, password_request, system_admin_token
from test_operations import PYTHON, SERVER, ServerProcess, manage, write_config

START_TIMEOUT = 60


@pytest.fixture(scope="module")
def initialised(tmp_path_factory) -> Path:
    """A store and a key directory made by `identity-manage bootstrap` (the admin's
password: ADMIN_PASSWORD), copied by each test."""
    directory = tmp_path_factory.mktemp("initialised")
    manage(write_config(directory), "bootstrap", env=clean_env(IDENTITY_ADMIN_PASSWORD=ADMIN_PASSWORD))
    return directory


@pytest.fixture
def ready(initialised, tmp_path) -> Path:
    """A directory with its own copy of an initialised store and keys."""
    shutil.copy(initialised / "identity.db", tmp_path / "identity.db")
    shutil.copytree(initialised / "keys", tmp_path / "keys")
    return tmp_path


def start(directory: Path, env: dict[str, str] | None = None, **settings) -> subprocess.CompletedProcess:
    """server.py over a settings file; env (IDENTITY_*) on top. It must not come up."""
    config = write_config(directory, **settings)
    environment = clean_env(**{"IDENTITY_LISTEN": "127.0.0.1:0", **(env or {})})
    started = time.monotonic()
    result = subprocess.run([PYTHON, str(SERVER), "--config", str(config)], cwd=directory,
                            env=environment, capture_output=True, text=True,
                            timeout=START_TIMEOUT)
    result.seconds = time.monotonic() - started
    return result


def assert_refused(result: subprocess.CompletedProcess, *expected: str) -> str:
    """Exit 2, nothing served, one line on stderr holding every expected text."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("identity service: "), line
    for text in expected:
        assert text in line, line
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "gRPC on" not in result.stdout, result.stdout
    return line


@pytest.fixture
def held_port():
    """A loopback port some other program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


# ---- settings known wrong before anything is opened ------------------------------

@pytest.mark.parametrize("env, named", [
    ({"IDENTITY_LOG_LEVEL": "loud"}, "setting 'log_level': 'loud' is not a level"),
    ({"IDENTITY_LISTEN": "nonsense"}, "setting 'listen': 'nonsense' is not host:port"),
    ({"IDENTITY_LISTEN": "::1:50051"}, "setting 'listen': '::1:50051' is not host:port"),
    ({"IDENTITY_HTTP_LISTEN": "127.0.0.1:99999"}, "setting 'http_listen'"),
    ({"IDENTITY_HTTP_LISTEN": "127.0.0.1"}, "setting 'http_listen'"),
    ({"IDENTITY_DATABASE_URL": "postgress://db/identity"}, "setting 'database_url': unsupported scheme"),
    ({"IDENTITY_DATABASE_URL": "postgresql://db/identity?connect_timeout=soon"},
     "setting 'database_url': connect_timeout must be a positive integer"),
    ({"IDENTITY_CPU_AFFINITY": "core0"}, "setting 'cpu_affinity': 'core0' is not auto, on or off"),
    ({"IDENTITY_PROCESSES": "many"}, "setting 'processes': 'many' is not a valid int"),
], ids=["log-level", "listen", "listen-ipv6-unbracketed", "http-port-range", "http-no-port",
        "database-scheme", "connect-timeout", "cpu-affinity", "processes"])
def test_settings_that_cannot_work_are_refused_at_load(tmp_path, env, named):
    assert_refused(start(tmp_path, env), named)


def test_every_numeric_setting_has_bounds_and_each_bound_is_enforced():
    """A numeric setting without bounds would let a typo (a negative timeout, a zero
    pool) start a server that cannot work; one past each bound is refused by name."""
    numeric = {f.name for f in fields(Settings) if f.type in (int, float, "int", "float")}
    assert numeric == set(RANGES) | set(POSITIVE)
    for name, (low, high) in RANGES.items():
        for bad in (low - 1, None if high is None else high + 1):
            if bad is not None:
                with pytest.raises(ValueError, match=f"setting '{name}' must be"):
                    Settings(**{name: bad})
        Settings(**{name: low})  # the bound itself is allowed
    for name in POSITIVE:
        with pytest.raises(ValueError, match=f"setting '{name}' must be positive"):
            Settings(**{name: 0})


def test_a_settings_file_that_cannot_be_read_is_refused(tmp_path):
    for path, problem in ((tmp_path / "missing.toml", "does not exist"),
                          (tmp_path / "a-directory.toml", "is not a file")):
        if "directory" in path.name:
            path.mkdir()
        result = subprocess.run([PYTHON, str(SERVER), "--config", str(path)], cwd=tmp_path,
                                env=clean_env(), capture_output=True, text=True,
                                timeout=START_TIMEOUT)
        assert_refused(result, "bad configuration: settings file", str(path), problem)


def test_log_level_is_any_case(ready):
    server = ServerProcess(write_config(ready, log_level="debug")).start()
    try:
        assert server.terminate() == 0
        levels = {json.loads(line)["level"] for line in server.stderr().splitlines()}
        assert "DEBUG" in levels  # the level took effect
    finally:
        server.kill()


# ---- the policy file ---------------------------------------------------------------------

@pytest.mark.parametrize("name, text, expected", [
    ("broken.json", '{\n  "identity:list_users": "role:admin and"\n}\n',
     ":2: rule 'identity:list_users': expected a check after 'and'"),
    ("kind.yaml", '# the service token is not known to management calls\n'
                  '"identity:list_users": "service_role:service"\n',
     ":2: rule 'identity:list_users': unknown check kind 'service_role' in 'service_role:service'"),
    ("typo.yaml", '"identity:list_users": "rol:admin"\n', "unknown check kind 'rol'"),
    ("missing.yaml", None, "cannot read"),
    ("a-directory.yaml", "", "cannot read"),
])
def test_a_policy_file_that_cannot_be_used_stops_the_server(tmp_path, name, text, expected):
    path = tmp_path / name
    if text == "":
        path.mkdir()
    elif text is not None:
        path.write_text(text)
    line = assert_refused(start(tmp_path, policy_file=str(path)), "policy_file: ", expected)
    assert str(path) in line


# ---- the keys ---------------------------------------------------------------------------------

def test_a_missing_key_directory_stops_the_server(ready):
    line = assert_refused(start(ready, key_dir=str(ready / "nowhere")), "key_dir: ",
                          "does not exist", "identity-manage init")
    assert str(ready / "nowhere") in line


def test_a_key_directory_without_a_primary_key_stops_the_server(ready):
    (ready / "keys" / "1").unlink()  # only the staged key 0 is left
    assert_refused(start(ready), "key_dir: no token signing key in", "identity-manage init")


def test_an_unreadable_key_stops_the_server(ready):
    (ready / "keys" / "2").mkdir()  # key 2 cannot be read (root reads any file mode)
    assert_refused(start(ready), "key_dir: ", f"{ready / 'keys' / '2'}: cannot read")


# ---- the store --------------------------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_database_stops_the_server(tmp_path):
    url = f"postgresql://identity:s3cret@127.0.0.1:{closed_port()}/identity?connect_timeout=2"
    line = assert_refused(start(tmp_path, {"IDENTITY_DATABASE_URL": url}), "database_url ",
                          "cannot connect", "Connection refused")
    assert "s3cret" not in line and "identity:***@127.0.0.1" in line


def test_a_database_that_does_not_answer_stops_the_server_within_its_connect_timeout(tmp_path, held_port):
    url = f"postgresql://identity@127.0.0.1:{held_port}/identity?connect_timeout=2"
    result = start(tmp_path, {"IDENTITY_DATABASE_URL": url})
    assert_refused(result, "database_url ", "cannot connect", "timeout")
    assert result.seconds < 30


def test_a_store_whose_directory_cannot_be_made_stops_the_server(tmp_path):
    (tmp_path / "a-file").write_text("")
    url = f"sqlite:////{(tmp_path / 'a-file' / 'identity.db').as_posix().lstrip('/')}"
    assert_refused(start(tmp_path, database_url=url), "database_url ", "cannot create")


def test_a_store_newer_than_the_code_stops_the_server(ready):
    with sqlite3.connect(ready / "identity.db") as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    assert_refused(start(ready), "database_url ", "store schema version 99 is newer")


def test_a_file_that_is_not_a_database_stops_the_server(ready):
    (ready / "identity.db").write_bytes(b"not a database\n" * 1000)
    assert_refused(start(ready), "database_url ", "not a database")


# ---- addresses ----------------------------------------------------------------------------------

@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("setting", ["listen", "http_listen"])
def test_a_port_in_use_stops_the_server(ready, held_port, setting, processes):
    address = f"127.0.0.1:{held_port}"
    result = start(ready, {f"IDENTITY_{setting.upper()}": address, "IDENTITY_PROCESSES": str(processes)})
    assert_refused(result, f"{setting} {address}: cannot bind: Address already in use")


def test_an_address_not_on_this_host_stops_the_server(ready):
    assert_refused(start(ready, {"IDENTITY_LISTEN": "203.0.113.1:50051"}),
                   "listen 203.0.113.1:50051: cannot bind: Cannot assign requested address")


@pytest.mark.parametrize("processes", [1, 2])
def test_with_several_processes_the_same_mistakes_are_one_line(tmp_path, ready, processes):
    broken = tmp_path / "policy.yaml"
    broken.write_text('"identity:list_users": "(role:admin"\n')
    env = {"IDENTITY_PROCESSES": str(processes)}
    assert_refused(start(ready, env, policy_file=str(broken)), "policy_file: ", "unbalanced")
    assert_refused(start(ready, env, key_dir=str(ready / "nowhere")), "key_dir: ")
    url = f"postgresql://identity@127.0.0.1:{closed_port()}/identity?connect_timeout=2"
    assert_refused(start(ready, {**env, "IDENTITY_DATABASE_URL": url}), "database_url ")


# ---- what the process leaves readable (hardening item 22) ------------------------------------

SECRET = "bootstrap-secret-in-the-environment-1"


class Serving:
    """server.py in a subprocess with extra environment, once it said it serves."""

    def __init__(self, config: Path, umask: int | None = None, **env: str):
        self.proc = subprocess.Popen(
            [PYTHON, str(SERVER), "--config", str(config)], cwd=config.parent,
            env=clean_env(**{"IDENTITY_LISTEN": "127.0.0.1:0", **env}), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=None if umask is None else (lambda: os.umask(umask)))
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout],
                         daemon=True).start()
        self.address = self.http = None
        deadline = time.monotonic() + START_TIMEOUT
        while self.http is None:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                pytest.fail(f"the server did not start within {START_TIMEOUT}s")
            if "gRPC on" in line:
                self.address = line.rsplit(" ", 1)[1].strip()
            elif "HTTP on" in line:
                self.http = "http://" + line.rsplit(" ", 1)[1].strip()

    def environ(self, pid: int | None = None) -> bytes:
        return Path(f"/proc/{pid or self.proc.pid}/environ").read_bytes()

    def children(self) -> list[int]:
        tasks = Path(f"/proc/{self.proc.pid}/task")
        return [int(pid) for task in tasks.iterdir()
                for pid in (task / "children").read_text().split()]

    def stop(self) -> str:
        """SIGTERM; the stderr it wrote."""
        self.proc.terminate()
        try:
            _, stderr = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, stderr = self.proc.communicate()
        return stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_through_both_transports(server: Serving) -> None:
    """A project made over gRPC and one over HTTP: the WAL and its index now exist."""
    with grpc.insecure_channel(server.address) as channel:
        admin = AdminClient(channel, system_admin_token(rpc.IdentityStub(channel)))
        admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(name="over-grpc"))
        token = system_admin_token(rpc.IdentityStub(channel))
    request = urllib.request.Request(
        f"{server.http}/v3/projects", method="POST",
        data=json.dumps({"project": {"name": "over-http"}}).encode(),
        headers={"Content-Type": "application/json", "X-Auth-Token": token})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201


def test_a_new_store_and_its_wal_and_shm_are_private_whatever_the_umask(tmp_path):
    config = write_config(tmp_path)
    subprocess.run([PYTHON, "-m", "identity_grpc.manage", "--config", str(config), "setup"],
                   cwd=tmp_path, env=clean_env(IDENTITY_ADMIN_PASSWORD=ADMIN_PASSWORD),
                   check=True, capture_output=True, timeout=120, preexec_fn=lambda: os.umask(0))
    store = tmp_path / "identity.db"
    assert mode(store) == 0o600
    server = Serving(config, umask=0)
    try:
        write_through_both_transports(server)
        for name in ("identity.db", "identity.db-wal", "identity.db-shm"):
            assert mode(tmp_path / name) == 0o600, name
    finally:
        server.stop()


def test_an_existing_store_readable_by_others_is_tightened_and_logged(ready):
    store = ready / "identity.db"
    store.chmod(0o644)
    server = Serving(write_config(ready))
    try:
        assert mode(store) == 0o600
        write_through_both_transports(server)
        for name in ("identity.db-wal", "identity.db-shm"):
            assert mode(ready / name) == 0o600, name
    finally:
        stderr = server.stop()
    assert f"{store} could be read by group or others (mode 0644); now 0600" in stderr


def test_the_admin_password_is_dropped_from_the_environment_of_manage(tmp_path):
    config = write_config(tmp_path)
    manage_process = subprocess.Popen(
        [PYTHON, "-m", "identity_grpc.manage", "--config", str(config), "setup"],
        cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # unbuffered, to hear "store ready" at once; a costlier hash, to be still running
        env=clean_env(IDENTITY_ADMIN_PASSWORD=SECRET, PYTHONUNBUFFERED="1",
                      IDENTITY_ARGON2_TIME_COST="4"))
    try:
        assert "store ready" in manage_process.stdout.readline()  # the password is read by now
        manage_process.send_signal(signal.SIGSTOP)  # held while its environment is read
        try:
            environ = Path(f"/proc/{manage_process.pid}/environ").read_bytes()
        finally:
            manage_process.send_signal(signal.SIGCONT)
        assert b"PATH=" in environ and b"IDENTITY_ARGON2_TIME_COST=4" in environ
        assert SECRET.encode() not in environ and b"IDENTITY_ADMIN_PASSWORD" not in environ
        out, err = manage_process.communicate(timeout=120)
    finally:
        manage_process.kill()
    assert manage_process.returncode == 0, err
    assert not (tmp_path / "admin-password").exists()  # the password given was used
    server = Serving(config)
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = rpc.IdentityStub(channel)
            assert stub.Authenticate(password_request("admin", SECRET), timeout=30).token
    finally:
        server.stop()


@pytest.mark.parametrize("processes", [1, 2])
def test_the_admin_password_is_not_in_the_servers_environment(ready, processes):
    server = Serving(write_config(ready), IDENTITY_ADMIN_PASSWORD=SECRET,
                     IDENTITY_PROCESSES=str(processes))
    try:
        processes_seen = [server.proc.pid, *server.children()]
        assert len(processes_seen) >= processes + (processes > 1)  # workers, resource tracker
        for pid in processes_seen:
            environ = server.environ(pid)
            assert b"PATH=" in environ and b"IDENTITY_PROCESSES=" in environ, pid
            assert SECRET.encode() not in environ and b"IDENTITY_ADMIN_PASSWORD" not in environ, pid
    finally:
        server.stop()


def test_an_audit_log_file_that_cannot_be_written_stops_the_server(ready):
    where = ready / "no-such-directory" / "audit.jsonl"
    line = assert_refused(start(ready, audit_log_file=str(where)), "audit_log_file ",
                          "cannot append to it")
    assert str(where) in line
