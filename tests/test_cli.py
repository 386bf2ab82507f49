"""The `identity` command-line client, run as a subprocess the way an operator runs
it, against `server.py` in a process of its own over a SQLite store set up with
`identity-manage setup --demo`. Credentials come from OS_* variables, as from an
openrc file.

These test the client, not the backend, so they use SQLite only. One server serves
the whole module; every test names what it creates uniquely and removes it.
"""

import csv
import io
import json
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from support import clean_env

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ADMIN_PASSWORD = "cli-admin-secret-1"
RUN_TIMEOUT = 60




@dataclass
class Served:
    grpc: str  # host:port
    http: str  # http://host:port


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server on free ports over a demo store: where it serves gRPC and HTTP."""
    directory = tmp_path_factory.mktemp("cli")
    settings = {
        "database_url": f"sqlite:////{(directory / 'identity.db').as_posix().lstrip('/')}",
        "key_dir": str(directory / "keys"),
        "admin_password_file": str(directory / "admin-password"),
        "listen": "127.0.0.1:0",
        "http_listen": "127.0.0.1:0",
        "poll_interval": 0.05,
        "argon2_time_cost": 1,  # cheap hashes: every CLI call authenticates
        "argon2_memory_kib": 8,
    }
    config = directory / "identity.toml"
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    setup = subprocess.run(
        [PYTHON, "-m", "identity_grpc.manage", "--config", str(config), "setup", "--demo"],
        cwd=directory, env=clean_env(IDENTITY_ADMIN_PASSWORD=ADMIN_PASSWORD),
        capture_output=True, text=True, timeout=120)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    stderr_path = directory / "server.stderr"
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen([PYTHON, str(ROOT / "server.py"), "--config", str(config)],
                                cwd=directory, env=clean_env(PYTHONUNBUFFERED="1"),
                                stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        line = proc.stdout.readline()  # blocks until it serves (or dies)
        if "gRPC on" not in line:
            proc.kill()
            proc.wait()
            pytest.fail(f"server did not start: {line!r}; stderr: {stderr_path.read_text()!r}")
        http = proc.stdout.readline()
        yield Served(line.rsplit(" ", 1)[1].strip(), f"http://{http.rsplit(' ', 1)[1].strip()}")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()


@pytest.fixture(scope="module")
def address(served) -> str:
    return served.grpc


class Cli:
    """`python -m identity_client.cli` with a fixed set of OS_* variables."""

    def __init__(self, **os_vars: str):
        self.os_vars = os_vars

    def as_(self, **os_vars: str) -> "Cli":
        return Cli(**{**self.os_vars, **os_vars})

    def run(self, *args: str, expect: int | None = 0, cwd=None) -> subprocess.CompletedProcess:
        result = subprocess.run([PYTHON, "-m", "identity_client.cli", *args],
                                env=clean_env(**self.os_vars), capture_output=True, text=True,
                                timeout=RUN_TIMEOUT, cwd=cwd)
        if expect is not None:
            assert result.returncode == expect, (
                f"identity {' '.join(args)} exited {result.returncode}, not {expect}:\n"
                f"{result.stdout}{result.stderr}")
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def json(self, *args: str):
        return json.loads(self.run(*args, "-f", "json").stdout)

    def fails(self, *args: str, code: int = 1) -> str:
        """Run a command that must fail; its single line of stderr."""
        result = self.run(*args, expect=code)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("identity: error: "), lines[0]
        return lines[0]


@pytest.fixture
def admin(address) -> Cli:
    return Cli(OS_AUTH_URL=address, OS_USERNAME="admin", OS_PASSWORD=ADMIN_PASSWORD,
               OS_USER_DOMAIN_NAME="Default", OS_SYSTEM_SCOPE="all")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"




# ---- a full session ------------------------------------------------------------------

@pytest.mark.slow
def test_a_full_session_create_grant_log_in_list_and_clean_up(admin, address):
    name, project_name, password = unique("carol"), unique("proj"), "carol-pass-123"

    user = admin.json("user", "create", name, "--password", password,
                      "--email", f"{name}@example.com", "--description", "a test user")
    assert (user["name"], user["email"], user["enabled"], user["domain_id"]) == (
        name, f"{name}@example.com", True, "default")
    project = admin.json("project", "create", project_name, "--domain", "Default",
                         "--description", "a test project")
    assert (project["name"], project["domain_id"], project["enabled"]) == (
        project_name, "default", True)
    assert admin.run("role", "add", "member", "--user", name, "--project", project_name).stdout == ""
    assert admin.json("user", "show", user["id"])["name"] == name  # by id as well as by name

    # The new user logs in with an openrc of its own (an http:// URL, as openrc files have).
    carol = Cli(OS_AUTH_URL=f"http://{address}/v3", OS_USERNAME=name, OS_PASSWORD=password,
                OS_USER_DOMAIN_NAME="Default", OS_PROJECT_NAME=project_name,
                OS_PROJECT_DOMAIN_NAME="Default")
    token = carol.json("token", "issue")
    assert set(token) == {"expires", "id", "project_id", "user_id"}
    assert (token["project_id"], token["user_id"]) == (project["id"], user["id"])
    table = carol.run("token", "issue").stdout
    assert "| Field" in table and f"| project_id | {project['id']}" in table

    assignments = admin.json("role", "assignment", "list", "--user", name, "--effective", "--names")
    granted = {(a["Role"], a["User"], a["Project"]) for a in assignments}
    assert ("member", f"{name}@Default", f"{project_name}@Default") in granted
    assert ("reader", f"{name}@Default", f"{project_name}@Default") in granted  # implied
    assert all(a["User"] == f"{name}@Default" for a in assignments)

    # Revoked, the token is refused when used as --os-token.
    admin.run("token", "revoke", token["id"])
    refused = Cli(OS_AUTH_URL=address, OS_TOKEN=token["id"]).fails("catalog", "list")
    assert "UNAUTHENTICATED" in refused

    admin.run("role", "remove", "member", "--user", name, "--project", project_name)
    assert admin.json("role", "assignment", "list", "--user", name) == []
    admin.run("user", "delete", name)
    admin.run("project", "delete", project_name)
    assert "NOT_FOUND" in admin.fails("user", "show", name)
    assert "NOT_FOUND" in admin.fails("project", "show", project["id"])
    assert name not in {u["Name"] for u in admin.json("user", "list")}
    assert project_name not in {p["Name"] for p in admin.json("project", "list")}


@pytest.mark.slow
def test_the_classic_keystone_forms(admin):
    tenant_name, user_name, role_name = unique("acme"), unique("dave"), unique("compute-user")

    tenant = admin.json("tenant-create", "--name", tenant_name, "--description", "classic")
    user = admin.json("user-create", "--name", user_name, "--pass", "dave-pass-123",
                      "--email", f"{user_name}@example.com")
    role = admin.json("role-create", "--name", role_name)
    assert (tenant["name"], user["name"], role["name"]) == (tenant_name, user_name, role_name)
    assert "| Property" in admin.run("user-get", user["id"]).stdout

    admin.run("user-role-add", "--user", user["id"], "--role", role["id"],
              "--tenant-id", tenant["id"])
    # `--project_id`, `--tenant_id` and names work alike; granting twice is harmless or refused
    # cleanly, never a traceback.
    again = admin.run("user-role-add", "--user-id", user_name, "--role_id", role_name,
                      "--project_id", tenant_name, expect=None)
    assert again.returncode in (0, 1) and len(again.stderr.strip().splitlines()) <= 1

    assert user_name in {u["name"] for u in admin.json("user-list")}
    assert tenant_name in {t["name"] for t in admin.json("tenant-list")}
    assert role_name in {r["name"] for r in admin.json("role-list")}
    listed = admin.run("user-list").stdout
    assert "| id " in listed and user_name in listed
    assert {r["name"] for r in admin.json("user-role-list", "--user", user_name,
                                          "--tenant_id", tenant_name)} == {role_name}

    # The legacy OS_TENANT_NAME scopes a token to the tenant.
    dave = Cli(OS_AUTH_URL=admin.os_vars["OS_AUTH_URL"], OS_USERNAME=user_name,
               OS_PASSWORD="dave-pass-123", OS_TENANT_NAME=tenant_name)
    assert dave.json("token", "issue")["project_id"] == tenant["id"]

    admin.run("user-role-remove", "--user", user_name, "--role", role_name, "--tenant", tenant_name)
    assert admin.json("user-role-list", "--user", user_name, "--tenant", tenant_name) == []
    admin.run("user-delete", user_name)
    admin.run("tenant-delete", tenant_name)
    admin.run("role-delete", role_name)
    assert user_name not in admin.run("user-list").stdout
    assert tenant_name not in admin.run("tenant-list").stdout
    assert role_name not in admin.run("role-list").stdout


# ---- output ------------------------------------------------------------------------

def test_json_output_parses_and_tables_align(admin):
    users = admin.json("user", "list")
    assert isinstance(users, list) and all(set(u) == {"ID", "Name"} for u in users)
    assert {"admin", "alice", "bob", "nova"} <= {u["Name"] for u in users}
    alice = admin.json("user", "show", "alice")
    assert isinstance(alice, dict) and alice["email"] == "alice@example.com"
    assert {d["Name"] for d in admin.json("domain", "list")} >= {"Default", "Foo"}
    assert {"admin", "member", "reader"} <= {r["Name"] for r in admin.json("role", "list")}
    assert admin.run("user", "show", "alice", "-f", "value", "-c", "email").stdout.strip() == \
        "alice@example.com"

    table = admin.run("project", "list").stdout.splitlines()
    assert table[0].startswith("+-") and table[1].startswith("| ID")
    assert len({len(line) for line in table}) == 1  # every line as wide as the others

    catalog = admin.json("catalog", "list")
    compute = next(s for s in catalog if s["Type"] == "compute")
    assert {e["url"] for e in compute["Endpoints"]} == {"http://127.0.0.1:8774/v2.1"}


def test_names_in_two_domains_are_ambiguous_until_the_domain_is_given(admin):
    domain, name = unique("dom"), unique("erin")
    admin.run("domain", "create", domain)
    admin.run("user", "create", name, "--password", "erin-pass-123")
    admin.run("user", "create", name, "--domain", domain, "--password", "erin-pass-123")
    try:
        assert f"2 users are named '{name}'" in admin.fails("user", "show", name)
        assert admin.json("user", "show", name, "--domain", domain)["name"] == name
        assert admin.json("user", "show", name, "--domain", "Default")["domain_id"] == "default"
    finally:
        admin.run("user", "delete", name, "--domain", domain)
        admin.run("user", "delete", name, "--domain", "default")
        admin.run("domain", "set", domain, "--disable")
        admin.run("domain", "delete", domain)


# ---- errors --------------------------------------------------------------------------

def test_a_wrong_password_is_one_line_and_exit_status_1(admin):
    line = admin.as_(OS_PASSWORD="not-the-password").fails("user", "list")
    assert line.startswith("identity: error: UNAUTHENTICATED: ")
    assert "not-the-password" not in line


def test_usage_errors_are_one_line_and_exit_status_2(admin):
    assert "unknown command 'frobnicate'" in admin.fails("frobnicate", code=2)
    assert "did you mean 'user list'" in admin.fails("user", "lst", code=2)
    assert "NAME" in admin.fails("user", "create", code=2)
    admin.fails("role", "add", "member", "--user", "alice", code=2)  # no target
    admin.fails("user", "list", "--no-such-option", code=2)
    admin.fails("user", "list", "--os-system-scope", "all", "--os-project-name", "admin", code=2)


def test_no_server_is_one_line_and_exit_status_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    cli = Cli(OS_AUTH_URL=f"127.0.0.1:{port}", OS_USERNAME="admin", OS_PASSWORD="x")
    assert "UNAVAILABLE" in cli.fails("user", "list")


def test_help_and_the_console_script():
    result = Cli().run("--help")
    assert "user create" in result.stdout and "user-create" in result.stdout
    assert "--os-auth-url" in Cli().run("help", "role", "add").stdout + result.stdout
    script = Path(PYTHON).parent / "identity"
    if not script.exists():
        pytest.skip(f"no console script at {script}: run `pip install -e ./clients`")
    run = subprocess.run([str(script), "help", "token", "issue"], env=clean_env(),
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 0 and "token issue" in run.stdout


# ---- the catalog and API keys -------------------------------------------------------------

@pytest.mark.slow
def test_regions_services_and_endpoints(admin):
    region, kind, name = unique("Region"), unique("type"), unique("svc")
    url = f"http://{name}.example.com:9999/v1"

    assert admin.json("region", "create", region, "--description", "test")["region"] == region
    service = admin.json("service", "create", kind, "--name", name)
    assert (service["type"], service["name"], service["enabled"]) == (kind, name, True)
    endpoint = admin.json("endpoint", "create", name, "public", url, "--region", region)
    assert (endpoint["service_id"], endpoint["interface"], endpoint["url"],
            endpoint["region"]) == (service["id"], "public", url, region)
    listed = admin.json("endpoint", "list", "--service", name)
    assert [(e["ID"], e["Service Name"], e["Service Type"]) for e in listed] == [
        (endpoint["id"], name, kind)]
    assert admin.json("service", "show", name)["id"] == service["id"]
    assert region in {r["Region"] for r in admin.json("region", "list")}
    assert kind in {s["Type"] for s in admin.json("catalog", "list")}

    admin.run("endpoint", "delete", endpoint["id"])
    admin.run("service", "delete", name)
    admin.run("region", "delete", region)
    assert name not in {s["Name"] for s in admin.json("service", "list")}
    assert region not in {r["Region"] for r in admin.json("region", "list")}


@pytest.mark.slow
def test_api_keys(admin):
    created = admin.json("api", "key", "create", unique("key"), "--project", "admin",
                         "--role", "reader", "--expires", "2099-01-01T00:00:00Z")
    assert created["secret"] and created["expires_at"].startswith("2099-01-01")
    assert created["project_id"] == admin.json("project", "show", "admin")["id"]
    assert created["id"] in {k["ID"] for k in admin.json("api", "key", "list")}
    # The secret logs in in place of a password, scoped as the key says.
    keyed = Cli(OS_AUTH_URL=admin.os_vars["OS_AUTH_URL"], OS_API_KEY=created["secret"])
    token = keyed.json("token", "issue")
    assert (token["project_id"], token["user_id"]) == (created["project_id"], created["user_id"])
    admin.run("api", "key", "delete", created["id"])
    assert "UNAUTHENTICATED" in keyed.fails("token", "issue")
    assert created["id"] not in {k["ID"] for k in admin.json("api", "key", "list")}


@pytest.mark.slow
def test_another_users_api_key_needs_on_behalf(admin):
    """Creating a key for someone else is an explicit act (--on-behalf), audited."""
    refusal = admin.fails("api", "key", "create", unique("key"), "--project", "acme",
                          "--user", "alice", "--user-domain", "Default")
    assert "INVALID_ARGUMENT" in refusal and "on_behalf" in refusal
    assert admin.json("api", "key", "list", "--user", "alice") == []
    created = admin.json("api", "key", "create", unique("key"), "--project", "acme",
                         "--user", "alice", "--user-domain", "Default", "--on-behalf")
    assert created["user_id"] == admin.json("user", "show", "alice")["id"]
    admin.run("api", "key", "delete", created["id"])


# ---- openstackclient's output: formats, columns, sorting, version, completion -------------

def test_every_output_format_says_the_same(admin):
    rows = admin.json("user", "list", "--long")
    alice = next(r for r in rows if r["Name"] == "alice")
    assert (alice["Email"], alice["Domain ID"], alice["Enabled"]) == (
        "alice@example.com", "default", True)
    assert yaml.safe_load(admin.run("user", "list", "--long", "-f", "yaml").stdout) == rows
    as_csv = csv.DictReader(io.StringIO(admin.run("user", "list", "-f", "csv").stdout))
    assert [(r["ID"], r["Name"]) for r in as_csv] == [(r["ID"], r["Name"]) for r in rows]
    assert admin.run("user", "list", "-f", "value").stdout.splitlines() == [
        f"{r['ID']} {r['Name']}" for r in rows]

    shown = admin.json("user", "show", "alice")
    assert list(shown) == sorted(shown)  # fields by name, as openstackclient prints them
    assert yaml.safe_load(admin.run("user", "show", "alice", "-f", "yaml").stdout) == shown
    assert admin.run("user", "show", "alice", "-f", "shell", "-c", "email").stdout == \
        'email="alice@example.com"\n'


def test_columns_and_sorting(admin):
    names = admin.run("user", "list", "-c", "Name", "-f", "value",
                      "--sort-column", "Name").stdout.split()
    assert names == sorted(names) and {"admin", "alice", "bob", "nova"} <= set(names)
    assert admin.run("user", "list", "-c", "Name", "-f", "value", "--sort-column", "Name",
                     "--sort-descending").stdout.split() == sorted(names, reverse=True)
    assert all(set(row) == {"Name"} for row in admin.json("user", "list", "-c", "name"))
    assert admin.json("user", "show", "alice", "-c", "email", "-c", "name") == {
        "email": "alice@example.com", "name": "alice"}
    assert "No recognized column" in admin.fails("user", "list", "-c", "nope", code=2)


def test_version_and_shell_completion():
    assert Cli().run("--version").stdout.strip() == \
        f"identity {metadata.version('identity-client')}"
    script = Cli().run("complete").stdout
    assert "_identity()" in script and "cmds_user='" in script and "user-create" in script
    assert "user" in Cli().run("complete", "--shell", "none").stdout


# ---- the classic forms, word for word ---------------------------------------------------

def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


@pytest.mark.slow
def test_the_seeds_keystone_session_word_for_word(admin):
    name, tenant_name, role_name = unique("alice"), unique("acme"), unique("compute-user")
    user = admin.json("user-create", f"--name={name}", "--pass=mypassword123",
                      f"--email={name}@example.com")
    tenant = admin.json("tenant-create", f"--name={tenant_name}")
    role = admin.json("role-create", f"--name={role_name}")
    try:
        users = admin.run("user-list").stdout.splitlines()
        assert cells(users[1]) == ["id", "enabled", "email", "name"]
        assert [user["id"], "True", f"{name}@example.com", name] in [cells(u) for u in users]
        tenants = admin.run("tenant-list").stdout.splitlines()
        assert cells(tenants[1]) == ["id", "name", "enabled"]
        assert [tenant["id"], tenant_name, "True"] in [cells(t) for t in tenants]
        roles = admin.run("role-list").stdout.splitlines()
        assert cells(roles[1]) == ["id", "name"] and [role["id"], role_name] in [
            cells(r) for r in roles]
        assert admin.run("user-role-add", f"--user={user['id']}", f"--role={role['id']}",
                         f"--tenant-id={tenant['id']}").stdout == ""
        assert [r["name"] for r in admin.json("user-role-list", f"--user={name}",
                                              f"--tenant-id={tenant_name}")] == [role_name]
    finally:
        admin.run("user-delete", user["id"])
        admin.run("tenant-delete", tenant["id"])
        admin.run("role-delete", role["id"])


# ---- who may look names up, and where the settings come from -------------------------------

ALICE = dict(OS_USERNAME="alice", OS_PASSWORD="mypassword123", OS_USER_DOMAIN_NAME="Default",
             OS_PROJECT_NAME="acme", OS_PROJECT_DOMAIN_NAME="Default")


@pytest.mark.slow
def test_names_resolve_for_a_user_who_may_not_list_them(admin, address):
    alice = Cli(OS_AUTH_URL=address, **ALICE)
    assert "PERMISSION_DENIED" in alice.fails("user", "list")  # no admin list for her
    me = alice.json("user", "show", "alice")
    assert (me["name"], me["email"]) == ("alice", "alice@example.com")
    key = alice.json("api", "key", "create", unique("key"), "--project", "cyberdyne",
                     "--role", "reader")
    try:
        assert key["user_id"] == me["id"]
        assert key["project_id"] == admin.json("project", "show", "cyberdyne")["id"]
        assert key["roles"] == [admin.json("role", "show", "reader")["id"]]
    finally:
        alice.run("api", "key", "delete", key["id"])


def test_the_http_auth_url_openstackclient_uses_leads_to_grpc(admin, served):
    creds = {k: v for k, v in admin.os_vars.items() if k != "OS_AUTH_URL"}
    for url in (f"{served.http}/v3", f"{served.http}/v3/", served.http,
                f"grpc://{served.grpc}", served.grpc):
        users = Cli(OS_AUTH_URL=url, **creds).json("user", "list")
        assert "alice" in {u["Name"] for u in users}, url


def test_os_cloud_reads_clouds_yaml_like_openstackclient(admin, served, tmp_path):
    clouds = {"clouds": {"demo": {"auth": {
        "auth_url": f"{served.http}/v3", "username": "alice", "password": "mypassword123",
        "user_domain_name": "Default", "project_name": "acme",
        "project_domain_name": "Default"}}}}
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump(clouds))
    acme, cyberdyne = (admin.json("project", "show", p)["id"] for p in ("acme", "cyberdyne"))

    def token(cli, *args):
        return json.loads(cli.run("token", "issue", "-f", "json", *args, cwd=tmp_path).stdout)
    assert token(Cli(OS_CLOUD="demo"))["project_id"] == acme
    assert token(Cli(), "--os-cloud", "demo")["project_id"] == acme
    # The command line wins over the cloud, the cloud over OS_* variables.
    assert token(Cli(OS_CLOUD="demo"), "--os-project-name", "cyberdyne")["project_id"] == cyberdyne
    assert token(Cli(OS_CLOUD="demo", OS_PROJECT_NAME="cyberdyne"))["project_id"] == acme
    missing = Cli(OS_CLOUD="nowhere").run("token", "issue", cwd=tmp_path, expect=2)
    assert "has no cloud 'nowhere'" in missing.stderr


@pytest.mark.slow
def test_create_show_set_and_list_long_of_each_resource(admin):
    """The shared create/show/set/list commands print each resource's own fields."""
    group, role, name, kind, region = (unique("grp"), unique("rl"), unique("svc"),
                                       unique("type"), unique("Region"))
    made = admin.json("group", "create", group, "--description", "g")
    assert made == {"description": "g", "domain_id": "default", "id": made["id"], "name": group}
    assert admin.json("group", "create", group, "--or-show")["id"] == made["id"]
    admin.run("group", "set", group, "--description", "g2")
    assert admin.run("group", "show", group, "-f", "value", "-c", "description").stdout == "g2\n"
    long = [g for g in admin.json("group", "list", "--long") if g["Name"] == group]
    assert long == [{"ID": made["id"], "Name": group, "Domain ID": "default",
                     "Description": "g2"}]
    role_id = admin.json("role", "create", role)["id"]
    admin.run("role", "set", role, "--name", role + "x")
    assert [r for r in admin.json("role", "list", "--long") if r["ID"] == role_id] == [
        {"ID": role_id, "Name": role + "x", "Domain ID": "", "Description": ""}]
    service = admin.json("service", "create", kind, "--name", name, "--disable")
    assert service == {"description": "", "enabled": False, "id": service["id"], "name": name,
                       "type": kind}
    admin.run("service", "set", name, "--enable", "--description", "d")
    assert [s for s in admin.json("service", "list", "--long") if s["ID"] == service["id"]] == [
        {"ID": service["id"], "Name": name, "Type": kind, "Description": "d", "Enabled": True}]
    admin.run("region", "create", region)
    admin.run("region", "set", region, "--description", "r")
    assert admin.run("region", "show", region, "-f", "yaml").stdout == (
        f"description: r\nparent_region: ''\nregion: {region}\n")
    endpoint = admin.json("endpoint", "create", name, "internal", "http://x", "--region", region)
    admin.run("endpoint", "set", endpoint["id"], "--url", "http://y", "--disable")
    assert admin.json("endpoint", "show", endpoint["id"]) == {
        "enabled": False, "id": endpoint["id"], "interface": "internal", "region": region,
        "region_id": region, "service_id": service["id"], "service_name": name,
        "service_type": kind, "url": "http://y"}
    assert admin.run("domain", "show", "Default", "-f", "value").stdout.splitlines()[1:] == [
        "True", "default", "Default"]
    assert admin.run("role-get", role_id, "-f", "value").stdout == f"{role_id}\n{role}x\n"
    rows = list(csv.reader(io.StringIO(admin.run("region", "list", "-f", "csv").stdout)))
    assert rows[0] == ["Region", "Parent Region", "Description"] and [region, "", "r"] in rows
    admin.run("endpoint", "delete", endpoint["id"])
    admin.run("service", "delete", name)
    admin.run("region", "delete", region)
    admin.run("role", "delete", role + "x")
    admin.run("group", "delete", group)
