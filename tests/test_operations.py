"""Operating the service the way an operator does: `identity-manage` and `server.py`
as subprocesses over a settings file, health checks, reflection, the request log,
shutdown, restarts, bad settings, and the client examples.

These test operation, not the backend, so they use SQLite only.
"""

import json
import queue
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

from support import auth_md, clean_env, password_request, project_scope, role_names

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SERVER = ROOT / "server.py"
EXAMPLES = ROOT / "clients" / "examples"
SERVICE = "identity.v1.Identity"
ADMIN_PASSWORD = "operator-chosen-secret-1"
CALL_TIMEOUT = 10.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
COMPUTE_URL = "http://127.0.0.1:8774/v2.1"
# A listen address no server can bind: if the file's value won, the server could not start.
UNBINDABLE = "203.0.113.1:9"


# ---- helpers ------------------------------------------------------------------



def write_config(directory: Path, **overrides) -> Path:
    values = {
        "database_url": f"sqlite:////{(directory / 'identity.db').as_posix().lstrip('/')}",
        "key_dir": str(directory / "keys"),
        "admin_password_file": str(directory / "admin-password"),
        "listen": UNBINDABLE,
        "poll_interval": 0.05,
    }
    values.update(overrides)
    lines = [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = directory / "identity.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def manage(config: Path, *args: str, env: dict[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [PYTHON, "-m", "identity_grpc.manage", "--config", str(config), *args],
        cwd=config.parent, env=env or clean_env(),
        capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"manage {args} failed:\n{result.stdout}{result.stderr}"
    return result


def with_admin_password(**extra: str) -> dict[str, str]:
    return clean_env(IDENTITY_ADMIN_PASSWORD=ADMIN_PASSWORD, **extra)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def key_indexes(key_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in key_dir.iterdir() if p.name.isdigit())


def row_counts(db_path: Path) -> dict[str, int]:
    """Rows per table, leaving out the change feed (a log, not data)."""
    with sqlite3.connect(db_path) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                for t in tables if t not in ("change", "schema_version")}


class ServerProcess:
    """`server.py --config FILE` in a subprocess, listening on `port` (set through
    IDENTITY_LISTEN, over the file's unbindable address)."""

    def __init__(self, config: Path, port: int | None = None, use_config_env: bool = False):
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        env = clean_env(IDENTITY_LISTEN=self.address)
        args = [PYTHON, str(SERVER)]
        if use_config_env:
            env["IDENTITY_CONFIG"] = str(config)
        else:
            args += ["--config", str(config)]
        self.stderr_path = config.parent / f"server-{self.port}.stderr"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(args, cwd=config.parent, env=env, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True)
        self.stdout: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.channel: grpc.Channel | None = None

    def _read(self) -> None:
        try:
            for line in self.proc.stdout:
                self.stdout.append(line)
                self._lines.put(line)
        finally:
            self._lines.put(None)

    def wait_for(self, text: str, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no {text!r} from the server within {timeout}s; "
                            f"stdout: {''.join(self.stdout)!r}; stderr: {self.stderr()!r}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=STOP_TIMEOUT)
                pytest.fail(f"the server exited ({self.proc.returncode}) before {text!r}; "
                            f"stderr: {self.stderr()!r}")
            if text in line:
                return line

    def start(self) -> "ServerProcess":
        line = self.wait_for("gRPC on")
        assert self.address in line, line
        self.channel = grpc.insecure_channel(self.address)
        return self

    @property
    def stub(self) -> rpc.IdentityStub:
        return rpc.IdentityStub(self.channel)

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()

    def terminate(self) -> int:
        """SIGTERM, then the exit status (within STOP_TIMEOUT seconds)."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        return code

    def kill(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
        self._stderr.close()


@pytest.fixture
def config(tmp_path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def demo_config(config) -> Path:
    """A store set up the way `make run` does it, with a known admin password."""
    manage(config, "setup", "--demo", env=with_admin_password())
    return config


@pytest.fixture
def servers():
    """Starts servers for a test and makes sure none outlives it."""
    started: list[ServerProcess] = []

    def start(config: Path, **kwargs) -> ServerProcess:
        server = ServerProcess(config, **kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


def log_records(stderr: str) -> list[dict]:
    """The gRPC request-log records among the server's stderr lines (JSON, each)."""
    lines = [json.loads(line) for line in stderr.splitlines()]
    return [line for line in lines if line["logger"] == "identity_grpc.requests"]


# ---- identity-manage ---------------------------------------------------------------

def test_init_creates_the_store_and_a_staged_and_a_primary_key(config, tmp_path):
    result = manage(config, "init")
    assert "store ready" in result.stdout
    assert (tmp_path / "identity.db").exists()
    key_dir = tmp_path / "keys"
    assert key_indexes(key_dir) == [0, 1]  # 0 staged, 1 primary
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    for key in key_dir.iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = {p.name: p.read_bytes() for p in key_dir.iterdir()}
    manage(config, "init")  # again: existing keys are kept, never replaced
    assert {p.name: p.read_bytes() for p in key_dir.iterdir()} == before


def test_rotate_keys_promotes_the_staged_key_and_drops_the_oldest(config, tmp_path):
    key_dir = tmp_path / "keys"
    manage(config, "init")
    staged = (key_dir / "0").read_bytes()
    result = manage(config, "rotate-keys")
    assert "key 2 is now primary" in result.stdout
    assert key_indexes(key_dir) == [0, 1, 2]
    assert (key_dir / "2").read_bytes() == staged  # the staged key became the primary
    assert (key_dir / "0").read_bytes() != staged  # and a new one is staged
    manage(config, "rotate-keys")
    # max_active_keys = 3: staged + primary + one secondary, so key 1 is gone.
    assert key_indexes(key_dir) == [0, 2, 3]


def test_a_broken_config_file_is_reported_by_manage(tmp_path):
    config = write_config(tmp_path, bogus_setting=1)
    result = manage(config, "init", check=False)
    assert result.returncode != 0
    assert "bogus_setting" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_generated_admin_password_is_printed_once_kept_0600_and_works(config, tmp_path, servers):
    first = manage(config, "setup", "--demo")  # IDENTITY_ADMIN_PASSWORD unset
    password_file = tmp_path / "admin-password"
    password = password_file.read_text().strip()
    assert len(password) >= 16
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert first.stdout.count(password) == 1
    second = manage(config, "setup", "--demo")
    assert password not in second.stdout + second.stderr  # printed once only
    assert password_file.read_text().strip() == password

    server = servers(config)
    admin = server.stub.Authenticate(password_request("admin", password, project_scope("admin")),
                                     timeout=CALL_TIMEOUT)
    assert "admin" in role_names(admin.token_info)
    with pytest.raises(grpc.RpcError) as refused:
        server.stub.Authenticate(password_request("admin", ADMIN_PASSWORD), timeout=CALL_TIMEOUT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.slow
def test_admin_password_from_the_environment_is_used_and_not_stored(config, tmp_path, servers):
    result = manage(config, "bootstrap", env=with_admin_password())
    assert ADMIN_PASSWORD not in result.stdout + result.stderr
    assert not (tmp_path / "admin-password").exists()
    server = servers(config)
    admin = server.stub.Authenticate(password_request("admin", ADMIN_PASSWORD),
                                     timeout=CALL_TIMEOUT)
    assert admin.token


@pytest.mark.slow
def test_setup_demo_twice_is_idempotent(config, tmp_path):
    manage(config, "setup", "--demo", env=with_admin_password())
    counts = row_counts(tmp_path / "identity.db")
    second = manage(config, "setup", "--demo", env=with_admin_password())
    assert second.stderr == ""
    assert row_counts(tmp_path / "identity.db") == counts
    assert counts["user"] == 4  # admin, alice, bob, nova
    with sqlite3.connect(tmp_path / "identity.db") as conn:
        names = sorted(n for (n,) in conn.execute('SELECT name FROM "user"'))
    assert names == ["admin", "alice", "bob", "nova"]


# ---- server.py -------------------------------------------------------------------------

@pytest.mark.slow
def test_server_health_reflection_authentication_log_and_sigterm(demo_config, servers):
    server = servers(demo_config)  # listens where IDENTITY_LISTEN says, not the file

    health = health_pb2_grpc.HealthStub(server.channel)
    for name in ("", SERVICE):
        answer = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=CALL_TIMEOUT)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING, name

    reflection = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    answers = list(reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=CALL_TIMEOUT))
    listed = {s.name for s in answers[0].list_services_response.service}
    assert SERVICE in listed and "grpc.health.v1.Health" in listed

    stub = server.stub
    alice = stub.Authenticate(password_request("alice", scope=project_scope("acme")),
                              timeout=CALL_TIMEOUT)
    assert role_names(alice.token_info) == {"compute-user"}
    projects = stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(alice.token),
                                 timeout=CALL_TIMEOUT).projects
    assert {p.name for p in projects} == {"acme", "cyberdyne"}
    with pytest.raises(grpc.RpcError) as refused:
        stub.Authenticate(password_request("alice", "not-her-password"), timeout=CALL_TIMEOUT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    assert server.terminate() == 0
    assert any("stopped" in line for line in server.stdout)

    stderr = server.stderr()
    records = log_records(stderr)
    assert [(r["rpc"], r["code"]) for r in records] == [  # health checks: DEBUG, not here
        (f"/{SERVICE}/Authenticate", "OK"),
        (f"/{SERVICE}/ListProjects", "OK"),
        (f"/{SERVICE}/Authenticate", "UNAUTHENTICATED"),
    ]
    assert records[0]["user_id"] == records[1]["user_id"] == alice.token_info.user.id
    assert records[2]["user_id"] == ""  # a refused login names nobody
    for secret in ("mypassword123", "not-her-password", ADMIN_PASSWORD, alice.token):
        assert secret not in stderr


@pytest.mark.slow
def test_tokens_survive_a_server_restart(demo_config, servers):
    first = servers(demo_config)
    alice = first.stub.Authenticate(password_request("alice", scope=project_scope("acme")),
                                    timeout=CALL_TIMEOUT)
    unscoped = first.stub.Authenticate(password_request("alice"), timeout=CALL_TIMEOUT)
    assert first.terminate() == 0

    # The same store and keys; the settings file named by IDENTITY_CONFIG this time.
    second = servers(demo_config, use_config_env=True)
    nova = second.stub.Authenticate(password_request("nova", scope=project_scope("service")),
                                    timeout=CALL_TIMEOUT)
    seen = second.stub.ValidateToken(pb.ValidateTokenRequest(subject_token=alice.token),
                                     metadata=auth_md(nova.token), timeout=CALL_TIMEOUT)
    assert seen.token_info.project.name == "acme"
    assert role_names(seen.token_info) == {"compute-user"}
    assert seen.token_info.expires_at == alice.token_info.expires_at
    projects = second.stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(unscoped.token),
                                        timeout=CALL_TIMEOUT).projects
    assert {p.name for p in projects} == {"acme", "cyberdyne"}


@pytest.mark.slow
def test_revocation_survives_a_server_restart(demo_config, servers):
    first = servers(demo_config)
    alice = first.stub.Authenticate(password_request("alice"), timeout=CALL_TIMEOUT)
    first.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=alice.token),
                           metadata=auth_md(alice.token), timeout=CALL_TIMEOUT)
    assert first.terminate() == 0
    second = servers(demo_config)
    with pytest.raises(grpc.RpcError) as refused:
        second.stub.ListProjects(pb.ListProjectsRequest(), metadata=auth_md(alice.token),
                                 timeout=CALL_TIMEOUT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("file_extra, env_extra, named", [
    ({"bogus_setting": 1}, {}, "bogus_setting"),
    ({}, {"IDENTITY_TOKEN_LIFETIME": "an hour"}, "token_lifetime"),
], ids=["unknown-key-in-file", "non-integer-env"])
def test_bad_settings_stop_the_server_with_one_line_naming_the_key(
        tmp_path, file_extra, env_extra, named):
    config = write_config(tmp_path, **file_extra)
    result = subprocess.run([PYTHON, str(SERVER), "--config", str(config)], cwd=tmp_path,
                            env=clean_env(**env_extra), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "gRPC on" not in result.stdout


# ---- the client examples ----------------------------------------------------------------------

def run_example(name: str, address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(EXAMPLES / name), "--address", address, *args],
                          env=clean_env(), capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_examples_run_against_a_server(demo_config, servers):
    server = servers(demo_config)

    default = run_example("default_sequence.py", server.address)
    assert default.returncode == 0, default.stderr
    out = default.stdout
    assert "Projects: acme, cyberdyne." in out
    assert "roles: compute-user." in out
    assert f"Compute endpoint: {COMPUTE_URL}" in out
    assert "Roles: compute-user" in out
    assert "allowed: alice holds compute-user on acme" in out

    shortcut = run_example("shortcut.py", server.address)
    assert shortcut.returncode == 0, shortcut.stderr
    assert "Roles: compute-user" in shortcut.stdout
    assert f"Compute endpoint: {COMPUTE_URL}" in shortcut.stdout

    refused = run_example("shortcut.py", server.address, "--password", "wrong")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: authenticate failed: UNAUTHENTICATED")
    assert len(refused.stderr.strip().splitlines()) == 1


def test_examples_fail_with_one_line_when_no_server_answers():
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    for name in ("default_sequence.py", "shortcut.py"):
        result = run_example(name, address)
        assert result.returncode == 1
        assert "UNAVAILABLE" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
