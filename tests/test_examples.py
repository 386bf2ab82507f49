"""The demo compute service and the three classic flows, run as an operator would:
`server.py` (gRPC + HTTP gateway) over a `setup --demo` SQLite store, then
`clients/examples/compute_service.py`, then the flow scripts, all as subprocesses."""

import json
import queue
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from identity_client.session import Session

from support import clean_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
EXAMPLES = ROOT / "clients" / "examples"
ADMIN_PASSWORD = "operator-chosen-secret-1"
DEMO_COMPUTE_URL = "http://127.0.0.1:8774/v2.1"
START_TIMEOUT = 30.0
RUN_TIMEOUT = 60.0

PREPARE = """
import sys
from identity_grpc.config import load_settings
from identity_grpc.core import Core

settings = load_settings(sys.argv[1])
core = Core(settings)
Domain, Endpoint = core.store.tables.Domain, core.store.tables.Endpoint
try:
    for endpoint in Endpoint.select().where(Endpoint.url == sys.argv[2]):
        core.catalog.update_endpoint(endpoint.id, url=sys.argv[3])
    foo = Domain.get(Domain.name == "Foo")
    user = core.users_and_groups.create_user("fooadmin", foo.id, "fooadmin-password")
    core.assignments.grant(core.assignments.find_role("admin").id, target_type="domain",
                           target_id=foo.id, user_id=user.id)
finally:
    core.close()
print("prepared")
"""


def free_port() -> int:
    """A free port below the kernel's ephemeral range (32768 up), which the processes
    started here bind only later: a port bind(0) gives back is the kernel's to hand to
    the next outgoing connection (a database's, a client's), and one was, in a CI run."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


class Process:
    """A subprocess whose stdout lines are read by a thread, so readiness is a line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, name: str):
        self.name = name
        self.stderr_path = cwd / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.proc.stdout:
                self.lines.append(line)
                self._queue.put(line)
        finally:
            self._queue.put(None)

    def wait_for(self, text: str, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"{self.name} exited before {text!r}: {self.stderr()}")
            if text in line:
                return line
        pytest.fail(f"no {text!r} from {self.name} within {timeout}s: {self.stderr()}")

    def logged(self, text: str, timeout: float = 10.0) -> bool:
        """Whether `text` is in what the process printed, waiting up to `timeout`
        seconds for it: a server may print a call's line after answering it, and the
        reader thread may not have read it yet."""
        deadline = time.monotonic() + timeout
        while text not in "".join(self.lines):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._stderr.close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """The identity service and the demo compute service, on free ports."""
    tmp = tmp_path_factory.mktemp("examples")
    grpc_address = f"127.0.0.1:{free_port()}"
    http_address = f"127.0.0.1:{free_port()}"
    compute_http = f"127.0.0.1:{free_port()}"
    compute_grpc = f"127.0.0.1:{free_port()}"
    compute_url = f"http://{compute_http}/v2.1"
    values = {
        "database_url": f"sqlite:////{(tmp / 'identity.db').as_posix().lstrip('/')}",
        "key_dir": str(tmp / "keys"),
        "admin_password_file": str(tmp / "admin-password"),
        "listen": grpc_address,
        "http_listen": http_address,
        "poll_interval": 0.05,
    }
    config = tmp / "identity.toml"
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    env = clean_env(IDENTITY_ADMIN_PASSWORD=ADMIN_PASSWORD, IDENTITY_LISTEN=grpc_address,
                    IDENTITY_HTTP_LISTEN=http_address)
    for args in (["-m", "identity_grpc.manage", "--config", str(config), "setup", "--demo"],
                 ["-c", PREPARE, str(config), DEMO_COMPUTE_URL, compute_url]):
        result = subprocess.run([PYTHON, *args], cwd=tmp, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    started = []
    try:
        server = Process([PYTHON, str(ROOT / "server.py"), "--config", str(config)],
                         env, tmp, "server")
        started.append(server)
        server.wait_for("gRPC on")
        server.wait_for("HTTP on")
        compute = Process([PYTHON, str(EXAMPLES / "compute_service.py"),
                           "--http", compute_http, "--grpc", compute_grpc,
                           "--identity", grpc_address, "--auth-url", f"http://{http_address}"],
                          clean_env(), tmp, "compute")
        started.append(compute)
        ready = compute.wait_for("compute service:")
        assert "HTTP on" in ready and compute_url in ready, ready
        yield {"grpc": grpc_address, "http": http_address, "compute_url": compute_url,
               "compute_grpc": compute_grpc, "compute": compute, "tmp": tmp}
    finally:
        for process in reversed(started):
            process.stop()


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([PYTHON, str(EXAMPLES / name), *args], env=clean_env(),
                            capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}{result.stderr}"
    return result


def http(method: str, url: str, token: str | None = None, body: dict | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def token_for(cloud, username: str, password: str, **scope) -> str:
    with Session(cloud["grpc"], username=username, password=password, **scope) as session:
        return session.token


def names(servers: list[dict]) -> set[str]:
    return {s["name"] for s in servers}


# ---- the three flows ------------------------------------------------------------------------

def test_default_sequence_calls_the_compute_service(cloud):
    out = run_example("default_sequence.py", "--address", cloud["grpc"], "--call-compute").stdout
    assert "Projects: " in out and "acme" in out
    assert f"Compute endpoint: {cloud['compute_url']}" in out
    assert f"GET {cloud['compute_url']}/servers" in out
    assert "200 OK" in out
    assert "acme-web-1" in out and "acme-db-1" in out
    assert "bar-app-1" not in out
    assert cloud["compute"].logged("compute: HTTP GET /v2.1/servers by alice (project acme) -> 200")


def test_default_sequence_without_the_flag_keeps_validating(cloud):
    out = run_example("default_sequence.py", "--address", cloud["grpc"]).stdout
    assert "allowed: alice holds compute-user on acme" in out
    assert "Calling the compute service" not in out


def test_shortcut(cloud):
    out = run_example("shortcut.py", "--address", cloud["grpc"]).stdout
    assert "Got a token scoped to project acme" in out
    assert f"Compute endpoint: {cloud['compute_url']}" in out


def test_discovery_follows_the_401_to_the_identity_service(cloud):
    out = run_example("discovery.py", "--compute-url", cloud["compute_url"]).stdout
    assert "401 Unauthorized" in out
    assert f'Keystone uri="http://{cloud["http"]}"' in out
    assert f"POST http://{cloud['http']}/v3/auth/tokens" in out
    assert "201 Created" in out and "compute-user" in out
    assert "acme-web-1" in out and "baz-worker-1" not in out


def test_discovery_with_a_wrong_password_fails_in_one_line(cloud):
    result = subprocess.run([PYTHON, str(EXAMPLES / "discovery.py"), "--compute-url",
                             cloud["compute_url"], "--password", "wrong-password"],
                            env=clean_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 1
    assert result.stderr.startswith("error: authentication failed: 401")
    assert "Traceback" not in result.stderr


# ---- the compute service itself -------------------------------------------------------------

def test_a_domain_admin_of_foo_sees_every_project_of_foo_and_nothing_else(cloud):
    token = token_for(cloud, "fooadmin", "fooadmin-password", user_domain_name="Foo",
                      domain_name="Foo")
    status, _, body = http("GET", cloud["compute_url"] + "/servers", token)
    assert status == 200, body
    assert names(body["servers"]) == {"bar-app-1", "bar-app-2", "baz-worker-1"}
    assert {s["project_name"] for s in body["servers"]} == {"bar", "baz"}
    assert not any(n.startswith("acme") for n in names(body["servers"]))
    # A domain scope creates nothing: servers live in projects.
    status, _, _ = http("POST", cloud["compute_url"] + "/servers", token,
                        {"server": {"name": "nowhere"}})
    assert status == 400


def test_create_is_allowed_by_the_policy_file(cloud):
    url = cloud["compute_url"] + "/servers"
    alice = token_for(cloud, "alice", "mypassword123", project_name="acme")
    status, _, body = http("POST", url, alice, {"server": {"name": "acme-new"}})
    assert status == 202 and body["server"]["name"] == "acme-new"
    assert "acme-new" in names(http("GET", url, alice)[2]["servers"])
    # bob is a member of acme (through a group): may list, may not create.
    bob = token_for(cloud, "bob", "bobpassword123", project_name="acme")
    status, _, body = http("GET", url, bob)
    assert status == 200 and "acme-new" in names(body["servers"])
    status, _, body = http("POST", url, bob, {"server": {"name": "bobs"}})
    assert status == 403 and "compute:create" in body["error"]["message"]
    # No token: 401, pointing at the identity service.
    status, headers, _ = http("GET", url)
    assert status == 401
    assert headers["WWW-Authenticate"] == f'Keystone uri="http://{cloud["http"]}"'


def test_the_grpc_side(cloud):
    channel = grpc.insecure_channel(cloud["compute_grpc"])
    try:
        def method(name):
            return channel.unary_unary(f"/demo.compute.v1.Compute/{name}",
                                       request_serializer=lambda o: json.dumps(o).encode(),
                                       response_deserializer=json.loads)

        with pytest.raises(grpc.RpcError) as refused:
            method("ListServers")({}, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        trailers = dict(refused.value.trailing_metadata() or ())
        assert trailers.get("www-authenticate") == f'Keystone uri="http://{cloud["http"]}"'

        foo = token_for(cloud, "fooadmin", "fooadmin-password", user_domain_name="Foo",
                        domain_name="Foo")
        listed = method("ListServers")({}, metadata=(("x-auth-token", foo),), timeout=10)
        assert {"bar-app-1", "bar-app-2", "baz-worker-1"} <= names(listed["servers"])
        assert {s["project_name"] for s in listed["servers"]} == {"bar", "baz"}

        alice = token_for(cloud, "alice", "mypassword123", project_name="acme")
        created = method("CreateServer")({"name": "acme-grpc"},
                                         metadata=(("x-auth-token", alice),), timeout=10)
        assert created["server"]["project_name"] == "acme"
        listed = method("ListServers")({}, metadata=(("x-auth-token", alice),), timeout=10)
        assert "acme-grpc" in names(listed["servers"])
        assert {s["project_name"] for s in listed["servers"]} == {"acme"}
    finally:
        channel.close()
    compute = cloud["compute"]
    assert compute.logged("compute: gRPC ListServers by - -> UNAUTHENTICATED")
    assert compute.logged("compute: gRPC CreateServer by alice (project acme) -> OK (created acme-grpc)")
