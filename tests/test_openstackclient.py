"""python-openstackclient (the real `openstack` command, through keystoneauth and
openstacksdk) against the HTTP gateway.

The identity endpoint in the catalog is pointed at the test's gateway, so that the
client's endpoint lookup after authenticating reaches it. Management commands run
with a system-scoped token: here admin on a project is not admin of the cloud (see
`test_gateway_admin.test_a_project_scoped_admin_is_not_a_cloud_admin`).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import support

pytestmark = pytest.mark.slow

OPENSTACK = Path(sys.executable).with_name("openstack")
if not OPENSTACK.exists():
    OPENSTACK = support.ROOT / ".venv" / "bin" / "openstack"


class Openstack:
    def __init__(self, env: dict):
        self.env = env

    def run(self, *args: str, scope: str = "project") -> subprocess.CompletedProcess:
        env = dict(self.env)
        if scope == "system":
            for name in ("OS_PROJECT_NAME", "OS_PROJECT_DOMAIN_NAME"):
                env.pop(name)
            env["OS_SYSTEM_SCOPE"] = "all"
        return subprocess.run([str(OPENSTACK), *args], env=env, capture_output=True, text=True,
                              timeout=120)

    def __call__(self, *args: str, scope: str = "project"):
        """Run a command that must succeed; its JSON output when it has some."""
        done = self.run(*args, scope=scope)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture
def openstack(service, gateway) -> Openstack:
    if not OPENSTACK.exists():
        pytest.skip(f"{OPENSTACK} is not installed")
    catalog = service.core.catalog
    identity = catalog.find_service("identity", "keystone")
    for endpoint in catalog.list_endpoints(service_id=identity.id)[0]:
        catalog.update_endpoint(endpoint.id, url=f"{gateway}/v3/")
    return Openstack(support.clean_env(
        OS_AUTH_URL=f"{gateway}/v3", OS_IDENTITY_API_VERSION="3", OS_USERNAME="admin",
        OS_PASSWORD=support.ADMIN_PASSWORD, OS_PROJECT_NAME="admin",
        OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default", OS_INTERFACE="public"))


def _ids(service) -> dict:
    User, Project = service.core.store.tables.User, service.core.store.tables.Project
    return {"admin_user": User.get(User.name == "admin").id,
            "admin_project": Project.get(Project.name == "admin").id}


def test_token_issue(openstack, service):
    token = openstack("token", "issue", "-f", "json")
    ids = _ids(service)
    assert (token["user_id"], token["project_id"]) == (ids["admin_user"], ids["admin_project"])
    assert token["id"] and token["expires"]


def test_project_list(openstack):
    everything = openstack("project", "list", "-f", "json", scope="system")
    assert {p["Name"] for p in everything} == {"admin", "service", "acme", "cyberdyne", "bar", "baz"}
    # With the project-scoped token the listing is refused, and openstackclient falls
    # back to the user's own projects (GET /v3/users/{id}/projects).
    mine = openstack("project", "list", "-f", "json")
    assert [p["Name"] for p in mine] == ["admin"]


def test_user_create_role_add_and_assignments(openstack):
    user = openstack("user", "create", "--password", "carolpass123", "--email",
                     "carol@example.com", "carol", "-f", "json", scope="system")
    assert (user["name"], user["domain_id"], user["email"], user["enabled"]) == (
        "carol", "default", "carol@example.com", True)
    assert openstack("role", "add", "--user", "carol", "--project", "acme", "member",
                     scope="system") is None
    rows = openstack("role", "assignment", "list", "--names", "-f", "json", scope="system")
    assert {"Role": "member", "User": "carol@Default", "Group": "", "Project": "acme@Default",
            "Domain": "", "System": "", "Inherited": False} in rows
    assert {"Role": "admin", "User": "admin@Default", "Group": "", "Project": "", "Domain": "",
            "System": "all", "Inherited": False} in rows
    only = openstack("role", "assignment", "list", "--names", "--user", "carol", "-f", "json",
                     scope="system")
    assert [(r["Role"], r["Project"]) for r in only] == [("member", "acme@Default")]
    # carol can now log in to acme
    env = dict(openstack.env, OS_USERNAME="carol", OS_PASSWORD="carolpass123",
               OS_PROJECT_NAME="acme")
    assert Openstack(env)("token", "issue", "-f", "json")["user_id"] == user["id"]


def test_a_refusal_reaches_the_user(openstack):
    done = openstack.run("user", "create", "--password", "x-pass-123", "dora")
    assert done.returncode != 0
    assert "identity:create_user" in done.stderr


def test_catalog_list(openstack, gateway):
    services = openstack("catalog", "list", "-f", "json")
    by_type = {s["Type"]: s for s in services}
    assert by_type["identity"]["Name"] == "keystone"
    assert [e["url"] for e in by_type["identity"]["Endpoints"]] == [f"{gateway}/v3/"]
    assert [(e["interface"], e["region_id"], e["url"]) for e in by_type["compute"]["Endpoints"]] \
        == [("public", "RegionOne", "http://127.0.0.1:8774/v2.1")]
