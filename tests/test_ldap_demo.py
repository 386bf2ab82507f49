"""`make run LDAP=1`, run as make runs it (`python -m identity_grpc.ldap_demo`) over a
temporary directory and free ports: slapd, setup, the server; carol and dave of the
demo directory get tokens on project `hr` with `member` (their group's grant), a
second run over the same store duplicates nothing, and stopping the server stops
slapd."""

import socket
import sys

import pytest

from ldap_server import skip_reason
from support import clean_env
from test_examples import Process, free_port
from test_gateway_admin import call

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(skip_reason()), reason=skip_reason() or "slapd runs")]


class Demo:
    """One `ldap_demo` run: serving once its gateway's line is printed."""

    def __init__(self, directory, ldap_port: int, http_port: int):
        self.ldap_port, self.url = ldap_port, f"http://127.0.0.1:{http_port}"
        self.process = Process(
            [sys.executable, "-m", "identity_grpc.ldap_demo", "--config",
             str(directory / "identity.toml"), "--ldap-port", str(ldap_port),
             "--data", str(directory / "ldap-demo")],
            clean_env(IDENTITY_ADMIN_PASSWORD="demo-admin-secret-1",
                      IDENTITY_HTTP_LISTEN=f"127.0.0.1:{http_port}"), directory, "ldap-demo")
        self.process.wait_for(f"slapd on ldap://127.0.0.1:{ldap_port}")
        self.process.wait_for("identity service: HTTP on")

    def token(self, name: str, password: str) -> tuple[int, dict]:
        employees = {"name": "Employees"}
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": name, "domain": employees, "password": password}}},
            "scope": {"project": {"name": "hr", "domain": employees}}}
        status, headers, body, _ = call(self.url + "/v3/auth/tokens", "POST", None,
                                        {"auth": auth})
        return status, body

    def admin_token(self) -> str:
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": "demo-admin-secret-1"}}},
            "scope": {"system": {"all": True}}}
        status, headers, body, _ = call(self.url + "/v3/auth/tokens", "POST", None,
                                        {"auth": auth})
        assert status == 201, body
        return headers["X-Subject-Token"]

    def stop(self) -> int:
        self.process.stop()
        assert self.process.logged("ldap demo: slapd stopped"), self.process.stderr()
        return self.process.proc.returncode


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo_dir(tmp_path):
    settings = {"database_url": f"sqlite:///{tmp_path}/identity.db",
                "key_dir": f"{tmp_path}/keys", "credential_key_dir": f"{tmp_path}/credential-keys",
                "admin_password_file": f"{tmp_path}/admin-password",
                "listen": f"127.0.0.1:{free_port()}", "http_listen": f"127.0.0.1:{free_port()}",
                "argon2_time_cost": 1, "argon2_memory_kib": 8}
    (tmp_path / "identity.toml").write_text(
        "".join(f'{k} = {v if isinstance(v, int) else repr(v)}\n' for k, v in settings.items()))
    return tmp_path, int(settings["http_listen"].rsplit(":", 1)[1])


def test_make_run_ldap_serves_the_directory_users_and_stops_slapd_with_the_server(demo_dir):
    directory, http_port = demo_dir
    ldap_port = free_port()
    demo = Demo(directory, ldap_port, http_port)
    try:
        status, body = demo.token("carol", "carolpassword1")
        assert status == 201, body
        token = body["token"]
        assert token["user"]["name"] == "carol"
        assert token["user"]["domain"]["name"] == "Employees"
        assert (token["project"]["name"], token["project"]["domain"]["name"]) == ("hr", "Employees")
        assert "member" in {r["name"] for r in token["roles"]}
        assert demo.token("carol", "wrong-password")[0] == 401
    finally:
        assert demo.stop() == 0
    assert not _accepts(ldap_port), "slapd outlived the server"


def test_a_second_run_over_the_same_store_duplicates_nothing(demo_dir):
    directory, http_port = demo_dir
    Demo(directory, free_port(), http_port).stop()
    ldap_port = free_port()  # another port: setup points the domain at the new one
    demo = Demo(directory, ldap_port, http_port)
    try:
        status, body = demo.token("dave", "davepassword1")
        assert status == 201, body
        assert "member" in {r["name"] for r in body["token"]["roles"]}
        admin = demo.admin_token()
        domains = call(demo.url + "/v3/domains?name=Employees", token=admin)[2]["domains"]
        assert len(domains) == 1
        projects = call(demo.url + f"/v3/projects?domain_id={domains[0]['id']}",
                        token=admin)[2]["projects"]
        assert [p["name"] for p in projects] == ["hr"]
        grants = call(demo.url + f"/v3/role_assignments?scope.project.id={projects[0]['id']}",
                      token=admin)[2]["role_assignments"]
        assert len(grants) == 1 and "group" in grants[0], grants
    finally:
        assert demo.stop() == 0
    assert not _accepts(ldap_port)
