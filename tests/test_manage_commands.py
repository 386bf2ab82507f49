"""The operator's commands as an operator runs them (`identity-manage` in a process of
its own over a real store): `db status` / `db upgrade [--check]`, what `import`
refuses, `doctor`, `show-config`, and `--help` on every subcommand.

The round trip of a dump on every backend is tests/test_export_import.py's.
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import store_env
from support import clean_env
from tls_certificates import CertificateAuthority

from identity_grpc import manage
from identity_grpc.effective_settings import is_secret
from identity_grpc.store import schema
from identity_grpc.store.db import make_database

PYTHON = sys.executable


def manage_run(settings, *args: str, stdin: str | None = None, **env: str):
    return subprocess.run([PYTHON, "-m", "identity_grpc.manage", *args],
                          env=clean_env(**{**store_env(settings), **env}), input=stdin,
                          capture_output=True, text=True, timeout=120)


def sqlite_path(settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def stored_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT version FROM schema_version").fetchone()[0]


# ---- db status / upgrade ------------------------------------------------------------

def test_db_status_of_no_store_creates_nothing(settings):
    status = manage_run(settings, "db", "status")
    assert status.returncode == 0, status.stderr
    assert "schema version: 0 (no store yet)" in status.stdout
    assert f"this release:   {schema.LATEST}" in status.stdout
    check = manage_run(settings, "db", "upgrade", "--check")
    assert check.returncode == 2 and f"would apply:    {schema.LATEST} upgrades" in check.stdout
    assert not sqlite_path(settings).exists()


def test_db_upgrade_check_names_what_is_pending_and_changes_nothing(settings):
    db = make_database(settings.database_url)
    schema.upgrade(db, target=schema.LATEST - 1)
    db.close()
    path = sqlite_path(settings)
    before = path.read_bytes()
    status = manage_run(settings, "db", "status")
    assert f"schema version: {schema.LATEST - 1}\n" in status.stdout
    assert f"pending:        1 upgrade\n  {schema.LATEST}  the API families" in status.stdout
    check = manage_run(settings, "db", "upgrade", "--check")
    assert check.returncode == 2, check.stdout + check.stderr
    assert f"would apply:    1 upgrade\n  {schema.LATEST}  " in check.stdout
    assert path.read_bytes() == before and stored_version(path) == schema.LATEST - 1

    upgraded = manage_run(settings, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (f"upgraded the store from schema version {schema.LATEST - 1} to {schema.LATEST}"
            in upgraded.stdout)
    assert stored_version(path) == schema.LATEST
    assert manage_run(settings, "db", "upgrade", "--check").returncode == 0
    again = manage_run(settings, "db", "upgrade")
    assert "nothing to apply" in again.stdout


def test_a_store_newer_than_the_release_is_reported_by_db_commands(settings):
    db = make_database(settings.database_url)
    schema.upgrade(db)
    db.execute_sql("UPDATE schema_version SET version = ?", (schema.LATEST + 1,))
    db.close()
    status = manage_run(settings, "db", "status")
    assert status.returncode == 1 and "newer than this release's" in status.stdout
    check = manage_run(settings, "db", "upgrade", "--check")
    assert check.returncode == 1 and "newer than this release's" in check.stderr
    assert "Traceback" not in check.stderr


# ---- import's refusals ----------------------------------------------------------------

@pytest.fixture
def dump(bootstrapped, tmp_path) -> Path:
    path = tmp_path / "dump.jsonl"
    done = manage_run(bootstrapped, "export", "-o", str(path))
    assert done.returncode == 0, done.stderr
    return path


def empty_target(settings, tmp_path):
    return settings.replace(database_url=f"sqlite:///{tmp_path}/target.db")


def assert_refused(target, text: str, *needles: str, empty: bool = True) -> None:
    refused = manage_run(target, "import", "-", stdin=text)
    assert refused.returncode == 1, refused.stdout
    for needle in needles:
        assert needle in refused.stderr
    assert "Traceback" not in refused.stderr
    path = sqlite_path(target)
    if empty and path.exists():  # whatever was refused, nothing was written
        with sqlite3.connect(path) as conn:
            assert conn.execute('SELECT count(*) FROM "user"').fetchone()[0] == 0
            assert conn.execute("SELECT id FROM domain").fetchall() == [("default",)]


def test_import_refuses_a_store_that_is_not_empty(bootstrapped, dump):
    assert_refused(bootstrapped, dump.read_text(), "the store is not empty", empty=False)


def test_import_refuses_a_newer_format_or_schema_and_an_older_schema(bootstrapped, dump, tmp_path):
    target = empty_target(bootstrapped, tmp_path)
    header, *rest = dump.read_text().splitlines(keepends=True)
    for change, needle in (({"format_version": 2}, "format version 2"),
                           ({"schema_version": schema.LATEST + 1}, "newer than this release's"),
                           ({"schema_version": schema.LATEST - 1}, "older than this release's"),
                           ({"format": "something-else"}, "not a dump")):
        changed = json.dumps({**json.loads(header), **change}) + "\n"
        assert_refused(target, changed + "".join(rest), needle)


def test_a_dump_cut_short_or_damaged_restores_nothing(bootstrapped, dump, tmp_path):
    target = empty_target(bootstrapped, tmp_path)
    lines = dump.read_text().splitlines(keepends=True)
    assert_refused(target, "".join(lines[:-1]), "cut short")
    assert_refused(target, "".join(lines[:-1]) + '{"end": true, "rows": {}}\n', "damaged")
    assert_refused(target, "".join(lines[:3]) + "not json\n", "line 4: not JSON")
    assert_refused(target, "", "the file is empty")
    ok = manage_run(target, "import", str(dump))
    assert ok.returncode == 0, ok.stderr  # and the refusals left it empty enough to take one


def test_export_to_stdout_is_the_dump_alone(bootstrapped, dump):
    out = manage_run(bootstrapped, "export")
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout.splitlines()[0])
    assert first["format"] == "identity-grpc-dump" and "exported" in out.stderr
    assert [json.loads(line) for line in out.stdout.splitlines()[1:]] == [
        json.loads(line) for line in dump.read_text().splitlines()[1:]]
    assert oct(dump.stat().st_mode & 0o777) == "0o600"


# ---- doctor ---------------------------------------------------------------------------

def lines_of(output: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        status, rest = line.split(None, 1)
        found.setdefault(rest[:17].strip(), []).append(f"{status} {rest[17:].strip()}")
    return found


@pytest.mark.every_backend
def test_doctor_passes_a_ready_host_and_says_what_it_did_not_check(bootstrapped):
    done = manage_run(bootstrapped, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    found = lines_of(done.stdout)
    assert found["settings"][0].startswith("ok loaded")
    assert found["store"] == [f"ok reachable, schema version {schema.LATEST} (current)"]
    assert [s.split()[0] for s in found["token keys"]] == ["ok"]
    assert found["clock"][0].startswith("ok ")
    assert found["tls files"] == ["ok TLS off; plaintext on loopback only"]
    assert found["demo passwords"][0].startswith("ok none of the demo's")


def test_doctor_checks_the_tls_files_and_the_demo_passwords(bootstrapped, tmp_path):
    ca = CertificateAuthority(tmp_path / "tls", "doctor")
    server, other = ca.issue("server"), ca.issue("other")
    done = manage_run(bootstrapped, "doctor", IDENTITY_TLS_CERT_FILE=str(server.cert),
                      IDENTITY_TLS_KEY_FILE=str(server.key))
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines_of(done.stdout)["tls files"] == [f"ok {server.cert} and its key match"]
    done = manage_run(bootstrapped, "doctor", IDENTITY_TLS_CERT_FILE=str(server.cert),
                      IDENTITY_TLS_KEY_FILE=str(other.key))
    assert done.returncode == 1
    assert lines_of(done.stdout)["tls files"][0].startswith("fail tls_key_file"), done.stdout
    soon = ca.issue("soon", days=10)
    done = manage_run(bootstrapped, "doctor", IDENTITY_TLS_CERT_FILE=str(soon.cert),
                      IDENTITY_TLS_KEY_FILE=str(soon.key))
    assert done.returncode == 0, done.stdout
    assert lines_of(done.stdout)["tls files"][0].startswith("warn "), done.stdout
    assert manage_run(bootstrapped, "demo").returncode == 0
    done = manage_run(bootstrapped, "doctor")
    assert done.returncode == 1
    demo = lines_of(done.stdout)["demo passwords"]
    assert demo[0].startswith("fail ") and "nova" in demo[0], demo


def test_doctor_fails_open_keys_and_missing_ones_and_warns_of_pending_upgrades(bootstrapped):
    key = Path(bootstrapped.key_dir) / "1"
    os.chmod(key, 0o644)
    os.remove(Path(bootstrapped.key_dir) / "0")
    db = make_database(bootstrapped.database_url)
    db.execute_sql("UPDATE schema_version SET version = ?", (schema.LATEST - 1,))
    db.close()
    done = manage_run(bootstrapped, "doctor", IDENTITY_CREDENTIAL_KEY_DIR="/nonexistent/ck")
    assert done.returncode == 1
    found = lines_of(done.stdout)
    assert any(s.startswith("fail no staged key (0)") for s in found["token keys"])
    assert any(s.startswith(f"fail {key} is open to others (mode 0644)")
               for s in found["token keys"])
    assert found["store"][0].startswith(f"warn schema version {schema.LATEST - 1}")
    assert found["credential keys"][0].startswith("fail ")


def test_doctor_reports_settings_that_do_not_load_and_checks_nothing_else(settings):
    done = manage_run(settings, "doctor", IDENTITY_LOG_LEVEL="loud")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    found = lines_of(done.stdout)
    assert found["settings"][0].startswith("fail setting 'log_level'")
    assert all(v[0].startswith("skip not checked") for k, v in found.items() if k != "settings")


# ---- show-config ----------------------------------------------------------------------

def test_show_config_says_where_each_value_came_from_and_masks_secrets(settings, tmp_path):
    config = tmp_path / "identity.toml"
    config.write_text('database_url = "postgresql://identity:db-secret@db.example/identity"\n'
                      'token_lifetime = 600\n')
    env = clean_env(IDENTITY_KEY_DIR="/etc/identity/keys", IDENTITY_TOKEN_LIFETIME="900")
    done = subprocess.run([PYTHON, "-m", "identity_grpc.manage", "--config", str(config),
                           "show-config", "--json"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "db-secret" not in done.stdout
    shown = json.loads(done.stdout)
    assert shown["database_url"] == {"value": "postgresql://identity:***@db.example/identity",
                                     "source": f"file {config}"}
    assert shown["token_lifetime"] == {"value": 900, "source": "env IDENTITY_TOKEN_LIFETIME"}
    assert shown["key_dir"] == {"value": "/etc/identity/keys", "source": "env IDENTITY_KEY_DIR"}
    assert shown["list_limit"] == {"value": 5000, "source": "default"}
    toml = subprocess.run([PYTHON, "-m", "identity_grpc.manage", "--config", str(config),
                           "show-config"], env=env, capture_output=True, text=True, timeout=60)
    assert 'token_lifetime = 900' in toml.stdout and "# env IDENTITY_TOKEN_LIFETIME" in toml.stdout
    assert "db-secret" not in toml.stdout


def test_secrets_are_told_from_paths_and_rules_by_name():
    assert is_secret("ldap_bind_password", "x") and is_secret("tls_key_passphrase", "x")
    assert is_secret("oauth_client_secret", "x")
    assert not is_secret("key_dir", "var/keys") and not is_secret("tls_key_file", "k.pem")
    assert not is_secret("admin_password_file", "var/admin-password")
    assert not is_secret("password_regex", "^.{8,}$") and not is_secret("max_active_keys", 3)


# ---- --help ---------------------------------------------------------------------------

def command_paths(parser: argparse.ArgumentParser, prefix=()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {a.dest for a in action._choices_actions if a.help}
            for name, sub in action.choices.items():
                assert name in helped, f"`identity-manage {' '.join(prefix)} {name}` has no help"
                paths += command_paths(sub, (*prefix, name))
    return paths


def test_every_subcommand_has_help(settings):
    paths = command_paths(manage.build_parser())
    assert {("db", "status"), ("db", "upgrade"), ("export",), ("import",), ("doctor",),
            ("show-config",), ("rotate-keys",)} <= set(paths)
    for path in paths:
        done = manage_run(settings, *path, "--help")
        assert done.returncode == 0 and done.stdout.startswith("usage: identity-manage"), path
        assert len(done.stdout.splitlines()) > 2, path
