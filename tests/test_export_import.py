"""`identity-manage export` / `import`, on every backend: a store filled through the
real server (every family: users and password hashes, projects in a hierarchy, tags,
domain configuration, credentials, trusts, application credentials and their access
rules, limits, endpoint groups, policies, OAuth1 consumers, id mappings, revocations)
is dumped by the CLI and restored by the CLI into an empty store of the same backend,
into SQLite (across backends) and from that SQLite copy back into the backend. Each
copy has exactly the source's rows, table by table, and a server over it (same key
directories) lets the users log in with their passwords, validates a token issued
before the dump and still refuses one revoked before it.
"""

import contextlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import psycopg2
import pytest
from identity_api.v1 import identity_pb2 as pb

import conftest
from conftest import start_service, store_env
from family_callers import callers_of
from support import (auth_md, backend_of, clean_env, login, project_scope, system_admin_token,
                     validate)

from identity_grpc.gateway.server import HttpServer
from identity_grpc.store import Store, schema
from identity_grpc.store.db import make_database
from identity_grpc.store.dump import PAGE_ROWS

pytestmark = [pytest.mark.every_backend, pytest.mark.policy_profile("keystone")]

NEW_USER, NEW_PASSWORD = "restorable", "restorable-password-1"
# No request-token flow here (it needs OAuth1-signed calls, tests/test_oauth1.py's
# subject): these two tables may be empty in the dump; every other one has rows.
MAY_BE_EMPTY = {"o_auth1_request_token", "o_auth1_access_token"}


def manage(settings, *args: str, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "identity_grpc.manage", *args],
                          env=clean_env(**store_env(settings)), input=stdin,
                          capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def empty_store(backend: str, directory: Path):
    """The URL of another empty store on `backend`, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory}/{uuid.uuid4().hex[:8]}.db"
    elif backend == "mysql":
        made = conftest._mysql_database()
        yield next(made)
        next(made, None)
    else:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        _pg(f"CREATE SCHEMA {schema}")
        try:
            yield f"{conftest.PG_DSN}?schema={schema}"
        finally:
            _pg(f"DROP SCHEMA {schema} CASCADE")


def _pg(sql: str) -> None:
    conn = psycopg2.connect(conftest.PG_DSN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def rows_by_table(url: str) -> dict[str, list]:
    """Every table's rows (values as the models read them), in a stable order, and
    the schema version (not in the dump's rows: each store records its own)."""
    store = Store(make_database(url))
    try:
        found = {model._meta.table_name: sorted(
                     (tuple(row) for row in model.select(*model._meta.sorted_fields).tuples()),
                     key=repr)
                 for model in store.tables.all}
        found["schema_version"] = schema.current_version(store.db)
        return found
    finally:
        store.close()


def populate(service, gateway: str) -> dict[str, str]:
    """Rows in every family, through the gateway (and an id mapping through the core,
    as a directory-backed domain makes them); returns two tokens issued before the
    dump: one `valid`, one `revoked`."""
    who = callers_of(service, gateway)
    api, alice = who.http(who.sys), who.http(who.project_admin)
    ids = {u["name"]: u["id"] for u in api.get("/v3/users")["users"]}
    member = next(r["id"] for r in api.get("/v3/roles")["roles"] if r["name"] == "member")
    api("POST", "/v3/users", {"user": {"name": NEW_USER, "password": NEW_PASSWORD,
                                       "domain_id": "default"}}, expect=201)
    api("POST", "/v3/projects", {"project": {"name": "acme-child", "parent_id": who.acme,
                                             "domain_id": "default"}}, expect=201)
    api("PUT", f"/v3/projects/{who.acme}/tags/gold", expect=201)
    region = api.get("/v3/regions")["regions"][0]["id"]
    api("POST", "/v3/regions", {"region": {"id": "child-region", "parent_region_id": region}},
        expect=201)
    directory = api("POST", "/v3/domains", {"domain": {"name": "Directory"}},
                    expect=201)["domain"]["id"]
    api("PUT", f"/v3/domains/{directory}/config", {"config": {
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://directory.example:389/", "password": "bind-secret"}}},
        expect=201)
    service.core.store.id_mapping.record("d" * 64, directory, "uid=carol", "user")
    api("POST", "/v3/credentials", {"credential": {
        "user_id": ids["alice"], "project_id": who.cyberdyne, "type": "ec2",
        "blob": '{"access": "restore-access", "secret": "restore-secret"}'}}, expect=201)
    alice("POST", "/v3/OS-TRUST/trusts", {"trust": {
        "trustor_user_id": ids["alice"], "trustee_user_id": ids["bob"],
        "project_id": who.cyberdyne, "roles": [{"name": "member"}], "impersonation": True}},
        expect=201)
    alice("POST", f"/v3/users/{ids['alice']}/application_credentials", {
        "application_credential": {"name": "ci", "roles": [{"id": member}], "access_rules": [
            {"service": "compute", "path": "/v2.1/servers", "method": "GET"}]}}, expect=201)
    services = api.get("/v3/services")["services"]
    api("POST", "/v3/registered_limits", {"registered_limits": [{
        "service_id": services[0]["id"], "resource_name": "cores", "default_limit": 10}]},
        expect=201)
    api("POST", "/v3/limits", {"limits": [{
        "service_id": services[0]["id"], "project_id": who.acme, "resource_name": "cores",
        "resource_limit": 5}]}, expect=201)
    group = api("POST", "/v3/OS-EP-FILTER/endpoint_groups", {"endpoint_group": {
        "name": "g1", "filters": {"service_id": services[0]["id"]}}},
        expect=201)["endpoint_group"]["id"]
    api("PUT", f"/v3/OS-EP-FILTER/endpoint_groups/{group}/projects/{who.acme}", expect=204)
    endpoint = api.get("/v3/endpoints")["endpoints"][0]["id"]
    api("PUT", f"/v3/OS-EP-FILTER/projects/{who.cyberdyne}/endpoints/{endpoint}", expect=204)
    api("POST", "/v3/policies", {"policy": {"type": "application/json", "blob": '{"a": 1}'}},
        expect=201)
    api("POST", "/v3/OS-OAUTH1/consumers", {"consumer": {"description": "restore"}},
        expect=201)
    revoked = login(service.stub, "bob", project_scope("acme")).token
    service.stub.RevokeToken(pb.RevokeTokenRequest(subject_token=revoked),
                             metadata=auth_md(revoked))
    return {"valid": login(service.stub, "alice", project_scope("cyberdyne")).token,
            "revoked": revoked}


def export(settings, path: Path) -> None:
    done = manage(settings, "export", "--output", str(path))
    assert done.returncode == 0, done.stderr
    assert "credential_key_dir" in done.stderr and path.stat().st_mode & 0o077 == 0


def restore(settings, path: Path) -> None:
    done = manage(settings, "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "key_dir" in done.stdout


def assert_serves_the_restored_store(settings, tokens: dict[str, str]) -> None:
    service = start_service(settings)
    try:
        assert login(service.stub, NEW_USER, password=NEW_PASSWORD).token
        caller = system_admin_token(service.stub)  # the admin's password, restored too
        assert validate(service.stub, caller, tokens["valid"]).user.name == "alice"
        with pytest.raises(grpc.RpcError) as refused:
            validate(service.stub, caller, tokens["revoked"])
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in refused.value.details()
    finally:
        service.stop()


def test_a_dump_restores_every_row_on_the_same_backend_and_across(deployment, tmp_path):
    service = start_service(deployment)
    http = HttpServer(service.core, "127.0.0.1:0").start()
    try:
        tokens = populate(service, f"http://127.0.0.1:{http.port}")
    finally:
        http.stop()
        service.stop()
    source = rows_by_table(deployment.database_url)
    empty = {t for t, rows in source.items() if not rows}
    assert empty <= MAY_BE_EMPTY, f"tables the test left empty: {empty - MAY_BE_EMPTY}"
    dump = tmp_path / "store.jsonl"
    export(deployment, dump)
    header = json.loads(dump.read_text().splitlines()[0])
    assert header["format_version"] == 1 and header["schema_version"] == 7

    backend = backend_of(deployment.database_url)
    with empty_store(backend, tmp_path) as same, empty_store(backend, tmp_path) as back:
        copies = [deployment.replace(database_url=same)]
        restore(copies[0], dump)
        if backend != "sqlite":  # across: into SQLite, and from that copy back
            sqlite_copy = deployment.replace(database_url=f"sqlite:///{tmp_path}/across.db")
            restore(sqlite_copy, dump)
            export(sqlite_copy, tmp_path / "from-sqlite.jsonl")
            copies += [sqlite_copy, deployment.replace(database_url=back)]
            restore(copies[2], tmp_path / "from-sqlite.jsonl")
        for copy in copies:
            assert rows_by_table(copy.database_url) == source, copy.database_url
        assert_serves_the_restored_store(copies[-1], tokens)


def test_tables_of_many_pages_round_trip_whole(bootstrapped, tmp_path):
    """Several pages (`dump.PAGE_ROWS`) of users, memberships and assignments: the
    keyset paging over single and composite keys gives every row once."""
    generated = manage(bootstrapped, "generate", "--users=2500", "--projects=30", "--domains=3",
                       "--groups=10", "--assignments=3200", "--memberships=2600")
    assert generated.returncode == 0, generated.stderr
    source = rows_by_table(bootstrapped.database_url)
    assert len(source["user"]) > 2 * PAGE_ROWS and len(source["role_assignment"]) > 3 * PAGE_ROWS
    dump = tmp_path / "store.jsonl"
    export(bootstrapped, dump)
    with empty_store(backend_of(bootstrapped.database_url), tmp_path) as url:
        restore(bootstrapped.replace(database_url=url), dump)
        assert rows_by_table(url) == source


class WritesMidway:
    """A dump's destination that, once the dump has read the domains, has another
    connection add a domain and a project in it: the dump, read in one snapshot,
    must hold neither (without the snapshot it held the project without its domain)."""

    def __init__(self, url: str):
        self.url, self.lines, self.written = url, [], False

    def write(self, text: str) -> None:
        self.lines.append(text)
        if not self.written and text.startswith('{"table":"project"'):
            other = Store(make_database(self.url))
            t = other.tables
            t.Domain.insert(id="midway", name="Midway").execute()
            t.Project.insert(id="midway-p", name="p", domain="midway").execute()
            other.close()
            self.written = True


def test_a_dump_is_one_snapshot_whatever_is_written_meanwhile(bootstrapped):
    from identity_grpc.store import dump
    db = make_database(bootstrapped.database_url)
    out = WritesMidway(bootstrapped.database_url)
    try:
        counts = dump.export(db, out)
    finally:
        db.close()
    text = "".join(out.lines)
    assert out.written and "midway" not in text
    assert counts["domain"] == len(rows_by_table(bootstrapped.database_url)["domain"]) - 1


def test_rows_whose_parent_comes_later_in_key_order_are_restored_after_it(bootstrapped, tmp_path):
    """Projects, regions and redelegated trusts refer to rows of their own table; a
    dump lists them by id, so a child may come first (`aa` under `mm` under `zz`)."""
    import io

    from identity_grpc.store import dump
    store = Store(make_database(bootstrapped.database_url))
    t = store.tables
    admin = t.User.get(t.User.name == "admin").id
    for child, parent in (("zz", None), ("mm", "zz"), ("aa", "mm")):
        t.Project.insert(id=f"p-{child}", name=child, domain="default",
                         parent=parent and f"p-{parent}").execute()
        t.Region.insert(id=f"r-{child}", parent_region=parent and f"r-{parent}").execute()
        t.Trust.insert(id=f"t-{child}", trustor=admin, trustee=admin,
                       redelegated_trust=parent and f"t-{parent}").execute()
    out = io.StringIO()
    dump.export(store.db, out)
    store.close()
    with empty_store(backend_of(bootstrapped.database_url), tmp_path) as url:
        target = Store(make_database(url))
        schema.upgrade(target.db)
        try:
            counts = dump.restore(target.db, io.StringIO(out.getvalue()))
        finally:
            target.close()
        assert counts["trust"] == 3
        assert rows_by_table(url) == rows_by_table(bootstrapped.database_url)
