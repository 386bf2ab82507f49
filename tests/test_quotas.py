"""Per-domain quotas on users, groups and projects (settings, 0 = no limit): one past
the quota is RESOURCE_EXHAUSTED on gRPC and 429 on the gateway, naming the quota; and
two creates racing for the last place through two server processes get exactly one
through, on every backend."""

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb

from conftest import ServerProcess, start_service
from support import AdminClient, rpc_error, system_admin_token
from test_gateway_admin import call
from test_replicas import CALL_TIMEOUT, OK, at_once

CODE = grpc.StatusCode
QUOTAS = {"users": 3, "groups": 2, "projects": 2}
TABLES = {"users": "User", "groups": "Group", "projects": "Project"}


def _settings(deployment, **quotas):
    return deployment.replace(**{f"max_{kind}_per_domain": n for kind, n in quotas.items()})


@pytest.fixture
def limited(deployment):
    """A server (and its gateway) with small quotas, over the demo deployment."""
    from identity_grpc.gateway.server import HttpServer
    running = start_service(_settings(deployment, **QUOTAS))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    running.gateway = f"http://127.0.0.1:{http.port}"
    running.admin = AdminClient(running.channel, system_admin_token(running.stub))
    yield running
    http.stop()
    running.stop()


def _create(admin, kind: str, name: str, domain_id: str):
    method, request = {
        "users": (admin.users.CreateUser, apb.CreateUserRequest),
        "groups": (admin.groups.CreateGroup, apb.CreateGroupRequest),
        "projects": (admin.projects.CreateProject, apb.CreateProjectRequest),
    }[kind]
    return method(request(name=name, domain_id=domain_id), metadata=admin.metadata,
                  timeout=CALL_TIMEOUT)


@pytest.mark.parametrize("kind", sorted(QUOTAS))
def test_one_past_the_quota_is_refused_on_both_transports_naming_it(limited, kind):
    admin = limited.admin
    domain = admin.call(admin.domains.CreateDomain, apb.CreateDomainRequest(name="small"))
    for i in range(QUOTAS[kind]):
        _create(admin, kind, f"{kind}-{i}", domain.id)
    error = rpc_error(_create, admin, kind, "one-too-many", domain.id)
    assert error.code() == CODE.RESOURCE_EXHAUSTED
    assert f"max_{kind}_per_domain = {QUOTAS[kind]}" in error.details(), error.details()
    entity = kind[:-1]
    token = admin.metadata[0][1]
    status, headers, body, raw = call(f"{limited.gateway}/v3/{kind}", "POST", token,
                                      {entity: {"name": "one-too-many", "domain_id": domain.id}})
    assert status == 429, raw
    assert f"max_{kind}_per_domain" in body["error"]["message"]
    assert "Retry-After" not in headers
    model = getattr(limited.core.store.tables, TABLES[kind])
    assert model.select().where(model.domain == domain.id).count() == QUOTAS[kind]
    # Each domain is counted apart.
    other = admin.call(admin.domains.CreateDomain, apb.CreateDomainRequest(name="other"))
    _create(admin, kind, "first", other.id)


def test_no_quota_by_default(admin):
    for i in range(5):
        admin.call(admin.groups.CreateGroup, apb.CreateGroupRequest(name=f"g{i}"))


@pytest.mark.every_backend
def test_two_creates_racing_for_the_last_place_get_exactly_one_through(deployment):
    """Quotas of 1, a fresh domain per round, one create through each of two server
    processes released together: one OK and one RESOURCE_EXHAUSTED every time, and
    the domain holds one."""
    settings = _settings(deployment, users=1, groups=1, projects=1)
    first = start_service(settings)
    second = ServerProcess(settings, IDENTITY_MAX_USERS_PER_DOMAIN="1",
                           IDENTITY_MAX_GROUPS_PER_DOMAIN="1", IDENTITY_MAX_PROJECTS_PER_DOMAIN="1")
    try:
        token = system_admin_token(first.stub)
        admins = [AdminClient(first.channel, token), AdminClient(second.channel, token)]
        for round_ in range(6):
            for kind, table in TABLES.items():
                model = getattr(first.core.store.tables, table)
                domain = admins[0].call(admins[0].domains.CreateDomain, apb.CreateDomainRequest(
                    name=f"race-{kind}-{round_}"))
                outcomes = at_once([lambda a=a, i=i: _create(a, kind, f"{kind}-{i}", domain.id)
                                    for i, a in enumerate(admins)])
                codes = sorted(o.code.name for o in outcomes)
                assert codes == ["OK", "RESOURCE_EXHAUSTED"], (kind, round_, outcomes)
                assert model.select().where(model.domain == domain.id).count() == 1
                assert sum(o.code == OK for o in outcomes) == 1
    finally:
        second.stop()
        first.stop()


def test_quota_and_list_limit_settings_are_range_checked():
    from identity_grpc.config import load_settings
    loaded = load_settings(environ={"IDENTITY_MAX_USERS_PER_DOMAIN": "7", "IDENTITY_LIST_LIMIT": "9"})
    assert (loaded.max_users_per_domain, loaded.list_limit) == (7, 9)
    for name, bad in (("max_users_per_domain", "-1"), ("max_groups_per_domain", "-1"),
                      ("max_projects_per_domain", "-5"), ("list_limit", "0")):
        with pytest.raises(ValueError, match=name):
            load_settings(environ={f"IDENTITY_{name.upper()}": bad})
