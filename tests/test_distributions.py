"""Each distribution installs with `pip install` from the working tree into a fresh
virtualenv, with only what it declares, and works there: identity-api (whose build
generates the gRPC stubs), identity-client on it, and the service on it without the
client library. `pip install .` and `pip install ./clients` each work alone (the pin
of identity-api, on no index, is built as a reference to ./clients/api:
clients/api/pin_to_tree.py); the service installs none of its test tools, and serves
from its console script `identity-server` and as `python -m identity_grpc.serve`.

The tree is copied first as a clone would have it (the files git tracks or would
track: no generated stubs, no virtualenv), so the build cannot lean on `make stubs`."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 900
# What pip says when it cannot reach the package index (it retries, then gives up).
UNREACHABLE = re.compile(r"NewConnectionError|Failed to establish a new connection|"
                         r"Temporary failure in name resolution|Network is unreachable|"
                         r"ConnectTimeoutError|ProxyError")

CLIENT_SMOKE = """
import json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from identity_api.v1 import identity_pb2, identity_pb2_grpc
from identity_client.verifier import decode_token

vectors = json.load(open(sys.argv[1]))
key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vectors["key"]["private_seed"]))
vector = vectors["tokens"][1]
payload = decode_token(vector["token"], {bytes.fromhex(vectors["key"]["key_id"]): key.public_key()})
assert payload.user_id == vector["payload"]["user_id"], payload
assert payload.scope_id == vector["payload"]["scope_id"], payload
assert identity_pb2_grpc.IdentityStub and identity_pb2.ValidateTokenRequest
try:
    import identity_grpc
except ImportError:
    print("client ok")
"""

SERVER_SMOKE = """
import sys
import identity_grpc.serve
from identity_grpc.config import Settings
from identity_grpc.core import Core
from identity_grpc.store.models import DEFAULT_DOMAIN_ID
from identity_grpc.tokens.keys import KeyRepository

base = sys.argv[1]
settings = Settings(database_url=f"sqlite:///{base}/identity.db", key_dir=f"{base}/keys")
KeyRepository.initialize(settings.key_dir)
core = Core(settings)
try:
    user = core.users_and_groups.create_user("erin", DEFAULT_DOMAIN_ID, "erinpassword1")
    assert len(user.id) == 32, user
finally:
    core.close()
try:
    import identity_client
except ImportError:
    print("server ok")
"""


def clone_of_working_tree(dest: Path) -> Path:
    """The files a clone would hold, as they are now in the working tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    return path / "bin" / "python"


def pip_install(python: Path, *targets: Path) -> None:
    for target in targets:
        result = subprocess.run([str(python), "-m", "pip", "install", "-q", str(target)],
                                capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                                cwd=python.parent)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            if UNREACHABLE.search(output):
                pytest.skip(f"the package index is unreachable, so {target.name} cannot be "
                            f"installed: {UNREACHABLE.search(output).group(0)}")
            pytest.fail(f"pip install {target} failed:\n{output[-4000:]}")


def run(python: Path, script: str, *args: str, cwd: Path) -> str:
    """`script` in the virtualenv, from a folder holding no package (`-c` puts the
    current folder on the path)."""
    result = subprocess.run([str(python), "-c", script, *args], capture_output=True, text=True,
                            timeout=120, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return clone_of_working_tree(tmp_path_factory.mktemp("clone"))


def project(path: Path) -> dict:
    return tomllib.loads(path.read_text())["project"]


def test_the_service_and_the_client_pin_the_contract_to_its_exact_version():
    api = project(ROOT / "clients" / "api" / "pyproject.toml")
    pin = f"{api['name']}=={api['version']}"
    for pyproject in (ROOT / "pyproject.toml", ROOT / "clients" / "pyproject.toml"):
        assert pin in project(pyproject)["dependencies"], pyproject


@pytest.mark.slow
def test_the_clone_has_no_generated_stubs(tree):
    assert not list((tree / "clients" / "api").rglob("*_pb2*.py"))


@pytest.mark.slow
def test_identity_client_installs_alone_with_its_contract_and_checks_a_golden_token(tree, tmp_path):
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, tree / "clients")  # identity-api comes from clients/api
    out = run(python, CLIENT_SMOKE, str(tree / "tests" / "fixtures" / "tokens.json"),
              cwd=tmp_path)
    assert "client ok" in out  # and the service is not dragged in


# What only the tests and benchmarks need: never installed by the service itself.
TEST_ONLY = {"pytest", "pytest-xdist", "hypothesis", "keystoneauth1", "keystonemiddleware",
             "python-openstackclient", "yamllint", "identity-client", "cliff", "python-ldap",
             "py-spy"}


@pytest.fixture(scope="module")
def service_venv(tree, tmp_path_factory) -> Path:
    """A fresh virtualenv holding `pip install .` of the clone, and nothing before it."""
    python = fresh_venv(tmp_path_factory.mktemp("service") / "venv")
    pip_install(python, tree)
    return python


def installed(python: Path) -> dict[str, dict]:
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, check=True).stdout
    return {v["name"].lower(): v for v in json.loads(listed)}


@pytest.mark.slow
def test_the_service_installs_alone_from_a_clone_without_its_test_tools(service_venv, tmp_path):
    assert "server ok" in run(service_venv, SERVER_SMOKE, str(tmp_path), cwd=tmp_path)
    names = installed(service_venv)
    assert {"identity-api", "identity-service"} <= set(names)
    assert not TEST_ONLY & set(names), TEST_ONLY & set(names)


def wait_for_serving(process: subprocess.Popen, address: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            assert time.monotonic() < deadline, f"nothing SERVING on {address}"
            time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("command", [["identity-server"], ["-m", "identity_grpc.serve"]],
                         ids=["console-script", "python-m"])
def test_the_installed_service_serves(service_venv, tmp_path, command):
    from test_operations import free_port, write_config

    bin_dir = service_venv.parent
    config = write_config(tmp_path, listen=f"127.0.0.1:{free_port()}",
                          http_listen=f"127.0.0.1:{free_port()}")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "IDENTITY_ADMIN_PASSWORD": "installed-admin-1"}
    subprocess.run([str(bin_dir / "identity-manage"), "--config", str(config), "setup"],
                   cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    argv = ([str(bin_dir / command[0])] if command[0] == "identity-server"
            else [str(service_venv), *command])
    env.pop("IDENTITY_ADMIN_PASSWORD")
    server = subprocess.Popen([*argv, "--config", str(config)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        listen = tomllib.loads(config.read_text())["listen"]
        wait_for_serving(server, listen)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "identity service: stopped" in out
