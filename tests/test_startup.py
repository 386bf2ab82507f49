"""Starting the real server (`server.py` in a subprocess) on a configuration that cannot
work: each mistake is one line on stderr, `identity service: ...`, naming the setting, the
file or the address, and exit status 2 (never a traceback), with one process or several.

These test operation, not the backend, so they use SQLite (and, for an unreachable
database, PostgreSQL URLs on loopback ports where nothing answers).
"""

import shutil
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from support import clean_env
from test_operations import PYTHON, SERVER, ServerProcess, manage, write_config

START_TIMEOUT = 60


@pytest.fixture(scope="module")
def initialised(tmp_path_factory) -> Path:
    """A store and a key directory made by `identity-manage init`, copied by each test."""
    directory = tmp_path_factory.mktemp("initialised")
    manage(write_config(directory), "init")
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
], ids=["log-level", "listen", "listen-ipv6-unbracketed", "http-port-range", "http-no-port",
        "database-scheme", "connect-timeout"])
def test_settings_that_cannot_work_are_refused_at_load(tmp_path, env, named):
    assert_refused(start(tmp_path, env), named)


def test_log_level_is_any_case(ready):
    server = ServerProcess(write_config(ready, log_level="debug")).start()
    try:
        assert server.terminate() == 0
        assert " DEBUG " in server.stderr()  # the level took effect
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
